/**
 * The concept manifest: which tensor of the model holds which concept, along
 * which direction or dims. It lives in the model's metadata_props under
 * `sca.anchors` (JSON), so trained, patched and ablated models all carry it;
 * what was done to a model is appended under `sca.interventions`.
 */
import { UsageError } from '../errors.js';
import type { ModelProto } from '../onnx/types.js';
import { checkEraser, type Eraser, type Provenance } from './fromData.js';

export const ANCHORS_KEY = 'sca.anchors';
export const INTERVENTIONS_KEY = 'sca.interventions';

export interface Anchor {
  concept: string;
  tensor: string;
  /** Axis of the tensor the anchor lives on (negative counts from the end); absent: the tensor's feature axis. */
  axis?: number;
  /** Unit direction along the anchor's axis. */
  direction?: number[];
  /** Reserved (axis-aligned) indices of the anchor's axis. */
  dims?: number[];
  /** A LEACE eraser fitted from labelled data (see fromData.ts); `sca patch --concept` inserts it. */
  eraser?: Eraser;
  /** How an anchor found from data was made: method, sample count, hashes of the data and labels. */
  provenance?: Provenance;
  /** How an anchor found from contrastive prompts was made (src/api/contrast.ts). */
  promptProvenance?: PromptProvenance;
  /**
   * How a model trained with SCA put the concept there: the training script's
   * recipe (method, block, terms and schedules, steps, seed, label rate). Kept
   * as written; the tool reads no field of it.
   */
  training?: Record<string, unknown>;
}

/** A direction from two sets of prompts: the mean difference at one position, and how well each layer separated them. */
export interface PromptProvenance {
  method: 'mean-diff';
  /** sha256 of the prompts and contrast files, as `sha256:<hex>`. */
  promptsHash: string;
  contrastHash: string;
  prompts: number;
  contrast: number;
  position: 'last' | 'mean';
  /** Every tensor tried, with its held-out AUC and separation; the anchor's tensor is the best. */
  layers: { tensor: string; auc: number; separation: number }[];
}

export interface InterventionRecord {
  kind: 'patch' | 'ablate' | 'prune' | 'fold';
  tensor: string;
  concept?: string;
  [detail: string]: unknown;
}

function getMeta(model: ModelProto, key: string): string | undefined {
  return model.metadataProps.find((p) => p.key === key)?.value;
}

function setMeta(model: ModelProto, key: string, value: string): void {
  const entry = model.metadataProps.find((p) => p.key === key);
  if (entry) entry.value = value;
  else model.metadataProps.push({ key, value });
}

function parseJson(text: string, key: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${label}: metadata ${key} is not valid JSON`);
  }
}

export function readAnchors(model: ModelProto, label = 'model'): Anchor[] {
  const text = getMeta(model, ANCHORS_KEY);
  if (text === undefined) return [];
  const parsed = parseJson(text, ANCHORS_KEY, label) as { anchors?: unknown };
  if (!parsed || !Array.isArray(parsed.anchors)) throw new UsageError(`${label}: metadata ${ANCHORS_KEY} has no "anchors" list`);
  return parsed.anchors.map((a, i) => validateAnchor(a, `${label}: ${ANCHORS_KEY} entry ${i}`));
}

function validateAnchor(value: unknown, where: string): Anchor {
  const a = value as Anchor;
  if (!a || typeof a.concept !== 'string' || typeof a.tensor !== 'string') throw new UsageError(`${where} needs "concept" and "tensor" strings`);
  if (a.direction !== undefined && !(Array.isArray(a.direction) && a.direction.every(Number.isFinite))) {
    throw new UsageError(`${where}: "direction" must be a list of numbers`);
  }
  if (a.dims !== undefined && !(Array.isArray(a.dims) && a.dims.every(Number.isInteger))) {
    throw new UsageError(`${where}: "dims" must be a list of integers`);
  }
  if (a.axis !== undefined && !Number.isInteger(a.axis)) throw new UsageError(`${where}: "axis" must be an integer`);
  if (a.eraser !== undefined) checkEraser(a.eraser, where);
  if (a.training !== undefined && (a.training === null || typeof a.training !== 'object' || Array.isArray(a.training)))
    throw new UsageError(`${where}: "training" must be an object (the training recipe)`);
  if (a.direction === undefined && a.dims === undefined && a.eraser === undefined) throw new UsageError(`${where} gives neither "direction" nor "dims"`);
  return {
    concept: a.concept,
    tensor: a.tensor,
    ...(a.axis !== undefined ? { axis: a.axis } : {}),
    ...(a.direction ? { direction: a.direction } : {}),
    ...(a.dims ? { dims: a.dims } : {}),
    ...(a.eraser ? { eraser: a.eraser } : {}),
    ...(a.provenance ? { provenance: a.provenance } : {}),
    ...(a.promptProvenance ? { promptProvenance: a.promptProvenance } : {}),
    ...(a.training ? { training: a.training } : {}),
  };
}

/** Adds or replaces (by concept name) anchors in the manifest. */
export function writeAnchors(model: ModelProto, anchors: Anchor[]): void {
  const kept = readAnchors(model).filter((a) => !anchors.some((b) => b.concept === a.concept));
  setMeta(model, ANCHORS_KEY, JSON.stringify({ version: 1, anchors: [...kept, ...anchors] }));
}

export function findAnchor(model: ModelProto, concept: string, label = 'model'): Anchor {
  const anchors = readAnchors(model, label);
  const found = anchors.find((a) => a.concept === concept);
  if (found) return found;
  const known = anchors.map((a) => `'${a.concept}'`).join(', ');
  throw new UsageError(
    anchors.length
      ? `${label}: no anchor for concept '${concept}' (the model anchors ${known})`
      : `${label}: the model records no anchors (metadata ${ANCHORS_KEY}); give \`tensor\` and \`directions\` or \`dims\`, or record one with sca anchor (writeAnchors)`,
    'NOT_FOUND',
  );
}

export function readInterventions(model: ModelProto, label = 'model'): InterventionRecord[] {
  const text = getMeta(model, INTERVENTIONS_KEY);
  if (text === undefined) return [];
  const parsed = parseJson(text, INTERVENTIONS_KEY, label);
  if (!Array.isArray(parsed)) throw new UsageError(`${label}: metadata ${INTERVENTIONS_KEY} is not a list`);
  return parsed as InterventionRecord[];
}

export function recordIntervention(model: ModelProto, record: InterventionRecord): void {
  setMeta(model, INTERVENTIONS_KEY, JSON.stringify([...readInterventions(model), record]));
}

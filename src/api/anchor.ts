/**
 * `sca anchor` as library functions. `anchorManually` records an anchor the
 * caller knows (a model exported by torch.onnx without a manifest).
 * `anchorFromData` (`--from-data X --labels Y --method mean-diff|leace`)
 * runs the model over the data with the tensor exposed, fits the direction
 * or the eraser (fromData.ts), and records it with its provenance (method,
 * sample count, hashes of the data and labels).
 */
import { anchorFromPrompts, type PromptAnchorRequest } from './contrast.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import path from 'node:path';
import { IrModel } from '../ir/model.js';
import { loadModelFolder } from '../onnx/folder.js';
import { selectVariants } from '../onnx/variants.js';
import { editFolderTo, type FolderEditOptions, type FolderEditResult } from './folder.js';
import { loadDataset, requiredInputs } from '../data/datasets.js';
import type { Device } from '../runtime/session.js';
import type { Model } from '../onnx/model.js';
import { fitConceptFromData } from '../probe/fit.js';
import type { Labels } from '../data/labels.js';
import { resolveLabels } from '../probe/run.js';
import { normalize } from '../maths/basis.js';
import type { Provenance } from '../anchors/fromData.js';
import { writeAnchors, type Anchor } from '../anchors/manifest.js';
// Datasets a domain names (color-cube) must be known here, as from the CLI.
import '../domains/index.js';

/** An anchor the caller knows: the manifest's fields, without the ones anchoring from data records. */
export type ManualAnchorRequest = Pick<Anchor, 'concept' | 'tensor' | 'axis' | 'direction' | 'dims'>;

/** Records `request` as the model's anchor for its concept (replacing one of the same name). */
export function anchorManually(model: Model, request: ManualAnchorRequest, label = 'model'): Anchor {
  requireTensor(model, request.tensor, label);
  if (!request.direction && !request.dims) throw new UsageError('give `direction`, `dims` or both (or anchor from data with `labels`)');
  const anchor: Anchor = {
    concept: request.concept,
    tensor: request.tensor,
    ...(request.axis !== undefined ? { axis: request.axis } : {}),
    ...(request.direction ? { direction: request.direction } : {}),
    ...(request.dims ? { dims: request.dims } : {}),
  };
  writeAnchors(model.proto, [anchor]);
  return anchor;
}

export const METHODS = ['mean-diff', 'leace'] as const;
export type Method = (typeof METHODS)[number];

export interface AnchorFromDataRequest {
  concept: string;
  tensor: string;
  data: string;
  labels: string | Labels;
  method: Method;
  axis?: number;
  device?: Device;
}

function hashOf(spec: string | Labels): string {
  if (typeof spec !== 'string') return `sha256:${crypto.createHash('sha256').update(spec.values).digest('hex')}`;
  let bytes: Buffer | string;
  try {
    bytes = fs.readFileSync(spec);
  } catch {
    bytes = spec; // color-cube:N, redness: the name says it all
  }
  return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
}

export async function anchorFromData(model: Model, request: AnchorFromDataRequest, label = 'model'): Promise<Anchor> {
  if (!METHODS.includes(request.method)) throw new UsageError(`--method: expected mean-diff or leace, got '${request.method}'`);
  const dataset = loadDataset(request.data, requiredInputs(model.proto.graph!));
  const labels = resolveLabels(request.labels, dataset);
  // Streamed: the activations pass through float64 moments batch by batch and are never held whole.
  const fit = await fitConceptFromData({ label, model, ...(model.path ? { path: model.path } : {}) }, request.tensor, dataset, labels, request.method, {
    axis: request.axis,
    device: request.device,
    lastAxis: true,
  });
  const provenance: Provenance = {
    method: request.method,
    samples: fit.samples,
    dataHash: hashOf(request.data),
    labelsHash: hashOf(request.labels),
    classes: labels.classes,
    rows: fit.rows,
  };
  let anchor: Anchor;
  if (request.method === 'mean-diff') {
    anchor = { concept: request.concept, tensor: request.tensor, direction: fit.direction!, provenance };
  } else {
    const eraser = fit.eraser!;
    // A rank-1 eraser also gives the concept a direction (what it removes), for steering and reports.
    const direction = eraser.left.length === 1 ? { direction: normalize(eraser.left[0]) } : {};
    anchor = { concept: request.concept, tensor: request.tensor, ...direction, eraser, provenance };
  }
  writeAnchors(model.proto, [anchor]);
  return anchor;
}

/** A tensor of the main graph, or one nested graphs define (a merged decoder's branches, where patches act in each). */
function requireTensor(model: Model, tensor: string, label: string): void {
  const ir = new IrModel(model);
  if (!ir.scopesDefining(tensor).length) ir.graph.require(tensor, label);
}

export interface FolderAnchorRequest {
  /** An anchor the caller knows, recorded in every variant. */
  manual?: ManualAnchorRequest;
  /** An anchor found from data on one variant (`fitOn`), then recorded in every variant. */
  fromData?: AnchorFromDataRequest;
  /** An anchor found from contrastive prompts on one variant (`fitOn`), then recorded in every variant. */
  fromPrompts?: PromptAnchorRequest;
  /** The variant the data runs through, by path, file name or dtype; default: the first fp32 variant. */
  fitOn?: string;
}

/** `sca anchor DIR -o OUTDIR`: one anchor recorded in every variant of a model folder (or those named). */
export async function anchorFolderTo(
  dir: string,
  request: FolderAnchorRequest,
  outDir: string,
  options: FolderEditOptions = {},
): Promise<FolderEditResult<Anchor> & { fittedOn?: string }> {
  let anchor: Anchor | undefined;
  let fittedOn: string | undefined;
  if (request.fromData || request.fromPrompts) {
    const folder = loadModelFolder(dir);
    const all = selectVariants([...folder.models.keys()]);
    const fit = request.fitOn ? selectVariants([...folder.models.keys()], [request.fitOn])[0] : (all.find((v) => v.dtype === 'fp32') ?? all[0]);
    fittedOn = fit.file;
    const model = folder.models.get(fit.file)!;
    const file = path.join(dir, fit.file);
    anchor = request.fromData ? await anchorFromData(model, request.fromData, file) : await anchorFromPrompts(model, file, request.fromPrompts!);
  }
  const result = await editFolderTo(dir, outDir, options, (model, label) => {
    if (anchor) {
      requireTensor(model, anchor.tensor, label);
      writeAnchors(model.proto, [anchor]);
      return { model, result: anchor };
    }
    if (!request.manual) throw new UsageError('give `manual` or `fromData`');
    return { model, result: anchorManually(model, request.manual, label) };
  });
  return { ...result, ...(fittedOn ? { fittedOn } : {}) };
}

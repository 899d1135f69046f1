/**
 * `sca probe` as a library function: run a model (and a patched copy) over
 * data with tensors exposed, and fit a cross-validated linear probe for the
 * labels on each tensor, intact and patched side by side. A tensor
 * downstream of an edit shows whether the concept comes back past it (a
 * residual connection can carry it around). Where the model anchors a
 * concept at a probed tensor, the anchoring purity comes too.
 */
import { readAnchors } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { loadDataset, requiredInputs, type Dataset } from '../data/datasets.js';
import type { Device } from '../runtime/session.js';
import { resolveSource } from '../runtime/taps.js';
import { sampleActivations, type ModelSource, type RowSample } from './activations.js';
import { loadLabels, REDNESS_LABELS, rednessLabels, type Labels } from '../data/labels.js';
import { crossValidatedProbe, PROBE_DEFAULTS, type ProbeOptions, type ProbeResult } from './probe.js';
import { purity, type Purity } from './purity.js';

export interface ProbeRequest extends ProbeOptions {
  model: ModelSource;
  patched?: ModelSource;
  tensors: string[];
  /** `color-cube[:N]` or a .npy/.npz/.json file, as for `sca compare`. */
  data: string;
  /** A .npy/.json file, `redness` (colour cube only), or labels already loaded. */
  labels: string | Labels;
  /** Feature axis of the tensors (default the last). */
  axis?: number;
  device?: Device;
  batchSize?: number;
  /**
   * Most rows a tensor's probe keeps (default 512 MiB of them, activations.ts):
   * past it, a uniform sample seeded with `seed`, the same rows for the
   * intact and the patched model, stated in each tensor's `sample`.
   */
  maxRows?: number;
}

export interface TensorProbe {
  tensor: string;
  width: number;
  /** 'example': one row per example (other axes averaged); 'position': one per position. */
  rows: 'example' | 'position';
  /** When the rows were more than the probe keeps: how many it kept, of how many, and the seed that chose them; null otherwise. */
  sample: RowSample | null;
  intact: ProbeResult;
  patched: ProbeResult | null;
  /** When the intact model anchors a concept at this tensor and the labels have two classes. */
  purity: { intact: Purity; patched: Purity | null } | null;
}

/** The JSON of `sca probe --json` (schemaVersion 1). */
export interface ProbeReport {
  schemaVersion: 1;
  model: string;
  patched: string | null;
  data: { name: string; samples: number };
  labels: { source: string; classes: string[]; counts: number[] };
  tensors: TensorProbe[];
}

export function resolveLabels(labels: string | Labels, dataset: Dataset): Labels {
  if (typeof labels !== 'string') return labels;
  if (labels === REDNESS_LABELS) {
    if (!dataset.colors) throw new UsageError(`--labels ${REDNESS_LABELS} needs --data color-cube[:N]`);
    return rednessLabels(dataset.colors);
  }
  return loadLabels(labels);
}

export async function probeModels(request: ProbeRequest): Promise<ProbeReport> {
  if (request.tensors.length === 0) throw new UsageError('give at least one --tensor');
  const intact = resolveSource(request.model);
  const patched = request.patched === undefined ? undefined : resolveSource(request.patched);
  const dataset = loadDataset(request.data, requiredInputs(intact.model.proto.graph!));
  const labels = resolveLabels(request.labels, dataset);
  // Streamed: each batch is reduced to probe rows and only a bounded, seeded sample of them is kept.
  const options = {
    axis: request.axis,
    device: request.device,
    batchSize: request.batchSize,
    maxRows: request.maxRows,
    seed: request.seed ?? PROBE_DEFAULTS.seed,
  };
  const intactRows = await sampleActivations(intact, request.tensors, dataset, labels.values, options);
  const patchedRows = patched ? await sampleActivations(patched, request.tensors, dataset, labels.values, options) : undefined;
  const anchors = readAnchors(intact.model.proto, intact.label);
  const counts = labels.classes.map((_, c) => labels.values.filter((v) => v === c).length);

  const tensors = intactRows.map((t, k): TensorProbe => {
    const { x, rows } = t;
    const probe = (features: typeof x, values: Int32Array) => crossValidatedProbe(features, values, labels.classes.length, request);
    const after = patchedRows?.[k];
    const anchor = labels.classes.length === 2 ? anchors.find((a) => a.tensor === t.tensor && (!a.direction || a.direction.length === x.width)) : undefined;
    return {
      tensor: t.tensor,
      width: x.width,
      rows,
      sample: t.sample,
      intact: probe(x, t.labels),
      patched: after ? probe(after.x, after.labels) : null,
      purity: anchor ? { intact: purity(x, t.labels, anchor), patched: after ? purity(after.x, after.labels, anchor) : null } : null,
    };
  });
  return {
    schemaVersion: 1,
    model: intact.label,
    patched: patched?.label ?? null,
    data: { name: dataset.name, samples: dataset.samples },
    labels: { source: labels.source, classes: labels.classes, counts },
    tensors,
  };
}

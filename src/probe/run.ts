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
import { collectActivations, rowsFor, type ModelSource } from './activations.js';
import { loadLabels, REDNESS_LABELS, rednessLabels, type Labels } from '../data/labels.js';
import { crossValidatedProbe, type ProbeOptions, type ProbeResult } from './probe.js';
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
}

export interface TensorProbe {
  tensor: string;
  width: number;
  /** 'example': one row per example (other axes averaged); 'position': one per position. */
  rows: 'example' | 'position';
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
  const options = { axis: request.axis, device: request.device, batchSize: request.batchSize };
  const intactRows = await collectActivations(intact, request.tensors, dataset, options);
  const patchedRows = patched ? await collectActivations(patched, request.tensors, dataset, options) : undefined;
  const anchors = readAnchors(intact.model.proto, intact.label);
  const counts = labels.classes.map((_, c) => labels.values.filter((v) => v === c).length);

  const tensors = intactRows.map((t, k): TensorProbe => {
    const { x, rows } = rowsFor(t, labels.values.length, dataset.samples);
    const probe = (features: typeof x) => crossValidatedProbe(features, labels.values, labels.classes.length, request);
    const after = patchedRows ? rowsFor(patchedRows[k], labels.values.length, dataset.samples).x : undefined;
    const anchor = labels.classes.length === 2 ? anchors.find((a) => a.tensor === t.tensor && (!a.direction || a.direction.length === x.width)) : undefined;
    return {
      tensor: t.tensor,
      width: x.width,
      rows,
      intact: probe(x),
      patched: after ? probe(after) : null,
      purity: anchor ? { intact: purity(x, labels.values, anchor), patched: after ? purity(after, labels.values, anchor) : null } : null,
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

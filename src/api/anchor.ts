/**
 * `sca anchor` as library functions. `anchorManually` records an anchor the
 * caller knows (a model exported by torch.onnx without a manifest).
 * `anchorFromData` (`--from-data X --labels Y --method mean-diff|leace`)
 * runs the model over the data with the tensor exposed, fits the direction
 * or the eraser (fromData.ts), and records it with its provenance (method,
 * sample count, hashes of the data and labels).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { Graph } from '../ir/graph.js';
import { loadDataset, requiredInputs } from '../data/datasets.js';
import type { Device } from '../runtime/session.js';
import type { Model } from '../onnx/model.js';
import { collectActivations, rowsFor } from '../probe/activations.js';
import type { Labels } from '../data/labels.js';
import { resolveLabels } from '../probe/run.js';
import { withoutPadding } from '../data/decoder.js';
import { normalize } from '../maths/basis.js';
import { fitLeace, meanDifference, type Provenance } from '../anchors/fromData.js';
import { writeAnchors, type Anchor } from '../anchors/manifest.js';
// Datasets a domain names (color-cube) must be known here, as from the CLI.
import '../domains/index.js';

/** An anchor the caller knows: the manifest's fields, without the ones anchoring from data records. */
export type ManualAnchorRequest = Pick<Anchor, 'concept' | 'tensor' | 'axis' | 'direction' | 'dims'>;

/** Records `request` as the model's anchor for its concept (replacing one of the same name). */
export function anchorManually(model: Model, request: ManualAnchorRequest, label = 'model'): Anchor {
  new Graph(model.proto.graph!).require(request.tensor, label);
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
  const [t] = await collectActivations({ label, model, ...(model.path ? { path: model.path } : {}) }, [request.tensor], dataset, {
    axis: request.axis,
    device: request.device,
  });
  if (t.axis !== t.shape.length - 1) {
    throw new UsageError(`--axis ${request.axis}: anchors act on a tensor's last axis (axis ${t.shape.length - 1} of '${request.tensor}')`);
  }
  const found = rowsFor(t, labels.values.length, dataset.samples);
  const { rows } = found;
  // Per-position labels of a padded decoder batch: the padding positions are not examples.
  const unpadded =
    rows === 'position' && dataset.mask && dataset.mask.length === found.x.rows ? withoutPadding(found.x, labels.values, dataset.mask) : undefined;
  const x = unpadded?.x ?? found.x;
  const values = unpadded?.labels ?? labels.values;
  const classes = labels.classes.length;
  if (classes < 2) throw new UsageError(`--labels: every example has the same label (${labels.classes[0]}); there is no concept to find`);
  const provenance: Provenance = {
    method: request.method,
    samples: x.rows,
    dataHash: hashOf(request.data),
    labelsHash: hashOf(request.labels),
    classes: labels.classes,
    rows,
  };
  let anchor: Anchor;
  if (request.method === 'mean-diff') {
    anchor = { concept: request.concept, tensor: request.tensor, direction: meanDifference(x, values, classes), provenance };
  } else {
    const eraser = fitLeace(x, values, classes);
    // A rank-1 eraser also gives the concept a direction (what it removes), for steering and reports.
    const direction = eraser.left.length === 1 ? { direction: normalize(eraser.left[0]) } : {};
    anchor = { concept: request.concept, tensor: request.tensor, ...direction, eraser, provenance };
  }
  writeAnchors(model.proto, [anchor]);
  return anchor;
}

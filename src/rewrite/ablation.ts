/**
 * Permanent removal of an anchored concept by editing weights (SCA.md,
 * "Interventions"):
 * - ablate: zero the producer rows (and bias entries) that write the
 *   reserved dims and the consumer columns that read them; shapes unchanged;
 * - prune: delete those rows and columns, shrinking the anchored axis;
 * - fold: for a direction (not axis-aligned), replace each consumer weight W
 *   by P W with P = I - a a^T, so the removal costs no extra node.
 */
import { readAnchors, recordIntervention, writeAnchors, type Anchor } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { requireTensor } from '../onnx/graph.js';
import type { Model } from '../onnx/model.js';
import { setTensorFloats, tensorFloats } from '../onnx/tensor.js';
import type { GraphProto, ModelProto, TensorProto } from '../onnx/types.js';
import { findLinearSite, ownWeight, reshapeTarget, type LinearSite, type WeightUse } from './weights.js';

export interface AblationResult {
  tensor: string;
  dims: number[];
  pruned: boolean;
  /** Initializers that were changed (after any copy of a shared weight). */
  edited: string[];
}

function matrixOf(t: TensorProto, label: string): [number, number] {
  if (t.dims.length !== 2) throw new UsageError(`weight '${t.name}' has ${t.dims.length} dims; ${label} expects a matrix`);
  return [Number(t.dims[0]), Number(t.dims[1])];
}

/** Applies `f(row, col, value)` to a matrix weight in place, or drops the indices of `axis` listed in `drop`. */
function editMatrix(model: Model, t: TensorProto, axis: 0 | 1, dims: number[], mode: 'zero' | 'prune'): void {
  const [rows, cols] = matrixOf(t, 'the edit');
  const extent = axis === 0 ? rows : cols;
  for (const d of dims) {
    if (d >= extent) throw new UsageError(`dim ${d} is out of range for weight '${t.name}' (axis of size ${extent})`);
  }
  const values = tensorFloats(t, model.baseDir);
  const hit = new Set(dims);
  if (mode === 'zero') {
    // Touch only the affected rows or columns: weights can hold hundreds of millions of values.
    if (axis === 0) for (const r of dims) values.fill(0, r * cols, (r + 1) * cols);
    else for (let r = 0; r < rows; r++) for (const c of dims) values[r * cols + c] = 0;
    setTensorFloats(t, values);
    return;
  }
  const kept: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (axis === 0 && hit.has(r)) continue;
    for (let c = 0; c < cols; c++) if (axis === 0 || !hit.has(c)) kept.push(values[r * cols + c]);
  }
  setTensorFloats(t, kept, axis === 0 ? [rows - dims.length, cols] : [rows, cols - dims.length]);
}

function editBias(model: Model, t: TensorProto, dims: number[], mode: 'zero' | 'prune'): void {
  const shape = t.dims.map(Number);
  if (!(shape.length === 1 || (shape.length === 2 && shape[0] === 1))) {
    throw new UsageError(`bias '${t.name}' has shape [${shape.join(', ')}]; expected a vector`);
  }
  const values = Array.from(tensorFloats(t, model.baseDir));
  if (mode === 'zero') {
    for (const d of dims) values[d] = 0;
    setTensorFloats(t, values);
  } else {
    const kept = values.filter((_, i) => !dims.includes(i));
    setTensorFloats(t, kept, shape.length === 1 ? [kept.length] : [1, kept.length]);
  }
}

function edit(model: Model, graph: GraphProto, use: WeightUse, dims: number[], mode: 'zero' | 'prune', edited: string[]): void {
  const t = ownWeight(graph, use.node, use.input);
  editMatrix(model, t, use.axis, dims, mode);
  edited.push(t.name!);
}

/** Shrinks the last axis of value info for the tensors that carried the pruned dims. */
function shrinkShapes(graph: GraphProto, site: LinearSite, removed: number): void {
  for (const v of [...graph.valueInfo, ...graph.output, ...graph.input]) {
    if (!v.name || !site.carriers.includes(v.name)) continue;
    const dims = v.type?.tensorType?.shape?.dim;
    const last = dims?.[dims.length - 1];
    if (last?.dimValue !== undefined) last.dimValue = Number(last.dimValue) - removed;
  }
}

/** After pruning, anchors on the tensor lose the deleted dims; an anchor left with none is gone. */
function remapAnchors(proto: ModelProto, tensor: string, dims: number[]): void {
  const anchors = readAnchors(proto);
  if (anchors.length === 0) return;
  const shift = (i: number) => i - dims.filter((d) => d < i).length;
  const kept: Anchor[] = [];
  for (const a of anchors) {
    if (a.tensor !== tensor) {
      kept.push(a);
      continue;
    }
    if (a.dims?.some((d) => dims.includes(d))) continue;
    kept.push({
      ...a,
      ...(a.dims ? { dims: a.dims.map(shift) } : {}),
      ...(a.direction ? { direction: a.direction.filter((_, i) => !dims.includes(i)) } : {}),
    });
  }
  proto.metadataProps = proto.metadataProps.filter((p) => p.key !== 'sca.anchors');
  if (kept.length) writeAnchors(proto, kept);
}

export function ablateDims(model: Model, tensor: string, dims: number[], options: { prune?: boolean; concept?: string } = {}): AblationResult {
  const graph = model.proto.graph!;
  requireTensor(graph, tensor);
  if (dims.length === 0) throw new UsageError('`dims` is empty');
  if (new Set(dims).size !== dims.length || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new UsageError(`\`dims\`: [${dims.join(', ')}] must be distinct whole numbers of 0 or more`);
  }
  const site = findLinearSite(graph, tensor);
  const mode = options.prune ? 'prune' : 'zero';
  if (options.prune) {
    const output = site.carriers.find((c) => graph.output.some((o) => o.name === c));
    if (output) throw new UsageError(`cannot prune: '${output}' is a graph output, and pruning would change its shape`);
  }
  const edited: string[] = [];
  edit(model, graph, site.producer, dims, mode, edited);
  if (site.bias) {
    const bias = ownWeight(graph, site.bias.node, site.bias.input);
    editBias(model, bias, dims, mode);
    edited.push(bias.name!);
  }
  for (const use of site.consumers) edit(model, graph, use, dims, mode, edited);
  if (options.prune) {
    for (const r of site.reshapes) {
      const target = reshapeTarget(graph, r)!;
      target[target.length - 1] -= dims.length;
      const shape = ownWeight(graph, r, 1);
      shape.rawData = new Uint8Array(BigInt64Array.from(target, (v) => BigInt(v)).buffer);
      shape.int64Data = [];
      edited.push(shape.name!);
    }
    shrinkShapes(graph, site, dims.length);
    remapAnchors(model.proto, tensor, dims);
  }
  recordIntervention(model.proto, {
    kind: options.prune ? 'prune' : 'ablate',
    tensor,
    ...(options.concept ? { concept: options.concept } : {}),
    dims: [...dims].sort((a, b) => a - b),
    edited,
  });
  return { tensor, dims, pruned: Boolean(options.prune), edited };
}

/**
 * Folds a linear map z -> z M (M symmetric, D x D) into every consumer of
 * `tensor`: for y = z W (W is D x N) W becomes M W; for Gemm with transB,
 * B (N x D) becomes B M. The tensor itself keeps its intact value.
 */
export function foldLinearMap(model: Model, tensor: string, m: number[][], record: Record<string, unknown>): string[] {
  const graph = model.proto.graph!;
  requireTensor(graph, tensor);
  if (graph.output.some((o) => o.name === tensor)) {
    throw new UsageError(`cannot fold into consumers: '${tensor}' is a graph output, which folding would leave unchanged`);
  }
  const site = findLinearSite(graph, tensor);
  const width = m.length;
  const edited: string[] = [];
  for (const use of site.consumers) {
    const t = ownWeight(graph, use.node, use.input);
    const [rows, cols] = matrixOf(t, 'folding');
    const w = tensorFloats(t, model.baseDir);
    const out = new Float64Array(rows * cols);
    if (use.axis === 0) {
      if (rows !== width) throw new UsageError(`weight '${t.name}' has ${rows} rows, expected ${width}`);
      for (let i = 0; i < rows; i++) for (let k = 0; k < rows; k++) {
        const mik = m[i][k];
        if (mik !== 0) for (let j = 0; j < cols; j++) out[i * cols + j] += mik * w[k * cols + j];
      }
    } else {
      if (cols !== width) throw new UsageError(`weight '${t.name}' has ${cols} columns, expected ${width}`);
      for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) {
        const wik = w[i * cols + k];
        if (wik !== 0) for (let j = 0; j < cols; j++) out[i * cols + j] += wik * m[k][j];
      }
    }
    setTensorFloats(t, out);
    edited.push(t.name!);
  }
  recordIntervention(model.proto, { kind: 'fold', tensor, ...record, edited });
  return edited;
}

/** I + c Q^T Q for orthonormal rows Q: c = -b removes b of the subspace, c = S amplifies it by 1+S. */
export function subspaceMap(basis: number[][], c: number): number[][] {
  const width = basis[0].length;
  return Array.from({ length: width }, (_, i) =>
    Array.from({ length: width }, (_, j) => (i === j ? 1 : 0) + c * basis.reduce((s, q) => s + q[i] * q[j], 0)),
  );
}

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
import type { Graph } from '../ir/graph.js';
import { IrModel } from '../ir/model.js';
import type { Model } from '../onnx/model.js';
import { setTensorFloats, tensorFloats } from '../onnx/tensor.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/types.js';
import type { Target } from './intervention.js';
import { findLinearSite, findReaders, ownWeight, reshapeTarget, type LinearSite, type WeightUse } from './weights.js';

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

function edit(model: Model, graph: Graph, use: WeightUse, dims: number[], mode: 'zero' | 'prune', edited: string[]): void {
  const t = ownWeight(graph, use.node, use.input);
  editMatrix(model, t, use.axis, dims, mode);
  edited.push(t.name!);
}

/** Shrinks the last axis of value info for the tensors that carried the pruned dims. */
function shrinkShapes(graph: Graph, site: LinearSite, removed: number): void {
  const g = graph.proto;
  for (const v of [...g.valueInfo, ...g.output, ...g.input]) {
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

/** A Reshape's shape input, owned by that Reshape alone (copied first if shared), for pruning to shrink. */
function ownShape(graph: Graph, reshape: NodeProto): TensorProto {
  const name = reshape.input[1];
  if (graph.initializer(name)) return ownWeight(graph, reshape, 1);
  const constant = graph.producer(name)!;
  if (graph.uses(name).length > 1) {
    throw new UsageError(`cannot prune through node '${reshape.name || reshape.output[0]}' (Reshape): its shape comes from Constant '${constant.name}', which other nodes read too`);
  }
  return graph.constantTensor(name)!;
}

export interface AblateOptions {
  prune?: boolean;
  concept?: string;
  /** Axis of the tensor holding the dims; only the last (feature) axis of Gemm/MatMul layers is supported. */
  axis?: number;
}

export function ablateDims(model: Model, tensor: string, dims: number[], options: AblateOptions = {}): AblationResult {
  const ir = new IrModel(model);
  const graph = ir.graph;
  graph.require(tensor);
  if (dims.length === 0) throw new UsageError('dims: the list is empty');
  if (new Set(dims).size !== dims.length || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new UsageError(`dims: [${dims.join(', ')}] must be distinct whole numbers of 0 or more`);
  }
  const rank = ir.types.get(tensor)?.shape?.length;
  if (options.axis !== undefined && rank !== undefined) {
    const axis = options.axis < 0 ? rank + options.axis : options.axis;
    if (!(axis >= 0 && axis < rank)) throw new UsageError(`axis ${options.axis} is out of range for '${tensor}', which has rank ${rank}`);
    if (axis !== rank - 1) throw new UsageError(`ablation edits Gemm/MatMul weights along the last axis of '${tensor}'; axis ${options.axis} is not supported`);
  } else if (options.axis !== undefined && options.axis !== -1) {
    throw new UsageError(`the rank of '${tensor}' is not known, so axis ${options.axis} cannot be checked; ablation works on the last axis (-1)`);
  }
  const site = findLinearSite(graph, tensor);
  const mode = options.prune ? 'prune' : 'zero';
  if (options.prune) {
    const output = site.carriers.find((c) => graph.isOutput(c));
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
      const shape = ownShape(graph, r);
      shape.rawData = new Uint8Array(BigInt64Array.from(target, (v) => BigInt(v)).buffer);
      shape.int64Data = [];
      edited.push(shape.name ?? r.input[1]);
    }
    shrinkShapes(graph, site, dims.length);
    remapAnchors(model.proto, tensor, dims);
  }
  recordIntervention(model.proto, {
    kind: options.prune ? 'prune' : 'ablate',
    tensor,
    ...(options.concept ? { concept: options.concept } : {}),
    axis: rank === undefined ? -1 : rank - 1,
    dims: [...dims].sort((a, b) => a - b),
    edited,
  });
  return { tensor, dims, pruned: Boolean(options.prune), edited };
}

/**
 * Folds z -> z (I + c Q^T Q) (Q: orthonormal rows, k x D) into every weight
 * that reads the target tensor, as a rank-k update: for y = z W (W is D x N),
 * W' = W + c Q^T (Q W); for Gemm with transB (B is N x D), B' = B + c (B Q^T) Q.
 * O(k D N), against O(D^2 N) for forming the D x D map. The tensor itself
 * keeps its intact value.
 */
export function foldLinearMap(model: Model, target: Target, basis: number[][], c: number, record: Record<string, unknown>): string[] {
  const ir = new IrModel(model);
  const graph = ir.graph;
  const { tensor, width } = target;
  if (target.axis !== target.rank - 1) throw new UsageError(`fold edits Gemm/MatMul weights that read the last axis of '${tensor}'; axis ${target.axis} is not supported`);
  if (graph.isOutput(tensor)) {
    throw new UsageError(`cannot fold into readers: '${tensor}' is a graph output, which folding would leave unchanged`);
  }
  const edited: string[] = [];
  for (const use of findReaders(graph, tensor, width)) {
    const t = ownWeight(graph, use.node, use.input);
    const [rows, cols] = matrixOf(t, 'folding');
    const along = use.axis === 0 ? rows : cols;
    if (along !== width) throw new UsageError(`weight '${t.name}' has ${along} ${use.axis === 0 ? 'rows' : 'columns'}, expected ${width}`);
    const w = tensorFloats(t, model.baseDir);
    setTensorFloats(t, lowRankUpdate(w, rows, cols, use.axis, basis, c));
    edited.push(t.name!);
  }
  recordIntervention(model.proto, { kind: 'fold', tensor, axis: target.axis, ...record, edited });
  return edited;
}

/** W + c Q^T (Q W) when the D axis is rows (axis 0), W + c (W Q^T) Q when it is columns (axis 1). */
export function lowRankUpdate(w: Float32Array, rows: number, cols: number, axis: 0 | 1, basis: number[][], c: number): Float32Array {
  const out = Float32Array.from(w);
  for (const q of basis) {
    if (axis === 0) {
      const r = new Float64Array(cols);
      for (let i = 0; i < rows; i++) {
        const qi = q[i];
        if (qi !== 0) for (let j = 0; j < cols; j++) r[j] += qi * w[i * cols + j];
      }
      for (let i = 0; i < rows; i++) {
        const s = c * q[i];
        if (s !== 0) for (let j = 0; j < cols; j++) out[i * cols + j] += s * r[j];
      }
    } else {
      for (let n = 0; n < rows; n++) {
        let dot = 0;
        for (let i = 0; i < cols; i++) dot += w[n * cols + i] * q[i];
        const s = c * dot;
        if (s !== 0) for (let i = 0; i < cols; i++) out[n * cols + i] += s * q[i];
      }
    }
  }
  return out;
}

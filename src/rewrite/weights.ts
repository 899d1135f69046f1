/**
 * Finding the linear layers that write and read an anchored tensor, for
 * edits that change weights instead of adding nodes (ablation, pruning,
 * folding). The walk looks through ops that keep every coordinate of the last
 * axis independent and map 0 to 0 (so zeroed dims stay zero), and through
 * per-row normalisation such as SCA's L2 bottleneck. Anything else stops it
 * with an error naming the node, because an edit past it would be unsound.
 */
import { UsageError } from '../errors.js';
import { consumersOf, producerOf } from '../onnx/graph.js';
import type { GraphProto, NodeProto, TensorProto } from '../onnx/types.js';

/** Elementwise ops with f(0) = 0 that act on each coordinate alone. */
const ZERO_PRESERVING_UNARY = new Set(['Identity', 'Relu', 'Tanh', 'LeakyRelu', 'Gelu', 'Neg', 'Dropout', 'Elu', 'Selu', 'Softsign', 'HardSwish', 'Mish']);
/** Ops that may appear inside the norm computation of a per-row normalisation. */
const NORM_OPS = new Set(['Abs', 'Pow', 'Mul', 'ReduceSum', 'ReduceL2', 'ReduceSumSquare', 'Sqrt', 'Clip', 'Max', 'Add', 'Identity', 'Cast']);

/** A weight matrix and which of its axes indexes the anchored tensor's last axis. */
export interface WeightUse {
  node: NodeProto;
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Axis of the weight matrix that runs over the anchored dims. */
  axis: 0 | 1;
}

export interface BiasUse {
  node: NodeProto;
  input: number;
}

export interface LinearSite {
  /** Weights whose `axis` writes the anchored dims (one producer). */
  producer: WeightUse;
  /** Bias added by the producer, if any. */
  bias?: BiasUse;
  /** Weights whose `axis` reads the anchored dims (every consumer). */
  consumers: WeightUse[];
  /** Tensors between the producer and the consumers that carry the anchored axis (for shape updates). */
  carriers: string[];
  /** Reshape nodes on the path: their target's last entry is the anchored width (updated by pruning). */
  reshapes: NodeProto[];
}

function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a?.i === undefined ? fallback : Number(a.i);
}

function describe(node: NodeProto): string {
  return `node '${node.name || node.output[0]}' (${node.opType})`;
}

export function initializer(graph: GraphProto, name: string): TensorProto | undefined {
  return graph.initializer.find((t) => t.name === name);
}

function isScalarConstant(graph: GraphProto, name: string): boolean {
  const t = initializer(graph, name);
  return !!t && t.dims.reduce<number>((n, d) => n * Number(d), 1) === 1;
}

/** Does `node`'s output depend only on `source` (and constants), through norm-like ops? */
function derivesOnlyFrom(graph: GraphProto, tensor: string, source: string, depth = 0): boolean {
  if (tensor === source) return true;
  if (initializer(graph, tensor) || !tensor) return true;
  const p = producerOf(graph, tensor);
  if (!p || depth > 12) return false;
  if (p.opType === 'Constant') return true;
  if (!NORM_OPS.has(p.opType ?? '')) return false;
  return p.input.every((i) => derivesOnlyFrom(graph, i, source, depth + 1));
}

/** Div(x, norm(x)) where norm is a reduction of x over its last axis: a per-row scale. */
function isRowNormalisation(graph: GraphProto, node: NodeProto): boolean {
  if (node.opType !== 'Div') return false;
  const [x, denominator] = node.input;
  if (denominator === x) return false;
  return derivesOnlyFrom(graph, denominator, x) && involvesReduction(graph, denominator, x);
}

function involvesReduction(graph: GraphProto, tensor: string, source: string, depth = 0): boolean {
  if (tensor === source || depth > 12) return false;
  const p = producerOf(graph, tensor);
  if (!p) return false;
  if (p.opType?.startsWith('Reduce')) return true;
  return p.input.some((i) => involvesReduction(graph, i, source, depth + 1));
}

/**
 * Reshape and Transpose only move the anchored axis around: a Transpose
 * that keeps the last axis last, and a Reshape whose target keeps a fixed last
 * entry (checked against the layer width once it is known), as torch.onnx
 * writes around a Linear applied to [B, T, D].
 */
function isLayoutOnly(graph: GraphProto, node: NodeProto, reshapes: NodeProto[]): boolean {
  if (node.opType === 'Transpose') {
    const perm = node.attribute.find((a) => a.name === 'perm')?.ints.map(Number);
    return !!perm && perm[perm.length - 1] === perm.length - 1;
  }
  if (node.opType === 'Reshape') {
    const target = reshapeTarget(graph, node);
    if (!target || !(target[target.length - 1] > 0)) return false;
    reshapes.push(node);
    return true;
  }
  return false;
}

export function reshapeTarget(graph: GraphProto, node: NodeProto): number[] | undefined {
  const t = initializer(graph, node.input[1]);
  if (!t) return undefined;
  if (t.rawData && !(t.rawData instanceof Uint8Array)) return undefined;
  const raw = t.rawData ? new BigInt64Array(new Uint8Array(t.rawData).buffer) : BigInt64Array.from(t.int64Data.map((v) => BigInt(v)));
  return Array.from(raw, Number);
}

/** The next tensor upstream on the anchored path, or undefined at a linear producer. */
function stepBack(graph: GraphProto, node: NodeProto, reshapes: NodeProto[]): string {
  const op = node.opType ?? '';
  if (isLayoutOnly(graph, node, reshapes)) return node.input[0];
  if (ZERO_PRESERVING_UNARY.has(op)) return node.input[0];
  if ((op === 'Mul' || op === 'Div') && isScalarConstant(graph, node.input[1])) return node.input[0];
  if (op === 'Mul' && isScalarConstant(graph, node.input[0])) return node.input[1];
  if (isRowNormalisation(graph, node)) return node.input[0];
  throw new UsageError(`cannot edit weights through ${describe(node)}: it mixes dims of the anchored axis or does not keep zeros at zero`);
}

function requireWeight(graph: GraphProto, node: NodeProto, input: number): void {
  const name = node.input[input];
  if (!initializer(graph, name)) {
    const what = graph.input.some((i) => i.name === name) ? 'a graph input' : 'computed in the graph';
    throw new UsageError(`cannot edit weight '${name}' of ${describe(node)}: it is ${what}, not a stored initializer`);
  }
}

/** Walks up from `tensor` to the Gemm/MatMul that writes it. */
function findProducer(graph: GraphProto, tensor: string, carriers: string[], reshapes: NodeProto[]): { producer: WeightUse; bias?: BiasUse } {
  let current = tensor;
  let bias: BiasUse | undefined;
  for (;;) {
    carriers.push(current);
    const node = producerOf(graph, current);
    if (!node) throw new UsageError(`no linear layer writes '${tensor}': reached '${current}', which no node produces`);
    const op = node.opType;
    if (op === 'Gemm') {
      if (attrInt(node, 'transA', 0) !== 0) throw new UsageError(`cannot edit ${describe(node)}: transA is not supported`);
      requireWeight(graph, node, 1);
      if (node.input[2]) {
        requireWeight(graph, node, 2);
        bias = { node, input: 2 };
      }
      return { producer: { node, input: 1, axis: attrInt(node, 'transB', 0) === 1 ? 0 : 1 }, bias };
    }
    if (op === 'MatMul') {
      requireWeight(graph, node, 1);
      return { producer: { node, input: 1, axis: 1 }, bias };
    }
    if (op === 'Conv') {
      requireWeight(graph, node, 1);
      if (node.input[2]) bias = { node, input: 2 };
      throw new UsageError(`cannot edit ${describe(node)}: Conv weights are not supported yet`);
    }
    if (op === 'Add' && !bias) {
      const biasInput = node.input.findIndex((i) => initializer(graph, i));
      if (biasInput >= 0) {
        bias = { node, input: biasInput };
        current = node.input[1 - biasInput];
        continue;
      }
    }
    current = stepBack(graph, node, reshapes);
  }
}

/** Walks down from `tensor` to every Gemm/MatMul that reads it. */
function findConsumers(graph: GraphProto, tensor: string, carriers: string[], reshapes: NodeProto[]): WeightUse[] {
  const found: WeightUse[] = [];
  const visit = (name: string): void => {
    if (!carriers.includes(name)) carriers.push(name);
    for (const node of consumersOf(graph, name)) {
      const op = node.opType ?? '';
      if (op === 'Gemm' && node.input[0] === name) {
        if (attrInt(node, 'transA', 0) !== 0) throw new UsageError(`cannot edit ${describe(node)}: transA is not supported`);
        requireWeight(graph, node, 1);
        found.push({ node, input: 1, axis: attrInt(node, 'transB', 0) === 1 ? 1 : 0 });
      } else if (op === 'MatMul' && node.input[0] === name) {
        requireWeight(graph, node, 1);
        found.push({ node, input: 1, axis: 0 });
      } else if (ZERO_PRESERVING_UNARY.has(op) || ((op === 'Mul' || op === 'Div') && isScalarConstant(graph, node.input[1])) || (node.input[0] === name && isLayoutOnly(graph, node, reshapes))) {
        visit(node.output[0]);
      } else {
        throw new UsageError(`cannot edit weights that read '${tensor}': ${describe(node)} reads it and mixes dims of the anchored axis`);
      }
    }
  };
  visit(tensor);
  return found;
}

export function findLinearSite(graph: GraphProto, tensor: string): LinearSite {
  const carriers: string[] = [];
  const reshapes: NodeProto[] = [];
  const { producer, bias } = findProducer(graph, tensor, carriers, reshapes);
  const consumers = findConsumers(graph, tensor, carriers, reshapes);
  if (consumers.length === 0) throw new UsageError(`no Gemm or MatMul reads '${tensor}'`);
  const weight = initializer(graph, producer.node.input[producer.input])!;
  const width = Number(weight.dims[producer.axis]);
  for (const r of reshapes) {
    const last = reshapeTarget(graph, r)!.at(-1);
    if (last !== width) throw new UsageError(`cannot edit weights through ${describe(r)}: it changes the anchored axis (${width} to ${last})`);
  }
  return { producer, bias, consumers, carriers: [...new Set(carriers)], reshapes };
}

/**
 * Makes sure the initializer behind `use` belongs to this node alone: a
 * weight shared with another layer is copied first, so the other layer keeps
 * the original. Returns the tensor to edit.
 */
export function ownWeight(graph: GraphProto, node: NodeProto, input: number): TensorProto {
  const name = node.input[input];
  const tensor = initializer(graph, name)!;
  const users = graph.node.filter((n) => n.input.includes(name)).length;
  if (users <= 1 && !graph.output.some((o) => o.name === name)) return tensor;
  const taken = new Set(graph.initializer.map((t) => t.name));
  let copyName = `${name}/sca_edited`;
  for (let k = 1; taken.has(copyName); k++) copyName = `${name}/sca_edited_${k}`;
  const copy: TensorProto = { ...tensor, name: copyName, dims: [...tensor.dims], externalData: [...tensor.externalData] };
  graph.initializer.push(copy);
  // Below IR version 4 every initializer is also a graph input: so is the copy of one that was.
  const listed = graph.input.find((v) => v.name === name);
  if (listed) graph.input.push({ ...listed, name: copyName });
  node.input[input] = copyName;
  return copy;
}

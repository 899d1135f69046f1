/**
 * Finding the linear layers that write and read an anchored tensor, for
 * edits that change weights instead of adding nodes (ablation, pruning,
 * folding). The walk looks through ops that keep every coordinate of the last
 * axis independent and map 0 to 0 (so zeroed dims stay zero), and through
 * per-row normalisation such as SCA's L2 bottleneck. Anything else stops it
 * with an error naming the node, because an edit past it would be unsound.
 */
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { elementCount } from '../onnx/tensor.js';
import { DataType, type NodeProto, type TensorProto } from '../onnx/types.js';

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

/** A one-element constant (an initializer or a Constant node): a scalar factor keeps dims independent. */
function isScalarConstant(graph: Graph, name: string): boolean {
  const t = graph.constantTensor(name);
  return !!t && elementCount(t.dims) === 1;
}

/** Does `node`'s output depend only on `source` (and constants), through norm-like ops? */
function derivesOnlyFrom(graph: Graph, tensor: string, source: string, depth = 0): boolean {
  if (tensor === source) return true;
  if (!tensor || graph.constantTensor(tensor)) return true;
  const p = graph.producer(tensor);
  if (!p || depth > 12) return false;
  if (p.opType === 'Constant') return true;
  if (!NORM_OPS.has(p.opType ?? '')) return false;
  return p.input.every((i) => derivesOnlyFrom(graph, i, source, depth + 1));
}

/** Div(x, norm(x)) where norm is a reduction of x over its last axis: a per-row scale. */
function isRowNormalisation(graph: Graph, node: NodeProto): boolean {
  if (node.opType !== 'Div') return false;
  const [x, denominator] = node.input;
  if (denominator === x) return false;
  return derivesOnlyFrom(graph, denominator, x) && involvesReduction(graph, denominator, x);
}

function involvesReduction(graph: Graph, tensor: string, source: string, depth = 0): boolean {
  if (tensor === source || depth > 12) return false;
  const p = graph.producer(tensor);
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
function isLayoutOnly(graph: Graph, node: NodeProto, reshapes: NodeProto[]): boolean {
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

export function reshapeTarget(graph: Graph, node: NodeProto): number[] | undefined {
  const t = graph.constantTensor(node.input[1]);
  if (!t || t.dataType !== DataType.INT64) return undefined;
  if (t.rawData && !(t.rawData instanceof Uint8Array)) return undefined;
  const raw = t.rawData ? new BigInt64Array(new Uint8Array(t.rawData).buffer) : BigInt64Array.from(t.int64Data.map((v) => BigInt(v)));
  return Array.from(raw, Number);
}

/** The next tensor upstream on the anchored path, or undefined at a linear producer. */
function stepBack(graph: Graph, node: NodeProto, reshapes: NodeProto[]): string {
  const op = node.opType ?? '';
  if (isLayoutOnly(graph, node, reshapes)) return node.input[0];
  if (ZERO_PRESERVING_UNARY.has(op)) return node.input[0];
  if ((op === 'Mul' || op === 'Div') && isScalarConstant(graph, node.input[1])) return node.input[0];
  if (op === 'Mul' && isScalarConstant(graph, node.input[0])) return node.input[1];
  if (isRowNormalisation(graph, node)) return node.input[0];
  throw new UsageError(`cannot edit weights through ${describe(node)}: it mixes dims of the anchored axis or does not keep zeros at zero`);
}

function requireWeight(graph: Graph, node: NodeProto, input: number): void {
  const name = node.input[input];
  if (!graph.initializer(name)) {
    const what = graph.isInput(name) ? 'a graph input' : 'computed in the graph';
    throw new UsageError(`cannot edit weight '${name}' of ${describe(node)}: it is ${what}, not a stored initializer`);
  }
}

/** Walks up from `tensor` to the Gemm/MatMul that writes it. */
function findProducer(graph: Graph, tensor: string, carriers: string[], reshapes: NodeProto[]): { producer: WeightUse; bias?: BiasUse } {
  let current = tensor;
  let bias: BiasUse | undefined;
  for (;;) {
    carriers.push(current);
    const node = graph.producer(current);
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
      const biasInput = node.input.findIndex((i) => graph.initializer(i));
      if (biasInput >= 0) {
        bias = { node, input: biasInput };
        current = node.input[1 - biasInput];
        continue;
      }
    }
    current = stepBack(graph, node, reshapes);
  }
}

/**
 * Walks down from `tensor` to every Gemm/MatMul that reads it. With
 * `linearOnly` (folding a projection into the readers) only ops that are
 * linear in the tensor are passed: Relu(zP) is not Relu(z)P, while zeroed dims
 * do stay zero through it, which is all ablation needs.
 */
function findConsumers(graph: Graph, tensor: string, carriers: string[], reshapes: NodeProto[], linearOnly = false): WeightUse[] {
  const found: WeightUse[] = [];
  const visit = (name: string): void => {
    if (!carriers.includes(name)) carriers.push(name);
    for (const { node, index } of graph.uses(name)) {
      const op = node.opType ?? '';
      if (index < 0) {
        throw new UsageError(`cannot edit weights that read '${tensor}': ${describe(node)} reads it inside its subgraph, which this edit cannot follow`);
      }
      if (op === 'Gemm' && index === 0) {
        if (attrInt(node, 'transA', 0) !== 0) throw new UsageError(`cannot edit ${describe(node)}: transA is not supported`);
        requireWeight(graph, node, 1);
        found.push({ node, input: 1, axis: attrInt(node, 'transB', 0) === 1 ? 1 : 0 });
      } else if (op === 'MatMul' && index === 0) {
        requireWeight(graph, node, 1);
        found.push({ node, input: 1, axis: 0 });
      } else if (passesThrough(graph, node, index, reshapes, linearOnly)) {
        visit(node.output[0]);
      } else {
        const why = linearOnly ? 'is not linear in it' : 'mixes dims of the anchored axis';
        throw new UsageError(`cannot edit weights that read '${tensor}': ${describe(node)} reads it and ${why}`);
      }
    }
  };
  visit(tensor);
  return found;
}

const LINEAR_UNARY = new Set(['Identity', 'Dropout', 'Neg']);

function passesThrough(graph: Graph, node: NodeProto, index: number, reshapes: NodeProto[], linearOnly: boolean): boolean {
  const op = node.opType ?? '';
  if ((linearOnly ? LINEAR_UNARY : ZERO_PRESERVING_UNARY).has(op)) return true;
  if ((op === 'Mul' || op === 'Div') && index === 0 && isScalarConstant(graph, node.input[1])) return true;
  if (op === 'Mul' && index === 1 && isScalarConstant(graph, node.input[0])) return true;
  return index === 0 && isLayoutOnly(graph, node, reshapes);
}

export function findLinearSite(graph: Graph, tensor: string): LinearSite {
  const carriers: string[] = [];
  const reshapes: NodeProto[] = [];
  const { producer, bias } = findProducer(graph, tensor, carriers, reshapes);
  const consumers = findConsumers(graph, tensor, carriers, reshapes);
  if (consumers.length === 0) throw new UsageError(`no Gemm or MatMul reads '${tensor}'`);
  const weight = graph.initializer(producer.node.input[producer.input])!;
  const width = Number(weight.dims[producer.axis]);
  checkReshapes(graph, reshapes, width);
  return { producer, bias, consumers, carriers: [...new Set(carriers)], reshapes };
}

/** The weights that read `tensor` along its last axis, through ops linear in it: where a projection can be folded. */
export function findReaders(graph: Graph, tensor: string, width: number): WeightUse[] {
  const reshapes: NodeProto[] = [];
  const readers = findConsumers(graph, tensor, [], reshapes, true);
  if (readers.length === 0) throw new UsageError(`no Gemm or MatMul reads '${tensor}', so there is no weight to fold into`);
  checkReshapes(graph, reshapes, width);
  return readers;
}

function checkReshapes(graph: Graph, reshapes: NodeProto[], width: number): void {
  for (const r of reshapes) {
    const last = reshapeTarget(graph, r)!.at(-1);
    if (last !== width) throw new UsageError(`cannot edit weights through ${describe(r)}: it changes the anchored axis (${width} to ${last})`);
  }
}

/**
 * Makes sure the initializer behind `use` belongs to this node alone: a
 * weight shared with another reader (tied embeddings, say) is copied first, so
 * the other reader keeps the original. Returns the tensor to edit.
 */
export function ownWeight(graph: Graph, node: NodeProto, input: number): TensorProto {
  const name = node.input[input];
  const tensor = graph.initializer(name)!;
  if (graph.uses(name).length <= 1 && !graph.isOutput(name)) return tensor;
  const taken = graph.allNames();
  let copyName = `${name}/sca_edited`;
  for (let k = 1; taken.has(copyName); k++) copyName = `${name}/sca_edited_${k}`;
  const copy: TensorProto = { ...tensor, name: copyName, dims: [...tensor.dims], externalData: [...tensor.externalData] };
  graph.addInitializers([copy]);
  graph.setInput(node, input, copyName);
  return copy;
}

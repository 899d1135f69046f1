/**
 * Weights for edits that change them instead of adding nodes: `ownWeight`
 * (a shared weight is copied before an edit), and the readers of a tensor
 * that a fold edits (`findReaders`: Gemm/MatMul reached through ops linear in
 * the tensor). Ablation and pruning walk the op registry instead (walk.ts).
 */
import { UsageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { elementCount } from '../onnx/tensor.js';
import { DataType, type NodeProto, type TensorProto } from '../onnx/types.js';

/** A weight matrix and which of its axes indexes the anchored tensor's last axis. */
export interface WeightUse {
  node: NodeProto;
  /** Index of the weight among the node's inputs. */
  input: number;
  /** Axis of the weight matrix that runs over the anchored dims. */
  axis: 0 | 1;
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

function reshapeTarget(graph: Graph, node: NodeProto): number[] | undefined {
  const t = graph.constantTensor(node.input[1]);
  if (!t || t.dataType !== DataType.INT64) return undefined;
  if (t.rawData && !(t.rawData instanceof Uint8Array)) return undefined;
  const raw = t.rawData ? new BigInt64Array(new Uint8Array(t.rawData).buffer) : BigInt64Array.from(t.int64Data.map((v) => BigInt(v)));
  return Array.from(raw, Number);
}

function requireWeight(graph: Graph, node: NodeProto, input: number): void {
  const name = node.input[input];
  if (!graph.initializer(name)) {
    const what = graph.isInput(name) ? 'a graph input' : 'computed in the graph';
    throw new UsageError(`cannot edit weight '${name}' of ${describe(node)}: it is ${what}, not a stored initializer`);
  }
}

/**
 * Walks down from `tensor` to every Gemm/MatMul that reads it, through ops
 * linear in the tensor only: Relu(zP) is not Relu(z)P.
 */
function findConsumers(graph: Graph, tensor: string, carriers: string[], reshapes: NodeProto[]): WeightUse[] {
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
      } else if (passesThrough(graph, node, index, reshapes)) {
        visit(node.output[0]);
      } else {
        throw new UsageError(`cannot edit weights that read '${tensor}': ${describe(node)} reads it and is not linear in it`);
      }
    }
  };
  visit(tensor);
  return found;
}

const LINEAR_UNARY = new Set(['Identity', 'Dropout', 'Neg']);

function passesThrough(graph: Graph, node: NodeProto, index: number, reshapes: NodeProto[]): boolean {
  const op = node.opType ?? '';
  if (LINEAR_UNARY.has(op)) return true;
  if ((op === 'Mul' || op === 'Div') && index === 0 && isScalarConstant(graph, node.input[1])) return true;
  if (op === 'Mul' && index === 1 && isScalarConstant(graph, node.input[0])) return true;
  return index === 0 && isLayoutOnly(graph, node, reshapes);
}

/** The weights that read `tensor` along its last axis, through ops linear in it: where a projection can be folded. */
export function findReaders(graph: Graph, tensor: string, width: number): WeightUse[] {
  const reshapes: NodeProto[] = [];
  const readers = findConsumers(graph, tensor, [], reshapes);
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
  // Below IR version 4 every initializer is also a graph input: so is the copy of one that was.
  const listed = graph.proto.input.find((v) => v.name === name);
  if (listed) graph.addInputs([{ ...listed, name: copyName }]);
  graph.setInput(node, input, copyName);
  return copy;
}

/**
 * Questions asked of a graph: who produces a tensor, who reads it, what type
 * and shape it has, in what order nodes can run. The graph stays plain data
 * (types.ts); these are functions over it, recomputed on demand because
 * rewrites change the graph between questions.
 */
import { UsageError, didYouMean } from '../errors.js';
import type { GraphProto, Int64, ModelProto, NodeProto, TypeProto, ValueInfoProto } from './types.js';

export interface TensorInfo {
  name: string;
  /** TensorProto.DataType, if known. */
  elemType?: number;
  /** One entry per axis: a number, a symbolic name, or undefined when unknown. Undefined when the rank is unknown. */
  shape?: (number | string | undefined)[];
}

export function producerOf(graph: GraphProto, tensor: string): NodeProto | undefined {
  return graph.node.find((n) => n.output.includes(tensor));
}

export function consumersOf(graph: GraphProto, tensor: string): NodeProto[] {
  return graph.node.filter((n) => n.input.includes(tensor));
}

/** Every tensor name the graph mentions: inputs, outputs, initializers, node outputs. */
export function tensorNames(graph: GraphProto): Set<string> {
  const names = new Set<string>();
  for (const v of graph.input) if (v.name) names.add(v.name);
  for (const v of graph.output) if (v.name) names.add(v.name);
  for (const t of graph.initializer) if (t.name) names.add(t.name);
  for (const n of graph.node) for (const o of n.output) if (o) names.add(o);
  return names;
}

/** Throws a UsageError naming close matches when `tensor` is not in the main graph. */
export function requireTensor(graph: GraphProto, tensor: string, label = 'model'): void {
  const names = tensorNames(graph);
  if (!names.has(tensor)) throw new UsageError(`${label}: no tensor named '${tensor}'${didYouMean(tensor, names)}`);
}

export function isGraphInput(graph: GraphProto, tensor: string): boolean {
  return graph.input.some((v) => v.name === tensor) && !graph.initializer.some((t) => t.name === tensor);
}

export function isGraphOutput(graph: GraphProto, tensor: string): boolean {
  return graph.output.some((v) => v.name === tensor);
}

export function valueInfoOf(graph: GraphProto, tensor: string): ValueInfoProto | undefined {
  return [...graph.input, ...graph.output, ...graph.valueInfo].find((v) => v.name === tensor && v.type?.tensorType);
}

function shapeOf(type: TypeProto | undefined): TensorInfo['shape'] {
  const shape = type?.tensorType?.shape;
  if (!shape) return undefined;
  return shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam || undefined));
}

/** Element type and shape from value info or initializers; undefined fields where the file does not say. */
export function tensorInfo(graph: GraphProto, tensor: string): TensorInfo {
  const init = graph.initializer.find((t) => t.name === tensor);
  if (init) return { name: tensor, elemType: init.dataType, shape: init.dims.map((d: Int64) => Number(d)) };
  const vi = valueInfoOf(graph, tensor);
  return { name: tensor, elemType: vi?.type?.tensorType?.elemType, shape: shapeOf(vi?.type) };
}

export function makeValueInfo(name: string, elemType: number, shape?: (number | string | undefined)[]): ValueInfoProto {
  const tensorType: NonNullable<TypeProto['tensorType']> = { elemType };
  if (shape) {
    tensorType.shape = {
      dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return { name, type: { tensorType } };
}

/**
 * Nodes in an order where every node comes after the producers of its inputs
 * (Kahn's algorithm, stable: ties keep file order). Throws on a cycle.
 */
export function topologicalOrder(graph: GraphProto): NodeProto[] {
  const producer = new Map<string, number>();
  graph.node.forEach((n, i) => n.output.forEach((o) => o && producer.set(o, i)));
  const pending = graph.node.map(() => 0);
  const readers: number[][] = graph.node.map(() => []);
  graph.node.forEach((n, i) => {
    for (const input of new Set(implicitInputs(n))) {
      const p = producer.get(input);
      if (p !== undefined && p !== i) {
        pending[i]++;
        readers[p].push(i);
      }
    }
  });
  const ready = graph.node.map((_, i) => i).filter((i) => pending[i] === 0);
  const order: NodeProto[] = [];
  for (let k = 0; k < ready.length; k++) {
    const i = ready[k];
    order.push(graph.node[i]);
    for (const r of readers[i]) if (--pending[r] === 0) ready.push(r);
  }
  if (order.length !== graph.node.length) throw new UsageError('graph has a cycle');
  return order;
}

/** A node's inputs, plus names its subgraphs read from the enclosing scope. */
function implicitInputs(node: NodeProto): string[] {
  const names = node.input.filter(Boolean);
  for (const attr of node.attribute) {
    for (const g of [attr.g, ...attr.graphs]) {
      if (!g) continue;
      const local = tensorNames(g);
      for (const n of g.node) {
        for (const i of implicitInputs(n)) if (!local.has(i)) names.push(i);
      }
    }
  }
  return names;
}

/** Renames every read of `from` to `to` in the node list, including reads from inside subgraphs. */
export function renameReads(nodes: NodeProto[], from: string, to: string): void {
  for (const n of nodes) {
    n.input = n.input.map((i) => (i === from ? to : i));
    for (const attr of n.attribute) {
      for (const g of [attr.g, ...attr.graphs]) {
        // A subgraph that defines its own `from` shadows the outer one.
        if (g && !tensorNames(g).has(from)) renameReads(g.node, from, to);
      }
    }
  }
}

/** A name not yet used in the graph, built from `base`. */
export function uniqueName(graph: GraphProto, base: string, taken: Set<string> = allNames(graph)): string {
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  taken.add(name);
  return name;
}

/** Tensor and node names, which share one namespace for our purposes. */
export function allNames(graph: GraphProto): Set<string> {
  const names = tensorNames(graph);
  for (const n of graph.node) if (n.name) names.add(n.name);
  for (const v of graph.valueInfo) if (v.name) names.add(v.name);
  return names;
}

/** The opset import of a domain; '' and 'ai.onnx' both name the default domain. */
function opsetEntry(model: ModelProto, domain: string) {
  return model.opsetImport.find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
}

export function opsetOf(model: ModelProto, domain = ''): number | undefined {
  const entry = opsetEntry(model, domain);
  return entry?.version === undefined ? undefined : Number(entry.version);
}

export function setOpset(model: ModelProto, version: number, domain = ''): void {
  const entry = opsetEntry(model, domain);
  if (entry) entry.version = version;
  else model.opsetImport.push({ domain, version });
}

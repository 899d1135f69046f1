/**
 * What the op registry and the pattern recognisers need to know about a
 * graph, as a small interface: the graph IR (src/ir/) implements it with
 * def-use across nested graphs; `lookupFromGraph` implements it over one
 * plain GraphProto for tests and for code that has no IR at hand.
 */
import { Float16Array } from '@petamoriken/float16';
import type { AttributeProto, GraphProto, Int64, NodeLike, NodeProto, TensorProto } from '../onnx/types.js';
import { dimOf, domainKey, isDefaultDomain } from '../onnx/graph.js';

export type { NodeLike };

/** A small constant's value (scalars, axes, shapes): from an initializer or a Constant node alike. */
export interface ConstantValue {
  dims: number[];
  values: number[];
}

export interface TypeInfo {
  elemType?: number;
  /** One entry per axis: a length, a symbolic name, or undefined; undefined when the rank is unknown. */
  shape?: (number | string | undefined)[];
}

export interface GraphLookup {
  /** The node that writes `tensor`, if a node does (not for graph inputs and initializers). */
  producer(tensor: string): NodeLike | undefined;
  /** Every node that reads `tensor`, including reads inside subgraphs where the IR sees them. */
  uses(tensor: string): NodeLike[];
  /** The value of a small constant tensor (initializer or Constant output); undefined when not constant or large. */
  constant(tensor: string): ConstantValue | undefined;
  /** A constant tensor of any size (initializer or Constant node): its dims and element type, no values. */
  weight(tensor: string): { dims: number[]; dataType?: number } | undefined;
  /** Element type and shape where known. */
  type?(tensor: string): TypeInfo | undefined;
  /** Opset imported for `domain` ('' is the default domain); undefined when not imported. */
  opset?(domain: string): number | undefined;
  /** True when `tensor` is a graph output (a value users see, which an edit downstream cannot reach). */
  isOutput?(tensor: string): boolean;
}

/** Constants larger than this are weights, not parameters of an op: `constant` leaves them alone. */
export const SMALL_CONSTANT = 1 << 16;

export function attr(node: NodeLike, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeLike, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.i === undefined ? fallback : Number(a.i);
}

export function attrFloat(node: NodeLike, name: string, fallback: number): number {
  const a = attr(node, name);
  return a?.f === undefined ? fallback : a.f;
}

export function attrInts(node: NodeLike, name: string): number[] | undefined {
  const a = attr(node, name);
  return a && (a.ints.length || a.type === 7) ? a.ints.map(Number) : undefined;
}

/** A node's display name: its name, else its first output. */
export function nodeLabel(node: NodeLike): string {
  return node.name || node.output[0] || `(${node.opType})`;
}

function numbersOf(view: ArrayLike<number | bigint>): number[] {
  return Array.from(view, (v) => Number(v));
}

/** The values of a tensor proto held inline (small tensors only); undefined for external or unsupported data. */
export function tensorValues(t: TensorProto): ConstantValue | undefined {
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count > SMALL_CONSTANT || t.dataLocation === 1) return undefined;
  const raw = t.rawData;
  if (raw && !(raw instanceof Uint8Array)) return undefined;
  if (raw) {
    const bytes = new Uint8Array(raw); // aligned copy
    const buf = bytes.buffer;
    switch (t.dataType) {
      case 1:
        return { dims, values: numbersOf(new Float32Array(buf, 0, count)) };
      case 11:
        return { dims, values: numbersOf(new Float64Array(buf, 0, count)) };
      case 10:
        return { dims, values: numbersOf(new Float16Array(buf, 0, count)) };
      case 16:
        return { dims, values: Array.from(new Uint16Array(buf, 0, count), (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]) };
      case 6:
        return { dims, values: numbersOf(new Int32Array(buf, 0, count)) };
      case 7:
        return { dims, values: numbersOf(new BigInt64Array(buf, 0, count)) };
      case 2:
      case 9:
        return { dims, values: numbersOf(new Uint8Array(buf, 0, count)) };
      case 3:
        return { dims, values: numbersOf(new Int8Array(buf, 0, count)) };
      default:
        return undefined;
    }
  }
  switch (t.dataType) {
    case 1:
      return { dims, values: [...t.floatData] };
    case 11:
      return { dims, values: [...t.doubleData] };
    case 7:
      return { dims, values: t.int64Data.map((v: Int64) => Number(v)) };
    case 10:
      return { dims, values: numbersOf(new Float16Array(Uint16Array.from(t.int32Data).buffer)) };
    case 6:
    case 2:
    case 3:
    case 9:
      return { dims, values: [...t.int32Data] };
    default:
      return undefined;
  }
}

/** The value a Constant node holds, whichever attribute it uses. */
export function constantNodeValue(node: NodeLike): ConstantValue | undefined {
  for (const a of node.attribute) {
    switch (a.name) {
      case 'value':
        return a.t ? tensorValues(a.t) : undefined;
      case 'value_float':
        return { dims: [], values: [a.f ?? 0] };
      case 'value_floats':
        return { dims: [a.floats.length], values: [...a.floats] };
      case 'value_int':
        return { dims: [], values: [Number(a.i ?? 0)] };
      case 'value_ints':
        return { dims: [a.ints.length], values: a.ints.map(Number) };
    }
  }
  return undefined;
}

/** The lookup over one plain graph (no nested-graph reads), with the model's opsets. */
export function lookupFromGraph(graph: GraphProto, opsets: Record<string, number> = { '': 17 }): GraphLookup {
  const producers = new Map<string, NodeProto>();
  const users = new Map<string, NodeProto[]>();
  for (const n of graph.node) {
    for (const o of n.output) if (o) producers.set(o, n);
    for (const i of n.input) if (i) (users.get(i) ?? users.set(i, []).get(i)!).push(n);
  }
  const initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const types = new Map<string, TypeInfo>();
  for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) {
    const tt = v.type?.tensorType;
    if (v.name && tt) {
      types.set(v.name, { elemType: tt.elemType, shape: tt.shape?.dim.map(dimOf) });
    }
  }
  for (const t of graph.initializer) if (t.name) types.set(t.name, { elemType: t.dataType, shape: t.dims.map(Number) });
  const outputs = new Set(graph.output.map((o) => o.name));
  return {
    producer: (name) => producers.get(name),
    uses: (name) => users.get(name) ?? [],
    constant(name) {
      const t = initializers.get(name);
      if (t) return tensorValues(t);
      const p = producers.get(name);
      return p?.opType === 'Constant' && isDefaultDomain(p.domain) ? constantNodeValue(p) : undefined;
    },
    weight(name) {
      const t = initializers.get(name) ?? constantTensor(producers.get(name));
      return t ? { dims: t.dims.map(Number), dataType: t.dataType } : undefined;
    },
    type: (name) => types.get(name),
    opset: (domain) => opsets[domainKey(domain)],
    isOutput: (name) => outputs.has(name),
  };
}

function constantTensor(node: NodeProto | undefined): TensorProto | undefined {
  return node?.opType === 'Constant' && isDefaultDomain(node.domain) ? attr(node, 'value')?.t : undefined;
}

/** The single value of a scalar constant (any rank with one element), else undefined. */
export function scalarOf(lookup: GraphLookup, tensor: string | undefined): number | undefined {
  if (!tensor) return undefined;
  const c = lookup.constant(tensor);
  return c && c.values.length === 1 ? c.values[0] : undefined;
}

/** Whether `value` is `target` to within float32 rounding (exporters write constants in float32 or float64). */
export function near(value: number | undefined, target: number, tolerance = 1e-5): boolean {
  return value !== undefined && Math.abs(value - target) <= tolerance * Math.max(1, Math.abs(target));
}

/**
 * Element types and shapes of a graph's values: shape inference over the
 * whole graph (ir/infer), started from the graph inputs and initializers and
 * checked against what the file declares (value_info, graph outputs), which
 * also fills in what inference leaves open.
 */
import { tensorBytes } from '../onnx/tensor.js';
import type { TensorProto, TypeProto } from '../onnx/types.js';
import { describeStop, graphDeclared, graphKnowns, inferGraph, MAX_VALUE_ELEMENTS, type GraphInference, type TypeConflict } from './infer/index.js';
import { normalDomain } from './infer/registry.js';
import type { IrModel } from './model.js';
import { topologicalOrder } from './passes.js';

/** An axis length: a number, or a symbolic name (`batch`, `seq*4`). */
export type Dim = number | string;

export interface ValueType {
  elemType?: number;
  /** One entry per axis (undefined where even a symbol is unknown); undefined when the rank is unknown. */
  shape?: (Dim | undefined)[];
}

export function typeFromProto(type: TypeProto | undefined): ValueType | undefined {
  const tensor = type?.tensorType;
  if (!tensor) return undefined;
  return {
    ...(tensor.elemType ? { elemType: tensor.elemType } : {}),
    ...(tensor.shape ? { shape: tensor.shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam || undefined)) } : {}),
  };
}

const INTEGER_OR_FLOAT = new Set([1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13]);

export class TypeTable {
  private readonly inference: GraphInference;

  constructor(readonly ir: IrModel) {
    const graph = ir.graph;
    const opsets = new Map(ir.proto.opsetImport.map((o) => [normalDomain(o.domain), Number(o.version)]));
    const declared = graphDeclared(graph.proto);
    // Shape constants may sit in external data (exports saved with every tensor external): read the small ones.
    const readSmall = (t: TensorProto): number[] | undefined => {
      const n = t.dims.reduce<number>((a, d) => a * Number(d), 1);
      if (!(n >= 0 && n <= MAX_VALUE_ELEMENTS) || !Number.isInteger(n) || !INTEGER_OR_FLOAT.has(t.dataType ?? 0)) return undefined;
      return smallValues(t, ir.baseDir, n);
    };
    this.inference = inferGraph(topologicalOrder(graph), graphKnowns(graph.proto, readSmall), (d) => opsets.get(d), {
      declared: (n) => declared.get(n),
    });
  }

  /** The value's type, as far as it is known. */
  get(name: string): ValueType | undefined {
    const type = this.inference.values.get(name)?.type;
    return type && { elemType: type.elemType, ...(type.shape ? { shape: type.shape } : {}) };
  }

  /** Where the file's value_info contradicts inference (element type, rank or a concrete dim). */
  conflicts(name?: string): TypeConflict[] {
    return name === undefined ? this.inference.conflicts : this.inference.conflicts.filter((c) => c.name === name);
  }

  /** Why the value's type or shape is not (fully) known, for error messages. */
  whyUnknown(name: string): string {
    const stop = this.inference.stopFor(name);
    return stop ? describeStop(stop) : `neither the file nor shape inference gives the shape of '${name}'`;
  }
}

function smallValues(t: TensorProto, baseDir: string, n: number): number[] | undefined {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(tensorBytes(t, baseDir));
  } catch {
    return undefined;
  }
  const size = { 1: 4, 6: 4, 7: 8, 11: 8 }[t.dataType as 1 | 6 | 7 | 11];
  if (size === undefined || bytes.length < n * size) return undefined;
  const b = bytes.buffer;
  switch (t.dataType) {
    case 1: return Array.from(new Float32Array(b, 0, n));
    case 6: return Array.from(new Int32Array(b, 0, n));
    case 7: return Array.from(new BigInt64Array(b, 0, n), Number);
    case 11: return Array.from(new Float64Array(b, 0, n));
    default: return undefined;
  }
}

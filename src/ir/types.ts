/**
 * Element types and shapes of a graph's values: shape inference over the
 * whole graph (ir/infer), started from the graph inputs and initializers and
 * checked against what the file declares (value_info, graph outputs), which
 * also fills in what inference leaves open.
 */
import type { ModelProto, TypeProto } from '../onnx/types.js';
import { describeStop, graphDeclared, graphKnowns, inferGraph, type GraphInference, type TypeConflict } from './infer/index.js';
import { smallTensorReader } from './infer/read.js';
import type { Graph } from './graph.js';
import { topologicalOrder } from './passes.js';
import { dimOf, domainKey } from '../onnx/graph.js';

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
    ...(tensor.shape ? { shape: tensor.shape.dim.map(dimOf) } : {}),
  };
}

export class TypeTable {
  private readonly inference: GraphInference;

  /** `ir` is the model's IR (model.ts's IrModel), named by what is read of it so the two modules do not import each other. */
  constructor(readonly ir: { graph: Graph; proto: ModelProto; baseDir: string }) {
    const graph = ir.graph;
    const opsets = new Map(ir.proto.opsetImport.map((o) => [domainKey(o.domain), Number(o.version)]));
    const declared = graphDeclared(graph.proto);
    // Shape constants may sit in external data (exports saved with every tensor external): read the small ones.
    this.inference = inferGraph(topologicalOrder(graph), graphKnowns(graph.proto, smallTensorReader(ir.baseDir)), (d) => opsets.get(d), {
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

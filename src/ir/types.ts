/**
 * Element types and shapes of a graph's values: what the file declares
 * (graph inputs and outputs, value_info, initializers) completed by shape
 * inference where it does not say.
 */
import type { TypeProto } from '../onnx/types.js';
import type { IrModel } from './model.js';

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

export class TypeTable {
  private readonly declared = new Map<string, ValueType>();

  constructor(readonly ir: IrModel) {
    const g = ir.graph.proto;
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) {
      const t = typeFromProto(v.type);
      if (v.name && t) this.declared.set(v.name, t);
    }
    for (const t of g.initializer) if (t.name) this.declared.set(t.name, { elemType: t.dataType, shape: t.dims.map(Number) });
  }

  /** The value's type, as far as it is known. */
  get(name: string): ValueType | undefined {
    return this.declared.get(name);
  }

  /** Why the value's type or shape is not (fully) known, for error messages. */
  whyUnknown(name: string): string {
    return `the file gives no type or shape for '${name}'`;
  }
}

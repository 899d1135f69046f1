/**
 * What shape inference knows about a value, and the interface every op rule
 * implements. Rules are pure: NodeProto-shaped node and known inputs in,
 * outputs (or a reason) out.
 */
import type { GraphProto, NodeLike } from '../../onnx/types.js';
import type { Dim } from './dims.js';

export type { Dim };

/** Element type (TensorProto.DataType) and shape; `shape` undefined means the rank is unknown. */
export interface TensorType {
  elemType: number;
  shape?: Dim[];
}

/**
 * What is known about one value. `value` holds the entries, row-major, of a
 * small tensor (at most MAX_VALUE_ELEMENTS) whose shape is concrete: shape
 * vectors and the indices, scalars and flags computed from them. Entries of
 * integer tensors may be symbolic dims.
 */
export interface Known {
  type?: TensorType;
  value?: Dim[];
}

export const MAX_VALUE_ELEMENTS = 64;

export type { NodeLike };

export interface InferContext {
  /** Opset of the node's domain. */
  opset: number;
  /** A symbol no other dim uses, for lengths that depend on data (NonZero) or cannot be expressed. */
  fresh(hint?: string): string;
  /** Infers a subgraph (If/Loop/Scan body) whose own inputs are `inputs`; outer values are visible. Absent outside inferGraph. */
  subgraph?(graph: GraphProto, inputs: (Known | undefined)[]): Known[];
}

export interface NodeResult {
  outputs: Known[];
  /** Why some output's type or shape is unknown. */
  reason?: string;
}

/** A shape rule. It may throw InferStop to say why it cannot go on. */
export type Rule = (node: NodeLike, inputs: (Known | undefined)[], ctx: InferContext) => Known[];

/** Thrown inside rules; inferNode turns it into a reason, keeping what the rule did know (`partial`). */
export class InferStop extends Error {
  constructor(
    reason: string,
    readonly partial?: Known[],
  ) {
    super(reason);
  }
}

export function stop(reason: string, partial?: Known[]): never {
  throw new InferStop(reason, partial);
}

/** TensorProto.DataType values inference names. */
export const Elem = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

export function isIntegerType(elemType: number | undefined): boolean {
  return elemType !== undefined && [2, 3, 4, 5, 6, 7, 9, 12, 13].includes(elemType);
}

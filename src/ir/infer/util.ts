/** Reading attributes and inputs inside rules, and small helpers on shapes and values. */
import type { AttributeProto, TensorProto } from '../../onnx/types.js';
import { canonicalDim, dimsEqual, isConcrete, type Dim } from './dims.js';
import { MAX_VALUE_ELEMENTS, stop, type InferContext, type Known, type NodeLike, type TensorType } from './types.js';

export function getAttr(node: NodeLike, name: string): AttributeProto | undefined {
  for (const a of node.attribute) if (a.name === name) return a;
  return undefined;
}

export function attrInt(node: NodeLike, name: string, fallback: number): number;
export function attrInt(node: NodeLike, name: string): number | undefined;
export function attrInt(node: NodeLike, name: string, fallback?: number): number | undefined {
  const a = getAttr(node, name);
  return a?.i !== undefined ? Number(a.i) : fallback;
}

export function attrInts(node: NodeLike, name: string): number[] | undefined {
  const a = getAttr(node, name);
  return a ? a.ints.map(Number) : undefined;
}

export function attrFloat(node: NodeLike, name: string, fallback: number): number {
  const a = getAttr(node, name);
  return a?.f ?? fallback;
}

export function attrString(node: NodeLike, name: string, fallback = ''): string {
  const a = getAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function attrTensor(node: NodeLike, name: string): TensorProto | undefined {
  return getAttr(node, name)?.t;
}

/** Whether input `i` is present (optional inputs may be missing or named ''). */
export function has(node: NodeLike, i: number): boolean {
  return i < node.input.length && node.input[i] !== '';
}

function label(node: NodeLike, i: number): string {
  return `input ${i} ('${node.input[i] ?? ''}')`;
}

export function typeOf(node: NodeLike, inputs: (Known | undefined)[], i: number): TensorType {
  const t = inputs[i]?.type;
  if (!t) stop(`${label(node, i)} has no known type`);
  return t;
}

export function elemOf(inputs: (Known | undefined)[], i: number): number | undefined {
  return inputs[i]?.type?.elemType;
}

export function shapeOf(node: NodeLike, inputs: (Known | undefined)[], i: number): Dim[] {
  const s = inputs[i]?.type?.shape;
  if (!s) stop(`${label(node, i)} has unknown rank`);
  return s;
}

export function rankOf(inputs: (Known | undefined)[], i: number): number | undefined {
  return inputs[i]?.type?.shape?.length;
}

/** The small constant or computed value of input `i`, or a stop naming what is missing. */
export function valueOf(node: NodeLike, inputs: (Known | undefined)[], i: number): Dim[] {
  const v = inputs[i]?.value;
  if (!v) stop(`the value of ${label(node, i)} is not known (not a constant or a shape computation)`);
  return v;
}

/** Like valueOf, but every entry must be a concrete number. */
export function intsOf(node: NodeLike, inputs: (Known | undefined)[], i: number): number[] {
  const v = valueOf(node, inputs, i);
  for (const d of v) if (!isConcrete(d)) stop(`${label(node, i)} holds the symbolic value ${d}`);
  return v as number[];
}

export function normAxis(axis: number, rank: number, node?: NodeLike): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) stop(`axis ${axis} is out of range for rank ${rank}${node?.name ? ` at '${node.name}'` : ''}`);
  return a;
}

export function tensor(elemType: number | undefined, shape?: Dim[], value?: Dim[]): Known {
  if (elemType === undefined) return {};
  const k: Known = { type: shape ? { elemType, shape } : { elemType } };
  if (value && shape && fitsValue(shape)) k.value = value;
  return k;
}

/** Element count when the shape is concrete and small enough to carry values. */
export function fitsValue(shape: readonly Dim[]): boolean {
  let n = 1;
  for (const d of shape) {
    if (!isConcrete(d)) return false;
    n *= d;
  }
  return n <= MAX_VALUE_ELEMENTS;
}

export function concreteShape(shape: readonly Dim[] | undefined): number[] | undefined {
  if (!shape) return undefined;
  for (const d of shape) if (!isConcrete(d)) return undefined;
  return shape as number[];
}

export function countOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** Merges two dims that must be equal: a concrete one wins over a symbol. */
export function unify(a: Dim, b: Dim): Dim {
  if (isConcrete(a)) return a;
  if (isConcrete(b)) return b;
  return a;
}

/**
 * numpy broadcasting of two shapes. Equal dims and 1s follow the rules; a
 * symbol against a concrete n > 1 must be n in a valid model; two different
 * symbols could each be 1 at run time, so the result is a fresh symbol.
 */
export function broadcast(a: readonly Dim[], b: readonly Dim[], ctx: InferContext): Dim[] {
  const rank = Math.max(a.length, b.length);
  const outShape = new Array<Dim>(rank);
  for (let i = 0; i < rank; i++) {
    const x = i - (rank - a.length) >= 0 ? a[i - (rank - a.length)] : 1;
    const y = i - (rank - b.length) >= 0 ? b[i - (rank - b.length)] : 1;
    if (x === y || dimsEqual(x, y)) outShape[i] = x;
    else if (x === 1) outShape[i] = y;
    else if (y === 1) outShape[i] = x;
    else if (isConcrete(x) && isConcrete(y)) stop(`cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
    else if (isConcrete(x)) outShape[i] = x;
    else if (isConcrete(y)) outShape[i] = y;
    else outShape[i] = ctx.fresh();
  }
  return outShape;
}

/** Flat index into a tensor of `shape` broadcast to `outShape`, for each output position. */
export function broadcastIndex(shape: readonly number[], outShape: readonly number[]): number[] {
  const n = countOf(outShape);
  const strides = stridesOf(shape);
  const offset = outShape.length - shape.length;
  const out = new Array<number>(n);
  for (let f = 0; f < n; f++) {
    const idx = unravel(f, outShape);
    let k = 0;
    for (let i = 0; i < shape.length; i++) k += shape[i] === 1 ? 0 : idx[i + offset] * strides[i];
    out[f] = k;
  }
  return out;
}

export function canonicalShape(shape: readonly Dim[]): Dim[] {
  return shape.map(canonicalDim);
}

/** Large int64 bounds (INT64_MAX / INT64_MIN as torch writes them) mean "to the end". */
export const BIG = 2 ** 31 - 1;

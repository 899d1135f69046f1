/**
 * Types and small values of tensors held in the model (Constant attributes,
 * initializers). Only inline data of at most MAX_VALUE_ELEMENTS entries is
 * decoded: weights are never read here.
 */
import { Float16Array } from '@petamoriken/float16';
import { elementBytes } from '../../onnx/tensor.js';
import type { TensorProto } from '../../onnx/types.js';
import type { Dim } from './dims.js';
import { Elem, MAX_VALUE_ELEMENTS, type Known } from './types.js';
import { countOf } from './util.js';

/** `n` values of `elemType` from little-endian bytes (raw_data layout), or undefined for types not decoded here or a length mismatch. */
export function decodeValues(bytes: Uint8Array, elemType: number, n: number): number[] | undefined {
  const size = elementBytes(elemType);
  if (size === undefined || bytes.length !== n * size) return undefined;
  const copy = new Uint8Array(bytes); // aligned
  const b = copy.buffer;
  switch (elemType) {
    case Elem.FLOAT:
      return Array.from(new Float32Array(b, 0, n));
    case Elem.DOUBLE:
      return Array.from(new Float64Array(b, 0, n));
    case Elem.FLOAT16:
      return Array.from(new Float16Array(b, 0, n));
    case Elem.INT64:
      return Array.from(new BigInt64Array(b, 0, n), Number);
    case Elem.UINT64:
      return Array.from(new BigUint64Array(b, 0, n), Number);
    case Elem.INT32:
      return Array.from(new Int32Array(b, 0, n));
    case Elem.UINT32:
      return Array.from(new Uint32Array(b, 0, n));
    case Elem.INT16:
      return Array.from(new Int16Array(b, 0, n));
    case Elem.UINT16:
      return Array.from(new Uint16Array(b, 0, n));
    case Elem.INT8:
      return Array.from(new Int8Array(b, 0, n));
    case Elem.UINT8:
    case Elem.BOOL:
      return Array.from(new Uint8Array(b, 0, n));
    default:
      return undefined;
  }
}

/** The values of a small inline tensor, or undefined (large, external, lazily loaded, strings). */
export function smallTensorValues(t: TensorProto): number[] | undefined {
  const dims = t.dims.map(Number);
  const n = countOf(dims);
  if (!(n >= 0 && n <= MAX_VALUE_ELEMENTS) || !Number.isInteger(n)) return undefined;
  const elemType = t.dataType ?? 0;
  if (t.dataLocation === 1) return undefined;
  if (t.rawData !== undefined) {
    if (!(t.rawData instanceof Uint8Array)) return undefined;
    return decodeValues(t.rawData, elemType, n);
  }
  let v: number[];
  switch (elemType) {
    case Elem.FLOAT:
      v = t.floatData;
      break;
    case Elem.DOUBLE:
      v = t.doubleData;
      break;
    case Elem.INT64:
      v = t.int64Data.map(Number);
      break;
    case Elem.UINT64:
    case Elem.UINT32:
      v = t.uint64Data.map(Number);
      break;
    case Elem.FLOAT16:
      v = Array.from(new Float16Array(new Uint16Array(t.int32Data).buffer));
      break;
    case Elem.STRING:
    case Elem.BFLOAT16:
      return undefined;
    default:
      v = t.int32Data;
  }
  return v.length === n ? [...v] : undefined;
}

const decoded = new WeakMap<TensorProto, Known>();

/**
 * What inference knows about a tensor held in the model: its type, and its
 * values when small. Remembered per tensor object, so inferring the same
 * model again decodes nothing; callers must not mutate the result.
 */
export function knownOfTensor(t: TensorProto): Known {
  let known = decoded.get(t);
  if (!known) {
    const shape: Dim[] = t.dims.map(Number);
    known = { type: { elemType: t.dataType ?? 0, shape } };
    const values = smallTensorValues(t);
    if (values) known.value = values;
    decoded.set(t, known);
  }
  return known;
}

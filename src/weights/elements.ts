/**
 * Per-chunk conversion between the floating element types weights are stored
 * in (float32, float16, bfloat16, float64) and float64 working values. Big
 * weights are converted one chunk at a time: never a whole-array JS number[],
 * never a Proxy-backed Float16Array.
 */
import { UsageError } from '../errors.js';
import { elementTypeName } from '../onnx/tensor.js';
import { DataType } from '../onnx/types.js';

export const BFLOAT16 = 16;

/** Bytes per element of the float types the weight edits handle. */
export function floatElementBytes(dataType: number, label: string): number {
  switch (dataType) {
    case DataType.FLOAT:
      return 4;
    case DataType.FLOAT16:
    case BFLOAT16:
      return 2;
    case DataType.DOUBLE:
      return 8;
    default:
      throw new UsageError(`weight '${label}' holds ${elementTypeName(dataType)}; folding needs float32, float16, bfloat16 or float64`);
  }
}

let halfTable: Float32Array | undefined;

/** All 65536 float16 values, decoded once (256 KiB): a table lookup beats bit twiddling per element. */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) table[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) table[h] = mant ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (halfTable = table);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits of `v`, rounded to nearest even (through float32, as numpy's astype(float16) from float32). */
export function toHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    if (rest > midway || (rest === midway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** bfloat16 bits of `v`, rounded to nearest even (through float32, as torch does). */
export function toBfloatBits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** A chunk's values while they are worked on: float64 for float64 weights, float32 for the rest. */
export type Work = Float32Array | Float64Array;

export function workArray(dataType: number, length: number): Work {
  return dataType === DataType.DOUBLE ? new Float64Array(length) : new Float32Array(length);
}

/**
 * The chunk's values: a view of `bytes` itself when the element type is the
 * working type and the bytes are aligned, else decoded into `scratch`.
 */
export function chunkValues(bytes: Uint8Array, dataType: number, scratch: Work): Work {
  switch (dataType) {
    case DataType.FLOAT:
      if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
      break;
    case DataType.DOUBLE:
      if (bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length >> 3);
      break;
  }
  const count = decodeChunk(bytes, dataType, scratch);
  return scratch.subarray(0, count);
}

/** Decodes `bytes` (little-endian, whole elements) into `out`; returns the element count. */
export function decodeChunk(bytes: Uint8Array, dataType: number, out: Work): number {
  const copy = (Ctor: Float32ArrayConstructor | Float64ArrayConstructor, size: number) => {
    const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
    const v = new Ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, bytes.length / size);
    out.set(v);
    return v.length;
  };
  switch (dataType) {
    case DataType.FLOAT:
      return copy(Float32Array, 4);
    case DataType.DOUBLE:
      return copy(Float64Array, 8);
    case DataType.FLOAT16: {
      const n = bytes.length >> 1;
      const table = halves();
      for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      return n;
    }
    case BFLOAT16: {
      const n = bytes.length >> 1;
      for (let i = 0; i < n; i++) {
        u32[0] = (bytes[2 * i] << 16) | (bytes[2 * i + 1] << 24);
        out[i] = f32[0];
      }
      return n;
    }
    default:
      throw new Error(`decodeChunk: element type ${dataType}`);
  }
}

/** Encodes `values[0:count]` into `bytes` in the element type, rounding to nearest even. */
export function encodeChunk(values: ArrayLike<number>, count: number, dataType: number, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dataType) {
    case DataType.FLOAT:
      for (let i = 0; i < count; i++) view.setFloat32(4 * i, values[i], true);
      return;
    case DataType.DOUBLE:
      for (let i = 0; i < count; i++) view.setFloat64(8 * i, values[i], true);
      return;
    case DataType.FLOAT16:
      for (let i = 0; i < count; i++) view.setUint16(2 * i, toHalfBits(values[i]), true);
      return;
    case BFLOAT16:
      for (let i = 0; i < count; i++) view.setUint16(2 * i, toBfloatBits(values[i]), true);
      return;
    default:
      throw new Error(`encodeChunk: element type ${dataType}`);
  }
}

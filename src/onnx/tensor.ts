/**
 * Reading and writing tensor contents, wherever ONNX keeps them: raw_data,
 * the typed repeated fields, or an external data file beside the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { UsageError } from '../errors.js';
import { isInside, statRegularFile } from '../util/files.js';
import { FileRange, LazyBytes, type Bytes } from './codec.js';
import { DATA_LOCATION_EXTERNAL, DataType, type GraphProto, type Int64, type ModelProto, type TensorProto } from './types.js';

const ELEMENT_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
};

const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  14: 8,
  15: 16,
  16: 2,
  // float8 variants
  17: 1,
  18: 1,
  19: 1,
  20: 1,
};
/** Bytes one element of `dataType` takes; undefined for strings and sub-byte types. */
export function elementBytes(dataType: number | undefined): number | undefined {
  return ELEMENT_BYTES[dataType ?? 0];
}

/** 4-bit types (uint4, int4, float4e2m1): two elements per byte, the last byte padded. */
const NIBBLE_TYPES = new Set([21, 22, 23]);

export function elementTypeName(dataType: number | undefined): string {
  return dataType === undefined ? 'unknown' : (ELEMENT_NAMES[dataType] ?? `type ${dataType}`);
}

export function elementCount(dims: Int64[]): number {
  return dims.reduce<number>((n, d) => n * Number(d), 1);
}

export interface ExternalRef {
  location: string;
  offset: number;
  /** Undefined means "to the end of the file". */
  length?: number;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === DATA_LOCATION_EXTERNAL;
}

const DECIMAL = /^[0-9]+$/;

/** The external-data entries of a tensor; offset and length must be non-negative decimal integers. */
export function externalRef(t: TensorProto): ExternalRef {
  const entries = new Map(t.externalData.map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new UsageError(`tensor '${t.name}' is marked external but names no location`);
  const number = (key: string): number | undefined => {
    const text = entries.get(key);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!DECIMAL.test(text) || !Number.isSafeInteger(n)) {
      throw new UsageError(`tensor '${t.name}': external data ${key} '${text}' is not a non-negative integer`);
    }
    return n;
  };
  return { location, offset: number('offset') ?? 0, length: number('length') };
}

/** Bytes the tensor's data takes, from its dims and element type; undefined when the type has no fixed size. */
export function expectedByteSize(t: TensorProto): number | undefined {
  for (const d of t.dims) {
    if (!Number.isSafeInteger(Number(d)) || Number(d) < 0)
      throw new UsageError(`tensor '${t.name}': dims [${t.dims.join(', ')}] are not all non-negative integers`);
  }
  const n = elementCount(t.dims);
  const dt = t.dataType ?? 0;
  if (NIBBLE_TYPES.has(dt)) return Math.ceil(n / 2);
  const size = ELEMENT_BYTES[dt];
  return size === undefined ? undefined : n * size;
}

export interface ResolvedExternal {
  /** Absolute path of the data file, symlinks resolved. */
  file: string;
  offset: number;
  length: number;
}

/**
 * Where an external tensor's bytes are, checked so that a hostile model cannot
 * make us read anything but a regular file inside its own folder: the location
 * is relative, does not climb out with `..`, and still lies inside the folder
 * once symlinks are resolved; the range lies inside the file and holds exactly
 * the tensor's bytes.
 */
export function resolveExternal(t: TensorProto, baseDir: string, label = 'model'): ResolvedExternal {
  const at = `${label}: tensor '${t.name}'`;
  const ref = externalRef(t);
  const loc = ref.location;
  if (path.isAbsolute(loc) || path.win32.isAbsolute(loc) || loc.includes('\0')) {
    throw new UsageError(`${at}: external data location '${loc}' is an absolute path; it must be relative to the model's folder`);
  }
  const base = path.resolve(baseDir);
  const full = path.resolve(base, loc);
  if (!isInside(base, full) || full === base) {
    throw new UsageError(`${at}: external data location '${loc}' leaves the model's folder`);
  }
  let real: string;
  let realBase: string;
  try {
    real = fs.realpathSync(full);
    realBase = fs.realpathSync(base);
  } catch {
    throw new UsageError(`${label}: external data file ${loc} for tensor '${t.name}' not found next to the model`);
  }
  if (!isInside(realBase, real) || real === realBase) {
    throw new UsageError(`${at}: external data location '${loc}' is a link to ${real}, outside the model's folder`);
  }
  const size = statRegularFile(real, `${at}: external data location '${loc}'`).size;
  if (t.dataType === 8 /* STRING */) throw new UsageError(`${at}: string tensors cannot keep their data externally`);
  const expected = expectedByteSize(t);
  if (ref.offset > size) throw new UsageError(`${at}: external data offset ${ref.offset} is past the end of ${loc} (${size} bytes)`);
  const length = ref.length ?? expected ?? size - ref.offset;
  if (expected !== undefined && length !== expected) {
    throw new UsageError(
      `${at}: external data length ${length} does not match the tensor's ${expected} bytes (${elementTypeName(t.dataType)} [${t.dims.join(', ')}])`,
    );
  }
  if (ref.offset + length > size)
    throw new UsageError(`${at}: external data runs past the end of ${loc} (offset ${ref.offset} + length ${length} > ${size} bytes; truncated?)`);
  return { file: real, offset: ref.offset, length };
}

/** Every graph in the model: the main graph and the bodies of If/Loop/Scan nodes, depth first. */
export function allGraphs(model: ModelProto): GraphProto[] {
  const out: GraphProto[] = [];
  const visit = (g: GraphProto): void => {
    out.push(g);
    for (const node of g.node) {
      for (const attr of node.attribute) {
        if (attr.g) visit(attr.g);
        for (const sub of attr.graphs) visit(sub);
      }
    }
  };
  if (model.graph) visit(model.graph);
  return out;
}

/** Every tensor that can hold weights: initializers and Constant/attribute tensors, in all graphs. */
export function allTensors(model: ModelProto): TensorProto[] {
  const out: TensorProto[] = [];
  for (const g of allGraphs(model)) {
    out.push(...g.initializer);
    for (const node of g.node) {
      for (const attr of node.attribute) {
        if (attr.t) out.push(attr.t);
        out.push(...attr.tensors);
      }
    }
  }
  return out;
}

/** The tensor's bytes, little-endian, as ONNX's raw_data would hold them. */
export function tensorBytes(t: TensorProto, baseDir: string): Uint8Array {
  if (isExternal(t)) return readExternal(t, baseDir);
  if (t.rawData) return t.rawData instanceof LazyBytes ? t.rawData.read() : t.rawData;
  const dt = t.dataType ?? 0;
  switch (dt) {
    case DataType.FLOAT:
      return bytesOf(Float32Array.from(t.floatData));
    case DataType.DOUBLE:
      return bytesOf(Float64Array.from(t.doubleData));
    case DataType.INT64:
      return bytesOf(BigInt64Array.from(t.int64Data, (v) => BigInt(v)));
    case DataType.INT32:
      return bytesOf(Int32Array.from(t.int32Data));
    case DataType.FLOAT16:
      // float16 values live in int32_data as their bit patterns.
      return bytesOf(Uint16Array.from(t.int32Data));
    default:
      throw new UsageError(`tensor '${t.name}': reading ${elementTypeName(dt)} data is not supported`);
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function readExternal(t: TensorProto, baseDir: string): Uint8Array {
  const ext = resolveExternal(t, baseDir);
  return new FileRange(ext.file, ext.offset, ext.length).read();
}

/** The tensor as float32 values (float32, float16 and float64 tensors). */
export function tensorFloats(t: TensorProto, baseDir: string): Float32Array {
  const bytes = tensorBytes(t, baseDir);
  const expected = expectedByteSize(t);
  if (expected !== undefined && bytes.length !== expected) {
    throw new UsageError(`tensor '${t.name}' holds ${bytes.length} bytes of data but ${elementTypeName(t.dataType)} [${t.dims.join(', ')}] needs ${expected}`);
  }
  // Float views need aligned bytes. Lazy bytes (LazyBytes.read) come in a
  // buffer of their own; inline bytes are views into the model buffer, so they are copied.
  const readForUs = isExternal(t) || t.rawData instanceof LazyBytes;
  const copy = readForUs ? bytes : new Uint8Array(bytes);
  switch (t.dataType) {
    case DataType.FLOAT:
      return new Float32Array(copy.buffer, 0, copy.length / 4);
    case DataType.FLOAT16:
      return Float32Array.from(new Float16Array(copy.buffer, 0, copy.length / 2));
    case DataType.DOUBLE:
      return Float32Array.from(new Float64Array(copy.buffer, 0, copy.length / 8));
    case DataType.BFLOAT16:
      return bfloat16ToFloats(new Uint16Array(copy.buffer, 0, copy.length / 2));
    default:
      throw new UsageError(`tensor '${t.name}' holds ${elementTypeName(t.dataType)}, expected float32, float16, bfloat16 or float64`);
  }
}

/** Encodes float values in a floating element type as raw little-endian bytes. */
export function encodeFloats(values: ArrayLike<number>, dataType: number): Uint8Array {
  switch (dataType) {
    case DataType.FLOAT:
      return bytesOf(values instanceof Float32Array ? values : Float32Array.from(values));
    case DataType.FLOAT16:
      return bytesOf(new Float16Array(Array.from(values)));
    case DataType.DOUBLE:
      return bytesOf(Float64Array.from(values));
    case DataType.BFLOAT16:
      return bytesOf(floatsToBfloat16(values));
    default:
      throw new UsageError(`cannot write float values as ${elementTypeName(dataType)}`);
  }
}

/** bfloat16 is the top half of a float32: widening is a shift. */
export function bfloat16ToFloats(bits: Uint16Array): Float32Array {
  const wide = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) wide[i] = bits[i] << 16;
  return new Float32Array(wide.buffer);
}

/** Rounds to nearest even, as PyTorch and onnxruntime do; NaN stays a (quiet) NaN. */
export function floatsToBfloat16(values: ArrayLike<number>): Uint16Array {
  const f = Float32Array.from(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Replaces the tensor's contents with `values` held inline as raw_data, keeping its element type. */
export function setTensorFloats(t: TensorProto, values: ArrayLike<number>, dims?: Int64[]): void {
  setRawData(t, encodeFloats(values, t.dataType ?? DataType.FLOAT));
  if (dims) t.dims = dims;
}

/** Points the tensor at `bytes` as raw_data (in memory or a file range), dropping every other place data can live. */
export function setRawData(t: TensorProto, bytes: Bytes): void {
  t.floatData = [];
  t.int32Data = [];
  t.int64Data = [];
  t.doubleData = [];
  t.uint64Data = [];
  t.stringData = [];
  t.externalData = [];
  delete t.dataLocation;
  t.rawData = bytes;
}

/** A tensor of any element type holding `bytes` as raw data (or no data yet). */
export function rawTensor(name: string, dataType: number, dims: number[], bytes?: Uint8Array): TensorProto {
  return {
    name,
    dataType,
    dims,
    ...(bytes ? { rawData: bytes } : {}),
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    externalData: [],
  };
}

/** A float tensor (float32, float16, bfloat16, float64) of `values`. */
export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number>): TensorProto {
  return rawTensor(name, dataType, dims, encodeFloats(values, dataType));
}

/** An int64 tensor: shapes, axes, indices. */
export function int64Tensor(name: string, values: ArrayLike<number | bigint>, dims: number[] = [values.length]): TensorProto {
  return rawTensor(name, DataType.INT64, dims, new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer));
}

export function byteSize(t: TensorProto): number {
  if (isExternal(t)) return externalRef(t).length ?? 0;
  if (t.rawData) return t.rawData.length;
  return elementCount(t.dims) * (ELEMENT_BYTES[t.dataType ?? 0] ?? 0);
}

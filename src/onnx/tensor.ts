/**
 * Reading and writing tensor contents, wherever ONNX keeps them: raw_data,
 * the typed repeated fields, or an external data file beside the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { UsageError } from '../errors.js';
import { FileRange } from './codec.js';
import { DATA_LOCATION_EXTERNAL, DataType, type GraphProto, type Int64, type ModelProto, type TensorProto } from './types.js';

const ELEMENT_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  16: 'bfloat16',
};

const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

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

export function externalRef(t: TensorProto): ExternalRef {
  const entries = new Map(t.externalData.map((e) => [e.key ?? '', e.value ?? '']));
  const location = entries.get('location');
  if (!location) throw new UsageError(`tensor '${t.name}' is marked external but names no location`);
  const length = entries.get('length');
  return { location, offset: Number(entries.get('offset') ?? 0), length: length === undefined ? undefined : Number(length) };
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
  if (t.rawData) return t.rawData instanceof FileRange ? t.rawData.read() : t.rawData;
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
  const ref = externalRef(t);
  const file = path.resolve(baseDir, ref.location);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new UsageError(`external data file ${file} for tensor '${t.name}' not found`);
  }
  const length = ref.length ?? size - ref.offset;
  if (ref.offset + length > size) throw new UsageError(`external data for tensor '${t.name}' runs past the end of ${file} (truncated?)`);
  return new FileRange(file, ref.offset, length).read();
}

/** The tensor as float32 values (float32, float16 and float64 tensors). */
export function tensorFloats(t: TensorProto, baseDir: string): Float32Array {
  const bytes = tensorBytes(t, baseDir);
  // Float views need aligned bytes. Bytes read from a file (FileRange.read) sit in a
  // buffer of their own; inline bytes are views into the model buffer, so they are copied.
  const readForUs = isExternal(t) || t.rawData instanceof FileRange;
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
  const dataType = t.dataType ?? DataType.FLOAT;
  clearData(t);
  t.rawData = encodeFloats(values, dataType);
  if (dims) t.dims = dims;
}

function clearData(t: TensorProto): void {
  t.floatData = [];
  t.int32Data = [];
  t.int64Data = [];
  t.doubleData = [];
  t.uint64Data = [];
  t.stringData = [];
  t.externalData = [];
  delete t.dataLocation;
  delete t.rawData;
}

export function makeTensor(name: string, dataType: number, dims: number[], values: ArrayLike<number>): TensorProto {
  return {
    name,
    dataType,
    dims,
    rawData: encodeFloats(values, dataType),
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    externalData: [],
  };
}

export function byteSize(t: TensorProto): number {
  if (isExternal(t)) return externalRef(t).length ?? 0;
  if (t.rawData) return t.rawData.length;
  return elementCount(t.dims) * (ELEMENT_BYTES[t.dataType ?? 0] ?? 0);
}

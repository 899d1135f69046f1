/**
 * NumPy's .npy format (versions 1 to 3) and .npz archives (a zip of .npy
 * files, read with fflate). Only C-order arrays of numeric types.
 */
import { unzipSync } from 'fflate';
import { UsageError } from '../errors.js';

export type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

export interface NpyArray {
  /** NumPy dtype without byte order, e.g. f4, i8. */
  dtype: string;
  shape: number[];
  data: NumericArray;
}

const MAGIC = '\x93NUMPY';

const CONSTRUCTORS: Record<string, { new (buffer: ArrayBuffer, offset: number, length: number): NumericArray; BYTES_PER_ELEMENT: number }> = {
  f4: Float32Array,
  f8: Float64Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  b1: Uint8Array,
  i1: Int8Array,
  f2: Uint16Array,
};

export function parseNpy(bytes: Uint8Array, label: string): NpyArray {
  const text = (a: number, b: number) => Buffer.from(bytes.subarray(a, b)).toString('latin1');
  if (bytes.length < 10 || text(0, 6) !== MAGIC) throw new UsageError(`${label}: not a .npy file`, 'BAD_DATA');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = text(start, start + headerLength);
  const descr = /'descr':\s*'([<>|=]?)(\w+)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shapeText) throw new UsageError(`${label}: unreadable .npy header`, 'BAD_DATA');
  if (descr[1] === '>') throw new UsageError(`${label}: big-endian arrays are not supported`, 'BAD_DATA');
  if (order[1] === 'True') throw new UsageError(`${label}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`, 'BAD_DATA');
  const dtype = descr[2];
  const Ctor = CONSTRUCTORS[dtype];
  if (!Ctor) throw new UsageError(`${label}: dtype ${dtype} is not supported (use float32, float64, int32, int64, uint8 or bool)`, 'BAD_DATA');
  const shape = shapeText[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  if (bytes.length - offset < count * Ctor.BYTES_PER_ELEMENT) throw new UsageError(`${label}: truncated .npy data`, 'BAD_DATA');
  // Copy so the typed array is aligned whatever the header length.
  const body = Uint8Array.prototype.slice.call(bytes, offset, offset + count * Ctor.BYTES_PER_ELEMENT);
  return { dtype, shape, data: new Ctor(body.buffer, 0, count) };
}

export function parseNpz(bytes: Uint8Array, label: string): Record<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (err) {
    throw new UsageError(`${label}: not a readable .npz archive (${(err as Error).message})`, 'BAD_DATA');
  }
  const out: Record<string, NpyArray> = {};
  for (const [name, content] of Object.entries(files)) {
    if (!name.endsWith('.npy')) continue;
    out[name.slice(0, -4)] = parseNpy(content, `${label}:${name}`);
  }
  return out;
}

/** Writes a little-endian version 1 .npy file (used by tests and tools that hand data to numpy). */
export function encodeNpy(dtype: 'f4' | 'f8' | 'i8' | 'i4', shape: number[], data: NumericArray): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header = header.padEnd(header.length + ((64 - (total % 64)) % 64), ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write(MAGIC, 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/**
 * The two inner loops of a logistic probe, a row's dot product with a
 * vector and a row added into a sum, over rows kept in float32 with the
 * vector and the sum in float64. Float32 rows run on the WebAssembly SIMD
 * kernels of the weight fold (weights/kernels.wat: dot, acc), in an instance
 * of their own whose memory holds the rows, about four times the plain
 * loops; float64 rows, or a machine without WebAssembly SIMD, get the plain
 * loops. Both round the same products in float64, in a different order.
 */
import type { Features } from '../maths/features.js';
import { KERNELS_WASM } from '../weights/kernels.wasm.js';

export interface Rows {
  readonly rows: number;
  readonly width: number;
  /** Sets the vector `dot` multiplies by. */
  setVector(v: Float64Array): void;
  /** Row i · the vector. */
  dot(i: number): number;
  /** Zeroes the running sum. */
  clearSum(): void;
  /** sum += a · row i. */
  addRow(i: number, a: number): void;
  /** Copies the running sum out. */
  readSum(out: Float64Array): void;
}

interface WasmKernels {
  acc(w: number, p: number, n: number, a: number): void;
  dot(w: number, q: number, n: number): number;
  memory: WebAssembly.Memory;
}

/** WebAssembly memory is addressed with 32 bits: rows beyond this many bytes stay on the plain loops. */
const WASM_LIMIT = 2 ** 32 - 2 ** 26;

let module: WebAssembly.Module | null | undefined;

function kernelModule(): WebAssembly.Module | undefined {
  if (module === undefined) {
    try {
      module = new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'));
    } catch {
      module = null;
    }
  }
  return module ?? undefined;
}

export function rowsOf(x: Features): Rows {
  const bytes = x.rows * x.width * 4 + 2 * x.width * 8 + 64;
  const m = x.data instanceof Float32Array && bytes < WASM_LIMIT ? kernelModule() : undefined;
  if (m) {
    try {
      return wasmRows(x, m);
    } catch (err) {
      // Memory the engine would not grow to: the plain loops read the rows where they are.
      if (!(err instanceof RangeError)) throw err;
    }
  }
  return plainRows(x);
}

export function plainRows(x: Features): Rows {
  const { rows, width, data } = x;
  let v: Float64Array = new Float64Array(width);
  const sum = new Float64Array(width);
  return {
    rows,
    width,
    setVector(u) {
      v = u;
    },
    dot(i) {
      const off = i * width;
      let s = 0;
      for (let j = 0; j < width; j++) s += data[off + j] * v[j];
      return s;
    },
    clearSum() {
      sum.fill(0);
    },
    addRow(i, a) {
      const off = i * width;
      for (let j = 0; j < width; j++) sum[j] += a * data[off + j];
    },
    readSum(out) {
      out.set(sum);
    },
  };
}

function wasmRows(x: Features, m: WebAssembly.Module): Rows {
  const { rows, width } = x;
  const k = new WebAssembly.Instance(m).exports as unknown as WasmKernels;
  // Layout: the vector, the sum (float64, 16-byte aligned), then the rows.
  const vecBytes = Math.ceil((width * 8) / 16) * 16;
  const vAt = 0;
  const sumAt = vecBytes;
  const rowsAt = 2 * vecBytes;
  const rowBytes = width * 4;
  const need = rowsAt + rows * rowBytes;
  const have = k.memory.buffer.byteLength;
  if (need > have) k.memory.grow(Math.ceil((need - have) / 65536));
  const buffer = k.memory.buffer;
  new Float32Array(buffer, rowsAt, rows * width).set(x.data);
  const v = new Float64Array(buffer, vAt, width);
  const sum = new Float64Array(buffer, sumAt, width);
  return {
    rows,
    width,
    setVector(u) {
      v.set(u);
    },
    dot(i) {
      return k.dot(rowsAt + i * rowBytes, vAt, width);
    },
    clearSum() {
      sum.fill(0);
    },
    addRow(i, a) {
      k.acc(rowsAt + i * rowBytes, sumAt, width, a);
    },
    readSum(out) {
      out.set(sum);
    },
  };
}

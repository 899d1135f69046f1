/**
 * The fold's inner loops in WebAssembly SIMD (kernels.wat), about four times
 * the plain loops' speed on float32 weights. One instance serves the process;
 * its memory holds the fold's factors and one chunk of the weight, laid out
 * afresh by each pass (`reserve`). Where WebAssembly SIMD is missing,
 * `simdKernels()` gives undefined and the plain loops do the work.
 */
import { KERNELS_WASM } from './kernels.wasm.js';

export interface Kernels {
  /** p[i] += a * w[i], w float32, p float64 (byte offsets into `memory`). */
  acc(w: number, p: number, n: number, a: number): void;
  /** p[i] += a * x[i], x and p float64. */
  acc64(x: number, p: number, n: number, a: number): void;
  /** Sum of w[i] * q[i], w float32, q float64. */
  dot(w: number, q: number, n: number): number;
  /** dst[i] = float32(src[i] + a * p[i]), computed in float64; dst may be src. */
  update(src: number, dst: number, p: number, n: number, a: number): void;
  memory: WebAssembly.Memory;
}

let instance: Kernels | null | undefined;

export function simdKernels(): Kernels | undefined {
  if (instance === undefined) {
    try {
      instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(KERNELS_WASM, 'base64'))).exports as unknown as Kernels;
    } catch {
      instance = null;
    }
  }
  return instance ?? undefined;
}

/**
 * Byte offsets of regions of the given byte sizes in the kernels' memory,
 * 16-byte aligned, growing the memory to fit. Views of the memory taken
 * before a call are stale after it.
 */
export function reserve(kernels: Kernels, sizes: number[]): number[] {
  const offsets: number[] = [];
  let end = 0;
  for (const size of sizes) {
    offsets.push(end);
    end += Math.ceil(size / 16) * 16;
  }
  const have = kernels.memory.buffer.byteLength;
  if (end > have) kernels.memory.grow(Math.ceil((end - have) / 65536));
  return offsets;
}

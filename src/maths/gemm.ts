/**
 * The one dense product the statistics and factorisations here need, as a
 * request a kernel carries out: c += alpha · op(a) · op(b), ONNX Gemm's
 * semantics (beta = 1). Code that needs products is written as a generator
 * that yields these requests (`Steps`), so one algorithm runs on the plain
 * loops below, synchronously, or on an asynchronous kernel (onnxruntime's
 * multi-threaded Gemm, probe/gemm.ts) without being written twice.
 */

export interface Gemm {
  /** m x n, row-major; updated in place. */
  c: Float64Array;
  /** transA ? k x m : m x k, row-major. */
  a: Float64Array;
  /** transB ? n x k : k x n, row-major. */
  b: Float64Array;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
}

export interface Kernel {
  gemm(g: Gemm): void | Promise<void>;
}

export interface SyncKernel extends Kernel {
  gemm(g: Gemm): void;
}

/** An algorithm that yields products for a kernel and returns T. */
export type Steps<T> = Generator<Gemm, T, void>;

/** Plain TypeScript loops, float64 throughout. */
export const PLAIN: SyncKernel = {
  gemm({ c, a, b, m, n, k, transA, transB, alpha }: Gemm): void {
    if (!transA && transB) {
      // Rows of a against rows of b: both contiguous.
      for (let i = 0; i < m; i++) {
        const ai = i * k;
        for (let j = 0; j < n; j++) {
          const bj = j * k;
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
          c[i * n + j] += alpha * s;
        }
      }
      return;
    }
    // c[i, :] += alpha · a(i, p) · b(p, :), row by row of op(b).
    const row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[p * m + i] : a[i * k + p];
        if (aip === 0) continue;
        if (transB) for (let j = 0; j < n; j++) row[j] += aip * b[j * k + p];
        else {
          const bp = p * n;
          for (let j = 0; j < n; j++) row[j] += aip * b[bp + j];
        }
      }
      const ci = i * n;
      for (let j = 0; j < n; j++) c[ci + j] += alpha * row[j];
    }
  },
};

export function runSync<T>(steps: Steps<T>, kernel: SyncKernel = PLAIN): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    kernel.gemm(next.value);
  }
}

export async function runAsync<T>(steps: Steps<T>, kernel: Kernel): Promise<T> {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await kernel.gemm(next.value);
  }
}

/**
 * The dense kernels and factorisations behind the streamed LEACE: the plain
 * and onnxruntime Gemm agree with a naive product on views into larger
 * buffers; the pivoted Cholesky reproduces P L Lᵀ Pᵀ = Σ and finds the rank
 * of rank-deficient matrices (a zero column, duplicated columns, fewer rows
 * than features); its solves match dense algebra.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PLAIN, runAsync, runSync, type Gemm } from '../../src/maths/gemm.js';
import { BlockSymmetric } from '../../src/maths/symmetric.js';
import { factorEntry, gramOfFactor, pivotedCholesky, solveLower, solveUpper, times, transposeTimes, type CholeskyFactor } from '../../src/maths/cholesky.js';
import { Random } from '../../src/maths/random.js';
import { OrtGemm } from '../../src/probe/gemm.js';

// Every product on onnxruntime, however small, so the tests exercise it.
const ort = new OrtGemm({ small: 0 });
afterAll(() => ort.release());

function randomArray(n: number, r: Random): Float64Array {
  return Float64Array.from({ length: n }, () => r.normal());
}

function naive(g: Gemm): Float64Array {
  const out = Float64Array.from(g.c);
  for (let i = 0; i < g.m; i++)
    for (let j = 0; j < g.n; j++) {
      let s = 0;
      for (let p = 0; p < g.k; p++) s += (g.transA ? g.a[p * g.m + i] : g.a[i * g.k + p]) * (g.transB ? g.b[j * g.k + p] : g.b[p * g.n + j]);
      out[i * g.n + j] += g.alpha * s;
    }
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** x (rows x n) with the given columns: the Gram matrix xᵀx. */
function gram(x: Float64Array, rows: number, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < rows; i++) for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) out[a * n + b] += x[i * n + a] * x[i * n + b];
  return out;
}

function reconstruct(f: CholeskyFactor): Float64Array {
  const n = f.n;
  const out = new Float64Array(n * n);
  for (let g = 0; g < n; g++)
    for (let h = 0; h < n; h++) {
      let s = 0;
      for (let c = 0; c < f.rank; c++) s += factorEntry(f, g, c) * factorEntry(f, h, c);
      out[f.perm[g] * n + f.perm[h]] = s;
    }
  return out;
}

describe('Gemm kernels', () => {
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    it(`plain and onnxruntime match a naive product (transA ${transA}, transB ${transB}), on views at an offset`, async () => {
      const r = new Random(transA ? 3 : 5 + (transB ? 1 : 0));
      const [m, n, k] = [67, 45, 53];
      const store = randomArray(7 + m * k + n * k + m * n + 5, r);
      const g: Gemm = {
        a: store.subarray(7, 7 + m * k),
        b: store.subarray(7 + m * k, 7 + m * k + n * k),
        c: Float64Array.from(store.subarray(7 + m * k + n * k, 7 + m * k + n * k + m * n)),
        m,
        n,
        k,
        transA,
        transB,
        alpha: -1,
      };
      const expected = naive(g);
      const plain = { ...g, c: Float64Array.from(g.c) };
      PLAIN.gemm(plain);
      expect(maxAbsDiff(plain.c, expected)).toBeLessThan(1e-12);
      const c = store.subarray(7 + m * k + n * k, 7 + m * k + n * k + m * n);
      c.set(g.c);
      await ort.gemm({ ...g, c });
      expect(maxAbsDiff(c, expected)).toBeLessThan(1e-12);
      expect(store[6]).toBe(randomArray(7, new Random(transA ? 3 : 5 + (transB ? 1 : 0)))[6]);
    });
  }
});

describe('BlockSymmetric', () => {
  it('keeps the lower block rows of a symmetric matrix', () => {
    const r = new Random(1);
    const n = 11;
    const x = randomArray(n * 3, r);
    const dense = gram(x, 3, n);
    const s = BlockSymmetric.fromDense(dense, n, 4);
    expect(s.data.length).toBe(4 * 4 + 4 * 8 + 3 * 11);
    expect(maxAbsDiff(s.toDense(), dense)).toBe(0);
    expect(s.get(2, 9)).toBe(dense[2 * n + 9]);
  });
});

describe('pivoted Cholesky', () => {
  const cases: { name: string; n: number; rows: number; bs: number; edit?: (x: Float64Array, rows: number, n: number) => void; rank: number }[] = [
    { name: 'full rank', n: 37, rows: 60, bs: 8, rank: 37 },
    { name: 'fewer rows than features (N < D)', n: 40, rows: 13, bs: 8, rank: 13 },
    {
      name: 'a zero column and duplicated columns',
      n: 30,
      rows: 80,
      bs: 7,
      rank: 26,
      edit: (x, rows, n) => {
        for (let i = 0; i < rows; i++) {
          x[i * n + 3] = 0;
          x[i * n + 10] = x[i * n + 4];
          x[i * n + 20] = x[i * n + 4];
          x[i * n + 29] = 2 * x[i * n + 1] - x[i * n + 2];
        }
      },
    },
  ];
  for (const c of cases) {
    for (const kernel of ['plain', 'onnxruntime'] as const) {
      it(`${c.name}: P L Lᵀ Pᵀ = Σ, rank ${c.rank} (${kernel})`, async () => {
        const r = new Random(c.n + c.rows);
        const x = randomArray(c.rows * c.n, r);
        c.edit?.(x, c.rows, c.n);
        const dense = gram(x, c.rows, c.n);
        const steps = pivotedCholesky(BlockSymmetric.fromDense(dense, c.n, c.bs), 1e-12);
        const f = kernel === 'plain' ? runSync(steps) : await runAsync(steps, ort);
        expect(f.rank).toBe(c.rank);
        expect(maxAbsDiff(reconstruct(f), dense)).toBeLessThan(1e-9 * f.largest);
        expect([...f.perm].sort((a, b) => a - b)).toEqual(Array.from({ length: c.n }, (_, i) => i));
      });
    }
  }

  it("the solves match dense triangular algebra, and LᵀL is the factor's Gram matrix", () => {
    const r = new Random(9);
    const [n, rows, k] = [23, 15, 3];
    const x = randomArray(rows * n, r);
    const f = runSync(pivotedCholesky(BlockSymmetric.fromDense(gram(x, rows, n), n, 4), 1e-12));
    expect(f.rank).toBe(rows);
    const rank = f.rank;
    const y = randomArray(rank * k, r);
    const lower = Float64Array.from(y);
    solveLower(f, lower, k);
    const back = new Float64Array(rank * k);
    for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) for (let c = 0; c < k; c++) back[i * k + c] += factorEntry(f, i, j) * lower[j * k + c];
    expect(maxAbsDiff(back, y)).toBeLessThan(1e-9);
    const upper = Float64Array.from(y);
    solveUpper(f, upper, k);
    const back2 = new Float64Array(rank * k);
    for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) for (let c = 0; c < k; c++) back2[i * k + c] += factorEntry(f, j, i) * upper[j * k + c];
    expect(maxAbsDiff(back2, y)).toBeLessThan(1e-9);
    const yn = randomArray(n * k, r);
    const lt = transposeTimes(f, yn, k);
    const l = times(f, lt, k);
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < rank; j++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += factorEntry(f, i, j) * yn[i * k + c];
        expect(lt[j * k + c]).toBeCloseTo(s, 10);
      }
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < rank; j++) s += factorEntry(f, i, j) * lt[j * k + c];
        expect(l[i * k + c]).toBeCloseTo(s, 10);
      }
    }
    const kk = runSync(gramOfFactor(f));
    for (let a = 0; a < rank; a++)
      for (let b = 0; b < rank; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += factorEntry(f, i, a) * factorEntry(f, i, b);
        expect(kk.get(a, b)).toBeCloseTo(s, 10);
      }
  });
});

/**
 * Pivoted Cholesky of a symmetric positive semi-definite matrix,
 * Σ = P L Lᵀ Pᵀ, truncated where the largest remaining pivot (the variance
 * left once the chosen features are accounted for) falls to a tolerance
 * relative to the largest diagonal entry. L is n x r, lower trapezoidal,
 * r the numerical rank. Blocked, right-looking, as LAPACK's dpstrf: each
 * panel of `bs` columns is factored here (pivot search, swaps, the panel's
 * own updates: O(n·bs) per column), and the trailing update
 * T -= L_panel L_panelᵀ, which is n³/3 of the work, is yielded as Gemm
 * requests, one per block row of the BlockSymmetric storage. The trailing
 * matrix is compacted in place, so the factorisation needs the matrix's own
 * storage (which it overwrites) plus L (about n²/2 numbers).
 *
 * Also the solves LEACE needs with such a factor, for k right-hand sides at
 * once (row-major, rows x k).
 */
import type { Steps } from './gemm.js';
import { BlockSymmetric } from './symmetric.js';

/** Columns [offset, offset + width) of L, rows [offset, n): (n - offset) x width, row-major. */
export interface Panel {
  offset: number;
  width: number;
  data: Float64Array;
}

export interface CholeskyFactor {
  n: number;
  /** Numerical rank: the columns of L. */
  rank: number;
  /** perm[g] is the original index of the row/column at position g. */
  perm: Int32Array;
  panels: Panel[];
  /** The largest diagonal entry of the input, and the pivot tolerance applied (relative tolerance x that). */
  largest: number;
  tolerance: number;
}

/** Factors `a` (overwriting its storage) with pivots kept while they exceed relTol x the largest diagonal entry. */
export function* pivotedCholesky(a: BlockSymmetric, relTol: number): Steps<CholeskyFactor> {
  const n = a.n;
  const bs = a.bs;
  const data = a.data;
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const panels: Panel[] = [];
  let largest = 0;
  for (let i = 0; i < n; i++) largest = Math.max(largest, a.get(i, i));
  const tolerance = relTol * largest;
  let rank = 0;
  let off = 0;
  while (off < n && largest > 0) {
    const m = n - off;
    const w = Math.min(bs, m);
    const t = off === 0 ? a : new BlockSymmetric(m, bs, data);
    const lp = new Float64Array(m * w);
    const d = t.diagonal();
    let j = 0;
    let stopped = false;
    for (; j < w; j++) {
      let p = j;
      for (let i = j + 1; i < m; i++) if (d[i] > d[p]) p = i;
      if (!(d[p] > tolerance)) {
        stopped = true;
        break;
      }
      if (p !== j) swap(t, lp, w, d, j, p, off, perm, panels);
      const ljj = Math.sqrt(d[j]);
      const lj = j * w;
      lp[lj + j] = ljj;
      for (let i = j + 1; i < m; i++) {
        const li = i * w;
        let s = data[t.at(i, j)];
        for (let q = 0; q < j; q++) s -= lp[li + q] * lp[lj + q];
        const v = s / ljj;
        lp[li + j] = v;
        d[i] -= v * v;
      }
    }
    if (j > 0) panels.push({ offset: off, width: j, data: j === w ? lp : narrow(lp, m, w, j) });
    rank += j;
    if (stopped || m === w) break;
    // Trailing update, block row by block row; block row b (b >= 1) of t becomes block row b - 1 of the next one, minus its first bs columns.
    let write = 0;
    for (let b = 1; b < t.blocks; b++) {
      const rows = t.rowsOf(b);
      const cols = t.colsOf(b);
      const first = b * bs;
      yield {
        c: t.block(b),
        a: lp.subarray(first * w, (first + rows) * w),
        b: lp.subarray(0, cols * w),
        m: rows,
        n: cols,
        k: w,
        transA: false,
        transB: true,
        alpha: -1,
      };
      const from = t.offsets[b];
      for (let r = 0; r < rows; r++) {
        data.copyWithin(write, from + r * cols + bs, from + (r + 1) * cols);
        write += cols - bs;
      }
    }
    off += w;
  }
  return { n, rank, perm, panels, largest, tolerance };
}

/** Symmetric swap of positions j < p of the trailing matrix (columns before j are spent), with the rows of L and the permutation. */
function swap(t: BlockSymmetric, lp: Float64Array, w: number, d: Float64Array, j: number, p: number, off: number, perm: Int32Array, panels: Panel[]): void {
  const data = t.data;
  const m = t.n;
  for (let k = j + 1; k < m; k++) {
    if (k === p) continue;
    const ia = t.at(k, j);
    const ib = k < p ? t.at(p, k) : t.at(k, p);
    const v = data[ia];
    data[ia] = data[ib];
    data[ib] = v;
  }
  const da = t.at(j, j);
  const db = t.at(p, p);
  [data[da], data[db]] = [data[db], data[da]];
  for (let q = 0; q < w; q++) [lp[j * w + q], lp[p * w + q]] = [lp[p * w + q], lp[j * w + q]];
  [d[j], d[p]] = [d[p], d[j]];
  [perm[off + j], perm[off + p]] = [perm[off + p], perm[off + j]];
  for (const panel of panels) {
    const ra = (off + j - panel.offset) * panel.width;
    const rb = (off + p - panel.offset) * panel.width;
    for (let q = 0; q < panel.width; q++) [panel.data[ra + q], panel.data[rb + q]] = [panel.data[rb + q], panel.data[ra + q]];
  }
}

function narrow(lp: Float64Array, m: number, w: number, j: number): Float64Array {
  const out = new Float64Array(m * j);
  for (let i = 0; i < m; i++) out.set(lp.subarray(i * w, i * w + j), i * j);
  return out;
}

/** L[i, c] for a row i and column c of the factor (0 above the diagonal). */
export function factorEntry(f: CholeskyFactor, i: number, c: number): number {
  for (const p of f.panels) {
    if (c >= p.offset && c < p.offset + p.width) return i < p.offset ? 0 : p.data[(i - p.offset) * p.width + (c - p.offset)];
  }
  return 0;
}

/** Solves L₁₁ x = y in place for the first `rank` rows of y (rank x k, row-major); L₁₁ is the leading square of L. */
export function solveLower(f: CholeskyFactor, y: Float64Array, k: number): void {
  const r = f.rank;
  for (const { offset: o, width: w, data: p } of f.panels) {
    for (let jj = 0; jj < w; jj++) {
      const row = jj * w;
      const yi = (o + jj) * k;
      for (let q = 0; q < jj; q++) {
        const l = p[row + q];
        const yq = (o + q) * k;
        for (let c = 0; c < k; c++) y[yi + c] -= l * y[yq + c];
      }
      const diag = p[row + jj];
      for (let c = 0; c < k; c++) y[yi + c] /= diag;
    }
    for (let i = o + w; i < r; i++) {
      const row = (i - o) * w;
      const yi = i * k;
      for (let q = 0; q < w; q++) {
        const l = p[row + q];
        if (l === 0) continue;
        const yq = (o + q) * k;
        for (let c = 0; c < k; c++) y[yi + c] -= l * y[yq + c];
      }
    }
  }
}

/** Solves L₁₁ᵀ x = y in place (rank x k). */
export function solveUpper(f: CholeskyFactor, y: Float64Array, k: number): void {
  const r = f.rank;
  for (let pi = f.panels.length - 1; pi >= 0; pi--) {
    const { offset: o, width: w, data: p } = f.panels[pi];
    for (let i = o + w; i < r; i++) {
      const row = (i - o) * w;
      const yi = i * k;
      for (let q = 0; q < w; q++) {
        const l = p[row + q];
        if (l === 0) continue;
        const yq = (o + q) * k;
        for (let c = 0; c < k; c++) y[yq + c] -= l * y[yi + c];
      }
    }
    for (let jj = w - 1; jj >= 0; jj--) {
      const yi = (o + jj) * k;
      const diag = p[jj * w + jj];
      for (let c = 0; c < k; c++) y[yi + c] /= diag;
      for (let q = 0; q < jj; q++) {
        const l = p[jj * w + q];
        const yq = (o + q) * k;
        for (let c = 0; c < k; c++) y[yq + c] -= l * y[yi + c];
      }
    }
  }
}

/** Lᵀ y for y n x k: rank x k. */
export function transposeTimes(f: CholeskyFactor, y: Float64Array, k: number): Float64Array {
  return panelProduct(f, y, k, true);
}

/** L t for t rank x k: n x k. */
export function times(f: CholeskyFactor, t: Float64Array, k: number): Float64Array {
  return panelProduct(f, t, k, false);
}

/** L or Lᵀ times a k-column matrix, walking the stored panels once (zeros skipped). */
function panelProduct(f: CholeskyFactor, m: Float64Array, k: number, transpose: boolean): Float64Array {
  const out = new Float64Array((transpose ? f.rank : f.n) * k);
  for (const { offset: o, width: w, data: p } of f.panels) {
    for (let i = o; i < f.n; i++) {
      const row = (i - o) * w;
      for (let q = 0; q < w; q++) {
        const l = p[row + q];
        if (l === 0) continue;
        // Entry (i, o + q) of L: Lᵀ sends row i of m to row o + q; L sends row o + q to row i.
        const [to, from] = transpose ? [(o + q) * k, i * k] : [i * k, (o + q) * k];
        for (let c = 0; c < k; c++) out[to + c] += l * m[from + c];
      }
    }
  }
  return out;
}

/**
 * LᵀL (rank x rank) as a BlockSymmetric whose blocks are the factor's
 * panels: one Gemm per pair of panels, over the rows they share.
 */
export function* gramOfFactor(f: CholeskyFactor): Steps<BlockSymmetric> {
  const bs = f.panels[0]?.width ?? 1;
  const k = new BlockSymmetric(f.rank, bs);
  f.panels.forEach((pq, q) => {
    if (q < f.panels.length - 1 && pq.width !== bs) throw new Error('gramOfFactor: panels of unequal width');
  });
  for (let q = 0; q < f.panels.length; q++) {
    const pq = f.panels[q];
    const rows = f.n - pq.offset;
    const block = k.block(q);
    const cols = k.colsOf(q);
    for (let q2 = 0; q2 <= q; q2++) {
      const p2 = f.panels[q2];
      const tmp = new Float64Array(pq.width * p2.width);
      yield {
        c: tmp,
        a: pq.data,
        b: p2.data.subarray((pq.offset - p2.offset) * p2.width),
        m: pq.width,
        n: p2.width,
        k: rows,
        transA: true,
        transB: false,
        alpha: 1,
      };
      for (let r = 0; r < pq.width; r++) block.set(tmp.subarray(r * p2.width, (r + 1) * p2.width), r * cols + p2.offset);
    }
  }
  return k;
}

/** Rows of y (n x k) in the factor's pivoted order: out[g] = y[perm[g]]. */
export function permuteRows(f: CholeskyFactor, y: Float64Array, k: number): Float64Array {
  const out = new Float64Array(f.n * k);
  for (let g = 0; g < f.n; g++) out.set(y.subarray(f.perm[g] * k, (f.perm[g] + 1) * k), g * k);
  return out;
}

/** The inverse: out[perm[g]] = y[g]. */
export function unpermuteRows(f: CholeskyFactor, y: Float64Array, k: number): Float64Array {
  const out = new Float64Array(f.n * k);
  for (let g = 0; g < f.n; g++) out.set(y.subarray(g * k, (g + 1) * k), f.perm[g] * k);
  return out;
}

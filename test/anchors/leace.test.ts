/**
 * The streamed, Cholesky-based LEACE at the widths of language models and on
 * rank-deficient data: at D = 4096 it passes EleutherAI's checks
 * (class-conditional means equal, idempotent, rank classes - 1) and matches
 * the eraser numpy computes on the same data (scripts/make_leace_reference.py
 * regenerates test/fixtures/leace/ from the formula in src/maths/hashed.ts);
 * a zero column, duplicated columns and fewer rows than features still
 * equalise the class means and match numpy's pseudo-inverse; streamed and
 * all-at-once fits agree; a large common offset changes nothing.
 */
import fs from 'node:fs';
import { Matrix, pseudoInverse } from 'ml-matrix';
import { afterAll, describe, expect, it } from 'vitest';
import { applyEraser, fitLeace, fitLeaceWith, leaceFromMoments, type Eraser } from '../../src/anchors/fromData.js';
import { parseNpy } from '../../src/data/npy.js';
import { classMeans, type Features } from '../../src/maths/features.js';
import { hashedRows, type HashedSpec } from '../../src/maths/hashed.js';
import { Moments } from '../../src/maths/moments.js';
import { Random } from '../../src/maths/random.js';
import { OrtGemm } from '../../src/probe/gemm.js';

const ort = new OrtGemm();
afterAll(() => ort.release());

const FIXTURES = new URL('../fixtures/leace/', import.meta.url).pathname;

interface Reference {
  spec: HashedSpec;
  rows: number;
  duplicate?: [number, number][];
  zero?: number[];
  covarianceRank: number;
  eraserRank: number;
  meanChecksum: number;
  /** numpy's factors: left and right, each r x D. */
  left: Float64Array[];
  right: Float64Array[];
}

function reference(name: string): Reference {
  const meta = JSON.parse(fs.readFileSync(`${FIXTURES}${name}.json`, 'utf8'));
  const npy = parseNpy(fs.readFileSync(`${FIXTURES}${name}.npy`), name);
  const [, r, d] = npy.shape;
  const rows = (k: number) => Array.from({ length: r }, (_, i) => Float64Array.from(npy.data.subarray((k * r + i) * d, (k * r + i + 1) * d) as Float32Array));
  return { ...meta, left: rows(0), right: rows(1) };
}

/** The reference's data, rebuilt from the formula in batches. */
function* batches(ref: Reference, size: number): Generator<{ data: Float32Array; labels: Int32Array; rows: number }> {
  for (let start = 0; start < ref.rows; start += size) {
    const rows = Math.min(size, ref.rows - start);
    const { data, labels } = hashedRows(ref.spec, start, rows);
    const d = ref.spec.width;
    for (let i = 0; i < rows; i++) {
      for (const [a, b] of ref.duplicate ?? []) data[i * d + b] = data[i * d + a];
      for (const a of ref.zero ?? []) data[i * d + a] = 0;
    }
    yield { data, labels, rows };
  }
}

function allRows(ref: Reference): { x: Features; labels: Int32Array } {
  const d = ref.spec.width;
  const data = new Float32Array(ref.rows * d);
  const labels = new Int32Array(ref.rows);
  let at = 0;
  for (const b of batches(ref, 4096)) {
    data.set(b.data, at * d);
    labels.set(b.labels, at);
    at += b.rows;
  }
  return { x: { rows: ref.rows, width: d, data }, labels };
}

/** E v = Σ_r left_r (right_r · v). */
function apply(left: ArrayLike<number>[], right: ArrayLike<number>[], v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(v.length);
  left.forEach((l, r) => {
    let c = 0;
    for (let j = 0; j < v.length; j++) c += right[r][j] * v[j];
    for (let j = 0; j < v.length; j++) out[j] += c * l[j];
  });
  return out;
}

const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const diff = (a: ArrayLike<number>, b: ArrayLike<number>): Float64Array => Float64Array.from(a, (v, i) => v - b[i]);

/** Largest relative difference of the two erasers' action on a few random vectors. */
function eraserDistance(
  e: { left: ArrayLike<number>[]; right: ArrayLike<number>[] },
  f: { left: ArrayLike<number>[]; right: ArrayLike<number>[] },
  d: number,
): number {
  const r = new Random(5);
  let worst = 0;
  for (let t = 0; t < 4; t++) {
    const v = Float64Array.from({ length: d }, () => r.normal());
    const a = apply(e.left, e.right, v);
    const b = apply(f.left, f.right, v);
    worst = Math.max(worst, maxAbs(diff(a, b)) / maxAbs(b));
  }
  return worst;
}

/** The class means after erasure, m_c - E (m_c - μ), as a share of the gap before: EleutherAI's first check. */
function meanGapRatio(means: ArrayLike<number>[], e: Eraser): number {
  const after = means.map((m) => diff(m, apply(e.left, e.right, diff(m, e.mean))));
  let before = 0;
  let gap = 0;
  for (let c = 1; c < means.length; c++) {
    before = Math.max(before, maxAbs(diff(means[c], means[0])));
    gap = Math.max(gap, maxAbs(diff(after[c], after[0])));
  }
  return gap / before;
}

/** Idempotence of E = L R: E² = L (R L) R = E exactly when R L = I. */
function idempotenceError(e: Eraser): number {
  let worst = 0;
  e.right.forEach((r, a) =>
    e.left.forEach((l, b) => {
      let s = 0;
      for (let j = 0; j < l.length; j++) s += r[j] * l[j];
      worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
    }),
  );
  return worst;
}

describe('LEACE at D = 4096 (onnxruntime products, streamed)', () => {
  const ref = reference('hashed-4096');
  const d = ref.spec.width;
  const state: { eraser?: Eraser; means?: Float64Array[]; rank?: number } = {};

  it("regenerates numpy's data from the formula", () => {
    let sum = 0;
    const m = new Moments(d, { classes: 3, covariance: false });
    for (const b of batches(ref, 1024)) m.add(b.data, b.rows, b.labels);
    for (const v of m.mean()) sum += v;
    expect(sum).toBeCloseTo(ref.meanChecksum, 6);
  });

  it('fits batch by batch', async () => {
    const m = new Moments(d, { classes: 3 });
    for (const b of batches(ref, 1000)) await m.addAsync(b.data, b.rows, b.labels, ort);
    state.means = m.classMeans();
    const fit = await leaceFromMoments(m, ort);
    state.eraser = fit.eraser;
    state.rank = fit.rank;
    expect(fit.rank).toBe(ref.covarianceRank);
  }, 120_000);

  it('equalises the class-conditional means (to 1e-6 of their gap)', () => {
    expect(meanGapRatio(state.means!, state.eraser!)).toBeLessThan(1e-6);
  });

  it('is idempotent and has rank classes - 1', () => {
    expect(state.eraser!.left.length).toBe(2);
    expect(idempotenceError(state.eraser!)).toBeLessThan(1e-9);
  });

  it("matches numpy's eraser on the same data (to 1e-6)", () => {
    expect(ref.eraserRank).toBe(2);
    expect(eraserDistance(state.eraser!, ref, d)).toBeLessThan(1e-6);
  });
});

describe('LEACE on rank-deficient data', () => {
  it("fewer rows than features, a zero column and duplicated columns: numpy's pseudo-inverse eraser, means equal", async () => {
    const ref = reference('deficient-96');
    const { x, labels } = allRows(ref);
    for (const e of [fitLeace(x, labels, 3), await fitLeaceWith(x, labels, 3, new OrtGemm({ small: 0 }))]) {
      expect(e.left.length).toBe(2);
      expect(eraserDistance(e, ref, x.width)).toBeLessThan(1e-6);
      expect(meanGapRatio(classMeans(x, labels, 3), e)).toBeLessThan(1e-9);
      const after = classMeans(applyEraser(x, e), labels, 3);
      expect(Math.max(maxAbs(diff(after[1], after[0])), maxAbs(diff(after[2], after[0])))).toBeLessThan(1e-9);
      // The right factors lie in the data's span: zero on the zero columns, as pinv's are.
      for (const r of e.right) for (const j of ref.zero!) expect(Math.abs(r[j])).toBeLessThan(1e-12 * maxAbs(r));
    }
  });

  const planted = (rows: number, d: number, seed: number) => {
    const r = new Random(seed);
    const labels = Int32Array.from({ length: rows }, () => r.int(2));
    const data = new Float64Array(rows * d);
    for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) data[i * d + j] = r.normal() + (j % 4 === 0 ? 0.7 * labels[i] : 0);
    return { x: { rows, width: d, data } as Features, labels };
  };

  for (const [name, edit] of [
    ['a zero column', (x: Float64Array, i: number, d: number) => (x[i * d + 2] = 0)],
    ['duplicated columns', (x: Float64Array, i: number, d: number) => ((x[i * d + 5] = x[i * d + 4]), (x[i * d + 9] = x[i * d + 4]))],
    ['a column that is a combination of others', (x: Float64Array, i: number, d: number) => (x[i * d + 7] = x[i * d + 0] - 3 * x[i * d + 1])],
  ] as const) {
    it(`${name}: the class means are equal after erasure, and E is the pseudo-inverse closed form`, () => {
      const { x, labels } = planted(200, 12, 3);
      for (let i = 0; i < x.rows; i++) edit(x.data as Float64Array, i, x.width);
      const e = fitLeace(x, labels, 2);
      const erased = applyEraser(x, e);
      const [m0, m1] = classMeans(erased, labels, 2);
      expect(maxAbs(diff(m0, m1))).toBeLessThan(1e-9);
      // E = Σxz (Σxzᵀ Σ⁺ Σxz)⁻¹ Σxzᵀ Σ⁺ with ml-matrix's pinv.
      const d = x.width;
      const mean = Array.from({ length: d }, (_, j) => Array.from({ length: x.rows }, (_, i) => x.data[i * d + j]).reduce((a, b) => a + b) / x.rows);
      const xc = new Matrix(Array.from({ length: x.rows }, (_, i) => Array.from({ length: d }, (_, j) => x.data[i * d + j] - mean[j])));
      const sigma = xc.transpose().mmul(xc).div(x.rows);
      const z = Matrix.columnVector(Array.from(labels, (l) => l - labels.reduce((a, b) => a + b, 0) / x.rows));
      const sxz = xc.transpose().mmul(z).div(x.rows);
      const sp = pseudoInverse(sigma, 1e-10);
      const expected = sxz
        .mmul(pseudoInverse(sxz.transpose().mmul(sp).mmul(sxz)))
        .mmul(sxz.transpose())
        .mmul(sp);
      for (let t = 0; t < 3; t++) {
        const v = Array.from({ length: d }, (_, j) => Math.sin(j + 3 * t));
        const got = apply(e.left, e.right, v);
        const want = expected.mmul(Matrix.columnVector(v)).getColumn(0);
        expect(maxAbs(diff(got, want))).toBeLessThan(1e-8 * maxAbs(want));
      }
    });
  }

  it('fewer rows than features at D = 1024 (onnxruntime): rank N - 1, means equal', async () => {
    const { x, labels } = planted(300, 1024, 8);
    const m = new Moments(1024, { classes: 2 });
    await m.addAsync(x.data, x.rows, labels, ort);
    const fit = await leaceFromMoments(m, ort);
    expect(fit.rank).toBe(299);
    const erased = applyEraser(x, fit.eraser);
    const [m0, m1] = classMeans(erased, labels, 2);
    const [b0, b1] = classMeans(x, labels, 2);
    expect(maxAbs(diff(m0, m1))).toBeLessThan(1e-9 * maxAbs(diff(b0, b1)));
  }, 60_000);
});

describe('LEACE, streamed against all at once, and under an offset', () => {
  const spec: HashedSpec = { width: 384, classes: 4, shift: 0.5, seed: 3 };
  const rows = 2000;
  const { data, labels } = hashedRows(spec, 0, rows);
  const x: Features = { rows, width: spec.width, data };

  it('batches of 1, 97 and all rows, plain loops and onnxruntime: the same eraser (to 1e-9)', async () => {
    const whole = fitLeace(x, labels, 4);
    expect(whole.left.length).toBe(3);
    for (const [batch, kernel] of [
      [97, ort],
      [1, undefined],
      [rows, ort],
    ] as const) {
      const m = new Moments(spec.width, { classes: 4, blockRows: 300 });
      for (let s = 0; s < rows; s += batch) {
        const n = Math.min(batch, rows - s);
        const part = data.subarray(s * spec.width, (s + n) * spec.width);
        if (kernel) await m.addAsync(part, n, labels.subarray(s), kernel);
        else m.add(part, n, labels.subarray(s));
      }
      const streamed = (await leaceFromMoments(m, kernel)).eraser;
      expect(eraserDistance(streamed, whole, spec.width)).toBeLessThan(1e-9);
      expect(maxAbs(diff(streamed.mean, whole.mean))).toBeLessThan(1e-12);
    }
  }, 60_000);

  it('an offset of 1e4 on every activation changes the eraser by less than 1e-6 (and its mean by the offset)', () => {
    const shifted: Features = { rows, width: spec.width, data: Float64Array.from(data, (v) => v + 1e4) };
    const e0 = fitLeace(x, labels, 4);
    const e1 = fitLeace(shifted, labels, 4);
    expect(eraserDistance(e1, e0, spec.width)).toBeLessThan(1e-6);
    expect(
      maxAbs(
        diff(
          e1.mean,
          e0.mean.map((v) => v + 1e4),
        ),
      ),
    ).toBeLessThan(1e-8);
  });
});

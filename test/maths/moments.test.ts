/**
 * Streamed moments: any batching gives the two-pass covariance and means to
 * rounding, merges agree with one pass, and a large common offset loses no
 * precision (the shift and Chan's update keep the sums small).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Moments } from '../../src/maths/moments.js';
import { Random } from '../../src/maths/random.js';
import { OrtGemm } from '../../src/probe/gemm.js';

const ort = new OrtGemm({ small: 0 });
afterAll(() => ort.release());

function data(rows: number, d: number, seed: number, offset = 0): { x: Float64Array; labels: Int32Array } {
  const r = new Random(seed);
  const x = new Float64Array(rows * d);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = r.int(3);
    for (let j = 0; j < d; j++) x[i * d + j] = offset + r.normal() * (1 + j) + labels[i] * (j % 3) + (i > rows / 2 ? 5 : 0);
  }
  return { x, labels };
}

/** Two-pass covariance, divided by n. */
function twoPass(x: Float64Array, rows: number, d: number): { mean: Float64Array; cov: Float64Array } {
  const mean = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / rows;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < rows; i++)
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] += ((x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b])) / rows;
  return { mean, cov };
}

const relErr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
};

describe('Moments', () => {
  const [rows, d] = [301, 13];
  const { x, labels } = data(rows, d, 1);
  const ref = twoPass(x, rows, d);

  for (const [batch, blockRows] of [
    [rows, 1000],
    [1, 7],
    [17, 16],
    [64, 50],
  ]) {
    it(`batches of ${batch}, ${blockRows} rows per product: the two-pass mean and covariance`, () => {
      const m = new Moments(d, { classes: 3, blockRows, blockSize: 4 });
      for (let s = 0; s < rows; s += batch) m.add(x.subarray(s * d, Math.min(rows, s + batch) * d), Math.min(batch, rows - s), labels.subarray(s));
      m.flush();
      expect(m.count).toBe(rows);
      expect(relErr(m.mean(), ref.mean)).toBeLessThan(1e-13);
      expect(relErr(m.covariance().toDense(), ref.cov)).toBeLessThan(1e-13);
      const means = m.classMeans();
      for (let c = 0; c < 3; c++) {
        const idx = [...labels.keys()].filter((i) => labels[i] === c);
        expect(m.counts[c]).toBe(idx.length);
        const expected = Array.from({ length: d }, (_, j) => idx.reduce((s, i) => s + x[i * d + j], 0) / idx.length);
        expect(relErr(means[c], expected)).toBeLessThan(1e-13);
      }
    });
  }

  it('on onnxruntime, the same', async () => {
    const m = new Moments(d, { classes: 3, blockRows: 40, blockSize: 5 });
    for (let s = 0; s < rows; s += 33) await m.addAsync(x.subarray(s * d, Math.min(rows, s + 33) * d), Math.min(33, rows - s), labels.subarray(s), ort);
    await m.flushAsync(ort);
    expect(relErr(m.covariance().toDense(), ref.cov)).toBeLessThan(1e-13);
  });

  it('merging accumulators of two halves gives the whole', () => {
    const a = new Moments(d, { classes: 3, blockRows: 32, blockSize: 4 });
    const b = new Moments(d, { classes: 3, blockRows: 32, blockSize: 4 });
    a.add(x.subarray(0, 100 * d), 100, labels);
    b.add(x.subarray(100 * d), rows - 100, labels.subarray(100));
    a.flush();
    b.flush();
    a.merge(b);
    expect(a.count).toBe(rows);
    expect(relErr(a.mean(), ref.mean)).toBeLessThan(1e-13);
    expect(relErr(a.covariance().toDense(), ref.cov)).toBeLessThan(1e-13);
    expect(Array.from(a.counts)).toEqual([0, 1, 2].map((c) => labels.filter((l) => l === c).length));
  });

  it('an offset of 1e6 on every value leaves the covariance and class offsets as they were (to 1e-9)', () => {
    const shifted = data(rows, d, 1, 1e6).x;
    const m0 = new Moments(d, { classes: 3, blockRows: 50 });
    const m1 = new Moments(d, { classes: 3, blockRows: 50 });
    m0.add(x, rows, labels);
    m1.add(shifted, rows, labels);
    m0.flush();
    m1.flush();
    expect(relErr(m1.covariance().toDense(), m0.covariance().toDense())).toBeLessThan(1e-9);
    const o0 = m0.classOffsets();
    const o1 = m1.classOffsets();
    for (let c = 0; c < 3; c++) expect(relErr(o1[c], o0[c])).toBeLessThan(1e-9);
  });

  it('refuses labels outside the classes and values that are not finite', () => {
    const m = new Moments(2, { classes: 2 });
    expect(() => m.add([1, 2], 1, [2])).toThrow(/2 is not a class index in 0..1/);
    // Checked where the rows are summed: at once for class sums, at the Gram product for the covariance.
    expect(() => new Moments(2, { classes: 2, covariance: false }).add([1, 2, 1, NaN], 2, [0, 1])).toThrow(/row 2 has a value that is not finite \(NaN\)/);
    m.add([1, 2, 3, 4, Infinity, 0], 3, [0, 1, 1]);
    expect(() => m.flush()).toThrow(/row 3 has a value that is not finite \(Infinity\)/);
  });
});

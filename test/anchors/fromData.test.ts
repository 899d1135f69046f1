/**
 * LEACE checked the way EleutherAI's concept-erasure tests check it
 * (tests/test_leace.py): class-conditional means equal after erasure, a
 * logistic probe's coefficients about 0, idempotence, rank at most
 * classes - 1; plus the closed form checked against an independent formula.
 */
import { Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { applyEraser, fitLeace, meanDifference, type Eraser } from '../../src/anchors/fromData.js';
import { cosine } from '../../src/eval/metrics.js';
import { classMeans, columnMeans, features, type Features } from '../../src/maths/features.js';
import { fitLogistic } from '../../src/probe/logistic.js';
import { plantedConcept } from '../helpers/concepts.js';

const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function meanGap(x: Features, labels: Int32Array, classes: number): number {
  const means = classMeans(x, labels, classes);
  let gap = 0;
  for (let c = 1; c < classes; c++) gap = Math.max(gap, maxAbs(means[c].map((v, j) => v - means[0][j])));
  return gap;
}

function eraserMatrix(e: Eraser): number[][] {
  const d = e.mean.length;
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => e.left.reduce((s, l, r) => s + l[i] * e.right[r][j], 0)));
}

describe('LEACE', () => {
  for (const classes of [2, 3, 5]) {
    describe(`${classes} classes`, () => {
      const { x, labels } = plantedConcept(1500, 10, classes, 1, 10 + classes);
      const eraser = fitLeace(x, labels, classes);
      const erased = applyEraser(x, eraser);

      it('leaves the class-conditional means equal (to 1e-6)', () => {
        expect(meanGap(x, labels, classes)).toBeGreaterThan(0.3);
        expect(meanGap(erased, labels, classes)).toBeLessThan(1e-6);
      });

      it("drives a logistic probe's coefficients to about 0", () => {
        for (let c = 0; c < classes; c++) {
          const target = Array.from(labels, (l) => (l === c ? 1 : 0));
          expect(maxAbs(fitLogistic(x, target, 1e-4).weights)).toBeGreaterThan(0.1);
          expect(maxAbs(fitLogistic(erased, target, 1e-4).weights)).toBeLessThan(1e-4);
        }
      });

      it('is idempotent', () => {
        const twice = applyEraser(erased, eraser);
        expect(maxAbs(twice.data.map((v, i) => v - erased.data[i]))).toBeLessThan(1e-9);
      });

      it('has rank at most classes - 1', () => {
        expect(eraser.left.length).toBeLessThanOrEqual(classes - 1);
        expect(eraser.left.length).toBe(classes - 1);
      });
    });
  }

  it('matches the closed form M = Σxz (Σxzᵀ Σ⁻¹ Σxz)⁻¹ Σxzᵀ Σ⁻¹ for two classes', () => {
    const { x, labels } = plantedConcept(800, 5, 2, 1, 21);
    const e = fitLeace(x, labels, 2);
    const mu = columnMeans(x);
    const sigma = Array.from({ length: 5 }, (_, a) =>
      Array.from({ length: 5 }, (_, b) => {
        let s = 0;
        for (let i = 0; i < x.rows; i++) s += (x.data[i * 5 + a] - mu[a]) * (x.data[i * 5 + b] - mu[b]);
        return s / x.rows;
      }),
    );
    const m1 = classMeans(x, labels, 2)[1];
    const p1 = Array.from(labels).filter((l) => l === 1).length / x.rows;
    const sxz = Matrix.columnVector(Array.from(m1, (v, j) => (v - mu[j]) * p1));
    const sInv = inverse(new Matrix(sigma));
    const expected = sxz
      .mmul(inverse(sxz.transpose().mmul(sInv).mmul(sxz)))
      .mmul(sxz.transpose())
      .mmul(sInv)
      .to2DArray();
    const got = eraserMatrix(e);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(got[i][j]).toBeCloseTo(expected[i][j], 8);
  });

  it('erases when the activations span only part of their space (singular covariance)', () => {
    const { x: low, labels } = plantedConcept(600, 3, 2, 1, 31);
    // Embed 3 dims in 6: x -> [x, x A]; the covariance has rank 3.
    const rows = Array.from({ length: low.rows }, (_, i) => {
      const v = Array.from(low.data.subarray(i * 3, i * 3 + 3));
      return [...v, v[0] + v[1], v[1] - v[2], 2 * v[0]];
    });
    const x = features(rows);
    const e = fitLeace(x, labels, 2);
    expect(meanGap(applyEraser(x, e), labels, 2)).toBeLessThan(1e-6);
  });

  it('refuses labels whose classes have the same mean', () => {
    const x = features([
      [1, 0],
      [-1, 0],
      [1, 0],
      [-1, 0],
    ]);
    expect(() => fitLeace(x, Int32Array.from([0, 0, 1, 1]), 2)).toThrow(/class means are equal/);
  });
});

describe('mean-diff', () => {
  it('is the normalised difference of the class means', () => {
    const x = features([
      [1, 0, 0],
      [3, 0, 2],
      [1, 4, 0],
      [1, 4, 2],
    ]);
    // class 0: rows 0,1 mean [2,0,1]; class 1: rows 2,3 mean [1,4,1]; difference [-1,4,0] / sqrt(17)
    const d = meanDifference(x, Int32Array.from([0, 0, 1, 1]), 2);
    expect(d[0]).toBeCloseTo(-1 / Math.sqrt(17), 12);
    expect(d[1]).toBeCloseTo(4 / Math.sqrt(17), 12);
    expect(d[2]).toBe(0);
  });

  it('follows a planted offset', () => {
    const { x, labels, offsets } = plantedConcept(2000, 8, 2, 2, 41);
    const d = meanDifference(x, labels, 2);
    expect(
      cosine(
        d,
        offsets[1].map((v, j) => v - offsets[0][j]),
      ),
    ).toBeGreaterThan(0.97);
  });

  it('needs two classes', () => {
    const { x, labels } = plantedConcept(60, 3, 3, 1, 1);
    expect(() => meanDifference(x, labels, 3)).toThrow(/two classes/);
  });
});

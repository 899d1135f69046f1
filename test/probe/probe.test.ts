import { describe, expect, it } from 'vitest';
import { crossValidatedProbe, probeDirection } from '../../src/probe/probe.js';
import { stratifiedFolds } from '../../src/probe/folds.js';
import { auc, wilson } from '../../src/probe/stats.js';
import { Matrix, solve } from 'ml-matrix';
import { cosine } from '../../src/eval/metrics.js';
import { classMeans, type Features } from '../../src/maths/features.js';
import { plantedConcept, randomLabels } from '../helpers/concepts.js';

describe('interval estimates', () => {
  it('Wilson interval for 8 of 10 matches the textbook numbers', () => {
    const e = wilson(8, 10);
    expect(e.value).toBe(0.8);
    // (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) with z = 1.96: 0.4902 .. 0.9433
    expect(e.low).toBeCloseTo(0.4902, 3);
    expect(e.high).toBeCloseTo(0.9433, 3);
  });

  it('AUC is the share of positive-negative pairs ranked right, ties counting one half', () => {
    expect(auc([1, 2, 3, 4], [0, 0, 1, 1]).value).toBe(1);
    expect(auc([4, 3, 2, 1], [0, 0, 1, 1]).value).toBe(0);
    // pairs (pos 2 vs neg 1): 1, (pos 2 vs neg 2): 0.5, (pos 3 vs neg 1): 1, (pos 3 vs neg 2): 1 -> 3.5/4
    expect(auc([1, 2, 2, 3], [0, 0, 1, 1]).value).toBeCloseTo(0.875, 12);
  });
});

describe('stratified folds', () => {
  it('cover every example once, keep the class balance, and repeat for a seed', () => {
    const labels = Int32Array.from({ length: 103 }, (_, i) => (i % 4 === 0 ? 1 : 0));
    const folds = stratifiedFolds(labels, 2, 5, 7);
    expect(folds.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
    for (const f of folds) expect(f.filter((i) => labels[i] === 1).length).toBeGreaterThanOrEqual(5);
    expect(stratifiedFolds(labels, 2, 5, 7)).toEqual(folds);
    expect(stratifiedFolds(labels, 2, 5, 8)).not.toEqual(folds);
  });
});

describe('crossValidatedProbe', () => {
  it('recovers a planted linear concept', () => {
    const { x, labels } = plantedConcept(600, 16, 2, 1.5, 1);
    const r = crossValidatedProbe(x, labels, 2);
    expect(r.accuracy.value).toBeGreaterThanOrEqual(0.95);
    expect(r.auc!.value).toBeGreaterThan(0.98);
    expect(r.accuracy.low).toBeGreaterThan(r.majority);
  });

  it('reports chance, within its interval, for labels independent of the data', () => {
    const { x } = plantedConcept(600, 16, 2, 1.5, 1);
    const labels = randomLabels(600, 99);
    const r = crossValidatedProbe(x, labels, 2);
    expect(r.accuracy.low).toBeLessThanOrEqual(r.majority);
    expect(r.accuracy.high).toBeGreaterThanOrEqual(r.majority);
    expect(r.auc!.low).toBeLessThanOrEqual(0.5);
    expect(r.auc!.high).toBeGreaterThanOrEqual(0.5);
  });

  it('handles more than two classes (one against the rest) and gives no AUC', () => {
    const { x, labels } = plantedConcept(600, 16, 3, 2, 2);
    const r = crossValidatedProbe(x, labels, 3);
    expect(r.classes).toBe(3);
    expect(r.auc).toBeNull();
    expect(r.accuracy.value).toBeGreaterThan(0.9);
  });

  it("the probe's weight lies along Σ⁻¹(μ1 - μ0), the discriminant of two Gaussians with shared covariance", () => {
    const { x, labels } = plantedConcept(4000, 6, 2, 0.5, 3);
    const w = probeDirection(x, labels, 1e-6);
    const [m0, m1] = classMeans(x, labels, 2);
    const within = withinClassCovariance(x, labels, [m0, m1]);
    const lda = solve(new Matrix(within), Matrix.columnVector(Array.from(m1, (v, j) => v - m0[j]))).getColumn(0);
    expect(cosine(Array.from(w), lda)).toBeGreaterThan(0.99);
  });

  it('refuses labels that do not match the examples', () => {
    const { x } = plantedConcept(50, 4, 2, 1, 1);
    expect(() => crossValidatedProbe(x, new Int32Array(40), 2)).toThrow(/40 labels for 50 examples/);
    expect(() => crossValidatedProbe(x, new Int32Array(50), 1)).toThrow(/same label/);
  });
});

function withinClassCovariance(x: Features, labels: Int32Array, means: Float64Array[]): number[][] {
  const d = x.width;
  const out = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < x.rows; i++) {
    const c = Array.from({ length: d }, (_, j) => x.data[i * d + j] - means[labels[i]][j]);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) out[a][b] += (c[a] * c[b]) / x.rows;
  }
  return out;
}

/**
 * A cross-validated linear probe: can a concept be read off a tensor's
 * activations with a linear map? Seeded stratified k folds; on each, the
 * features are standardised with the training part's statistics and an
 * L2-regularised logistic regression is fitted (one against the rest for
 * more than two classes). The out-of-fold predictions give accuracy and,
 * for two classes, AUC, each with a 95% interval, beside the majority-class
 * baseline that a probe "at chance" matches.
 */
import { UsageError } from '../errors.js';
import { columnMeans, type Features } from '../maths/features.js';
import { stratifiedFolds } from './folds.js';
import { fitLogisticRows, rawWeights, type LogisticModel, type Scaling } from './logistic.js';
import { rowsOf, type Rows } from './rows.js';
import { auc, wilson, type Estimate } from './stats.js';

export interface ProbeOptions {
  folds?: number;
  seed?: number;
  /** Penalty on the standardised weights (default 1e-2). */
  l2?: number;
}

export interface ProbeResult {
  samples: number;
  classes: number;
  /** Share of the most common class: what a constant guess scores. */
  majority: number;
  accuracy: Estimate;
  /** Two classes only; null otherwise. */
  auc: Estimate | null;
  folds: number;
  seed: number;
  l2: number;
}

export const PROBE_DEFAULTS = { folds: 5, seed: 0, l2: 1e-2 } as const;

/**
 * The standardisation of each fold's training rows, from sums kept per fold
 * in one pass: each fold's sums of x - s and (x - s)² (s the mean of all
 * rows, so nothing large is squared), the training part's being the total
 * less its own fold's. A constant feature gets 1/std = 0 (it carries nothing).
 */
function foldScalings(x: Features, folds: number[][]): Scaling[] {
  const d = x.width;
  const shift = columnMeans(x);
  const s1 = folds.map(() => new Float64Array(d));
  const s2 = folds.map(() => new Float64Array(d));
  folds.forEach((rows, f) => {
    const a = s1[f];
    const b = s2[f];
    for (const i of rows) {
      const off = i * d;
      for (let j = 0; j < d; j++) {
        const v = x.data[off + j] - shift[j];
        a[j] += v;
        b[j] += v * v;
      }
    }
  });
  const t1 = new Float64Array(d);
  const t2 = new Float64Array(d);
  for (let f = 0; f < folds.length; f++) {
    for (let j = 0; j < d; j++) {
      t1[j] += s1[f][j];
      t2[j] += s2[f][j];
    }
  }
  return folds.map((rows, f) => {
    const n = x.rows - (folds.length > 1 ? rows.length : 0);
    const own = folds.length > 1;
    const mean = new Float64Array(d);
    const variance = new Float64Array(d);
    let largest = 0;
    for (let j = 0; j < d; j++) {
      const m = (t1[j] - (own ? s1[f][j] : 0)) / n;
      mean[j] = shift[j] + m;
      variance[j] = Math.max(0, (t2[j] - (own ? s2[f][j] : 0)) / n - m * m);
      largest = Math.max(largest, variance[j]);
    }
    const inverseStd = variance.map((v) => (v > largest * 1e-20 && v > 0 ? 1 / Math.sqrt(v) : 0));
    return { mean, inverseStd };
  });
}

/** One model per class (against the rest); for two classes one model for class 1. */
function fitClasses(rows: Rows, train: number[], labels: ArrayLike<number>, classes: number, l2: number, scaling: Scaling): LogisticModel[] {
  const targets = classes === 2 ? [1] : Array.from({ length: classes }, (_, c) => c);
  return targets.map((c) =>
    fitLogisticRows(
      rows,
      train,
      train.map((i) => (labels[i] === c ? 1 : 0)),
      l2,
      scaling,
    ),
  );
}

export function checkLabels(labels: ArrayLike<number>, classes: number, rows: number, label = '--labels'): void {
  if (labels.length !== rows) throw new UsageError(`${label}: ${labels.length} labels for ${rows} examples`);
  if (classes < 2) throw new UsageError(`${label}: every example has the same label; a probe needs at least two classes`);
}

export function crossValidatedProbe(x: Features, labels: ArrayLike<number>, classes: number, options: ProbeOptions = {}): ProbeResult {
  const folds = options.folds ?? PROBE_DEFAULTS.folds;
  const seed = options.seed ?? PROBE_DEFAULTS.seed;
  const l2 = options.l2 ?? PROBE_DEFAULTS.l2;
  checkLabels(labels, classes, x.rows);
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  const smallest = Math.min(...counts);
  if (smallest < folds) throw new UsageError(`--labels: a class has ${smallest} examples, fewer than the ${folds} folds`);

  const split = stratifiedFolds(labels, classes, folds, seed);
  const scalings = foldScalings(x, split);
  const rows = rowsOf(x);
  const predicted = new Int32Array(x.rows);
  const scores = new Float64Array(x.rows);
  const v = new Float64Array(x.width);
  split.forEach((test, f) => {
    const inTest = new Uint8Array(x.rows);
    for (const i of test) inTest[i] = 1;
    const train = Array.from({ length: x.rows }, (_, i) => i).filter((i) => !inTest[i]);
    const models = fitClasses(rows, train, labels, classes, l2, scalings[f]);
    const z = models.map(() => new Float64Array(test.length));
    models.forEach((m, c) => {
      const bias = rawWeights(m.weights, m.bias, scalings[f], v);
      rows.setVector(v);
      test.forEach((i, k) => (z[c][k] = rows.dot(i) + bias));
    });
    test.forEach((i, k) => {
      scores[i] = z[0][k];
      if (classes === 2) predicted[i] = z[0][k] > 0 ? 1 : 0;
      else {
        let best = 0;
        for (let c = 1; c < classes; c++) if (z[c][k] > z[best][k]) best = c;
        predicted[i] = best;
      }
    });
  });
  let correct = 0;
  for (let i = 0; i < x.rows; i++) if (predicted[i] === labels[i]) correct++;
  return {
    samples: x.rows,
    classes,
    majority: Math.max(...counts) / x.rows,
    accuracy: wilson(correct, x.rows),
    auc: classes === 2 ? auc(scores, labels) : null,
    folds,
    seed,
    l2,
  };
}

/**
 * The probe's weight vector for two classes, fitted on every example and
 * mapped back to the tensor's own coordinates (w_j / std_j), for purity.
 */
export function probeDirection(x: Features, labels: ArrayLike<number>, l2: number = PROBE_DEFAULTS.l2): Float64Array {
  const all = Array.from({ length: x.rows }, (_, i) => i);
  const [scaling] = foldScalings(x, [all]);
  const [model] = fitClasses(rowsOf(x), all, labels, 2, l2, scaling);
  const v = new Float64Array(x.width);
  rawWeights(model.weights, model.bias, scaling, v);
  return v;
}

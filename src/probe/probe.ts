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
import { decision, fitLogistic, type LogisticModel } from './logistic.js';
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

interface Standardiser {
  mean: Float64Array;
  /** 1/std, or 0 for a constant feature (it carries nothing). */
  inverseStd: Float64Array;
}

function standardiser(x: Features, idx: number[]): Standardiser {
  const mean = columnMeans(x, idx);
  const variance = new Float64Array(x.width);
  for (const i of idx) {
    const off = i * x.width;
    for (let j = 0; j < x.width; j++) variance[j] += (x.data[off + j] - mean[j]) ** 2;
  }
  let largest = 0;
  for (let j = 0; j < x.width; j++) largest = Math.max(largest, variance[j]);
  const inverseStd = variance.map((v) => (v > largest * 1e-20 && v > 0 ? 1 / Math.sqrt(v / idx.length) : 0));
  return { mean, inverseStd };
}

function standardise(x: Features, idx: number[], s: Standardiser): Features {
  const data = new Float64Array(idx.length * x.width);
  idx.forEach((i, k) => {
    const off = i * x.width;
    for (let j = 0; j < x.width; j++) data[k * x.width + j] = (x.data[off + j] - s.mean[j]) * s.inverseStd[j];
  });
  return { rows: idx.length, width: x.width, data };
}

/** One model per class (against the rest); for two classes one model for class 1. */
function fitClasses(x: Features, labels: ArrayLike<number>, classes: number, l2: number): LogisticModel[] {
  const targets = classes === 2 ? [1] : Array.from({ length: classes }, (_, c) => c);
  return targets.map((c) =>
    fitLogistic(
      x,
      Array.from(labels, (l) => (l === c ? 1 : 0)),
      l2,
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
  const predicted = new Int32Array(x.rows);
  const scores = new Float64Array(x.rows);
  for (const test of split) {
    const inTest = new Set(test);
    const train = Array.from({ length: x.rows }, (_, i) => i).filter((i) => !inTest.has(i));
    const s = standardiser(x, train);
    const models = fitClasses(
      standardise(x, train, s),
      train.map((i) => labels[i]),
      classes,
      l2,
    );
    const xt = standardise(x, test, s);
    test.forEach((i, k) => {
      const z = models.map((m) => decision(m, xt, k));
      scores[i] = z[0];
      predicted[i] = classes === 2 ? (z[0] > 0 ? 1 : 0) : z.indexOf(Math.max(...z));
    });
  }
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
  const s = standardiser(x, all);
  const [model] = fitClasses(standardise(x, all, s), labels, 2, l2);
  return model.weights.map((w, j) => w * s.inverseStd[j]);
}

/**
 * What a language-model patch did, measured the way the field measures it:
 * first-token KL(intact ‖ patched) (Heretic's harmlessness score), the mean
 * per-token KL with the patched model teacher-forced on the intact
 * continuation, greedy token agreement and the first divergence, and the
 * largest log-probability difference over the shared greedy prefix
 * (EasySteer's parity diagnostics). All in float64.
 */
import { argmax } from './generate.js';

export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits as ArrayLike<number>, (v) => v - lse);
}

/** KL(p ‖ q) of the two distributions the logits give. */
export function klFromLogits(p: ArrayLike<number>, q: ArrayLike<number>): number {
  const lp = logSoftmax(p);
  const lq = logSoftmax(q);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    const pi = Math.exp(lp[i]);
    if (pi > 0) kl += pi * (lp[i] - lq[i]);
  }
  return Math.max(0, kl);
}

export interface PairMetrics {
  firstTokenKl: number;
  /** Mean over the intact continuation's positions of KL(intact ‖ patched teacher-forced). */
  meanKl: number;
  /** Share of positions (of the longer generation) where both chose the same token. */
  tokenAgreement: number;
  /** Index of the first generated token that differs; null when the generations are identical. */
  firstDivergence: number | null;
  /** Largest |log p_intact(t) - log p_patched(t)| over the tokens both generated before diverging. */
  sharedPrefixMaxLogprobDiff: number;
}

export function pairMetrics(
  intact: { tokens: number[]; logits: Float64Array[] },
  patched: { tokens: number[]; logits: Float64Array[] },
  teacherForced: Float64Array[],
): PairMetrics {
  const n = Math.max(intact.tokens.length, patched.tokens.length);
  let same = 0;
  let firstDivergence: number | null = null;
  for (let i = 0; i < n; i++) {
    if (intact.tokens[i] === patched.tokens[i]) same++;
    else firstDivergence ??= i;
  }
  const kls = intact.logits.map((l, i) => klFromLogits(l, teacherForced[i]));
  const shared = firstDivergence ?? n;
  let maxDiff = 0;
  for (let i = 0; i < shared && i < intact.logits.length && i < patched.logits.length; i++) {
    const t = intact.tokens[i];
    maxDiff = Math.max(maxDiff, Math.abs(logSoftmax(intact.logits[i])[t] - logSoftmax(patched.logits[i])[t]));
  }
  return {
    firstTokenKl: klFromLogits(intact.logits[0], patched.logits[0]),
    meanKl: kls.reduce((a, b) => a + b, 0) / Math.max(1, kls.length),
    tokenAgreement: n === 0 ? 1 : same / n,
    firstDivergence,
    sharedPrefixMaxLogprobDiff: maxDiff,
  };
}

/** Share of texts in which any pattern occurs. */
export function matchRate(texts: string[], patterns: RegExp[]): number {
  if (!texts.length) return 0;
  return texts.filter((t) => patterns.some((p) => new RegExp(p.source, p.flags.replace('g', '')).test(t))).length / texts.length;
}

/** exp(mean negative log-likelihood) of `tokens`, from the logits before each (logits[i] predicts tokens[i + 1]). */
export function perplexity(tokens: number[], logits: Float64Array[]): number {
  let nll = 0;
  for (let i = 0; i + 1 < tokens.length; i++) nll -= logSoftmax(logits[i])[tokens[i + 1]];
  return Math.exp(nll / Math.max(1, tokens.length - 1));
}

export { argmax };

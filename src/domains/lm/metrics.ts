/**
 * The language-model demo's measures, from next-token distributions:
 * - the concept rate: the family's summed probability at the prompts that
 *   invite it (mean over prompts);
 * - perplexity on held-out text that never contains the concept;
 * - first-token KL(intact ‖ patched) on neutral prompts;
 * - selectivity: r² of each word's drop in probability at its own prompts
 *   against its designed similarity to the concept (the text analogue of
 *   the paper's MSE-vs-similarity fit).
 */
import { UsageError } from '../../errors.js';
import { pearson } from '../color/palette.js';
import { sequenceLogits, type DecoderLayout } from '../../eval/generate.js';
import { klFromLogits, logSoftmax, perplexity } from '../../eval/textMetrics.js';
import type { ort } from '../../runtime/session.js';

/** The one token a word is, with GPT-2's leading space; a word split in pieces has no single probability. */
export function wordToken(encode: (text: string) => number[], word: string): number {
  const ids = encode(` ${word}`);
  if (ids.length !== 1) throw new UsageError(`word '${word}' is ${ids.length} tokens for this tokenizer; the demo needs each word to be one`, 'BAD_DATA');
  return ids[0];
}

/** Log-probabilities of the next token after each prompt (float64), one run per prompt. */
export async function nextTokenLogProbs(session: ort.InferenceSession, layout: DecoderLayout, prompts: number[][]): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const ids of prompts) out.push(logSoftmax((await sequenceLogits(session, layout, ids)).at(-1)!));
  return out;
}

/** Mean over prompts of the summed probability of `tokens`. */
export function tokenRate(logProbs: Float64Array[], tokens: number[]): number {
  let total = 0;
  for (const lp of logProbs) for (const t of tokens) total += Math.exp(lp[t]);
  return total / Math.max(1, logProbs.length);
}

/** exp(total negative log-likelihood / tokens predicted) over all the texts, each run whole from its first token. */
export async function corpusPerplexity(session: ort.InferenceSession, layout: DecoderLayout, texts: number[][]): Promise<number> {
  let nll = 0;
  let count = 0;
  for (const ids of texts) {
    if (ids.length < 2) continue;
    // one text's perplexity is exp(its mean NLL): weighted back by its token count, the texts pool into one mean
    nll += Math.log(perplexity(ids, await sequenceLogits(session, layout, ids))) * (ids.length - 1);
    count += ids.length - 1;
  }
  if (!count) throw new UsageError('no held-out text of two tokens or more to measure perplexity on', 'BAD_DATA');
  return Math.exp(nll / count);
}

/** Mean first-token KL(intact ‖ patched) over prompts, from the two models' next-token log-probabilities. */
export function meanFirstTokenKl(intact: Float64Array[], patched: Float64Array[]): number {
  let total = 0;
  intact.forEach((lp, i) => (total += klFromLogits(lp, patched[i])));
  return total / Math.max(1, intact.length);
}

/** r² of the least-squares line of y on x (the squared correlation, as the colour selectivity is); null when either does not vary. */
export function rSquared(x: number[], y: number[]): number | null {
  const r = pearson(x, y);
  return r === undefined ? null : r * r;
}

/** Relative drop 1 - patched/intact of a probability (0: untouched, 1: removed, negative: raised). */
export const relativeDrop = (intact: number, patched: number): number => (intact > 0 ? 1 - patched / intact : 0);

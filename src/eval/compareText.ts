/**
 * `sca compare INTACT PATCHED --prompts FILE`: both language models generate
 * from the same prompts through the folder's tokenizer (the generation
 * runner, eval/generate.ts), the patched one is also teacher-forced on the
 * intact continuation, and the two are compared per prompt and on average:
 * the texts side by side, first-token KL, mean KL, token agreement and the
 * first divergence, the shared-prefix log-prob difference, term and refusal
 * rates, and perplexity on a held-out text.
 */
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { isDirectory, variantFile } from '../onnx/folder.js';
import { DEFAULT_REFUSAL_MARKERS, loadPrompts, loadTerms } from '../data/prompts.js';
import { strengthInputs } from '../data/strengths.js';
import { loadTokenizer, type TextTokenizer } from '../data/tokenizer.js';
import type { Device } from '../runtime/session.js';
import { openWithOutputs, resolveSource, type LoadedSource } from '../runtime/taps.js';
import type { Model } from '../onnx/model.js';
import { decoderLayout, generateBatch, sequenceLogits, type DecoderLayout, type Sampling } from './generate.js';
import { matchRate, pairMetrics, perplexity, type PairMetrics } from './textMetrics.js';
import type { ort } from '../runtime/session.js';

export interface TextCompareOptions {
  prompts: string;
  maxNewTokens?: number;
  /** Words or /regexes/ whose rate in each side's generations is reported. */
  terms?: string;
  /** Refusal markers (default: DEFAULT_REFUSAL_MARKERS). */
  markers?: string;
  /** A held-out text for perplexity. */
  text?: string;
  /** With folders: the variant to run in each (default: the only one, or the fp32 one). */
  variant?: string;
  sampling?: Sampling;
  device?: Device;
  /** Values for the patched model's strength inputs (default: the recorded strengths). */
  patchedInputs?: Record<string, number>;
  /** Prompts generated together, left-padded (default 8). */
  batchSize?: number;
}

export interface PromptResult extends PairMetrics {
  prompt: string;
  intact: string;
  patched: string;
  intactTokens: number[];
  patchedTokens: number[];
}

export interface TextComparison {
  schemaVersion: 1;
  intact: string;
  patched: string;
  maxNewTokens: number;
  text: {
    prompts: PromptResult[];
    firstTokenKl: number;
    meanKl: number;
    tokenAgreement: number;
    sharedPrefixMaxLogprobDiff: number;
    termRate: { intact: number; patched: number } | null;
    refusalRate: { intact: number; patched: number };
    perplexity: { intact: number; patched: number } | null;
  };
  seconds: number;
  /** Tokens generated per second, both models together. */
  tokensPerSecond: number;
}

const DEFAULT_MAX_NEW_TOKENS = 32;

/** The patched model: a file or model folder, or one built in memory (by `sca check`). */
export type TextModelSource = string | { label: string; model: Model };

export async function compareText(intactPath: string, patchedSource: TextModelSource, options: TextCompareOptions): Promise<TextComparison> {
  const started = performance.now();
  const pick = (p: string) => (isDirectory(p) ? variantFile(p, options.variant) : p);
  const intactFile = pick(intactPath);
  const patched: string | LoadedSource = typeof patchedSource === 'string' ? pick(patchedSource) : patchedSource;
  const patchedFile = typeof patched === 'string' ? patched : patched.label;
  const tokenizer = loadTokenizer(intactPath);
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`\`batchSize\`: ${batchSize} must be a whole number of 1 or more`);
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1) throw new UsageError(`\`maxNewTokens\`: ${maxNewTokens} must be a whole number of 1 or more`);
  if (tokenizer.contextLength && maxNewTokens >= tokenizer.contextLength)
    throw new UsageError(`\`maxNewTokens\`: ${maxNewTokens} is beyond the model's ${tokenizer.contextLength} positions`);
  const prompts = loadPrompts(options.prompts, tokenizer);
  const encoded = prompts.map((p) => {
    const ids = tokenizer.encode(p.text);
    if (ids.length === 0) throw new UsageError(`${options.prompts}:${p.line}: the prompt encodes to no tokens`, 'BAD_DATA');
    if (tokenizer.contextLength && ids.length >= tokenizer.contextLength)
      throw new UsageError(`${options.prompts}:${p.line}: ${ids.length} tokens, longer than the model's context of ${tokenizer.contextLength}`, 'BAD_DATA');
    return ids;
  });
  const terms = options.terms ? loadTerms(options.terms, '--terms') : undefined;
  const markers = options.markers ? loadTerms(options.markers, '--markers') : DEFAULT_REFUSAL_MARKERS;
  const heldOut = options.text ? readText(options.text) : undefined;

  const [a, b] = [await openDecoder(intactFile, options.device), await openDecoder(patched, options.device, options.patchedInputs)];
  for (const [s, file] of [
    [a, intactFile],
    [b, patchedFile],
  ] as const)
    checkVocabulary(s.vocab, tokenizer, file);
  const run = {
    maxNewTokens,
    eos: tokenizer.eos,
    ...(tokenizer.contextLength ? { contextLength: tokenizer.contextLength } : {}),
    ...(options.sampling ? { sampling: options.sampling } : {}),
  };
  const results: PromptResult[] = [];
  let generated = 0;
  try {
    // Prompts run in left-padded batches; each row is the same generation it would be alone (tested).
    for (let start = 0; start < prompts.length; start += batchSize) {
      const batch = encoded.slice(start, start + batchSize);
      const intact = await generateBatch(a.session, a.layout, batch, run);
      const patched = await generateBatch(b.session, b.layout, batch, run);
      const forced = await generateBatch(b.session, b.layout, batch, { ...run, teachers: intact.map((g) => g.tokens) });
      batch.forEach((_, k) => {
        generated += intact[k].tokens.length + patched[k].tokens.length;
        results.push({
          prompt: prompts[start + k].text,
          intact: tokenizer.decode(intact[k].tokens),
          patched: tokenizer.decode(patched[k].tokens),
          intactTokens: intact[k].tokens,
          patchedTokens: patched[k].tokens,
          ...pairMetrics(intact[k], patched[k], forced[k].logits),
        });
      });
    }
    const mean = (f: (r: PromptResult) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
    let ppl: { intact: number; patched: number } | null = null;
    if (heldOut) {
      const ids = tokenizer.encode(heldOut);
      if (ids.length < 2) throw new UsageError(`${options.text}: the text encodes to fewer than 2 tokens`, 'BAD_DATA');
      ppl = {
        intact: perplexity(ids, await sequenceLogits(a.session, a.layout, ids, tokenizer.contextLength)),
        patched: perplexity(ids, await sequenceLogits(b.session, b.layout, ids, tokenizer.contextLength)),
      };
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      schemaVersion: 1,
      intact: intactFile,
      patched: patchedFile,
      maxNewTokens,
      text: {
        prompts: results,
        firstTokenKl: mean((r) => r.firstTokenKl),
        meanKl: mean((r) => r.meanKl),
        tokenAgreement: mean((r) => r.tokenAgreement),
        sharedPrefixMaxLogprobDiff: Math.max(...results.map((r) => r.sharedPrefixMaxLogprobDiff)),
        termRate: terms ? rates(results, terms) : null,
        refusalRate: rates(results, markers),
        perplexity: ppl,
      },
      seconds,
      tokensPerSecond: generated / seconds,
    };
  } finally {
    await a.session.release();
    await b.session.release();
  }
}

/** Share of each side's generations matching any pattern. */
function rates(results: PromptResult[], patterns: RegExp[]): { intact: number; patched: number } {
  return {
    intact: matchRate(
      results.map((r) => r.intact),
      patterns,
    ),
    patched: matchRate(
      results.map((r) => r.patched),
      patterns,
    ),
  };
}

interface OpenDecoder {
  session: ort.InferenceSession;
  layout: DecoderLayout;
  vocab: number | undefined;
}

/** The model opened for generation, with its strength inputs set (recorded, or `values`). */
async function openDecoder(file: string | LoadedSource, device: Device = 'cpu', values: Record<string, number> = {}): Promise<OpenDecoder> {
  const source = resolveSource(file);
  const label = source.label;
  const settings = { ...Object.fromEntries(strengthInputs(source.model.proto)), ...values };
  const session = await openWithOutputs(source, [], device, settings);
  const logits = source.model.proto.graph!.output.find((o) => o.name === 'logits');
  const last = logits?.type?.tensorType?.shape?.dim.at(-1)?.dimValue;
  return { session, layout: decoderLayout(session, label), vocab: last === undefined ? undefined : Number(last) };
}

function checkVocabulary(vocab: number | undefined, tokenizer: TextTokenizer, file: string): void {
  if (vocab !== undefined && tokenizer.vocabSize > vocab) {
    throw new UsageError(
      `${file}: its logits cover ${vocab} tokens but ${tokenizer.dir}/tokenizer.json has ${tokenizer.vocabSize}: not this model's tokenizer`,
      'BAD_MODEL',
    );
  }
}

function readText(file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
  } catch {
    throw new UsageError(`--text: cannot read ${file} as UTF-8 text`, 'BAD_DATA');
  }
}

/** The comparison as text: each prompt's generations side by side, then the averages. */
export function formatTextComparison(c: TextComparison): string {
  const sci = (v: number) => (v === 0 ? '0' : v.toExponential(2));
  const t = c.text;
  const lines = [`${c.patched} vs ${c.intact} on ${t.prompts.length} prompts, up to ${c.maxNewTokens} new tokens (${c.tokensPerSecond.toFixed(0)} tokens/s)`];
  t.prompts.forEach((r, i) => {
    lines.push(`prompt ${i + 1}: ${JSON.stringify(r.prompt)}`);
    lines.push(`  intact : ${JSON.stringify(r.intact)}`);
    lines.push(`  patched: ${JSON.stringify(r.patched)}${r.firstDivergence === null ? '  (identical)' : `  (differs from token ${r.firstDivergence + 1})`}`);
    lines.push(`  first-token KL ${sci(r.firstTokenKl)}, mean KL ${sci(r.meanKl)}, token agreement ${r.tokenAgreement.toFixed(3)}`);
  });
  lines.push(
    `mean: first-token KL ${sci(t.firstTokenKl)}, mean KL ${sci(t.meanKl)}, token agreement ${t.tokenAgreement.toFixed(3)}, shared-prefix max |Δ log p| ${sci(t.sharedPrefixMaxLogprobDiff)}`,
  );
  if (t.termRate) lines.push(`term rate: intact ${t.termRate.intact.toFixed(3)}, patched ${t.termRate.patched.toFixed(3)}`);
  lines.push(`refusal-marker rate: intact ${t.refusalRate.intact.toFixed(3)}, patched ${t.refusalRate.patched.toFixed(3)}`);
  if (t.perplexity) lines.push(`perplexity on the held-out text: intact ${t.perplexity.intact.toFixed(3)}, patched ${t.perplexity.patched.toFixed(3)}`);
  return lines.join('\n');
}

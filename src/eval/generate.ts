/**
 * The generation runner: a decoder session fed one prompt, then one token a
 * step, the way transformers.js and onnxruntime-genai feed it. The KV cache
 * (present.* fed back as past_key_values.*) is used where the model takes
 * one, a merged decoder gets use_cache_branch false then true, and a model
 * without a cache is run on the whole sequence each step. Every step's
 * last-position logits are kept (float64) for the text metrics.
 *
 * Greedy by default; seeded sampling (temperature, top-k, top-p) on request;
 * or teacher-forced on given tokens. Generation always stops: at an
 * end-of-sequence id, at maxNewTokens, or at the context length.
 */
import { UsageError } from '../errors.js';
import { Random } from '../maths/random.js';
import { ort, tensorNumbers } from '../runtime/session.js';

export interface Sampling {
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** Ids that end the generation (kept as its last token). */
  eos?: number[];
  /** Longest sequence (prompt + generated) the model takes. */
  contextLength?: number;
  sampling?: Sampling;
  /** Feed these tokens instead of the model's own choices (teacher forcing); the logits before each are kept. */
  teacher?: number[];
}

export interface Generation {
  tokens: number[];
  /** Logits over the vocabulary before each generated (or teacher) token. */
  logits: Float64Array[];
  stopped: 'eos' | 'max-new-tokens' | 'context';
}

interface CacheInput {
  name: string;
  present: string;
  type: 'float32' | 'float16';
  dims: number[];
}

/** The decoder inputs a session takes, read from its metadata. */
export interface DecoderLayout {
  cache: CacheInput[];
  merged: boolean;
  mask: boolean;
  positions: boolean;
}

export function decoderLayout(session: ort.InferenceSession, label: string): DecoderLayout {
  const names = session.inputNames;
  if (!names.includes('input_ids')) throw new UsageError(`${label}: not a decoder: it has no 'input_ids' input (inputs: ${names.join(', ')})`);
  const cache: CacheInput[] = [];
  for (const meta of session.inputMetadata) {
    const m = /^past_key_values\.(\d+)\.(key|value)$/.exec(meta.name);
    if (!m || !meta.isTensor) continue;
    const dims = meta.shape.map((d) => (typeof d === 'number' ? d : -1));
    if (dims.length !== 4 || dims[1] < 0 || dims[3] < 0)
      throw new UsageError(`${label}: cannot size an empty '${meta.name}' from its shape [${meta.shape.join(', ')}]`);
    cache.push({ name: meta.name, present: `present.${m[1]}.${m[2]}`, type: meta.type === 'float16' ? 'float16' : 'float32', dims });
  }
  for (const c of cache)
    if (!session.outputNames.includes(c.present)) throw new UsageError(`${label}: takes '${c.name}' but has no '${c.present}' output to feed back`);
  return { cache, merged: names.includes('use_cache_branch'), mask: names.includes('attention_mask'), positions: names.includes('position_ids') };
}

/** `values` as an int64 tensor of `rows` equal rows. */
const i64 = (values: number[], rows = 1) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [rows, values.length / rows]);

export async function generate(session: ort.InferenceSession, layout: DecoderLayout, prompt: number[], options: GenerateOptions): Promise<Generation> {
  const [one] = await generateBatch(session, layout, [prompt], { ...options, ...(options.teacher ? { teachers: [options.teacher] } : {}) });
  return one;
}

export interface BatchOptions extends Omit<GenerateOptions, 'teacher'> {
  /** Per prompt: feed these tokens instead of the model's own choices. */
  teachers?: number[][];
  /** Id written into the padding (masked out, never attended to); default the first eos id, else 0. */
  padId?: number;
}

/**
 * Several prompts at once, left-padded as transformers.js pads them: the
 * mask is 0 on the padding, positions are cumsum(mask) - 1 (1 on the
 * padding), so each prompt sees only itself and every row's last position is
 * its own last token. Each row stops on its own (eos, its teacher's end);
 * the batch runs until all have, or maxNewTokens, or the context is full.
 */
export async function generateBatch(session: ort.InferenceSession, layout: DecoderLayout, prompts: number[][], options: BatchOptions): Promise<Generation[]> {
  const limit = options.contextLength ?? Infinity;
  for (const p of prompts) {
    if (p.length === 0) throw new UsageError('a prompt encodes to no tokens');
    if (p.length >= limit) throw new UsageError(`a prompt of ${p.length} tokens leaves no room in the model's context of ${limit}`, 'BAD_DATA');
  }
  const n = prompts.length;
  const width = Math.max(...prompts.map((p) => p.length));
  const pad = options.padId ?? options.eos?.[0] ?? 0;
  const random = options.sampling ? new Random(options.sampling.seed) : undefined;
  const mask = prompts.map((p) => [...new Array<number>(width - p.length).fill(0), ...p.map(() => 1)]);
  const sequences = prompts.map((p) => [...new Array<number>(width - p.length).fill(pad), ...p]);
  const nextPosition = prompts.map((p) => p.length);
  const out: Generation[] = prompts.map(() => ({ tokens: [], logits: [], stopped: 'max-new-tokens' }));
  const done = prompts.map(() => false);
  let past: Record<string, ort.Tensor> = {};
  for (let step = 0; step < options.maxNewTokens && done.some((d) => !d); step++) {
    const useCache = layout.cache.length > 0 && step > 0;
    const fedLength = useCache ? 1 : sequences[0].length;
    const ids = sequences.flatMap((seq) => seq.slice(seq.length - fedLength));
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(ids, n) };
    if (layout.mask) feeds.attention_mask = i64(mask.flat(), n);
    if (layout.positions)
      feeds.position_ids = i64(
        mask.flatMap((m) => positionsOf(m).slice(m.length - fedLength)),
        n,
      );
    if (layout.merged) feeds.use_cache_branch = new ort.Tensor('bool', [step > 0], [1]);
    for (const c of layout.cache) feeds[c.name] = step > 0 ? past[c.present] : emptyPast(c, n);
    const result = await session.run(feeds);
    past = result;
    const values = tensorNumbers(result.logits);
    const vocab = result.logits.dims[result.logits.dims.length - 1];
    const seqLength = result.logits.dims[1];
    for (let r = 0; r < n; r++) {
      const teacher = options.teachers?.[r];
      let next = pad;
      if (!done[r]) {
        const last = row(values, (r * seqLength + seqLength - 1) * vocab, vocab);
        out[r].logits.push(last);
        next = teacher ? teacher[out[r].tokens.length] : random ? sample(last, options.sampling!, random) : argmax(last);
        out[r].tokens.push(next);
        if (teacher && out[r].tokens.length >= teacher.length) done[r] = true;
        else if (!teacher && options.eos?.includes(next)) {
          done[r] = true;
          out[r].stopped = 'eos';
        } else if (nextPosition[r] + 1 >= limit) {
          done[r] = true;
          out[r].stopped = 'context';
        }
      }
      // Rows that are done keep a place in the batch: they are fed padding, attended to by nothing that is kept.
      sequences[r].push(next);
      mask[r].push(1);
      nextPosition[r]++;
    }
    if (sequences[0].length >= limit) for (let r = 0; r < n; r++) if (!done[r]) [done[r], out[r].stopped] = [true, 'context'];
  }
  return out;
}

/** transformers.js: cumsum(mask) - 1, and 1 where the mask is 0. */
function positionsOf(mask: number[]): number[] {
  let sum = 0;
  return mask.map((m) => ((sum += m), m === 0 ? 1 : sum - 1));
}

function emptyPast(c: CacheInput, batch = 1): ort.Tensor {
  const dims = [batch, c.dims[1], 0, c.dims[3]];
  return c.type === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** Temperature, then top-k, then top-p (nucleus) over what is left, then one seeded draw. */
function sample(logits: Float64Array, s: Sampling, random: Random): number {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  const kept = order.slice(0, s.topK && s.topK > 0 ? s.topK : order.length);
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / s.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let cut = kept.length;
  if (s.topP !== undefined && s.topP < 1) {
    let mass = 0;
    for (let j = 0; j < kept.length; j++) {
      mass += weights[j] / total;
      if (mass >= s.topP) {
        cut = j + 1;
        break;
      }
    }
  }
  const nucleus = weights.slice(0, cut);
  let u = random.next() * nucleus.reduce((a, b) => a + b, 0);
  for (let j = 0; j < cut; j++) {
    u -= nucleus[j];
    if (u <= 0) return kept[j];
  }
  return kept[cut - 1];
}

/** One prompt as a decoder's first step takes it: all its tokens, a mask of ones, positions from 0, no cache yet (the no-past branch). */
export function promptFeeds(layout: DecoderLayout, ids: number[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { input_ids: i64(ids) };
  if (layout.mask) feeds.attention_mask = i64(new Array<number>(ids.length).fill(1));
  if (layout.positions) feeds.position_ids = i64(ids.map((_, i) => i));
  if (layout.merged) feeds.use_cache_branch = new ort.Tensor('bool', [false], [1]);
  for (const c of layout.cache) feeds[c.name] = emptyPast(c);
  return feeds;
}

/** Logits at every position of `tokens`, run as one prompt (empty cache), in windows of the context length. */
export async function sequenceLogits(
  session: ort.InferenceSession,
  layout: DecoderLayout,
  tokens: number[],
  contextLength = Infinity,
): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  const window = Number.isFinite(contextLength) ? contextLength : tokens.length;
  for (let start = 0; start < tokens.length; start += window) {
    const part = tokens.slice(start, start + window);
    const result = (await session.run(promptFeeds(layout, part))).logits;
    const vocab = result.dims[result.dims.length - 1];
    const values = tensorNumbers(result);
    for (let p = 0; p < part.length; p++) out.push(row(values, p * vocab, vocab));
  }
  return out;
}

function row(values: ArrayLike<number>, from: number, length: number): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = values[from + i];
  return out;
}

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

const i64 = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);

export async function generate(session: ort.InferenceSession, layout: DecoderLayout, prompt: number[], options: GenerateOptions): Promise<Generation> {
  if (prompt.length === 0) throw new UsageError('a prompt encodes to no tokens');
  const limit = options.contextLength ?? Infinity;
  if (prompt.length >= limit) throw new UsageError(`a prompt of ${prompt.length} tokens leaves no room in the model's context of ${limit}`, 'BAD_DATA');
  const random = options.sampling ? new Random(options.sampling.seed) : undefined;
  const tokens: number[] = [];
  const logits: Float64Array[] = [];
  let past: Record<string, ort.Tensor> = {};
  const sequence = [...prompt];
  let stopped: Generation['stopped'] = 'max-new-tokens';
  for (let step = 0; step < options.maxNewTokens; step++) {
    const useCache = layout.cache.length > 0;
    const fed = useCache && step > 0 ? [sequence[sequence.length - 1]] : sequence;
    const start = sequence.length - fed.length;
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(fed) };
    if (layout.mask) feeds.attention_mask = i64(new Array<number>(sequence.length).fill(1));
    if (layout.positions) feeds.position_ids = i64(fed.map((_, i) => start + i));
    if (layout.merged) feeds.use_cache_branch = new ort.Tensor('bool', [step > 0], [1]);
    for (const c of layout.cache) feeds[c.name] = step > 0 ? past[c.present] : emptyPast(c);
    const out = await session.run(feeds);
    const all = out.logits;
    const vocab = all.dims[all.dims.length - 1];
    const values = tensorNumbers(all);
    const last = row(values, values.length - vocab, vocab);
    logits.push(last);
    past = out;
    const next = options.teacher ? options.teacher[step] : random ? sample(last, options.sampling!, random) : argmax(last);
    tokens.push(next);
    sequence.push(next);
    if (options.teacher && step + 1 >= options.teacher.length) {
      stopped = 'max-new-tokens';
      break;
    }
    if (!options.teacher && options.eos?.includes(next)) {
      stopped = 'eos';
      break;
    }
    if (sequence.length >= limit) {
      stopped = 'context';
      break;
    }
  }
  return { tokens, logits, stopped };
}

function emptyPast(c: CacheInput): ort.Tensor {
  const dims = [1, c.dims[1], 0, c.dims[3]];
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
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(part) };
    if (layout.mask) feeds.attention_mask = i64(new Array<number>(part.length).fill(1));
    if (layout.positions) feeds.position_ids = i64(part.map((_, i) => i));
    if (layout.merged) feeds.use_cache_branch = new ort.Tensor('bool', [false], [1]);
    for (const c of layout.cache) feeds[c.name] = emptyPast(c);
    const result = (await session.run(feeds)).logits;
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

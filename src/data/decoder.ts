/**
 * A decoder's inputs from its token ids alone, built as transformers.js
 * builds them for a prompt (decoder_forward / prepare_inputs_for_generation):
 *
 * - attention_mask: ones, unless the data gives one;
 * - position_ids: cumsum(mask) - 1, with 1 where the mask is 0;
 * - past_key_values.*: zero-length past, the other axes from the model's
 *   declared shape (a prompt step has no cache yet);
 * - use_cache_branch (optimum's merged decoders): false, the no-past branch.
 *
 * use_cache_branch is one value for the whole batch, not one per sample, so
 * it is fed as a fixed tensor beside the per-sample data.
 */
import { UsageError } from '../errors.js';
import { DataType } from '../onnx/types.js';
import { ort } from '../runtime/session.js';
import type { NpyArray } from './npy.js';

export interface DecoderInput {
  name: string;
  elemType: number;
  /** Every axis: a number, or undefined where the model leaves it symbolic. */
  shape: (number | undefined)[];
}

export const TOKEN_IDS = 'input_ids';
const PAST = /^past_key_values\.\d+\.(key|value)$|^past\.\d+\.(key|value)$/;

/** True for a model whose inputs beside the token ids are the ones filled in here. */
export function isDecoder(inputs: { name: string }[]): boolean {
  const names = inputs.map((i) => i.name);
  return names.includes(TOKEN_IDS) && names.some((n) => n === 'attention_mask' || n === 'position_ids' || n === 'use_cache_branch' || PAST.test(n));
}

export interface FilledInputs {
  /** The per-sample arrays, the given ones and those built here. */
  arrays: Record<string, NpyArray>;
  /** Tensors fed whole to every batch (use_cache_branch). */
  fixed: Record<string, ort.Tensor>;
  /** Names of the inputs built here, for the output. */
  filled: string[];
  /** The attention mask, flat [N*T], when the model takes one: positions where it is 0 are padding. */
  mask?: Uint8Array;
}

export function fillDecoderInputs(given: Record<string, NpyArray>, inputs: DecoderInput[], label: string): FilledInputs {
  const arrays = { ...given };
  const fixed: Record<string, ort.Tensor> = {};
  const filled: string[] = [];
  const ids = arrays[TOKEN_IDS];
  if (!ids) throw new UsageError(`${label}: no '${TOKEN_IDS}' for the decoder (has ${Object.keys(given).join(', ') || 'nothing'})`, 'BAD_DATA');
  if (ids.shape.length !== 2) throw new UsageError(`${label}: '${TOKEN_IDS}' must be [samples, tokens], got [${ids.shape.join(', ')}]`, 'BAD_DATA');
  const [n, t] = ids.shape;
  const has = (name: string) => inputs.some((i) => i.name === name);
  let mask: Float64Array | undefined;
  if (has('attention_mask')) {
    if (arrays.attention_mask) {
      const m = arrays.attention_mask;
      if (m.shape.join() !== ids.shape.join())
        throw new UsageError(`${label}: 'attention_mask' is [${m.shape.join(', ')}], '${TOKEN_IDS}' is [${ids.shape.join(', ')}]`, 'BAD_DATA');
      mask = Float64Array.from(m.data as ArrayLike<number | bigint>, Number);
      if (!mask.every((v) => v === 0 || v === 1)) throw new UsageError(`${label}: 'attention_mask' must hold only 0 and 1`, 'BAD_DATA');
    } else {
      mask = new Float64Array(n * t).fill(1);
      arrays.attention_mask = { dtype: 'f8', shape: [n, t], data: mask };
      filled.push('attention_mask');
    }
  }
  if (has('position_ids') && !arrays.position_ids) {
    arrays.position_ids = { dtype: 'f8', shape: [n, t], data: positionIds(mask ?? new Float64Array(n * t).fill(1), n, t) };
    filled.push('position_ids');
  }
  for (const input of inputs) {
    if (PAST.test(input.name) && !arrays[input.name]) {
      const half = input.elemType === DataType.FLOAT16;
      arrays[input.name] = { dtype: half ? 'f2' : 'f4', shape: [n, ...emptyPastShape(input, label)], data: half ? new Uint16Array(0) : new Float32Array(0) };
      filled.push(input.name);
    }
  }
  const branch = inputs.find((i) => i.name === 'use_cache_branch');
  if (branch && !arrays.use_cache_branch) {
    fixed.use_cache_branch = new ort.Tensor(
      'bool',
      [false],
      branch.shape.map((d) => d ?? 1),
    );
    filled.push('use_cache_branch');
  }
  return { arrays, fixed, filled, ...(mask ? { mask: Uint8Array.from(mask) } : {}) };
}

/** transformers.js: position_ids = attention_mask.cumsum(-1) - 1, then 1 where the mask is 0. */
export function positionIds(mask: ArrayLike<number>, n: number, t: number): Float64Array {
  const out = new Float64Array(n * t);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    for (let c = 0; c < t; c++) {
      sum += mask[r * t + c];
      out[r * t + c] = mask[r * t + c] === 0 ? 1 : sum - 1;
    }
  }
  return out;
}

/** A cache input's axes after the batch, with the past length (the one symbolic axis) 0. */
function emptyPastShape(input: DecoderInput, label: string): number[] {
  const rest = input.shape.slice(1);
  const open = rest.filter((d) => d === undefined).length;
  if (rest.length !== 3 || open !== 1) {
    throw new UsageError(
      `${label}: cannot build an empty '${input.name}': the model declares it [${input.shape.map((d) => d ?? '?').join(', ')}], not [batch, heads, past, head_dim] with only the past open; give it in the data`,
      'BAD_DATA',
    );
  }
  return rest.map((d) => d ?? 0);
}

/**
 * Per-position rows with the padding left out: row r (of samples × tokens)
 * is kept where the attention mask is 1, with its label.
 */
export function withoutPadding<T extends Float32Array | Float64Array>(
  x: { rows: number; width: number; data: T },
  labels: Int32Array,
  mask: Uint8Array,
): { x: { rows: number; width: number; data: T }; labels: Int32Array; dropped: number } {
  if (mask.length !== x.rows || labels.length !== x.rows)
    throw new Error(`withoutPadding: ${x.rows} rows, ${labels.length} labels, ${mask.length} mask entries`);
  const kept = mask.reduce((n, m) => n + (m ? 1 : 0), 0);
  if (kept === x.rows) return { x, labels, dropped: 0 };
  const data = new (x.data.constructor as new (n: number) => T)(kept * x.width);
  const out = new Int32Array(kept);
  let k = 0;
  for (let r = 0; r < x.rows; r++) {
    if (!mask[r]) continue;
    data.set(x.data.subarray(r * x.width, (r + 1) * x.width), k * x.width);
    out[k++] = labels[r];
  }
  return { x: { rows: kept, width: x.width, data }, labels: out, dropped: x.rows - kept };
}

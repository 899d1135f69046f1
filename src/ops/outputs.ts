/**
 * Which outputs of a multi-output op are computed from which, inside the op.
 *
 * Why this matters: an intervention spliced in after an op's output k
 * changes what readers of that output see, but not what the op itself
 * computes from the same value for its other outputs. SkipLayerNormalization
 * writes the residual sum (output 3) and its normalisation (output 0): a
 * patch on output 3 alone leaves output 0, and so the next layer, reading
 * the unpatched sum. That model runs and is silently wrong. Each entry here
 * says, per output, which other outputs the op derives from it, and how the
 * op can be split into parts so that the value becomes a plain tensor
 * between them (`split`), where the toolkit knows such a split.
 *
 * Every op of a non-default domain the toolkit knows (shape inference and the
 * behaviour registry) has an entry, single-output ones included, so the next
 * contrib op added gets a row here rather than a special case elsewhere
 * (test/ops/outputs.test.ts enumerates them). Default-domain ops without an
 * entry have independent outputs (Split, TopK, Dropout's mask, ...).
 */
import { domainKey } from './registry.js';
import type { NodeLike } from './lookup.js';

/** How a fused op comes apart so that one of its outputs is a plain value between the parts. */
export type SplitKind = 'skip-layernorm' | 'skip-simplified-layernorm';

export interface OutputSpec {
  /** Output names as the operator spec gives them, in order. */
  outputs: readonly string[];
  /** For output k: the other outputs the op computes from output k's value. */
  derived?: Readonly<Record<number, readonly number[]>>;
  /** The split that frees output k (keyed by k). */
  split?: Readonly<Record<number, SplitKind>>;
  /** What to patch instead, for the refusal message, keyed by output k. */
  instead?: Readonly<Record<number, string>>;
}

const single = (name: string): OutputSpec => ({ outputs: [name] });

const ATTENTION_INSTEAD = 'patch the attention input or its output 0; the cache entries are the keys and values output 0 was computed from';

const SPECS: Record<string, OutputSpec> = {
  // --- default domain ---
  ':LayerNormalization': {
    outputs: ['Y', 'Mean', 'InvStdDev'],
    derived: { 1: [0], 2: [0] },
    instead: { 1: 'patch its input or output 0', 2: 'patch its input or output 0' },
  },
  ':SimplifiedLayerNormalization': { outputs: ['Y', 'inv_std_var'], derived: { 1: [0] }, instead: { 1: 'patch its input or output 0' } },
  ':RMSNormalization': single('Y'),
  // Y holds every step's hidden state and Y_h the last one: each is a view of the other, and the recurrence reads neither.
  ':RNN': {
    outputs: ['Y', 'Y_h'],
    derived: { 0: [1], 1: [0] },
    instead: { 0: 'patch a reader of the output instead', 1: 'patch a reader of the output instead' },
  },
  ':GRU': {
    outputs: ['Y', 'Y_h'],
    derived: { 0: [1], 1: [0] },
    instead: { 0: 'patch a reader of the output instead', 1: 'patch a reader of the output instead' },
  },
  ':LSTM': {
    outputs: ['Y', 'Y_h', 'Y_c'],
    derived: { 0: [1], 1: [0] },
    instead: { 0: 'patch a reader of the output instead', 1: 'patch a reader of the output instead' },
  },

  // --- com.microsoft (onnxruntime's contrib ops) ---
  'com.microsoft:SkipLayerNormalization': {
    outputs: ['output', 'mean', 'inv_std_var', 'input_skip_bias_sum'],
    derived: { 1: [0], 2: [0], 3: [0, 1, 2] },
    split: { 3: 'skip-layernorm' },
    instead: { 1: 'patch output 3 (the residual sum) or output 0', 2: 'patch output 3 (the residual sum) or output 0' },
  },
  'com.microsoft:SkipSimplifiedLayerNormalization': {
    outputs: ['output', 'mean', 'inv_std_var', 'input_skip_bias_sum'],
    derived: { 1: [0], 2: [0], 3: [0, 1, 2] },
    split: { 3: 'skip-simplified-layernorm' },
    instead: { 1: 'patch output 3 (the residual sum) or output 0', 2: 'patch output 3 (the residual sum) or output 0' },
  },
  'com.microsoft:LayerNormalization': {
    outputs: ['Y', 'Mean', 'InvStdDev'],
    derived: { 1: [0], 2: [0] },
    instead: { 1: 'patch its input or output 0', 2: 'patch its input or output 0' },
  },
  'com.microsoft:SimplifiedLayerNormalization': { outputs: ['Y', 'inv_std_var'], derived: { 1: [0] }, instead: { 1: 'patch its input or output 0' } },
  'com.microsoft:EmbedLayerNormalization': {
    outputs: ['output', 'mask_index', 'embedding_sum'],
    derived: { 2: [0] },
    instead: { 2: 'patch output 0 (the normalised embedding) or a reader of output 2' },
  },
  'com.microsoft:Attention': {
    outputs: ['output', 'present', 'present_key', 'present_value'],
    derived: { 1: [0], 2: [0], 3: [0] },
    instead: { 1: ATTENTION_INSTEAD, 2: ATTENTION_INSTEAD, 3: ATTENTION_INSTEAD },
  },
  'com.microsoft:MultiHeadAttention': {
    outputs: ['output', 'present_key', 'present_value', 'qk'],
    derived: { 1: [0], 2: [0], 3: [0] },
    instead: { 1: ATTENTION_INSTEAD, 2: ATTENTION_INSTEAD, 3: ATTENTION_INSTEAD },
  },
  'com.microsoft:GroupQueryAttention': {
    outputs: ['output', 'present_key', 'present_value', 'output_qk'],
    derived: { 1: [0], 2: [0], 3: [0] },
    instead: { 1: ATTENTION_INSTEAD, 2: ATTENTION_INSTEAD, 3: ATTENTION_INSTEAD },
  },
  'com.microsoft:Gelu': single('Y'),
  'com.microsoft:FastGelu': single('Y'),
  'com.microsoft:BiasGelu': single('Y'),
  'com.microsoft:QuickGelu': single('Y'),
  'com.microsoft:BiasAdd': single('Y'),
  'com.microsoft:BiasSoftmax': single('Y'),
  // The dropout mask is drawn, not computed from the output; at inference it is all ones.
  'com.microsoft:BiasDropout': { outputs: ['output', 'mask'] },
  'com.microsoft:FusedMatMul': single('Y'),
  'com.microsoft:MatMulNBits': single('Y'),
  'com.microsoft:RotaryEmbedding': single('output'),
  'com.microsoft:Identity': single('output'),
};

/** The entry for `domain:opType`, if the toolkit has one. */
export function outputSpec(domain: string | undefined, opType: string): OutputSpec | undefined {
  return SPECS[`${domainKey(domain)}:${opType}`];
}

/** Every op with an entry, as `domain:op` ('' for the default domain). */
export function outputSpecKeys(): string[] {
  return Object.keys(SPECS);
}

export type OutputIndependence =
  | { kind: 'independent' }
  | { kind: 'split'; split: SplitKind; derived: number[] }
  | { kind: 'derived'; derived: number[]; instead?: string }
  | { kind: 'unknown' };

/**
 * Whether a patch on output `index` of `node` reaches everything the node
 * computes from that value. Only outputs the node actually writes (non-empty
 * names) count: an omitted optional output cannot be stale.
 */
export function outputIndependence(node: NodeLike & { output: string[] }, index: number): OutputIndependence {
  const written = node.output.map((o, i) => (o ? i : -1)).filter((i) => i >= 0 && i !== index);
  const spec = outputSpec(node.domain, node.opType ?? '');
  if (!spec) {
    // A custom op with several outputs may compute any of them from any other.
    if (domainKey(node.domain) !== '' && written.length > 0) return { kind: 'unknown' };
    return { kind: 'independent' };
  }
  const derived = (spec.derived?.[index] ?? []).filter((i) => written.includes(i));
  if (derived.length === 0) return { kind: 'independent' };
  const split = spec.split?.[index];
  if (split) return { kind: 'split', split, derived };
  return { kind: 'derived', derived, instead: spec.instead?.[index] };
}

/**
 * The Hugging Face-style GPT-2 folders under test/fixtures/gpt2-folder/
 * (made by scripts/make_gpt2_folder_fixture.py), and greedy decoding with
 * their KV cache as transformers.js feeds them (optimum's input names): the
 * prompt with an empty past, then one token a step with present.* fed back
 * as past_key_values.*; a merged decoder takes use_cache_branch false, then true.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { ort } from '../../src/runtime/session.js';
import { FIXTURE_DIR } from './torchFixtures.js';

export const GPT2_DIR = path.join(FIXTURE_DIR, 'gpt2-folder');

export interface Logits {
  logits: number[];
  greedy: number[];
  step_logits: number[];
}

export interface Gpt2Reference {
  prompt: string;
  prompt_ids: number[];
  position_ids: number[];
  config: { vocab_size: number; n_embd: number; n_head: number; head_dim: number; n_layer: number };
  intact: Logits;
  steer: Logits & { site: string; alpha: number; direction: number[] };
  sites: Record<string, { tensors: Record<string, string> }>;
  weight_edits: Record<string, { dims?: number[]; direction?: number[]; logits: number[] }>;
  fp16: { error_scale: { weights_rounded_to_fp16: number; fp16_ulp_at_max_logit: number } };
}

export const gpt2Reference = (): Gpt2Reference => JSON.parse(fs.readFileSync(path.join(GPT2_DIR, 'reference.json'), 'utf8'));

/** The fp16 bound the fixture's check uses: 4x the error of rounding the weights, plus 4 steps of fp16 at the largest logit. */
export function fp16Tolerance(ref: Gpt2Reference): number {
  const e = ref.fp16.error_scale;
  return 4 * e.weights_rounded_to_fp16 + 4 * e.fp16_ulp_at_max_logit;
}

/** The ONNX name of a site in a fixture file (`tjs/onnx/model.onnx`). */
export const siteTensor = (ref: Gpt2Reference, site: string, file: string): string => ref.sites[site].tensors[file];

const i64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

function floats(t: ort.Tensor): number[] {
  return t.type === 'float16' ? Array.from(new Float16Array((t.data as Uint16Array).buffer)) : Array.from(t.data as Float32Array);
}

const argmax = (xs: number[]) => xs.reduce((best, v, i) => (v > xs[best] ? i : best), 0);

/** Prompt logits, the last position's logits at each of `steps` greedy steps, and the tokens, decoded with the KV cache. */
export async function decodeGpt2(
  modelPath: string,
  ref: Gpt2Reference,
  steps = ref.intact.greedy.length,
): Promise<{ logits: number[]; stepLogits: number[]; tokens: number[] }> {
  const { n_layer: layers, n_head: heads, head_dim: headDim, vocab_size: vocab } = ref.config;
  const session = await ort.InferenceSession.create(modelPath);
  const merged = session.inputNames.includes('use_cache_branch');
  const half = session.inputMetadata.some((m) => m.name === 'past_key_values.0.key' && m.isTensor && m.type === 'float16');
  const branch = (useCache: boolean): Record<string, ort.Tensor> => (merged ? { use_cache_branch: new ort.Tensor('bool', [useCache], [1]) } : {});
  try {
    const n = ref.prompt_ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ref.prompt_ids, [1, n]),
      attention_mask: i64(Array(n).fill(1), [1, n]),
      position_ids: i64(ref.position_ids, [1, n]),
      ...branch(false),
    };
    for (let i = 0; i < layers; i++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${i}.${kv}`] = half
          ? new ort.Tensor('float16', new Uint16Array(0), [1, heads, 0, headDim])
          : new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    let out = await session.run(feeds);
    const logits = floats(out.logits);
    const stepLogits: number[] = [];
    const tokens: number[] = [];
    for (let total = n; ; total++) {
      const all = floats(out.logits);
      const last = all.slice(all.length - vocab);
      stepLogits.push(...last);
      tokens.push(argmax(last));
      if (tokens.length === steps) break;
      const next: Record<string, ort.Tensor> = {
        input_ids: i64([tokens.at(-1)!], [1, 1]),
        attention_mask: i64(Array(total + 1).fill(1), [1, total + 1]),
        position_ids: i64([total], [1, 1]),
        ...branch(true),
      };
      for (let i = 0; i < layers; i++) for (const kv of ['key', 'value']) next[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
      out = await session.run(next);
    }
    return { logits, stepLogits, tokens };
  } finally {
    await session.release();
  }
}

/** Copies a fixture folder (`tjs`) to `dest`, for tests that break one. */
export function copyFixtureFolder(name: string, dest: string): string {
  fs.cpSync(path.join(GPT2_DIR, name), dest, { recursive: true });
  return dest;
}

/**
 * `sca patch` of the fixture folder `name` (tjs, tjs-op17, merged) with the
 * reference's steering (alpha · direction at the residual after block 0),
 * written to `out`: the patched folder PyTorch's steer references describe.
 */
export async function steerFixture(name: string, out: string, ...extra: string[]): Promise<{ code: number; out: string; err: string; dir: string }> {
  const { sca } = await import('./cli.js');
  const ref = gpt2Reference();
  const tensor = siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx');
  const r = await sca(
    'patch',
    path.join(GPT2_DIR, name),
    '-o',
    out,
    '--tensor',
    tensor,
    '--mode',
    'steer',
    '--direction',
    `@${path.join(GPT2_DIR, 'direction.npy')}`,
    '--strength',
    String(ref.steer.alpha),
    ...extra,
  );
  return { ...r, dir: out };
}

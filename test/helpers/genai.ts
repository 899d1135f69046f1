/**
 * The onnxruntime-genai-style fixture under test/fixtures/genai/ (made by
 * scripts/make_genai_fixture.py) and greedy decoding with its KV cache, as
 * onnxruntime-genai feeds such a model: the prompt with an empty past, then
 * one token a step with present -> past and the attention mask growing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ort } from '../../src/runtime/session.js';
import { FIXTURE_DIR } from './torchFixtures.js';

export const GENAI_DIR = path.join(FIXTURE_DIR, 'genai');

export interface GenaiReference {
  prompt: number[];
  position_ids: number[];
  residual_tensor: string;
  direction: number[];
  config: { layers: number; kv_heads: number; head_dim: number; vocab: number };
  fp32: { intact_logits: number[]; patched_logits: number[] };
  int4: { intact_logits: number[]; patched_logits: number[] };
  greedy: Record<'fp32' | 'int4', { intact: number[]; patched: number[] }>;
}

export const genaiReference = (): GenaiReference => JSON.parse(fs.readFileSync(path.join(GENAI_DIR, 'reference.json'), 'utf8'));

const i64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

/** Logits of the prompt step, and `steps` greedy tokens decoded with the KV cache. */
export async function greedyDecode(modelPath: string, ref: GenaiReference, steps: number): Promise<{ promptLogits: Float32Array; tokens: number[] }> {
  const { layers, kv_heads: kvHeads, head_dim: headDim, vocab } = ref.config;
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const n = ref.prompt.length;
    let feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ref.prompt, [1, n]),
      attention_mask: i64(Array(n).fill(1), [1, n]),
      position_ids: i64(ref.position_ids, [1, n]),
    };
    for (let i = 0; i < layers; i++)
      for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    let out = await session.run(feeds);
    const promptLogits = out.logits.data as Float32Array;
    const tokens: number[] = [];
    for (let total = n; tokens.length < steps; total++) {
      const logits = out.logits.data as Float32Array;
      const last = (out.logits.dims[1] - 1) * vocab;
      let best = 0;
      for (let v = 1; v < vocab; v++) if (logits[last + v] > logits[last + best]) best = v;
      tokens.push(best);
      if (tokens.length === steps) break;
      feeds = { input_ids: i64([best], [1, 1]), attention_mask: i64(Array(total + 1).fill(1), [1, total + 1]), position_ids: i64([total], [1, 1]) };
      for (let i = 0; i < layers; i++) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
      out = await session.run(feeds);
    }
    return { promptLogits, tokens };
  } finally {
    await session.release();
  }
}

/**
 * The generation runner's overhead (`npm run bench`): tokens per second of
 * eval/generate.ts against a plain onnxruntime KV-cache loop written here,
 * on the same model (the fixture's GPT-2, fp32), prompt and number of tokens,
 * in the same run.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { decoderLayout, generate } from '../src/eval/generate.js';
import { openSession } from '../src/runtime/session.js';

type Report = (figure: string, value: number, baseline: number, unit: (v: number) => string, target: string) => void;

const MODEL = fileURLToPath(new URL('../../test/fixtures/gpt2-folder/tjs/onnx/model.onnx', import.meta.url));
const PROMPT = [273, 263, 264, 260, 274, 258, 287, 260];
const NEW_TOKENS = 48;
const REPEATS = 20;

const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);

/** The loop a user would write: prompt with an empty past, then one token a step, present fed back. */
async function plainLoop(session: ort.InferenceSession): Promise<number> {
  let feeds: Record<string, ort.Tensor> = {
    input_ids: i64(PROMPT),
    attention_mask: i64(PROMPT.map(() => 1)),
    position_ids: i64(PROMPT.map((_, i) => i)),
  };
  for (let l = 0; l < 2; l++)
    for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 32]);
  let tokens = 0;
  for (let total = PROMPT.length; tokens < NEW_TOKENS; total++) {
    const out = await session.run(feeds);
    const logits = out.logits.data as Float32Array;
    const v = out.logits.dims[2];
    let best = 0;
    for (let i = 1; i < v; i++) if (logits[logits.length - v + i] > logits[logits.length - v + best]) best = i;
    tokens++;
    feeds = { input_ids: i64([best]), attention_mask: i64(new Array<number>(total + 1).fill(1)), position_ids: i64([total]) };
    for (let l = 0; l < 2; l++) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
  }
  return tokens;
}

export async function benchText(report: Report): Promise<void> {
  const session = await openSession(MODEL);
  const layout = decoderLayout(session, path.basename(MODEL));
  const time = async (f: () => Promise<number>) => {
    await f(); // warm-up
    const t0 = performance.now();
    let n = 0;
    for (let r = 0; r < REPEATS; r++) n += await f();
    return n / ((performance.now() - t0) / 1000);
  };
  const plain = await time(() => plainLoop(session));
  const runner = await time(async () => (await generate(session, layout, PROMPT, { maxNewTokens: NEW_TOKENS })).tokens.length);
  await session.release();
  const tps = (v: number) => `${v.toFixed(0)} tok/s`;
  console.log(`\ngeneration: GPT-2 fixture (d 64, 2 layers, vocab 300), ${NEW_TOKENS} new tokens x ${REPEATS}, cpu`);
  report('generation runner: tokens per second', runner, plain, tps, 'at least 0.9x a plain onnxruntime KV-cache loop');
}

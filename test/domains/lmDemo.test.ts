/**
 * `runLmDemo` end to end on a stand-in pair built from the GPT-2 fixture (a
 * random model, so the figures mean nothing about SCA): the four edited
 * folders are written, and the concept rate, perplexity and first-token KL
 * it reports are recomputed here with a plain onnxruntime loop.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAnchors } from '../../src/anchors/manifest.js';
import { runLmDemo, type LmDemoResult } from '../../src/domains/lm/demo.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { ort } from '../../src/runtime/session.js';
import { copyFixtureFolder, GPT2_DIR, gpt2Reference } from '../helpers/gpt2Folder.js';

const ref = gpt2Reference();
const SITE = ref.sites.resid_block0.tensors['tjs/onnx/model.onnx'];
const concept = {
  concept: 'cat',
  site: { block: 0, tensor: SITE, dims: [0] },
  words: [
    { word: 'cat', family: true, similarity: 1, prompts: ['The', 'Every morning the', 'The girl gives the'] },
    { word: 'dog', family: false, similarity: 0.6, prompts: ['The cat and the', 'She reads and the'] },
    { word: 'the', family: false, similarity: 0, prompts: ['The cat sat on', 'In'] },
    { word: 'a', family: false, similarity: 0.1, prompts: ['there is', 'It is'] },
  ],
  heldOut: ['The dog sat on the rug.', 'At night the house is quiet.'],
  neutral: ['The girl', 'At night'],
  fit: [
    { ids: ref.prompt_ids, labelled: [1, 3], colour: [0, 2, 4, 6] },
    { ids: ref.prompt_ids.slice(0, 6), labelled: [5], colour: [0, 1, 2] },
  ],
};

let root: string;
let demo: LmDemoResult;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-lmdemo-'));
  for (const name of ['sca', 'twin']) {
    const dir = copyFixtureFolder('tjs', path.join(root, name));
    fs.rmSync(path.join(dir, 'onnx', 'model_fp16.onnx'));
    fs.writeFileSync(path.join(dir, 'concept.json'), JSON.stringify(concept));
  }
  const m = loadModel(path.join(GPT2_DIR, 'tjs', 'onnx', 'model.onnx'));
  writeAnchors(m.proto, [{ concept: 'cat', tensor: SITE, dims: [0] }]);
  saveModel(m, path.join(root, 'sca', 'onnx', 'model.onnx'));
  demo = await runLmDemo(path.join(root, 'sca'), path.join(root, 'twin'), path.join(root, 'out'), { samples: 2 });
}, 60_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** log-softmax of the last position's logits, in plain float64. */
async function lastLogProbs(session: ort.InferenceSession, ids: number[]): Promise<number[]> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
    attention_mask: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, () => 1n),
      [1, ids.length],
    ),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, (_, i) => BigInt(i)),
      [1, ids.length],
    ),
  };
  for (const meta of session.inputMetadata)
    if (meta.name.startsWith('past_key_values.'))
      feeds[meta.name] = new ort.Tensor('float32', new Float32Array(0), [1, ref.config.n_head, 0, ref.config.head_dim]);
  const out = (await session.run(feeds)).logits;
  const V = out.dims[2];
  const row = Array.from((out.data as Float32Array).subarray((ids.length - 1) * V, ids.length * V));
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

describe('sca demo lm (runner)', () => {
  it('writes the four edited folders, each loadable, the SCA ones recording what was done', () => {
    for (const name of ['sca-suppressed', 'sca-ablated', 'twin-mean-diff', 'twin-leace']) {
      const dir = path.join(root, 'out', name);
      expect(fs.existsSync(path.join(dir, 'tokenizer.json'))).toBe(true);
      expect(fs.existsSync(path.join(dir, 'concept.json'))).toBe(true);
      const meta = loadModel(path.join(dir, 'onnx', 'model.onnx')).proto.metadataProps.find((p) => p.key === 'sca.interventions');
      expect(meta, name).toBeDefined();
    }
  });

  it('its concept rate and first-token KL (SCA ablation, twin LEACE) agree with a plain onnxruntime loop', async () => {
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const dir = path.join(root, 'sca');
    const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')), {});
    const catId = tok.encode(' cat').ids[0];
    for (const [entry, intactDir, patchedDir] of [
      [demo.results.sca.ablate, 'sca', 'out/sca-ablated'],
      [demo.results.twin.leace, 'twin', 'out/twin-leace'],
    ] as const) {
      const open = (d: string) => ort.InferenceSession.create(path.join(root, d, 'onnx', 'model.onnx'));
      const [a, b] = [await open(intactDir), await open(patchedDir)];
      const prompts = concept.words[0].prompts.map((p) => tok.encode(p).ids);
      let [ra, rb] = [0, 0];
      for (const ids of prompts) {
        ra += Math.exp((await lastLogProbs(a, ids))[catId]) / prompts.length;
        rb += Math.exp((await lastLogProbs(b, ids))[catId]) / prompts.length;
      }
      expect(entry.conceptRate.intact).toBeCloseTo(ra, 6);
      expect(entry.conceptRate.patched).toBeCloseTo(rb, 6);
      let kl = 0;
      for (const p of concept.neutral) {
        const [p0, q0] = [await lastLogProbs(a, tok.encode(p).ids), await lastLogProbs(b, tok.encode(p).ids)];
        kl += p0.reduce((s, lp, i) => s + Math.exp(lp) * (lp - q0[i]), 0) / concept.neutral.length;
      }
      expect(entry.firstTokenKl).toBeCloseTo(kl, 6);
      expect(entry.firstTokenKl).toBeGreaterThan(0);
      await Promise.all([a.release(), b.release()]);
    }
    expect(demo.results.sca.suppress.perplexity.intact).toBe(demo.results.sca.ablate.perplexity.intact);
    expect(demo.results.sca.ablate.words.map((w) => w.word)).toEqual(['cat', 'dog', 'the', 'a']);
  });

  it('refuses to write over an earlier run', async () => {
    await expect(runLmDemo(path.join(root, 'sca'), path.join(root, 'twin'), path.join(root, 'out'))).rejects.toThrow(/exists; give a fresh --out folder/);
  });
});

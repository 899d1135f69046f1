/**
 * A decoder fed token ids alone: the other inputs are built as
 * transformers.js builds them for a prompt, so compare, probe and
 * `anchor --from-data` work from an .npy of input_ids. Checked by hand-worked
 * numbers, and by the built feeds giving PyTorch's logits for the fixture's
 * prompt (test/fixtures/gpt2-folder).
 */
import fs from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { anchorFromData } from '../../src/api/anchor.js';
import { loadDataset, requiredInputs, sampleFeeds } from '../../src/data/datasets.js';
import { positionIds } from '../../src/data/decoder.js';
import { encodeNpy } from '../../src/data/npy.js';
import { loadModel } from '../../src/onnx/model.js';
import { ort } from '../../src/runtime/session.js';
import { sca } from '../helpers/cli.js';
import { GPT2_DIR, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = gpt2Reference();
const tmp = useTempDir('decoder-inputs');
const TJS = path.join(GPT2_DIR, 'tjs/onnx/model.onnx');
const MERGED = path.join(GPT2_DIR, 'merged/onnx/decoder_model_merged.onnx');

function idsFile(rows: number[][]): string {
  const f = path.join(tmp(), 'ids.npy');
  fs.writeFileSync(f, encodeNpy('i8', [rows.length, rows[0].length], BigInt64Array.from(rows.flat(), BigInt)));
  return f;
}

const inputsOf = (file: string) => requiredInputs(loadModel(file).proto.graph!);

describe('decoder inputs built from token ids', () => {
  it('position_ids is cumsum(mask) - 1, with 1 at padding (hand-worked, left padding)', () => {
    expect(Array.from(positionIds([0, 0, 1, 1, 1, 1, 1, 1], 2, 4))).toEqual([1, 1, 0, 1, 0, 1, 2, 3]);
  });

  it('an .npy of input_ids gets a mask of ones, positions 0..T-1 and an empty cache for every layer, and says so', () => {
    const data = loadDataset(idsFile([ref.prompt_ids, ref.prompt_ids]), inputsOf(TJS));
    expect(data.samples).toBe(2);
    expect(data.filled).toEqual([
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ]);
    const feeds = sampleFeeds(data, 0, 2);
    expect(Array.from(feeds.attention_mask.data as BigInt64Array, Number)).toEqual(Array(16).fill(1));
    expect(Array.from(feeds.position_ids.data as BigInt64Array, Number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]);
    expect(feeds['past_key_values.1.value'].dims).toEqual([2, ref.config.n_head, 0, ref.config.head_dim]);
  });

  it('the built feeds give PyTorch’s prompt logits, and a merged decoder gets use_cache_branch false once per batch', async () => {
    for (const file of [TJS, MERGED]) {
      const data = loadDataset(idsFile([ref.prompt_ids]), inputsOf(file));
      const feeds = sampleFeeds(data, 0, 1);
      if (file === MERGED) expect(feeds.use_cache_branch.dims).toEqual([1]);
      const session = await ort.InferenceSession.create(file);
      const out = await session.run(feeds);
      await session.release();
      expect(maxAbsDiff(out.logits.data as Float32Array, ref.intact.logits), file).toBeLessThan(1e-4);
    }
  });

  it('a mask in an .npz is used for the positions; its shape must match the ids', () => {
    const f = path.join(tmp(), 'd.npz');
    const ids = encodeNpy('i8', [1, 4], BigInt64Array.from([0, 0, 5, 6], BigInt));
    fs.writeFileSync(f, zipSync({ 'input_ids.npy': ids, 'attention_mask.npy': encodeNpy('i8', [1, 4], BigInt64Array.from([0, 0, 1, 1], BigInt)) }));
    const feeds = sampleFeeds(loadDataset(f, inputsOf(TJS)), 0, 1);
    expect(Array.from(feeds.position_ids.data as BigInt64Array, Number)).toEqual([1, 1, 0, 1]);
    fs.writeFileSync(f, zipSync({ 'input_ids.npy': ids, 'attention_mask.npy': encodeNpy('i8', [1, 3], new BigInt64Array(3)) }));
    expect(() => loadDataset(f, inputsOf(TJS))).toThrow(/'attention_mask' is \[1, 3\], 'input_ids' is \[1, 4\]/);
  });

  it('sca compare takes the token ids alone and prints what it built', async () => {
    const r = await sca('compare', TJS, TJS, '--data', idsFile([ref.prompt_ids]));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/built from the token ids as transformers\.js does: attention_mask, position_ids, 4 empty past_key_values\.\*/);
    expect(r.out).toMatch(/logits +0 +0 +1\.0000/);
  });

  it('sca probe takes the token ids alone and per-position labels [N, T]', async () => {
    const rows = [ref.prompt_ids, [...ref.prompt_ids].reverse(), ref.prompt_ids.map((t) => (t + 3) % 256), ref.prompt_ids.map((t) => (t + 9) % 256)];
    const labels = path.join(tmp(), 'labels.npy');
    fs.writeFileSync(
      labels,
      encodeNpy(
        'i8',
        [4, 8],
        BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i % 2)),
      ),
    );
    const r = await sca(
      'probe',
      TJS,
      '--tensor',
      siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx'),
      '--data',
      idsFile(rows),
      '--labels',
      labels,
      '--json',
      '-',
    );
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(JSON.stringify(report)).toMatch(/"rows":"position"|"rows": "position"/);
  });

  it('anchor --from-data takes per-position labels shaped like the ids [N, T], and leaves out padded positions', async () => {
    const f = path.join(tmp(), 'd.npz');
    const rows = [ref.prompt_ids, [...ref.prompt_ids].reverse()];
    const mask = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
    fs.writeFileSync(
      f,
      zipSync({
        'input_ids.npy': encodeNpy('i8', [2, 8], BigInt64Array.from(rows.flat(), BigInt)),
        'attention_mask.npy': encodeNpy('i8', [2, 8], BigInt64Array.from(mask, BigInt)),
      }),
    );
    const labels = path.join(tmp(), 'labels.npy');
    const values = [0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0];
    fs.writeFileSync(labels, encodeNpy('i8', [2, 8], BigInt64Array.from(values, BigInt)));
    const anchor = await anchorFromData(loadModel(TJS), {
      concept: 'c',
      tensor: siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx'),
      data: f,
      labels,
      method: 'mean-diff',
    });
    expect(anchor.provenance).toMatchObject({ rows: 'position', samples: 14 });
  });
});

describe('sca probe --max-rows', () => {
  it('probes a seeded sample of the rows and says so in the text and the JSON', async () => {
    const rows = Array.from({ length: 6 }, (_, i) => ref.prompt_ids.map((t) => (t + 5 * i) % 256));
    const labels = path.join(tmp(), 'labels.npy');
    fs.writeFileSync(
      labels,
      encodeNpy(
        'i8',
        [6, 8],
        BigInt64Array.from({ length: 48 }, (_, i) => BigInt(i % 2)),
      ),
    );
    const args = [
      'probe',
      TJS,
      '--tensor',
      siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx'),
      '--data',
      idsFile(rows),
      '--labels',
      labels,
      '--max-rows',
      '30',
    ];
    const text = await sca(...args);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/probed a seeded sample of 30 of 48 rows \(seed 0\)/);
    const json = JSON.parse((await sca(...args, '--json', '-')).out);
    expect(json.tensors[0].sample).toEqual({ rows: 30, of: 48, seed: 0 });
  });
});

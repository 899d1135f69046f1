/**
 * The large-model path at small size: the same code (lazy weights left in the
 * file, streamed on save; external data; synthetic transformer-like graphs)
 * with the laziness threshold lowered so every weight takes it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileRange } from '../../src/onnx/codec.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { writeSyntheticModel } from '../../scripts/synthetic.js';
import { FIXTURE_MODEL } from '../helpers/fixture.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { ort } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';

const D = 16;
const tmp = useTempDir('large');

const ids = new ort.Tensor(
  'int64',
  BigInt64Array.from({ length: 3 * 5 }, (_, i) => BigInt((i * 7) % 32)),
  [3, 5],
);

async function pooled(file: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const out = (await s.run({ ids })).pooled.data as Float32Array;
  await s.release();
  return out;
}

function synthetic(name: string, external: boolean): string {
  const file = path.join(tmp(), name);
  writeSyntheticModel(file, { dim: D, layers: 2, vocab: 32, external });
  return file;
}

describe('lazily loaded weights', () => {
  it('stay in the file until saved, and an untouched model saves byte for byte', () => {
    const file = synthetic('m.onnx', false);
    const m = loadModel(file, { lazyBytes: 64 });
    const weights = m.proto.graph!.initializer.filter((t) => t.rawData instanceof FileRange);
    expect(weights.length).toBeGreaterThan(4);
    const out = path.join(tmp(), 'copy.onnx');
    saveModel(m, out);
    expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);
    const fixtureCopy = path.join(tmp(), 'fixture.onnx');
    saveModel(loadModel(FIXTURE_MODEL, { lazyBytes: 16 }), fixtureCopy);
    expect(fs.readFileSync(fixtureCopy).equals(fs.readFileSync(FIXTURE_MODEL))).toBe(true);
  });

  it.each([false, true])('patch, ablate and prune give the same results lazily or not (external data: %s)', async (external) => {
    const file = synthetic('m.onnx', external);
    const direction = Array.from({ length: D }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const results: Float32Array[][] = [];
    for (const lazyBytes of [1 << 30, 64]) {
      const outs: Float32Array[] = [];
      const patched = loadModel(file, { lazyBytes });
      await patchModel(patched, [{ tensor: 'blocks.1.act', directions: [direction], mode: 'suppress' }]);
      const ablated = loadModel(file, { lazyBytes });
      ablateDims(ablated, 'blocks.0.act', [1, 5]);
      const pruned = loadModel(file, { lazyBytes });
      ablateDims(pruned, 'blocks.0.act', [1, 5], { prune: true });
      for (const [name, m] of [
        ['p', patched],
        ['a', ablated],
        ['r', pruned],
      ] as const) {
        const out = path.join(tmp(), `${name}-${lazyBytes}.onnx`);
        const saved = saveModel(m, out);
        expect(Boolean(saved.dataPath)).toBe(external);
        outs.push(await pooled(out));
      }
      results.push(outs);
    }
    const intact = await pooled(file);
    for (let k = 0; k < 3; k++) expect(maxAbsDiff(results[0][k], results[1][k])).toBe(0);
    expect(maxAbsDiff(results[1][1], results[1][2])).toBeLessThan(1e-5); // ablation equals pruning
    expect(maxAbsDiff(results[1][0], intact)).toBeGreaterThan(1e-4); // and they did change the model
    expect(maxAbsDiff(results[1][1], intact)).toBeGreaterThan(1e-4);
  });

  it('a truncated weight region is reported at load, naming the file', () => {
    const file = synthetic('m.onnx', false);
    fs.truncateSync(file, fs.statSync(file).size - 100);
    expect(() => loadModel(file, { lazyBytes: 64 })).toThrow(/m\.onnx: not a valid ONNX model \(truncated or corrupt/);
  });
});

/**
 * Exact ablation through QDQ static quantization (the fixtures in
 * test/fixtures/qdq: weights and int32 biases behind DequantizeLinear, per
 * tensor and per channel, activations through QuantizeLinear/DequantizeLinear
 * pairs). Zeroing a site's channels sets the codes of the affected weight and
 * bias entries to their zero points, which dequantize to exactly 0, and the
 * activation pairs carry the zeros unchanged (Q(0) is the zero point, DQ of it
 * is 0): the model equals the same channels zeroed by an inserted patch, and
 * keeps every initializer's type and shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ablate } from '../../src/api/ablate.js';
import { loadModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { FIXTURE_DIR } from '../helpers/torchFixtures.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';

const DIR = path.join(FIXTURE_DIR, 'qdq');
const ref = JSON.parse(fs.readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  models: Record<
    string,
    { file: string; inputs: Record<string, { shape: number[]; data: number[] }>; output: string; site: { tensor: string; dims: number[] } }
  >;
};

describe('ablation through QDQ weights and activation pairs', () => {
  for (const [name, m] of Object.entries(ref.models)) {
    it(`${name}: equals the site's dims zeroed by an inserted patch, encoding kept`, async () => {
      const file = path.join(DIR, m.file);
      const feeds = Object.fromEntries(Object.entries(m.inputs).map(([k, v]) => [k, f32(v.data, v.shape)]));
      const ablated = loadModel(file);
      const done = ablate(ablated, { tensor: m.site.tensor, dims: m.site.dims });
      expect(
        done.edited.every((t) => /_quantized$/.test(t)),
        done.edited.join(', '),
      ).toBe(true);
      const inserted = loadModel(file);
      patchModel(inserted, [{ tensor: m.site.tensor, mode: 'suppress', dims: m.site.dims, strength: 1 }]);
      const [a, b, intact] = [await run(ablated, feeds), await run(inserted, feeds), await run(loadModel(file), feeds)];
      const out = (r: Record<string, { data: unknown }>) => r[m.output].data as Float32Array;
      expect(maxAbsDiff(out(a), out(b))).toBeLessThan(1e-6);
      expect(maxAbsDiff(out(a), out(intact))).toBeGreaterThan(1e-3);
      const types = (model: ReturnType<typeof loadModel>) => model.proto.graph!.initializer.map((t) => `${t.name} ${t.dataType} ${t.dims.join('x')}`).sort();
      expect(types(ablated)).toEqual(types(loadModel(file)));
    });
  }
});

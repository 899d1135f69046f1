import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/data/npy.js';
import { loadDataset, requiredInputs } from '../../src/data/datasets.js';
import { loadModel } from '../../src/onnx/model.js';
import { collectActivations, rowsFor } from '../../src/probe/activations.js';
import { useTempDir } from '../helpers/tmp.js';

const CNN = new URL('../fixtures/cnn.onnx', import.meta.url).pathname;
const SITE = '/relu1/Relu_output_0';
const tmp = useTempDir('activations');

describe('collectActivations', () => {
  it('--axis 1 on a [batch, C, H, W] map: C features, one row per pixel, or per example averaged over pixels', async () => {
    const expected = JSON.parse(fs.readFileSync(CNN.replace(/\.onnx$/, '.expected.json'), 'utf8'));
    const pixels = expected.inputs.pixels;
    const data = path.join(tmp(), 'pixels.npy');
    fs.writeFileSync(data, encodeNpy('f4', pixels.shape, Float32Array.from(pixels.data)));
    const dataset = loadDataset(data, requiredInputs(loadModel(CNN).proto.graph!));
    const [t] = await collectActivations(CNN, [SITE], dataset, { axis: 1 });
    expect(t.shape).toEqual([4, 8, 16, 16]);
    expect(t.perExample).toBe(256);
    // The hooked activation from PyTorch, [4, 8, 16, 16] row-major.
    const value: number[] = expected.sites.map1_relu.value;
    const at = (n: number, c: number, p: number) => value[(n * 8 + c) * 256 + p];
    expect(t.positions.rows).toBe(4 * 256);
    expect(t.positions.data[(1 * 256 + 37) * 8 + 5]).toBeCloseTo(at(1, 5, 37), 5);
    const { x, rows } = rowsFor(t, 4, 4);
    expect(rows).toBe('example');
    const mean = Array.from({ length: 256 }, (_, p) => at(2, 3, p)).reduce((a, b) => a + b, 0) / 256;
    expect(x.data[2 * 8 + 3]).toBeCloseTo(mean, 5);
    expect(rowsFor(t, 4 * 256, 4).rows).toBe('position');
    expect(() => rowsFor(t, 7, 4)).toThrow(/7 labels, but tensor .* has 4 examples \(or 1024 positions\)/);
  });
});

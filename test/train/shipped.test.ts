import { describe, expect, it } from 'vitest';
import { findAnchor } from '../../src/anchors/manifest.js';
import { NAMED_COLORS } from '../../src/eval/colors.js';
import { loadModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { colorCube } from '../../src/train/data.js';
import { f32, run } from '../helpers/run.js';

const SHIPPED = new URL('../../models/color-red.onnx', import.meta.url).pathname;

function mse(colors: number[][], out: Float32Array): number[] {
  return colors.map((c, i) => c.reduce((s, v, k) => s + (out[3 * i + k] - v) ** 2, 0) / 3);
}

describe('the shipped red-anchored colour model (models/color-red.onnx)', () => {
  it('reconstructs the 8x8x8 cube with mean MSE < 1e-3', async () => {
    const cube = colorCube(8);
    const out = (await run(loadModel(SHIPPED), { input: f32(cube.flat(), [512, 3]) })).output.data as Float32Array;
    const errors = mse(cube, out);
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(1e-3);
  });

  it('records its anchor: red at e0 of bottleneck, dim 0 reserved', () => {
    expect(findAnchor(loadModel(SHIPPED).proto, 'red')).toEqual({ concept: 'red', tensor: 'bottleneck', direction: [1, 0, 0, 0, 0], dims: [0] });
  });

  it('zeroing latent dim 0 singles out red: red MSE > 0.2, green/cyan/blue/gray < 5e-3', async () => {
    const m = loadModel(SHIPPED);
    await patchModel(m, [{ concept: 'red', mode: 'suppress', dims: [0] }]);
    const names = ['red', 'green', 'cyan', 'blue', 'gray'];
    const colors = names.map((n) => NAMED_COLORS[n]);
    const errors = mse(colors, (await run(m, { input: f32(colors.flat(), [colors.length, 3]) })).output.data as Float32Array);
    expect(errors[0]).toBeGreaterThan(0.2);
    for (let i = 1; i < names.length; i++) expect(errors[i], names[i]).toBeLessThan(5e-3);
  });
});

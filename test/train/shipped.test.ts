/**
 * The two shipped paper models, scored as the paper scores them, in
 * onnxruntime after the toolkit's own rewrites: the anchored model by
 * inserted suppression (p = 2), the isolated model by weight ablation (p = 3).
 * Bounds sit just under what the best of seeds 0-59 reaches here (0.981 and
 * 0.976; the paper's best of its 60 seeds: 0.991 and 0.985).
 */
import { describe, expect, it } from 'vitest';
import { findAnchor, readAnchors } from '../../src/anchors/manifest.js';
import { colorCube, hsvSimilarity, NAMED_COLORS, selectivity } from '../../src/domains/color/palette.js';
import { loadModel, type Model } from '../../src/onnx/model.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { f32, run } from '../helpers/run.js';

const ANCHORED = new URL('../../models/color-anchored.onnx', import.meta.url).pathname;
const ISOLATED = new URL('../../models/color-isolated.onnx', import.meta.url).pathname;

async function mses(m: Model, colors: number[][]): Promise<number[]> {
  const out = (await run(m, { input: f32(colors.flat(), [colors.length, 3]) })).output.data as Float32Array;
  return colors.map((c, i) => c.reduce((s, v, k) => s + (out[3 * i + k] - v) ** 2, 0) / 3);
}

const names = Object.keys(NAMED_COLORS);
const named = names.map((n) => NAMED_COLORS[n]);
/** Hues 90 degrees or more from red, and every grey: similarity 0. */
const offTarget = names.filter((n) => hsvSimilarity(NAMED_COLORS[n]) === 0 && n !== 'lime' && n !== 'purple');

describe.each([
  { file: ANCHORED, preset: 'anchored', latent: 4, intervention: 'suppression', minScore: 0.975, red: [0.2, 0.4] },
  { file: ISOLATED, preset: 'isolated', latent: 5, intervention: 'ablation', minScore: 0.97, red: [0.2, 0.4] },
] as const)('the shipped $preset model ($intervention)', ({ file, preset, latent, intervention, minScore, red }) => {
  const patched = async () => {
    const m = loadModel(file);
    if (intervention === 'suppression') await patchModel(m, [{ concept: 'red', mode: 'suppress' }]);
    else ablateDims(m, 'bottleneck', [0], { concept: 'red' });
    return m;
  };

  it('records its anchor and how it was trained (best of 60 seeds of its preset)', () => {
    const m = loadModel(file);
    expect(findAnchor(m.proto, 'red')).toMatchObject({ tensor: 'bottleneck', direction: Array.from({ length: latent }, (_, i) => (i === 0 ? 1 : 0)) });
    if (preset === 'isolated') expect(readAnchors(m.proto)).toEqual([{ concept: 'red', tensor: 'bottleneck', direction: [1, 0, 0, 0, 0], dims: [0] }]);
    const record = JSON.parse(m.proto.metadataProps.find((p) => p.key === 'sca.training')!.value!);
    expect(record).toMatchObject({ preset, latent, hidden: 16, steps: 1501, seeds: 60 });
  });

  it('reconstructs the 8x8x8 cube with mean MSE < 1e-3', async () => {
    const cube = colorCube(8);
    const errors = await mses(loadModel(file), cube);
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(1e-3);
  });

  it(`${intervention} removes red (MSE in [${red}]), leaves far hues and greys within 5e-3, selectivity >= ${minScore}`, async () => {
    const m = await patched();
    const before = await mses(loadModel(file), named);
    const after = await mses(m, named);
    expect(after[names.indexOf('red')]).toBeGreaterThan(red[0]);
    expect(after[names.indexOf('red')]).toBeLessThan(red[1]);
    for (const n of offTarget) expect(after[names.indexOf(n)] - before[names.indexOf(n)], n).toBeLessThan(5e-3);
    const cube = colorCube(8);
    expect(selectivity(cube, await mses(m, cube), intervention === 'suppression' ? 2 : 3)).toBeGreaterThanOrEqual(minScore);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareModels } from '../../src/eval/compare.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { saveModel } from '../../src/onnx/model.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { FIXTURE_LATENT, FIXTURE_MODEL, fixtureExpected } from '../helpers/fixture.js';
import { model, node, weight } from '../helpers/graphs.js';
import { loadModel } from '../../src/onnx/model.js';
import { encodeNpy } from '../../src/data/npy.js';
import { kl, softmax } from '../../src/eval/metrics.js';
import { useTempDir } from '../helpers/tmp.js';
import { tensorFloats } from '../../src/onnx/tensor.js';
import { colorCube } from '../../src/domains/color/palette.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { colorForward } from '../helpers/colorReference.js';
import { sca } from '../helpers/cli.js';

/** SCA.md's similarity to red, from colorsys's rgb_to_hsv steps: h in turns, s = (max - min)/max, v = max. */
function referenceSimilarity([r, g, b]: number[]): number {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  if (maxc === minc) return 0; // a grey: s = 0, so (1 - |s - 1|) = 0
  const s = (maxc - minc) / maxc;
  const v = maxc;
  const [rc, gc, bc] = [(maxc - r) / (maxc - minc), (maxc - g) / (maxc - minc), (maxc - b) / (maxc - minc)];
  let h = r === maxc ? bc - gc : g === maxc ? 2 + rc - bc : 4 + gc - rc;
  h = (((h / 6) % 1) + 1) % 1;
  const d = 360 * Math.min(h, 1 - h);
  const rad = (s * v + 1) / 2;
  return (rad * Math.max(0, (90 - d) / 90) + 1 - rad) * (1 - Math.abs(s - 1)) * (1 - Math.abs(v - 1));
}

function squaredCorrelation(xs: number[], ys: number[]): number {
  const n = xs.length;
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  const num = (n * sum(xs.map((x, i) => x * ys[i])) - sum(xs) * sum(ys)) ** 2;
  return num / ((n * sum(xs.map((x) => x * x)) - sum(xs) ** 2) * (n * sum(ys.map((y) => y * y)) - sum(ys) ** 2));
}

const SHIPPED = new URL('../../models/color-isolated.onnx', import.meta.url).pathname;
const ANCHORED = new URL('../../models/color-anchored.onnx', import.meta.url).pathname;
const tmp = useTempDir('compare');

describe('sca compare', () => {
  it('a model compared with itself: zero differences, selectivity undefined (null in JSON, not NaN)', async () => {
    const { result } = await compareModels(SHIPPED, SHIPPED, { data: 'color-cube' });
    expect(result.outputs[0]).toMatchObject({ name: 'output', mse: 0, maxAbs: 0, cosine: 1 });
    expect(result.color!.named.every((r) => r.changeMse === 0)).toBe(true);
    expect(result.color!.selectivity).toBeNull();
    expect(JSON.stringify(result)).toContain('"selectivity":null');
    expect(JSON.stringify(result)).not.toContain('NaN');
  });

  it("matches an independent computation from PyTorch's reference outputs", async () => {
    const expected = fixtureExpected();
    const patched = loadModel(FIXTURE_MODEL);
    await patchModel(patched, [{ tensor: FIXTURE_LATENT, mode: 'suppress', directions: [[1, 0, 0, 0, 0]] }]);
    const file = path.join(tmp(), 'suppressed.onnx');
    saveModel(patched, file);
    const { result } = await compareModels(FIXTURE_MODEL, file, { data: 'color-cube:8', batchSize: 100 });
    const perSample = expected.intact.map((row, i) => row.reduce((s, v, k) => s + (v - expected.suppressed[i][k]) ** 2, 0) / 3);
    const reference = perSample.reduce((a, b) => a + b, 0) / perSample.length;
    expect(result.outputs[0].mse).toBeCloseTo(reference, 8);
    const maxAbs = Math.max(...expected.intact.flatMap((row, i) => row.map((v, k) => Math.abs(v - expected.suppressed[i][k]))));
    expect(result.outputs[0].maxAbs).toBeCloseTo(maxAbs, 5);
  });

  it('has the documented JSON shape', async () => {
    const { result } = await compareModels(SHIPPED, SHIPPED, { data: 'color-cube:3', taps: ['bottleneck'] });
    const json = JSON.parse(JSON.stringify(result));
    expect(Object.keys(json)).toEqual(['schemaVersion', 'intact', 'patched', 'data', 'device', 'outputs', 'groups', 'color', 'taps', 'timing']);
    expect(json.schemaVersion).toBe(1);
    expect(json.data).toEqual({ name: 'color-cube:3', samples: 27 });
    expect(Object.keys(json.outputs[0])).toEqual(['name', 'mse', 'maxAbs', 'cosine']);
    expect(Object.keys(json.groups[0])).toEqual(['group', 'samples', 'outputs']);
    expect(Object.keys(json.color)).toEqual(['anchor', 'selectivity', 'power', 'powerFrom', 'grid', 'named']);
    expect(Object.keys(json.color.named[0])).toEqual(['name', 'rgb', 'intactMse', 'patchedMse', 'ratio', 'changeMse']);
    expect(Object.keys(json.taps[0])).toEqual(['tensor', 'change', 'cosine', 'purity']);
    expect(Object.keys(json.taps[0].cosine)).toEqual(['concept', 'bins', 'intact', 'patched']);
    expect(Object.keys(json.timing)).toEqual(['seconds', 'samplesPerSecond']);
  });

  it("selectivity is the paper's: r^2 of MSE vs HSV similarity^p over the 8^3 grid, p = 3 for ablation, 2 for suppression", async () => {
    const ablated = loadModel(SHIPPED);
    ablateDims(ablated, 'bottleneck', [0], { concept: 'red' });
    const file = path.join(tmp(), 'ablated.onnx');
    saveModel(ablated, file);
    // Independent: a plain-TypeScript forward pass of the ablated weights, colorsys-style HSV written out here, r^2 from sums.
    const cube = colorCube(8);
    const out = colorForward(loadModel(SHIPPED), cube, [0]);
    const mses = cube.map((c, i) => c.reduce((s, v, k) => s + (out[i][k] - v) ** 2, 0) / 3);
    const score = (p: number) => {
      const xs = cube.map((c) => referenceSimilarity(c) ** p);
      return squaredCorrelation(xs, mses);
    };
    const { result } = await compareModels(SHIPPED, file, { data: 'color-cube:4' });
    expect(result.color!.power).toBe(3);
    expect(result.color!.powerFrom).toBe('ablation');
    expect(result.color!.grid).toBe(8);
    expect(result.color!.selectivity!).toBeCloseTo(score(3), 4);
    const p2 = await compareModels(SHIPPED, file, { data: 'color-cube:4', selectivityPower: 2 });
    expect(p2.result.color!).toMatchObject({ power: 2, powerFrom: 'option' });
    expect(p2.result.color!.selectivity!).toBeCloseTo(score(2), 4);
    const grid20 = await compareModels(SHIPPED, file, { data: 'color-cube:4', selectivityGrid: 20 });
    expect(grid20.result.color!.grid).toBe(20);
    expect(grid20.result.color!.selectivity).not.toBe(result.color!.selectivity);

    const suppressed = loadModel(ANCHORED);
    await patchModel(suppressed, [{ concept: 'red', mode: 'suppress' }]);
    const sfile = path.join(tmp(), 'suppressed.onnx');
    saveModel(suppressed, sfile);
    expect((await compareModels(ANCHORED, sfile, { data: 'color-cube:2' })).result.color).toMatchObject({ power: 2, powerFrom: 'suppression' });
  });

  it('sca compare --grid and --power reach the colour analysis; bad values exit 2', async () => {
    const r = await sca('compare', SHIPPED, SHIPPED, '--data', 'color-cube:2', '--grid', '20', '--power', '2.5', '--json', '-');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).color).toMatchObject({ grid: 20, power: 2.5, powerFrom: 'option', selectivity: null });
    const bad = await sca('compare', SHIPPED, SHIPPED, '--power', '0');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("sca: --power: '0' must be above 0\n");
  });

  it("taps the anchored tensor: suppression moves every sample out of the anchor's half-space", async () => {
    const patched = loadModel(SHIPPED);
    await patchModel(patched, [{ concept: 'red', mode: 'suppress' }]);
    const file = path.join(tmp(), 'p.onnx');
    saveModel(patched, file);
    const { result } = await compareModels(SHIPPED, file, { data: 'color-cube', taps: ['bottleneck'] });
    const tap = result.taps[0];
    expect(tap.cosine!.intact.reduce((a, b) => a + b, 0)).toBe(512);
    expect(tap.cosine!.intact.slice(11).some((c) => c > 0)).toBe(true);
    expect(tap.cosine!.patched.slice(11).every((c) => c === 0)).toBe(true);
  });

  it('classifier outputs: KL divergence and top-1 agreement, per group', async () => {
    const clf = () =>
      model({
        node: [node('MatMul', ['x', 'w'], ['logits'])],
        initializer: [weight('w', [4, 3], 7)],
        input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
        output: [makeValueInfo('logits', DataType.FLOAT, ['N', 3])],
      });
    const a = path.join(tmp(), 'a.onnx');
    const b = path.join(tmp(), 'b.onnx');
    saveModel(clf(), a);
    const patched = clf();
    await patchModel(patched, [{ tensor: 'logits', mode: 'steer', dims: [0], strength: 2 }]);
    saveModel(patched, b);
    const x = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
    fs.writeFileSync(path.join(tmp(), 'x.npy'), encodeNpy('f4', [10, 4], x));
    fs.writeFileSync(path.join(tmp(), 'g.json'), JSON.stringify({ first: [0, 1, 2, 3, 4], second: [5, 6, 7, 8, 9] }));
    const { result, detail } = await compareModels(a, b, { data: path.join(tmp(), 'x.npy'), classifier: true, groups: path.join(tmp(), 'g.json') });
    // Independent: logits of the intact model from the weight, then the same steer by hand.
    const w = Array.from(tensorFloats(clf().proto.graph!.initializer[0], '/'));
    const logits = Array.from({ length: 10 }, (_, n) => [0, 1, 2].map((j) => [0, 1, 2, 3].reduce((s, k) => s + x[n * 4 + k] * w[k * 3 + j], 0)));
    const klRef = logits.map((l) => kl(softmax(l), softmax([l[0] + 2, l[1], l[2]])));
    expect(result.outputs[0].kl).toBeCloseTo(klRef.reduce((s, v) => s + v, 0) / 10, 5);
    expect(result.outputs[0].top1).toBeGreaterThan(0);
    expect(result.outputs[0].top1).toBeLessThanOrEqual(1);
    expect(result.groups.map((g) => [g.group, g.samples])).toEqual([
      ['first', 5],
      ['second', 5],
    ]);
    expect(result.groups[0].outputs[0].kl).toBeCloseTo(klRef.slice(0, 5).reduce((s, v) => s + v, 0) / 5, 5);
    expect(detail.perSample.logits.kl).toHaveLength(10);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { readAnchors } from '../../src/anchors/manifest.js';
import { PAPER_ARCHITECTURE } from '../../src/train/autoencoder.js';
import { colorCube, redLabelProbability, redness, sampleBatch } from '../../src/train/data.js';
import { useBackend } from '../../src/train/engine.js';
import { buildColorOnnx, checkExport, LATENT_TENSOR } from '../../src/train/export.js';
import { Random } from '../../src/train/random.js';
import { PAPER_LEARNING_RATE, PAPER_WEIGHTS, scheduleValue } from '../../src/train/schedule.js';
import { trainColor } from '../../src/train/trainer.js';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('schedules', () => {
  it('interpolates keyframes linearly and steps where two share a position', () => {
    const keys: [number, number][] = [[0, 0], [0.5, 1], [1, 0]];
    expect([0, 2, 5, 10].map((s) => scheduleValue(keys, s, 11))).toEqual([0, expect.closeTo(0.4, 9), 1, 0]);
    expect(scheduleValue(PAPER_WEIGHTS.anchor, 1348, 1500)).toBeCloseTo(0.12, 3);
    expect(scheduleValue(PAPER_WEIGHTS.anchor, 1351, 1500)).toBe(0);
  });

  it('follows the paper\'s learning rate', () => {
    expect(scheduleValue(PAPER_LEARNING_RATE, 0, 1500)).toBe(1e-8);
    expect(scheduleValue(PAPER_LEARNING_RATE, 10, 1500)).toBeCloseTo(0.01, 4);
    expect(scheduleValue(PAPER_LEARNING_RATE, 750, 1500)).toBeCloseTo(0.1, 3);
    expect(scheduleValue(PAPER_LEARNING_RATE, 1499, 1500)).toBeCloseTo(0.05, 6);
  });
});

describe('data and rare labels', () => {
  it('redness and label probability', () => {
    expect(redness([1, 0, 0])).toBe(1);
    expect(redness([1, 1, 1])).toBe(0);
    expect(redLabelProbability([1, 0, 0])).toBeCloseTo(0.08, 12);
    expect(redLabelProbability([0.5, 0, 0])).toBeCloseTo(0.08 / 256, 12);
  });

  it('labels pure red about 8% of the time, and the cube about 0.09%', () => {
    const random = new Random(1);
    const red = sampleBatch([[1, 0, 0]], 100_000, random);
    expect(red.labels.reduce((a, b) => a + b, 0) / 100_000).toBeCloseTo(0.08, 2);
    const cube = colorCube(8);
    const expected = cube.reduce((s, c) => s + redLabelProbability(c), 0) / cube.length;
    expect(expected).toBeGreaterThan(0.0008);
    expect(expected).toBeLessThan(0.001);
  });

  it('samples the cube with both ends and validates at cell centres', () => {
    expect(colorCube(8)).toHaveLength(512);
    expect(colorCube(8)[511]).toEqual([1, 1, 1]);
    expect(colorCube(8, true)[0]).toEqual([1 / 16, 1 / 16, 1 / 16]);
  });
});

describe('training and export', () => {
  it('a fixed seed gives the same weights; another seed does not', async () => {
    const a = await trainColor({ seed: 3, steps: 20 });
    const b = await trainColor({ seed: 3, steps: 20 });
    const c = await trainColor({ seed: 4, steps: 20 });
    const w = (r: typeof a) => Array.from(r.model.decoder[0].weight.dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
  });

  it('reports loss terms and the labelled fraction', async () => {
    const seen: Record<string, number>[] = [];
    const r = await trainColor({ seed: 1, steps: 60, onProgress: (_s, l) => seen.push(l) });
    expect(Object.keys(seen[0])).toEqual(['recon', 'anchor', 'separate', 'antiSubspace']);
    expect(r.draws).toBe(60 * 64);
    expect(r.labelledFraction).toBe(r.labelled / r.draws);
  });

  it('exports ONNX that onnxruntime runs as tfjs did, with named tensors and the anchor manifest', async () => {
    const r = await trainColor({ seed: 2, steps: 40, architecture: { ...PAPER_ARCHITECTURE, latent: 4, hidden: 12 } });
    const m = buildColorOnnx(r.model);
    expect(await checkExport(r.model, m)).toBeLessThan(1e-5);
    const g = m.proto.graph!;
    expect(g.input[0].name).toBe('input');
    expect(g.output[0].name).toBe('output');
    expect(g.node.some((n) => n.output.includes(LATENT_TENSOR))).toBe(true);
    expect(readAnchors(m.proto)).toEqual([{ concept: 'red', tensor: 'bottleneck', direction: [1, 0, 0, 0], dims: [0] }]);
  });
});

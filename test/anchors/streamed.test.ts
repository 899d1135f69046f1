/**
 * Anchors and probes from streamed activations: `anchor --from-data` fits
 * from float64 moments fed batch by batch and gives what the in-memory fit
 * of all the rows gives, per example or per position; the probe keeps a
 * seeded, bounded sample of rows, says so in its output, and takes the same
 * rows from the intact and the patched model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/domains/index.js';
import { encodeNpy } from '../../src/data/npy.js';
import { labelsFrom } from '../../src/data/labels.js';
import { Random } from '../../src/maths/random.js';
import { useTempDir } from '../helpers/tmp.js';
import { fitLeace, meanDifference } from '../../src/anchors/fromData.js';
import { loadDataset, requiredInputs } from '../../src/data/datasets.js';
import { rednessLabels } from '../../src/data/labels.js';
import { loadModel } from '../../src/onnx/model.js';
import { chooseRows, collectActivations, rowsFor, sampleActivations } from '../../src/probe/activations.js';
import { fitConceptFromData } from '../../src/probe/fit.js';
import { probeModels } from '../../src/probe/run.js';
import { COLOR_DECODER_HIDDEN, COLOR_LATENT, COLOR_MODEL } from '../helpers/colorModel.js';

const GPT2 = new URL('../fixtures/gpt2_op14.onnx', import.meta.url).pathname;
const RESIDUAL = '/blocks.0/Add_1_output_0';
const tmp = useTempDir('streamed');
const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

function eraserMatrixDistance(a: { left: number[][]; right: number[][] }, b: { left: number[][]; right: number[][] }): number {
  const d = a.left[0].length;
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      const ea = a.left.reduce((s, l, r) => s + l[i] * a.right[r][j], 0);
      const eb = b.left.reduce((s, l, r) => s + l[i] * b.right[r][j], 0);
      worst = Math.max(worst, Math.abs(ea - eb));
      scale = Math.max(scale, Math.abs(eb));
    }
  return worst / scale;
}

describe('anchor --from-data, streamed', () => {
  const dataset = loadDataset('color-cube:12', requiredInputs(loadModel(COLOR_MODEL).proto.graph!));
  const labels = rednessLabels(dataset.colors!);

  for (const tensor of [COLOR_LATENT, COLOR_DECODER_HIDDEN]) {
    it(`${tensor}: LEACE and mean-diff from batches of 50 match the fit of every row at once`, async () => {
      const [t] = await collectActivations(COLOR_MODEL, [tensor], dataset);
      const { x } = rowsFor(t, labels.values.length, dataset.samples);
      const leace = await fitConceptFromData(COLOR_MODEL, tensor, dataset, labels, 'leace', { batchSize: 50 });
      expect(leace.samples).toBe(dataset.samples);
      expect(leace.rows).toBe('example');
      expect(eraserMatrixDistance(leace.eraser!, fitLeace(x, labels.values, 2))).toBeLessThan(1e-9);
      const md = await fitConceptFromData(COLOR_MODEL, tensor, dataset, labels, 'mean-diff', { batchSize: 50 });
      const direct = meanDifference(x, labels.values, 2);
      expect(maxAbs(md.direction!.map((v, j) => v - direct[j]))).toBeLessThan(1e-12);
    });
  }

  it('a decoder residual stream [batch, seq, D], per position and per example (positions averaged), from batches of 7', async () => {
    const [n, seq] = [60, 8];
    const r = new Random(4);
    const ids = BigInt64Array.from({ length: n * seq }, () => BigInt(r.int(64)));
    const file = path.join(tmp(), 'ids.npy');
    fs.writeFileSync(file, encodeNpy('i8', [n, seq], ids));
    const ds = loadDataset(file, requiredInputs(loadModel(GPT2).proto.graph!));
    const [t] = await collectActivations(GPT2, [RESIDUAL], ds);
    const position = labelsFrom(
      Array.from(ids, (v) => (Number(v) % 3 === 0 ? 1 : 0)),
      'test',
    );
    const example = labelsFrom(
      Array.from({ length: n }, (_, i) => (ids[i * seq] % 2n === 0n ? 1 : 0)),
      'test',
    );
    for (const [labels, rows] of [
      [position, 'position'],
      [example, 'example'],
    ] as const) {
      const fit = await fitConceptFromData(GPT2, RESIDUAL, ds, labels, 'leace', { batchSize: 7 });
      expect(fit.rows).toBe(rows);
      const { x } = rowsFor(t, labels.values.length, ds.samples);
      expect(fit.samples).toBe(x.rows);
      expect(eraserMatrixDistance(fit.eraser!, fitLeace(x, labels.values, 2))).toBeLessThan(1e-9);
    }
  });

  it('refuses a feature axis other than the last', async () => {
    const file = path.join(tmp(), 'ids.npy');
    fs.writeFileSync(file, encodeNpy('i8', [4, 8], new BigInt64Array(32).fill(1n)));
    const ds = loadDataset(file, requiredInputs(loadModel(GPT2).proto.graph!));
    const labels = labelsFrom([0, 1, 0, 1], 'test');
    await expect(fitConceptFromData(GPT2, RESIDUAL, ds, labels, 'leace', { axis: 1, lastAxis: true })).rejects.toThrow(
      /anchors act on a tensor's last axis \(axis 2/,
    );
  });
});

describe('the probe, bounded', () => {
  it('chooses k distinct rows, sorted, the same for a seed', () => {
    const rows = chooseRows(1000, 100, 3);
    expect(rows.length).toBe(100);
    expect(new Set(rows).size).toBe(100);
    expect([...rows]).toEqual([...rows].sort((a, b) => a - b));
    expect(rows[99]).toBeLessThan(1000);
    expect([...chooseRows(1000, 100, 3)]).toEqual([...rows]);
    expect([...chooseRows(1000, 100, 4)]).not.toEqual([...rows]);
  });

  it('keeps a seeded sample past maxRows, the same rows for intact and patched, and says so', async () => {
    const dataset = loadDataset('color-cube:8', requiredInputs(loadModel(COLOR_MODEL).proto.graph!));
    const labels = rednessLabels(dataset.colors!);
    const [all] = await sampleActivations(COLOR_MODEL, [COLOR_LATENT], dataset, labels.values, { batchSize: 37 });
    expect(all.sample).toBeNull();
    expect(all.x.rows).toBe(512);
    const [some] = await sampleActivations(COLOR_MODEL, [COLOR_LATENT], dataset, labels.values, { batchSize: 37, maxRows: 200, seed: 5 });
    expect(some.sample).toEqual({ rows: 200, of: 512, seed: 5 });
    const chosen = chooseRows(512, 200, 5);
    const w = all.x.width;
    chosen.forEach((r, k) => {
      expect(some.labels[k]).toBe(labels.values[r]);
      expect(Array.from(some.x.data.subarray(k * w, (k + 1) * w))).toEqual(Array.from(all.x.data.subarray(r * w, (r + 1) * w)));
    });
    const report = await probeModels({
      model: COLOR_MODEL,
      patched: COLOR_MODEL,
      tensors: [COLOR_LATENT],
      data: 'color-cube:8',
      labels: 'redness',
      maxRows: 200,
    });
    const t = report.tensors[0];
    expect(t.sample).toEqual({ rows: 200, of: 512, seed: 0 });
    expect(t.intact.samples).toBe(200);
    expect(t.patched!.accuracy).toEqual(t.intact.accuracy);
    expect((await probeModels({ model: COLOR_MODEL, tensors: [COLOR_LATENT], data: 'color-cube:8', labels: 'redness' })).tensors[0].sample).toBeNull();
  });
});

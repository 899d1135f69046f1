/**
 * The trainer against PyTorch: test/fixtures/train_parity.json holds, for
 * each preset, torch.nn.Linear-initialised weights, a batch of 64 draws (with
 * duplicates and red/vibrant labels), every loss term, the total, autograd's
 * gradient and the weights after a few torch.optim.Adam steps with the
 * learning rate set from the schedule, all computed in float64 by
 * scripts/train_reference.py (written from SCA.md, not from this code).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/domains/color/demo.js';
import { saveModel } from '../../src/onnx/model.js';
import { Adam } from '../../src/train/adam.js';
import { anchorsFor } from '../../src/train/color.js';
import { evaluateSeed, interventionSelectivity } from '../../src/train/evaluate.js';
import { buildColorOnnx } from '../../src/train/export.js';
import { network, type Network } from '../../src/train/network.js';
import { PRESETS, type PresetName, type TermName } from '../../src/train/presets.js';
import { scheduleValue } from '../../src/train/schedule.js';
import { lossAndGradient, resolveConfig } from '../../src/train/trainer.js';
import { useTempDir } from '../helpers/tmp.js';

interface TorchLayer {
  weight: number[][];
  bias: number[];
}

interface Case {
  name: string;
  preset: PresetName;
  step: number;
  fallback: number;
  peakLr?: number;
  adamSteps: number;
  weights: TorchLayer[];
  x: number[][];
  red: number[];
  vibrant: number[];
  expected: {
    weightsAtStep: Record<string, number>;
    terms: Record<string, number>;
    loss: number;
    grads: TorchLayer[];
    afterAdam: TorchLayer[];
  };
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/train_parity.json', import.meta.url), 'utf8')) as { cases: Case[] };

/** PyTorch's term names to the trainer's. */
const TERM: Record<string, TermName | 'fallback' | 'recon'> = {
  recon: 'recon',
  separate: 'separate',
  anchor: 'anchor',
  'anti-anchor': 'antiAnchor',
  'anti-subspace': 'antiSubspace',
  subspace: 'subspace',
  fallback: 'fallback',
};

/** torch layers (weight [out, in]) to the trainer's vector (weight [in, out] then bias, layer by layer). */
function toParams(net: Network, layers: TorchLayer[]): Float64Array {
  const p = new Float64Array(net.size);
  const all = [...net.encoder, ...net.decoder];
  expect(layers.length).toBe(all.length);
  all.forEach((l, li) => {
    for (let o = 0; o < l.outDim; o++) {
      for (let i = 0; i < l.inDim; i++) p[l.weight + i * l.outDim + o] = layers[li].weight[o][i];
      p[l.bias + o] = layers[li].bias[o];
    }
  });
  return p;
}

function expectClose(ours: Float64Array, theirs: Float64Array, tolerance: number, what: string) {
  const scale = Math.max(...Array.from(theirs, Math.abs));
  for (let i = 0; i < theirs.length; i++) expect(Math.abs(ours[i] - theirs[i]), `${what} ${i}`).toBeLessThan(tolerance * scale);
}

describe('the trainer against PyTorch (float64 autograd, torch.optim.Adam)', () => {
  it.each(fixture.cases.map((c) => [c.name, c] as const))('%s: schedule, every loss term, the gradient and Adam steps agree', (_, c) => {
    const { preset, learningRate } = resolveConfig({ preset: c.preset, peakLr: c.peakLr });
    const net = network(preset.architecture);
    const names = Object.keys(preset.weights) as TermName[];
    const weightsAt = (step: number) => Object.fromEntries(names.map((n) => [n, scheduleValue(preset.weights[n]!, step)]));
    const batch = { colors: Float64Array.from(c.x.flat()), red: Float64Array.from(c.red), vibrant: Float64Array.from(c.vibrant) };

    // The schedules at the probed step, term by term, and the learning rate.
    const w = weightsAt(c.step);
    for (const [name, value] of Object.entries(c.expected.weightsAtStep)) {
      const ours = name === 'lr' ? scheduleValue(learningRate, c.step) : w[TERM[name] as TermName];
      expect(ours, name).toBeCloseTo(value, 14);
    }

    // Every term PyTorch computed, and the total.
    const params = toParams(net, c.weights);
    const { losses, grads } = lossAndGradient(net, params, batch, w, c.fallback);
    for (const [name, value] of Object.entries(c.expected.terms)) {
      const ours = losses[TERM[name]] ?? 0;
      expect(Math.abs(ours - value), name).toBeLessThan(1e-12 * Math.max(1, Math.abs(value)));
    }
    expect(losses.total).toBeCloseTo(c.expected.loss, 12);
    expectClose(grads, toParams(net, c.expected.grads), 1e-10, 'gradient');

    // Adam from fresh moments, one step per schedule step, on the same batch.
    const adam = new Adam(params.length);
    for (let i = 0; i < c.adamSteps; i++) {
      const step = c.step + i;
      adam.step(params, lossAndGradient(net, params, batch, weightsAt(step), c.fallback).grads, scheduleValue(learningRate, step));
    }
    expectClose(params, toParams(net, c.expected.afterAdam), 1e-9, 'weight after Adam');
  });
});

interface EvalCase {
  preset: 'anchored' | 'isolated';
  seed: number;
  weights: TorchLayer[];
  expected: {
    selectivity: { suppression: number; ablation: number };
    selectivity20: { suppression: number; ablation: number };
    valRecon: number;
    named: Record<string, { baseline: number; ablation: number; suppression: number }>;
  };
}

const evalFixture = JSON.parse(readFileSync(new URL('../fixtures/train_parity_eval.json', import.meta.url), 'utf8')) as { cases: EvalCase[] };

/** PyTorch's names of the 17 colours (hues every 30 degrees, then greys by value) to the toolkit's. */
const NAMES: Record<string, string> = {
  'grey0.0': 'black',
  'grey0.25': 'dark gray',
  'grey0.5': 'gray',
  'grey0.75': 'light gray',
  'grey1.0': 'white',
};

describe('scoring a PyTorch-trained model as PyTorch scores it', () => {
  const tmp = useTempDir('reference');

  it.each(evalFixture.cases.map((c) => [c.preset, c] as const))('%s: selectivity (8^3 and 20^3), validation recon and the 17-colour deltas agree', (_, c) => {
    const net = network(PRESETS[c.preset].architecture);
    const params = toParams(net, c.weights);
    const q = evaluateSeed(net, params, PRESETS[c.preset]);
    expect(q.suppression).toBeCloseTo(c.expected.selectivity.suppression, 10);
    expect(q.ablation).toBeCloseTo(c.expected.selectivity.ablation, 10);
    expect(interventionSelectivity(net, params, 'suppression', 20)).toBeCloseTo(c.expected.selectivity20.suppression, 10);
    expect(interventionSelectivity(net, params, 'ablation', 20)).toBeCloseTo(c.expected.selectivity20.ablation, 10);
    expect(q.valRecon).toBeCloseTo(c.expected.valRecon, 12);
    for (const [name, e] of Object.entries(c.expected.named)) {
      const row = q.named.find((r) => r.name === (NAMES[name] ?? name))!;
      expect(row.baseline, name).toBeCloseTo(e.baseline, 10);
      expect(row.suppression - row.baseline, name).toBeCloseTo(e.suppression, 10);
      expect(row.ablation - row.baseline, name).toBeCloseTo(e.ablation, 10);
    }
  });

  it('exported to ONNX, patched and compared by sca demo (inserted suppression, zeroed weights): the same scores and red deltas', async () => {
    const models: Record<string, string> = {};
    for (const c of evalFixture.cases) {
      const net = network(PRESETS[c.preset].architecture);
      models[c.preset] = path.join(tmp(), `${c.preset}.onnx`);
      saveModel(buildColorOnnx(net, toParams(net, c.weights), anchorsFor({ preset: c.preset })), models[c.preset]);
    }
    const demo = await runDemo(path.join(tmp(), 'demo'), { models });
    const expected = (preset: string) => evalFixture.cases.find((c) => c.preset === preset)!.expected;
    // onnxruntime runs float32: agreement to float32 precision.
    expect(demo.suppressed.comparison.result.color!.selectivity).toBeCloseTo(expected('anchored').selectivity.suppression, 4);
    expect(demo.ablated.comparison.result.color!.selectivity).toBeCloseTo(expected('isolated').selectivity.ablation, 4);
    for (const row of demo.table) {
      const name = Object.keys(NAMES).find((n) => NAMES[n] === row.name) ?? row.name;
      expect(row.suppression.delta, row.name).toBeCloseTo(expected('anchored').named[name].suppression, 4);
      expect(row.ablation.delta, row.name).toBeCloseTo(expected('isolated').named[name].ablation, 4);
    }
  });
});

/**
 * The trainer against PyTorch: test/fixtures/train_parity.json holds, for
 * each preset, torch.nn.Linear-initialised weights, a batch of 64 draws (with
 * duplicates and red/vibrant labels), every loss term, the total, autograd's
 * gradient and the weights after a few torch.optim.Adam steps with the
 * learning rate set from the schedule, all computed in float64 by
 * scripts/train_reference.py (written from SCA.md, not from this code).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Adam } from '../../src/train/adam.js';
import { network, type Network } from '../../src/train/network.js';
import type { PresetName, TermName } from '../../src/train/presets.js';
import { scheduleValue } from '../../src/train/schedule.js';
import { lossAndGradient, resolveConfig } from '../../src/train/trainer.js';

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

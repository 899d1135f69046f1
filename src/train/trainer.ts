/**
 * One seed of Sparse Concept Anchoring training of the colour autoencoder,
 * as the authors' code runs it (SCA.md): L = mean MSE over batch x 3 plus
 * sum_k w_k(t) T_k on the normalised latent, the weights and the learning
 * rate set every step from minimum-jerk schedules, Adam, batches of 64 drawn
 * with replacement from the 8x8x8 grid with labels drawn afresh.
 */
import { Adam } from './adam.js';
import { colorCube, sampleBatch } from './data.js';
import {
  backwardStack,
  forwardStack,
  initialParameters,
  network,
  normalizeBackward,
  normalizeRows,
  type Architecture,
  type Network,
  type StackCache,
} from './network.js';
import { PRESETS, VIBRANT_DIMS, withPeakLearningRate, type Preset, type PresetName, type TermName } from './presets.js';
import { Random } from '../maths/random.js';
import { anchor } from './regularizers/anchor.js';
import { antiAnchor } from './regularizers/antiAnchor.js';
import { separate } from './regularizers/separate.js';
import { antiSubspace, subspace } from './regularizers/subspace.js';
import type { Regularizer } from './regularizers/term.js';
import { scheduleValue, type Keyframes } from './schedule.js';

export interface TrainConfig {
  preset: PresetName;
  /** Override the preset's step count (tests, quick looks). */
  steps?: number;
  /** Override the preset's K, N or H. */
  architecture?: Partial<Architecture>;
  /** The follow-up's change: plateau learning rate (the paper's is 0.1). */
  peakLr?: number;
  /** The follow-up's decoder-only term: weight * MSE(decoder(-a), mid-grey); 0 or absent for off. */
  fallback?: number;
}

/** The concept every preset anchors: red at e0, dim 0 reserved. */
export const RED_ANCHOR = { concept: 'red', dims: [0] } as const;

export function anchorDirection(latent: number): number[] {
  return Array.from({ length: latent }, (_, i) => (i === 0 ? 1 : 0));
}

export interface ResolvedConfig {
  preset: Preset;
  steps: number;
  learningRate: Keyframes;
  fallback: number;
}

export function resolveConfig(config: TrainConfig): ResolvedConfig {
  const base = PRESETS[config.preset];
  const preset = config.architecture ? { ...base, architecture: { ...base.architecture, ...config.architecture } } : base;
  return {
    preset,
    steps: config.steps ?? preset.steps,
    learningRate: config.peakLr === undefined ? preset.learningRate : withPeakLearningRate(preset.learningRate, config.peakLr),
    fallback: config.fallback ?? 0,
  };
}

function regularizer(name: TermName, latent: number): Regularizer {
  const a = anchorDirection(latent);
  switch (name) {
    case 'anchor':
      return anchor(a);
    case 'antiAnchor':
      return antiAnchor(a.map((v) => -v));
    case 'separate':
      return separate();
    case 'antiSubspace':
      return antiSubspace([...RED_ANCHOR.dims]);
    case 'subspace':
      return subspace(VIBRANT_DIMS);
  }
}

export const MID_GREY = [0.5, 0.5, 0.5];

/** fallback: weight * mean over channels of (decoder(-a) - 0.5)^2, its gradient into the decoder only. */
function fallbackTerm(net: Network, params: Float64Array, grads: Float64Array, weight: number): number {
  const input = Float64Array.from(anchorDirection(net.architecture.latent), (v) => -v);
  const cache: StackCache = { inputs: [], pre: [], cdf: [] };
  const out = forwardStack(params, net.decoder, input, 1, cache);
  let loss = 0;
  const g = new Float64Array(3);
  for (let c = 0; c < 3; c++) {
    const d = out[c] - MID_GREY[c];
    loss += (d * d) / 3;
    g[c] = (weight * 2 * d) / 3;
  }
  backwardStack(params, grads, net.decoder, cache, g, 1);
  return loss;
}

export interface StepLosses {
  total: number;
  recon: number;
  [term: string]: number;
}

/**
 * Loss and gradient of one batch at one step's weights. Kept apart from the
 * loop so tests can check the gradient against finite differences and tfjs.
 */
export function lossAndGradient(
  net: Network,
  params: Float64Array,
  batch: { colors: Float64Array; red: Float64Array; vibrant: Float64Array },
  weights: Partial<Record<TermName, number>>,
  fallback = 0,
): { losses: StepLosses; grads: Float64Array } {
  const rows = batch.red.length;
  const k = net.architecture.latent;
  const grads = new Float64Array(params.length);
  const enc: StackCache = { inputs: [], pre: [], cdf: [] };
  const dec: StackCache = { inputs: [], pre: [], cdf: [] };
  const u = forwardStack(params, net.encoder, batch.colors, rows, enc);
  const { z, norms } = normalizeRows(u, rows, k);
  const out = forwardStack(params, net.decoder, z, rows, dec);
  let recon = 0;
  const gOut = new Float64Array(out.length);
  for (let i = 0; i < out.length; i++) {
    const d = out[i] - batch.colors[i];
    recon += d * d;
    gOut[i] = (2 * d) / out.length;
  }
  recon /= out.length;
  const losses: StepLosses = { total: recon, recon };
  const gz = backwardStack(params, grads, net.decoder, dec, gOut, rows);
  const latents = { z, rows, k, red: batch.red, vibrant: batch.vibrant };
  for (const [name, w] of Object.entries(weights) as [TermName, number][]) {
    if (!w) continue;
    const value = regularizer(name, k)(latents, gz, w);
    losses[name] = value;
    losses.total += w * value;
  }
  backwardStack(params, grads, net.encoder, enc, normalizeBackward(z, norms, gz, rows, k), rows);
  if (fallback) {
    const value = fallbackTerm(net, params, grads, fallback);
    losses.fallback = value;
    losses.total += fallback * value;
  }
  return { losses, grads };
}

export interface SeedTraining {
  seed: number;
  net: Network;
  params: Float64Array;
  /** Red labels drawn over the run, and all draws (the paper: about 83 in 96,064). */
  labels: number;
  draws: number;
  finalLosses: StepLosses;
  seconds: number;
}

/** The seed fixes the initial weights and every batch and label. */
export function trainSeed(config: TrainConfig, seed: number, onStep?: (step: number, losses: StepLosses) => void): SeedTraining {
  const started = performance.now();
  const { preset, steps, learningRate, fallback } = resolveConfig(config);
  const net = network(preset.architecture);
  const params = initialParameters(net, new Random(seed));
  const random = new Random(Math.imul(seed, 2654435761) + 1);
  const optimizer = new Adam(params.length);
  const pool = colorCube(8);
  const names = Object.keys(preset.weights) as TermName[];
  let labels = 0;
  let losses: StepLosses = { total: 0, recon: 0 };
  for (let step = 0; step < steps; step++) {
    const batch = sampleBatch(pool, preset.batch, random, preset.vibrantLabels);
    for (const l of batch.red) labels += l;
    const weights = Object.fromEntries(names.map((n) => [n, scheduleValue(preset.weights[n]!, step)]));
    const { losses: stepLosses, grads } = lossAndGradient(net, params, batch, weights, fallback);
    optimizer.step(params, grads, scheduleValue(learningRate, step));
    losses = stepLosses;
    onStep?.(step, losses);
  }
  return { seed, net, params, labels, draws: steps * preset.batch, finalLosses: losses, seconds: (performance.now() - started) / 1000 };
}

/**
 * Sparse Concept Anchoring training of the colour autoencoder (SCA.md):
 * reconstruction MSE plus scheduled regularizers on the normalised latent,
 * Adam with the paper's learning-rate schedule, rare noisy red labels.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { createAutoencoder, forward, PAPER_ARCHITECTURE, variables, type Architecture, type Autoencoder } from './autoencoder.js';
import { colorCube, sampleBatch } from './data.js';
import { DEFAULT_BACKEND, PAPER_BATCH, PAPER_STEPS } from './defaults.js';
import { tf, useBackend, type TrainBackend } from './engine.js';
import { Random } from './random.js';
import { anchorTerms } from './regularizers/anchor.js';
import { antiAnchorTerms } from './regularizers/antiAnchor.js';
import { meanOver } from './regularizers/select.js';
import { separateTerms } from './regularizers/separate.js';
import { antiSubspaceTerms } from './regularizers/subspace.js';
import { PAPER_LEARNING_RATE, PAPER_WEIGHTS, scheduleValue, type Keyframes } from './schedule.js';

export interface TrainOptions {
  seed: number;
  steps: number;
  batch: number;
  architecture: Architecture;
  /** The anchor regularizer on labelled samples; off for the `--no-anchor` ablation run. */
  anchor: boolean;
  /** Optional anti-anchor at -a (hemisphere form). */
  antiAnchor: boolean;
  backend: TrainBackend;
  /** Called every few steps with the current loss terms. */
  onProgress?: (step: number, losses: Record<string, number>) => void;
}

export const DEFAULT_TRAIN: TrainOptions = {
  seed: 0,
  steps: PAPER_STEPS,
  batch: PAPER_BATCH,
  architecture: PAPER_ARCHITECTURE,
  anchor: true,
  antiAnchor: false,
  backend: DEFAULT_BACKEND,
};

/** The concept this trainer anchors: red at e0, dim 0 reserved. */
export const RED_ANCHOR = { concept: 'red', dims: [0] } as const;

export function anchorDirection(latent: number): number[] {
  return Array.from({ length: latent }, (_, i) => (i === 0 ? 1 : 0));
}

export interface TrainResult {
  model: Autoencoder;
  options: TrainOptions;
  /** Share of all draws that were labelled red (the paper's claim: under 0.1%). */
  labelledFraction: number;
  labelled: number;
  draws: number;
  losses: Record<string, number>;
  seconds: number;
}

interface Term {
  name: string;
  weight: Keyframes;
  loss: (z: TF.Tensor2D, labels: TF.Tensor1D) => TF.Scalar;
}

function regularizers(options: TrainOptions): Term[] {
  const a = anchorDirection(options.architecture.latent);
  const terms: Term[] = [];
  if (options.anchor) terms.push({ name: 'anchor', weight: PAPER_WEIGHTS.anchor, loss: (z, labels) => meanOver(anchorTerms(z, a), labels) });
  if (options.antiAnchor) {
    terms.push({ name: 'antiAnchor', weight: PAPER_WEIGHTS.anchor, loss: (z) => meanOver(antiAnchorTerms(z, a.map((v) => -v))) });
  }
  terms.push({ name: 'separate', weight: PAPER_WEIGHTS.separate, loss: (z) => meanOver(separateTerms(z)) });
  terms.push({ name: 'antiSubspace', weight: PAPER_WEIGHTS.antiSubspace, loss: (z) => meanOver(antiSubspaceTerms(z, [...RED_ANCHOR.dims])) });
  return terms;
}

export async function trainColor(partial: Partial<TrainOptions> = {}): Promise<TrainResult> {
  const options = { ...DEFAULT_TRAIN, ...partial };
  await useBackend(options.backend);
  const random = new Random(options.seed * 2654435761 + 1);
  const model = createAutoencoder(options.architecture, options.seed);
  const vars = variables(model);
  const optimizer = tf.train.adam(PAPER_LEARNING_RATE[0][1]);
  const pool = colorCube(8);
  const terms = regularizers(options);
  let labelled = 0;
  let losses: Record<string, number> = {};
  const started = performance.now();

  for (let step = 0; step < options.steps; step++) {
    const batch = sampleBatch(pool, options.batch, random);
    labelled += batch.labels.reduce((s, v) => s + v, 0);
    (optimizer as unknown as { learningRate: number }).learningRate = scheduleValue(PAPER_LEARNING_RATE, step, options.steps);
    const weights = terms.map((t) => scheduleValue(t.weight, step, options.steps));
    const report = step % 25 === 0 || step === options.steps - 1;
    const parts: Record<string, number> = {};
    tf.tidy(() => {
      const x = tf.tensor2d(batch.colors);
      const labels = tf.tensor1d(batch.labels);
      optimizer.minimize(() => {
        const { z, out } = forward(model, x);
        let total = tf.losses.meanSquaredError(x, out) as TF.Scalar;
        if (report) parts.recon = total.dataSync()[0];
        terms.forEach((t, i) => {
          if (weights[i] === 0) return;
          const value = t.loss(z, labels);
          if (report) parts[t.name] = value.dataSync()[0];
          total = tf.add(total, tf.mul(value, weights[i]));
        });
        return total;
      }, false, vars);
    });
    if (report) {
      losses = parts;
      options.onProgress?.(step + 1, losses);
    }
  }
  optimizer.dispose();
  const draws = options.steps * options.batch;
  return { model, options, labelledFraction: labelled / draws, labelled, draws, losses, seconds: (performance.now() - started) / 1000 };
}

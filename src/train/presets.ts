/**
 * The paper's training configurations, as the authors' code ran them
 * (SCA.md, "The authors' exact recipe"). Loads nothing heavy, so the CLI can
 * list them in its help.
 * - anchored (exp. 2.4.1): K=4, N=1; anchor, separate, and a subspace term
 *   keeping "vibrant" colours in dims {0,1}. Judged by suppression (p = 2).
 * - isolated (exp. 2.9.1): K=5, N=2; anchor, anti-anchor, separate,
 *   anti-subspace on dim 0. Judged by ablation (p = 3).
 * - 2.10.1: the isolated model without anti-anchor, anchor peaking at 0.12
 *   and anti-subspace 0.005 at step 750.
 */
import type { Architecture } from './network.js';
import type { Keyframes } from './schedule.js';

export const PRESET_NAMES = ['anchored', 'isolated', '2.10.1'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export type TermName = 'anchor' | 'antiAnchor' | 'separate' | 'antiSubspace' | 'subspace';

export interface Preset {
  name: PresetName;
  experiment: string;
  architecture: Architecture;
  /** Steps 0..steps-1 (the authors run 0..1500). */
  steps: number;
  batch: number;
  learningRate: Keyframes;
  /** Regularizer weights by step; a term without keys is off. */
  weights: Partial<Record<TermName, Keyframes>>;
  /** Label "vibrant" (for the subspace term) with probability 0.01 (s v)^10. */
  vibrantLabels: boolean;
  /** The intervention the paper scores this model by, and its selectivity power p. */
  intervention: 'suppression' | 'ablation';
  power: number;
}

const HIDDEN = 16;

export const PAPER_LEARNING_RATE: Keyframes = [
  [0, 1e-8],
  [10, 0.01],
  [750, 0.1],
  [1425, 0.1],
  [1500, 0.05],
];

const ISOLATED: Preset = {
  name: 'isolated',
  experiment: '2.9.1',
  architecture: { latent: 5, layers: 2, hidden: HIDDEN },
  steps: 1501,
  batch: 64,
  learningRate: PAPER_LEARNING_RATE,
  weights: {
    separate: [
      [0, 0.01],
      [248, 0.01],
      [750, 0.001],
      [1425, 0],
    ],
    anchor: [
      [0, 0],
      [248, 0.1],
      [750, 0.1],
      [1425, 0],
    ],
    antiAnchor: [
      [0, 0],
      [248, 0.05],
      [1425, 0],
    ],
    antiSubspace: [
      [0, 0.25],
      [750, 0.003],
      [1425, 0],
    ],
  },
  vibrantLabels: false,
  intervention: 'ablation',
  power: 3,
};

export const PRESETS: Record<PresetName, Preset> = {
  isolated: ISOLATED,
  '2.10.1': {
    ...ISOLATED,
    name: '2.10.1',
    experiment: '2.10.1',
    weights: {
      separate: ISOLATED.weights.separate,
      anchor: [
        [0, 0],
        [248, 0.1],
        [750, 0.12],
        [1425, 0],
      ],
      antiSubspace: [
        [0, 0.25],
        [750, 0.005],
        [1425, 0],
      ],
    },
  },
  anchored: {
    name: 'anchored',
    experiment: '2.4.1',
    architecture: { latent: 4, layers: 1, hidden: HIDDEN },
    steps: 1501,
    batch: 64,
    learningRate: PAPER_LEARNING_RATE,
    weights: {
      separate: [
        [0, 0.01],
        [750, 0.01],
        [1425, 0],
      ],
      anchor: [
        [0, 0.01],
        [750, 0.1],
        [1425, 0],
      ],
      subspace: [
        [0, 0.01],
        [375, 0.1],
        [1125, 0.1],
        [1425, 0],
      ],
    },
    vibrantLabels: true,
    intervention: 'suppression',
    power: 2,
  },
};

/** The vibrant dims of the anchored model's subspace term. */
export const VIBRANT_DIMS = [0, 1];

/**
 * The follow-up's peak learning rate: the plateau (steps 750..1425) at
 * `peak`, annealed to half of it by the last step, as the paper's 0.1 to
 * 0.05; warm-up unchanged.
 */
export function withPeakLearningRate(keys: Keyframes, peak: number): Keyframes {
  return keys.map(([t, v]) => [t, t >= 750 ? (v * peak) / 0.1 : v] as const);
}

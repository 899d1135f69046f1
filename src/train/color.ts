/**
 * `sca train color` as a library function: train one seed or sweep many,
 * summarise the scores, keep the authors' pick (highest score on the Pareto
 * front), export it with its anchors and check the export in onnxruntime.
 */
import type { Anchor } from '../anchors/manifest.js';
import { saveModel, type SaveResult } from '../onnx/model.js';
import { buildColorOnnx, checkExport, LATENT_TENSOR } from './export.js';
import { VIBRANT_DIMS } from './presets.js';
import { networkFor, pickBest, scoreStats, sweep, type ScoreStats, type SeedResult, type SweepOptions } from './sweep.js';
import { anchorDirection, RED_ANCHOR, resolveConfig, type TrainConfig } from './trainer.js';

export interface ColorTrainingOptions extends SweepOptions {
  config: TrainConfig;
  /** First seed and number of seeds (seeds first .. first + count - 1). */
  seed?: number;
  seeds?: number;
}

export interface ColorTraining {
  config: TrainConfig;
  runs: SeedResult[];
  best: SeedResult;
  stats: ScoreStats;
  /** Largest |onnxruntime - trainer| of the exported model. */
  exportDiff: number;
  saved: SaveResult;
  seconds: number;
}

/**
 * The anchors a preset's model carries: red at e0 of the bottleneck, dim 0
 * reserved where the training kept everything else out of it (isolated,
 * 2.10.1); the anchored model also keeps vibrant colours in dims {0,1}.
 */
export function anchorsFor(config: TrainConfig): Anchor[] {
  const { preset } = resolveConfig(config);
  const direction = anchorDirection(preset.architecture.latent);
  if (preset.intervention === 'ablation') return [{ concept: RED_ANCHOR.concept, tensor: LATENT_TENSOR, direction, dims: [...RED_ANCHOR.dims] }];
  return [
    { concept: RED_ANCHOR.concept, tensor: LATENT_TENSOR, direction },
    { concept: 'vibrant', tensor: LATENT_TENSOR, dims: [...VIBRANT_DIMS] },
  ];
}

export async function trainColorModel(output: string, options: ColorTrainingOptions): Promise<ColorTraining> {
  const started = performance.now();
  const first = options.seed ?? 0;
  const seeds = Array.from({ length: options.seeds ?? 1 }, (_, i) => first + i);
  const runs = await sweep(options.config, seeds, options);
  const best = pickBest(runs);
  const stats = scoreStats(runs.map((r) => r.quality.score));
  const net = networkFor(options.config);
  const { preset, steps } = resolveConfig(options.config);
  const q = best.quality;
  const metadata = {
    'sca.training': {
      preset: preset.name,
      experiment: preset.experiment,
      ...preset.architecture,
      steps,
      batch: preset.batch,
      peakLr: options.config.peakLr ?? null,
      fallback: options.config.fallback ?? null,
      seed: best.seed,
      seeds: seeds.length,
      labels: best.labels,
      draws: best.draws,
      valRecon: q.valRecon,
      valAnchor: q.valAnchor,
      selectivity: { suppression: q.suppression, ablation: q.ablation },
      sweep: stats,
    },
  };
  const exported = buildColorOnnx(net, best.params, anchorsFor(options.config), metadata);
  const exportDiff = await checkExport(net, best.params, exported);
  const saved = saveModel(exported, output);
  return { config: options.config, runs, best, stats, exportDiff, saved, seconds: (performance.now() - started) / 1000 };
}

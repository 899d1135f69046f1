/**
 * `sca train color` as a library function: train one or more seeds, measure
 * each by the paper's criteria, keep the best, export it with its anchors.
 */
import { saveModel, type SaveResult } from '../onnx/model.js';
import { disposeAutoencoder } from './autoencoder.js';
import { evaluateColorModel, pickBest, type ColorModelQuality } from './evaluate.js';
import { buildColorOnnx, checkExport, trainingMetadata } from './export.js';
import { trainColor, type TrainOptions, type TrainResult } from './trainer.js';

export interface SeedRun {
  seed: number;
  result: TrainResult;
  quality: ColorModelQuality;
}

export interface ColorTraining {
  runs: SeedRun[];
  best: SeedRun;
  /** Largest |onnxruntime - tfjs| of the exported model. */
  exportDiff: number;
  saved: SaveResult;
}

export async function trainColorModel(
  output: string,
  options: Partial<TrainOptions> & { seeds?: number },
  onSeedProgress?: (seed: number, step: number, losses: Record<string, number>) => void,
): Promise<ColorTraining> {
  const first = options.seed ?? 0;
  const count = options.seeds ?? 1;
  const runs: SeedRun[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const result = await trainColor({ ...options, seed, onProgress: (step, losses) => onSeedProgress?.(seed, step, losses) });
    runs.push({ seed, result, quality: evaluateColorModel(result.model) });
  }
  const best = pickBest(runs);
  const { validationMse, selectivity } = best.quality;
  const exported = buildColorOnnx(best.result.model, trainingMetadata(best.result, { validationMse, selectivity }));
  const exportDiff = await checkExport(best.result.model, exported);
  const saved = saveModel(exported, output);
  for (const r of runs) disposeAutoencoder(r.result.model);
  return { runs, best, exportDiff, saved };
}

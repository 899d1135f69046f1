/**
 * What compare runs the intact and patched models on. Compare itself only
 * turns pairs of outputs into metrics; a runner decides which feeds go in and
 * in what steps. Static batches of a dataset are the one runner today; a
 * generation loop (prompt, then one token a step with the KV cache) is the
 * next, and plugs in here without touching compare's loop.
 */
import type { Dataset } from '../data/datasets.js';
import { sampleFeeds } from '../data/datasets.js';
import type { ort } from '../runtime/session.js';

type Outputs = ort.InferenceSession.OnnxValueMapType;

/** One step's outputs from both models, for samples [start, end). */
export interface RunStep {
  start: number;
  end: number;
  intact: Outputs;
  patched: Outputs;
}

export interface Runner {
  /** Samples the steps cover in all (for per-sample metrics). */
  readonly samples: number;
  /** Runs both models step by step, fetching `outputs`, and hands each step to `each` in order. */
  run(intact: ort.InferenceSession, patched: ort.InferenceSession, outputs: string[], each: (step: RunStep) => void): Promise<void>;
}

/**
 * The dataset in batches of `batchSize`; the patched model is fed only the
 * inputs it declares (`patchedInputs`), so a patch that adds an optional
 * input leaves the feeds alone.
 */
export function staticBatches(
  dataset: Dataset,
  batchSize: number,
  patchedInputs: ReadonlySet<string>,
  onProgress?: (done: number, total: number) => void,
): Runner {
  return {
    samples: dataset.samples,
    async run(intact, patched, outputs, each) {
      for (let start = 0; start < dataset.samples; start += batchSize) {
        const end = Math.min(start + batchSize, dataset.samples);
        const feedsA = sampleFeeds(dataset, start, end);
        const feedsB = Object.fromEntries(Object.entries(feedsA).filter(([n]) => patchedInputs.has(n)));
        each({ start, end, intact: await intact.run(feedsA, outputs), patched: await patched.run(feedsB, outputs) });
        onProgress?.(end, dataset.samples);
      }
    },
  };
}

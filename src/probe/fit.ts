/**
 * `anchor --from-data` streamed: the model runs over the data batch by batch
 * with the tensor exposed, each batch's rows go into float64 moments
 * (maths/moments.ts) and are dropped, and mean-diff or LEACE is fitted from
 * the moments at the end, the products on onnxruntime's Gemm (gemm.ts). So
 * the number of examples is bounded by time, not memory: memory is the
 * class sums (mean-diff), or D²/2 float64 for the covariance plus about as
 * much for its Cholesky factor (LEACE), plus one batch of activations and
 * one block of rows for the Gram product. With per-position labels on a
 * padded decoder batch, the padding positions are left out.
 */
import { UsageError } from '../errors.js';
import type { Dataset } from '../data/datasets.js';
import { withoutPadding } from '../data/decoder.js';
import type { Labels } from '../data/labels.js';
import { leaceFromMoments, meanDifferenceFromMoments, type Eraser } from '../anchors/fromData.js';
import { Moments } from '../maths/moments.js';
import { batchRows, rowsMode, streamActivations, type ActivationOptions, type ModelSource } from './activations.js';
import { withOrtGemm } from './gemm.js';

export interface ConceptFit {
  method: 'mean-diff' | 'leace';
  /** mean-diff: the unit direction. */
  direction?: number[];
  /** leace: the eraser, with the covariance's numerical rank. */
  eraser?: Eraser;
  rank?: number;
  /** Rows the statistics were computed from, and what a row is. */
  samples: number;
  rows: 'example' | 'position';
}

export interface ConceptFitOptions extends ActivationOptions {
  /** Refuse a feature axis other than the last (anchors act on the last axis). */
  lastAxis?: boolean;
}

export async function fitConceptFromData(
  source: ModelSource,
  tensor: string,
  dataset: Dataset,
  labels: Labels,
  method: 'mean-diff' | 'leace',
  options: ConceptFitOptions = {},
): Promise<ConceptFit> {
  const classes = labels.classes.length;
  if (classes < 2) throw new UsageError(`--labels: every example has the same label (${labels.classes[0]}); there is no concept to find`);
  if (method === 'mean-diff' && classes !== 2) throw new UsageError(`--method mean-diff needs two classes; the labels have ${classes} (use --method leace)`);
  return withOrtGemm(async (kernel) => {
    let moments: Moments | undefined;
    let mode: 'example' | 'position' = 'example';
    await streamActivations(source, [tensor], dataset, options, async (b) => {
      if (!moments) {
        if (options.lastAxis && b.axis !== b.shape.length - 1) {
          throw new UsageError(`--axis ${options.axis}: anchors act on a tensor's last axis (axis ${b.shape.length - 1} of '${tensor}')`);
        }
        mode = rowsMode(tensor, b.perExample, labels.values.length, dataset.samples);
        moments = new Moments(b.width, { classes, covariance: method === 'leace' });
      }
      let { x, labels: batchLabels } = batchRows(b, mode, labels.values);
      // Per-position labels of a padded decoder batch: the padding positions are not examples.
      const mask = dataset.mask;
      if (mode === 'position' && mask && mask.length === dataset.samples * b.perExample) {
        const kept = withoutPadding(x, batchLabels as Int32Array, mask.subarray(b.start * b.perExample, b.end * b.perExample));
        x = kept.x;
        batchLabels = kept.labels;
      }
      await moments.addAsync(x.data, x.rows, batchLabels, kernel);
    });
    if (!moments) throw new UsageError('--from-data: the data has no examples');
    const samples = moments.count;
    if (method === 'mean-diff') return { method, direction: meanDifferenceFromMoments(moments), samples, rows: mode };
    const fit = await leaceFromMoments(moments, kernel);
    return { method, eraser: fit.eraser, rank: fit.rank, samples, rows: mode };
  });
}

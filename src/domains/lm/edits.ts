/**
 * The four edits `sca demo lm` compares, each on a fresh copy of its model:
 * - in the SCA model, suppression (the anchored dims zeroed at the anchored
 *   block, inserted nodes) and ablation (every residual writer orthogonalised
 *   to the dims, so no layer writes them: a weight edit);
 * - in the twin, trained the same way without SCA, the post-hoc directions a
 *   user would find after training, fitted at the same block on the same
 *   labelled positions: the mean difference (labelled positions against the
 *   other colour-predicting ones), projected out; and a LEACE eraser.
 */
import { recordIntervention, writeAnchors } from '../../anchors/manifest.js';
import { fitLeace } from '../../anchors/fromData.js';
import { UsageError } from '../../errors.js';
import { decoderLayout, promptFeeds } from '../../eval/generate.js';
import { normalize } from '../../maths/basis.js';
import type { Model } from '../../onnx/model.js';
import { orthogonaliseWriters } from '../../rewrite/writers.js';
import { patchModel } from '../../rewrite/patch.js';
import { tensorNumbers, type Device } from '../../runtime/session.js';
import { openTapped } from '../../runtime/taps.js';
import type { ConceptSpec } from './concept.js';

export type EditName = 'suppress' | 'ablate' | 'meanDiff' | 'leace';

export function suppressAnchored(model: Model, spec: ConceptSpec, label: string): void {
  patchModel(model, [{ concept: spec.concept, mode: 'suppress' }], label);
}

/** One orthogonalisation per reserved dim: the unit vectors are orthogonal, so in turn they project out the whole span. */
export function ablateAnchored(model: Model, spec: ConceptSpec, width: number, label: string): void {
  for (const d of spec.site.dims) {
    const direction = Array.from({ length: width }, (_, j) => (j === d ? 1 : 0));
    const { stream, edited } = orthogonaliseWriters(model, spec.site.tensor, direction, label);
    recordIntervention(model.proto, {
      kind: 'ablate',
      tensor: spec.site.tensor,
      concept: spec.concept,
      method: 'orthogonalised writers',
      direction,
      stream,
      edited,
    });
  }
}

/** Activations at the site for every labelled and colour-predicting position of the fit sequences, with their labels. */
export async function fitRows(model: Model, spec: ConceptSpec, device: Device, label: string): Promise<{ rows: Float64Array[]; labels: number[] }> {
  const session = await openTapped(model, model.proto, [spec.site.tensor], device);
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  try {
    const layout = decoderLayout(session, label);
    for (const seq of spec.fit) {
      const result = (await session.run(promptFeeds(layout, seq.ids), [spec.site.tensor]))[spec.site.tensor];
      const values = tensorNumbers(result);
      const width = result.dims[result.dims.length - 1];
      const labelled = new Set(seq.labelled);
      for (const p of new Set([...seq.colour, ...seq.labelled])) {
        rows.push(Float64Array.from({ length: width }, (_, j) => values[p * width + j]));
        labels.push(labelled.has(p) ? 1 : 0);
      }
    }
  } finally {
    await session.release();
  }
  const positives = labels.filter((l) => l === 1).length;
  if (positives < 2 || positives === labels.length)
    throw new UsageError(`${label}: the fit data needs labelled and unlabelled positions both (it has ${positives} of ${labels.length} labelled)`, 'BAD_DATA');
  return { rows, labels };
}

export function meanDifference(rows: Float64Array[], labels: number[]): number[] {
  const width = rows[0].length;
  const sums = [new Float64Array(width), new Float64Array(width)];
  const counts = [0, 0];
  rows.forEach((r, i) => {
    counts[labels[i]]++;
    for (let j = 0; j < width; j++) sums[labels[i]][j] += r[j];
  });
  return normalize(
    Array.from({ length: width }, (_, j) => sums[1][j] / counts[1] - sums[0][j] / counts[0]),
    'the mean difference',
  );
}

/** Projects the mean-difference direction out at the site (a full linear projection: the component along it, either sign, goes). */
export function suppressDirection(model: Model, spec: ConceptSpec, direction: number[], label: string): void {
  patchModel(model, [{ tensor: spec.site.tensor, directions: [direction], mode: 'suppress', projection: 'full' }], label);
}

/** Fits LEACE on the rows (two classes) and inserts its eraser at the site, recorded as an anchor of the twin. */
export function eraseWithLeace(model: Model, spec: ConceptSpec, rows: Float64Array[], labels: number[], label: string): void {
  const width = rows[0].length;
  const data = new Float64Array(rows.length * width);
  rows.forEach((r, i) => data.set(r, i * width));
  const eraser = fitLeace({ rows: rows.length, width, data }, labels, 2);
  writeAnchors(model.proto, [{ concept: spec.concept, tensor: spec.site.tensor, eraser }]);
  patchModel(model, [{ concept: spec.concept, mode: 'suppress' }], label);
}

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
import { features, type Features } from '../../maths/features.js';
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

/** Activations at the site for every labelled and colour-predicting position of the fit sequences (one row each), with their labels. */
export async function fitRows(model: Model, spec: ConceptSpec, device: Device, label: string): Promise<{ x: Features; labels: number[] }> {
  const session = await openTapped(model, model.proto, [spec.site.tensor], device);
  const rows: number[][] = [];
  const labels: number[] = [];
  try {
    const layout = decoderLayout(session, label);
    for (const seq of spec.fit) {
      const result = (await session.run(promptFeeds(layout, seq.ids), [spec.site.tensor]))[spec.site.tensor];
      const values = tensorNumbers(result);
      const width = result.dims[result.dims.length - 1];
      const labelled = new Set(seq.labelled);
      for (const p of new Set([...seq.colour, ...seq.labelled])) {
        rows.push(Array.from({ length: width }, (_, j) => values[p * width + j]));
        labels.push(labelled.has(p) ? 1 : 0);
      }
    }
  } finally {
    await session.release();
  }
  const positives = labels.filter((l) => l === 1).length;
  if (positives < 2 || positives === labels.length)
    throw new UsageError(`${label}: the fit data needs labelled and unlabelled positions both (it has ${positives} of ${labels.length} labelled)`, 'BAD_DATA');
  return { x: features(rows), labels };
}

/** Projects the mean-difference direction out at the site (a full linear projection: the component along it, either sign, goes). */
export function suppressDirection(model: Model, spec: ConceptSpec, direction: number[], label: string): void {
  patchModel(model, [{ tensor: spec.site.tensor, directions: [direction], mode: 'suppress', projection: 'full' }], label);
}

/** Fits LEACE on the rows (two classes) and inserts its eraser at the site, recorded as an anchor of the twin. */
export function eraseWithLeace(model: Model, spec: ConceptSpec, x: Features, labels: number[], label: string): void {
  writeAnchors(model.proto, [{ concept: spec.concept, tensor: spec.site.tensor, eraser: fitLeace(x, labels, 2) }]);
  patchModel(model, [{ concept: spec.concept, mode: 'suppress' }], label);
}

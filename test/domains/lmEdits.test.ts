/**
 * The language-model demo's four edits on the GPT-2 fixture: each is checked
 * on the activations onnxruntime computes for the edited model, against
 * plain maths on the intact model's activations.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEraser, meanDifference } from '../../src/anchors/fromData.js';
import { readAnchors, writeAnchors } from '../../src/anchors/manifest.js';
import type { ConceptSpec } from '../../src/domains/lm/concept.js';
import { ablateAnchored, eraseWithLeace, fitRows, suppressDirection } from '../../src/domains/lm/edits.js';
import { features, type Features } from '../../src/maths/features.js';
import { loadModel } from '../../src/onnx/model.js';
import { GPT2_DIR, gpt2Reference } from '../helpers/gpt2Folder.js';

const MODEL = path.join(GPT2_DIR, 'tjs', 'onnx', 'model.onnx');
const ref = gpt2Reference();
const SITE = ref.sites.resid_block0.tensors['tjs/onnx/model.onnx'];
const ids = ref.prompt_ids;
const spec: ConceptSpec = {
  concept: 'cat',
  site: { block: 0, tensor: SITE, dims: [0, 5] },
  words: [],
  heldOut: ['x'],
  neutral: ['x'],
  // positions 1, 3 labelled; 0, 2, 4, 6 the rest of the "colour" positions
  fit: [
    { ids, labelled: [1, 3], colour: [0, 2, 4, 6] },
    { ids: ids.slice(0, 5), labelled: [4], colour: [0, 1] },
  ],
};
const N = ref.config.n_embd;
const rowsOf = (x: Features) => Array.from({ length: x.rows }, (_, i) => Array.from(x.data.subarray(i * x.width, (i + 1) * x.width)));
/** fitRows with its feature matrix split back into rows. */
const siteRows = async (...args: Parameters<typeof fitRows>) => {
  const { x, labels } = await fitRows(...args);
  return { x, labels, rows: rowsOf(x) };
};

describe('language-model demo edits', () => {
  it('fit rows are the site activations at the labelled and colour positions, labelled 1 and 0', async () => {
    const { rows, labels } = await siteRows(loadModel(MODEL), spec, 'cpu', 'fixture');
    expect(labels).toEqual([0, 0, 0, 0, 1, 1, 0, 0, 1]);
    expect(rows).toHaveLength(9);
    // the same prefix gives the same activations (causal model): position 0 of both sequences
    expect(Math.max(...rows[0].map((v, j) => Math.abs(v - rows[6][j])))).toBeLessThan(1e-5);
  });

  it('mean difference by hand', () => {
    const rows = features([
      [1, 0],
      [3, 0],
      [0, 4],
    ]);
    // labelled mean (0, 4) minus unlabelled mean (2, 0) = (-2, 4), unit length
    const d = meanDifference(rows, [0, 0, 1], 2);
    expect(d[0]).toBeCloseTo(-2 / Math.sqrt(20), 12);
    expect(d[1]).toBeCloseTo(4 / Math.sqrt(20), 12);
  });

  it('ablation leaves the reserved dims zero at the site (no writer writes them) and the rest changed only through them', async () => {
    const model = loadModel(MODEL);
    writeAnchors(model.proto, [{ concept: spec.concept, tensor: SITE, dims: spec.site.dims }]);
    ablateAnchored(model, spec, N, 'fixture');
    const { rows } = await siteRows(model, spec, 'cpu', 'fixture');
    for (const r of rows) for (const d of spec.site.dims) expect(Math.abs(r[d])).toBeLessThan(1e-5);
    expect(rows.some((r) => r.some((v) => Math.abs(v) > 1e-2))).toBe(true);
  });

  it('the mean-difference edit and the LEACE eraser change the site as their plain maths does, for every reader', async () => {
    const intact = await siteRows(loadModel(MODEL), spec, 'cpu', 'fixture');
    const d = meanDifference(intact.x, intact.labels, 2);
    const projected = loadModel(MODEL);
    suppressDirection(projected, spec, d, 'fixture');
    const erased = loadModel(MODEL);
    eraseWithLeace(erased, spec, intact.x, intact.labels, 'fixture');
    const eraser = readAnchors(erased.proto)[0].eraser!;
    const width = intact.x.width;
    const wantErased = applyEraser(intact.x, eraser).data;
    // the patch takes over the site's name, so tapping it reads what every reader of the site now reads
    const [p, e] = [await siteRows(projected, spec, 'cpu', 'fixture'), await siteRows(erased, spec, 'cpu', 'fixture')];
    intact.rows.forEach((x, i) => {
      const along = x.reduce((s, v, j) => s + v * d[j], 0);
      expect(Math.max(...p.rows[i].map((v, j) => Math.abs(v - (x[j] - along * d[j]))))).toBeLessThan(1e-4);
      expect(Math.max(...e.rows[i].map((v, j) => Math.abs(v - wantErased[i * width + j])))).toBeLessThan(1e-4);
      expect(Math.abs(p.rows[i].reduce((s, v, j) => s + v * d[j], 0))).toBeLessThan(1e-4);
    });
  });
});

import '../../src/domains/index.js';
import { describe, expect, it } from 'vitest';
import { compareModels } from '../../src/eval/compare.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { features } from '../../src/maths/features.js';
import { anchoredShare, purity } from '../../src/probe/purity.js';
import { probeModels } from '../../src/probe/run.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { useTempDir } from '../helpers/tmp.js';
import path from 'node:path';
import { COLOR_DECODER_HIDDEN, COLOR_LATENT, COLOR_MODEL } from '../helpers/colorModel.js';

const tmp = useTempDir('purity');

describe('anchoring purity', () => {
  it('is the share of |v|² inside the anchored subspace', () => {
    // v = [3, 4, 0]: e0 holds 9/25, span(e0, e1) all of it, a direction (1,1,0)/√2 holds 49/50.
    expect(anchoredShare([3, 4, 0], [[1, 0, 0]])).toBeCloseTo(0.36, 12);
    expect(
      anchoredShare(
        [3, 4, 0],
        [
          [1, 0, 0],
          [0, 1, 0],
        ],
      ),
    ).toBeCloseTo(1, 12);
    expect(anchoredShare([3, 4, 0], [[Math.SQRT1_2, Math.SQRT1_2, 0]])).toBeCloseTo(0.98, 12);
  });

  it('of the class-mean difference, for an anchor given by dims or by direction', () => {
    // class 0 mean [0, 0, 1], class 1 mean [2, 1, 1]: difference [2, 1, 0], e0 share 4/5.
    const x = features([
      [0, 0, 1],
      [0, 0, 1],
      [2, 1, 1],
      [2, 1, 1],
      [0, 0, 1],
      [2, 1, 1],
    ]);
    const labels = [0, 0, 1, 1, 0, 1];
    expect(purity(x, labels, { concept: 'c', tensor: 't', dims: [0] }).meanDiff).toBeCloseTo(0.8, 12);
    expect(purity(x, labels, { concept: 'c', tensor: 't', direction: [2, 0, 0] }).meanDiff).toBeCloseTo(0.8, 12);
  });

  it("is in compare's JSON for a tap with an anchor, matching sca probe's", async () => {
    const model = loadModel(COLOR_MODEL);
    await patchModel(model, [{ concept: 'red', mode: 'suppress' }]);
    const patched = path.join(tmp(), 'p.onnx');
    saveModel(model, patched);
    const { result } = await compareModels(COLOR_MODEL, patched, { data: 'color-cube', taps: [COLOR_LATENT] });
    const p = result.taps[0].purity!;
    const probe = await probeModels({ model: COLOR_MODEL, patched, tensors: [COLOR_LATENT], data: 'color-cube', labels: 'redness' });
    expect(p.concept).toBe('red');
    expect(p.intact.meanDiff).toBeCloseTo(probe.tensors[0].purity!.intact.meanDiff, 5);
    expect(p.patched.meanDiff).toBeCloseTo(probe.tensors[0].purity!.patched!.meanDiff, 5);
    // Suppression moves red's mean difference out of e0.
    expect(p.patched.meanDiff).toBeLessThan(0.05);
    const noAnchor = await compareModels(COLOR_MODEL, patched, { data: 'color-cube', taps: [COLOR_DECODER_HIDDEN] });
    expect(noAnchor.result.taps[0].purity).toBeNull();
  });
});

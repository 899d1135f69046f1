import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { FIXTURE_LATENT, FIXTURE_MODEL, fixtureExpected } from '../helpers/fixture.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';

describe('the PyTorch-exported SCA colour model', () => {
  const expected = fixtureExpected();
  const rgb = f32(expected.cube.flat(), [512, 3]);

  it('runs intact as PyTorch did', async () => {
    const out = await run(loadModel(FIXTURE_MODEL), { rgb }, [FIXTURE_LATENT]);
    expect(maxAbsDiff(out.out.data as Float32Array, expected.intact.flat())).toBeLessThan(1e-5);
    expect(maxAbsDiff(out[FIXTURE_LATENT].data as Float32Array, expected.latent.flat())).toBeLessThan(1e-5);
  });

  it("suppress along e0 matches PyTorch's z - max(z.e0, 0) e0", async () => {
    const m = loadModel(FIXTURE_MODEL);
    await patchModel(m, [{ tensor: FIXTURE_LATENT, mode: 'suppress', directions: [[1, 0, 0, 0, 0]] }]);
    expect(maxAbsDiff((await run(m, { rgb })).out.data as Float32Array, expected.suppressed.flat())).toBeLessThan(1e-5);
  });

  it("suppress of dim 0 matches PyTorch's latent-zeroing ablation", async () => {
    const m = loadModel(FIXTURE_MODEL);
    await patchModel(m, [{ tensor: FIXTURE_LATENT, mode: 'suppress', dims: [0] }]);
    expect(maxAbsDiff((await run(m, { rgb })).out.data as Float32Array, expected.ablated.flat())).toBeLessThan(1e-5);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { compareModels } from '../../src/eval/compare.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { gemmAutoencoder, randomValues } from '../helpers/graphs.js';
import { ort, run } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('fp16');
const N = 32;

/** Decodes a float16 output to numbers in the test itself, independently of the toolkit's decoder. */
function halfValues(t: ort.Tensor): number[] {
  const bits = t.data as Uint16Array;
  return Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
}

describe('compare on float16 models', () => {
  it('reports the numbers an fp32 computation of the same outputs gives, not raw 16-bit patterns', async () => {
    const xs = randomValues(N * 3, 5, 1.5);
    const data = path.join(tmp(), 'x.json');
    fs.writeFileSync(data, JSON.stringify(Array.from({ length: N }, (_, i) => xs.slice(3 * i, 3 * i + 3))));
    const intact = gemmAutoencoder(5, DataType.FLOAT16);
    const patched = gemmAutoencoder(5, DataType.FLOAT16);
    patchModel(patched, [{ tensor: 'latent', mode: 'amplify', dims: [0, 2], strength: 3 }]);

    const { result } = await compareModels({ label: 'intact', model: intact }, { label: 'patched', model: patched }, { data });

    const x16 = new ort.Tensor('float16', new Uint16Array(new Float16Array(xs).buffer), [N, 3]);
    const a = halfValues((await run(intact, { x: x16 })).out);
    const b = halfValues((await run(patched, { x: x16 })).out);
    let mse = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      mse += (a[i] - b[i]) ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    }
    mse /= a.length;
    const [out] = result.outputs;
    expect(maxAbs).toBeGreaterThan(1e-3); // the patch changes the outputs
    expect(out.maxAbs).toBeCloseTo(maxAbs, 6);
    expect(out.mse).toBeCloseTo(mse, 9);
    expect(out.maxAbs).toBeLessThan(100); // raw bit patterns would read as tens of thousands
  });
});

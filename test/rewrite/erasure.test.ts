/**
 * A LEACE eraser put into a model (inserted nodes, or folded into the
 * readers) gives the numbers of the same eraser applied in TypeScript.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorFromData } from '../../src/api/anchor.js';
import { applyEraser } from '../../src/anchors/fromData.js';
import { findAnchor, readInterventions, writeAnchors } from '../../src/anchors/manifest.js';
import { encodeNpy } from '../../src/data/npy.js';
import { features } from '../../src/maths/features.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { DataType } from '../../src/onnx/types.js';
import { gemmAutoencoder, model as graphModel, node, randomValues, weight } from '../helpers/graphs.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { f32, run } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';

const N = 200;
const tmp = useTempDir('erasure');

/** Inputs and labels (x0 + x1 > 0 for 3-wide inputs: a concept the latent carries, non-linearly). */
function writeData(dir: string, width: number): { data: string; labels: string; x: number[] } {
  const x = randomValues(N * width, 5, 1.5);
  const data = path.join(dir, 'x.npy');
  fs.writeFileSync(data, encodeNpy('f4', [N, width], Float32Array.from(x)));
  const labels = path.join(dir, 'labels.json');
  fs.writeFileSync(labels, JSON.stringify(Array.from({ length: N }, (_, i) => (x[i * width] + x[i * width + 1] > 0 ? 1 : 0))));
  return { data, labels, x };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('LEACE erasure in ONNX', () => {
  it('the inserted nodes give the eraser applied in TypeScript', async () => {
    const { data, labels, x } = writeData(tmp(), 3);
    const model = gemmAutoencoder(5);
    const anchor = await anchorFromData(model, { concept: 'c', tensor: 'latent', data, labels, method: 'leace' });
    expect(anchor.provenance).toMatchObject({ method: 'leace', samples: N, rows: 'example', classes: ['0', '1'] });
    expect(anchor.provenance!.dataHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(findAnchor(model.proto, 'c').eraser!.left).toHaveLength(1);

    const intact = (await run(gemmAutoencoder(5), { x: f32(x, [N, 3]) }, ['latent'])).latent.data as Float32Array;
    const applied = await patchModel(model, [{ concept: 'c', mode: 'suppress' }]);
    expect(applied[0]).toMatchObject({ tensor: 'latent', nodes: 4 });
    expect(applied[0].prefix).toBe('sca/erase_0');
    const erased = (await run(model, { x: f32(x, [N, 3]) }, ['latent'])).latent.data as Float32Array;
    const reference = applyEraser({ rows: N, width: 5, data: intact }, anchor.eraser!).data;
    expect(maxDiff(erased, reference)).toBeLessThan(1e-5);
    expect(maxDiff(erased, intact)).toBeGreaterThan(1e-2);
    expect(readInterventions(model.proto).at(-1)).toMatchObject({ kind: 'patch', mode: 'erase', concept: 'c', rank: 1 });
  });

  it('folded into the readers (Gemm with transB, MatMul + Add) it gives the same outputs as inserted', async () => {
    for (const [make, tensor, width, input] of [
      [() => gemmAutoencoder(5), 'latent', 3, 'x'],
      [matmulAddMlp, 'z', 4, 'x'],
    ] as const) {
      const { data, labels, x } = writeData(tmp(), width);
      const inserted = make();
      await anchorFromData(inserted, { concept: 'c', tensor, data, labels, method: 'leace' });
      const folded = structuredClone(inserted);
      await patchModel(inserted, [{ concept: 'c', mode: 'suppress' }]);
      const applied = await patchModel(folded, [{ concept: 'c', mode: 'suppress', fold: true }]);
      expect(applied[0].nodes).toBe(0);
      expect(folded.proto.graph!.node.length).toBe(make().proto.graph!.node.length);
      const feeds = { [input]: f32(x, [N, width]) };
      const out = folded.proto.graph!.output[0].name!;
      const a = (await run(inserted, feeds))[out].data as Float32Array;
      const b = (await run(folded, feeds))[out].data as Float32Array;
      const intact = (await run(make(), feeds))[out].data as Float32Array;
      expect(maxDiff(a, b), tensor).toBeLessThan(1e-4);
      expect(maxDiff(a, intact)).toBeGreaterThan(1e-3);
    }
  });

  it('works on float16 tensors', async () => {
    const { data, labels, x } = writeData(tmp(), 3);
    // Fitted on the float32 model (same weights), recorded in the float16 one.
    const anchor = await anchorFromData(gemmAutoencoder(5), { concept: 'c', tensor: 'latent', data, labels, method: 'leace' });
    const model = gemmAutoencoder(5, DataType.FLOAT16);
    writeAnchors(model.proto, [anchor]);
    const before = (await run(gemmAutoencoder(5, DataType.FLOAT16), { x: f16(x) }, ['latent'])).latent;
    await patchModel(model, [{ concept: 'c', mode: 'suppress' }]);
    const after = (await run(model, { x: f16(x) }, ['latent'])).latent;
    const decode = (t: { data: unknown }) => Float32Array.from(new Float16Array((t.data as Uint16Array).buffer));
    const reference = applyEraser(features(Array.from({ length: N }, (_, i) => Array.from(decode(before).subarray(i * 5, i * 5 + 5)))), anchor.eraser!).data;
    expect(maxDiff(decode(after), reference)).toBeLessThan(2e-2);
  });

  it('refuses an eraser whose coefficients float16 cannot hold', async () => {
    const model = gemmAutoencoder(5, DataType.FLOAT16);
    const big = { mean: [0, 0, 0, 0, 0], left: [[1, 0, 0, 0, 0]], right: [[1e6, 0, 0, 0, 0]] };
    writeAnchors(model.proto, [{ concept: 'c', tensor: 'latent', eraser: big }]);
    expect(() => patchModel(model, [{ concept: 'c', mode: 'suppress' }])).toThrow(/coefficient of 1.00e\+6, beyond float16's range/);
  });

  it('refuses to fold past an op the erasure does not commute with, naming it', async () => {
    const { data, labels } = writeData(tmp(), 3);
    const model = gemmAutoencoder(5);
    await anchorFromData(model, { concept: 'c', tensor: 'h2', data, labels, method: 'leace' });
    expect(() => patchModel(model, [{ concept: 'c', mode: 'suppress', fold: true }])).toThrow(/node '.*' \(Relu\) reads it/);
  });

  it('refuses to fold into a MatMul with no bias when the eraser shifts by a constant', async () => {
    const { data, labels } = writeData(tmp(), 4);
    const m = matmulAddMlp();
    m.proto.graph!.node.pop();
    m.proto.graph!.node[2].output = ['y'];
    await anchorFromData(m, { concept: 'c', tensor: 'z', data, labels, method: 'leace' });
    expect(() => patchModel(m, [{ concept: 'c', mode: 'suppress', fold: true }])).toThrow(/no bias to take it/);
  });

  it('refuses a strength for an eraser', async () => {
    const { data, labels } = writeData(tmp(), 3);
    const model = gemmAutoencoder(5);
    await anchorFromData(model, { concept: 'c', tensor: 'latent', data, labels, method: 'leace' });
    expect(() => patchModel(model, [{ concept: 'c', mode: 'suppress', strength: 0.5 }])).toThrow(/takes no strength/);
  });
});

import { Float16Array } from '@petamoriken/float16';
import { ort } from '../helpers/run.js';
function f16(values: number[]): ort.Tensor {
  return new ort.Tensor('float16', new Uint16Array(new Float16Array(values).buffer), [values.length / 3, 3]);
}

/** x [N,4] -> MatMul + Add -> `z` [N,6] -> MatMul + Add -> y [N,2]: the reader has a separate bias. */
function matmulAddMlp() {
  return graphModel({
    node: [node('MatMul', ['x', 'w0'], ['xw']), node('Add', ['xw', 'b0'], ['z']), node('MatMul', ['z', 'w1'], ['zw']), node('Add', ['b1', 'zw'], ['y'])],
    initializer: [weight('w0', [4, 6], 11), weight('b0', [6], 12), weight('w1', [6, 2], 13), weight('b1', [2], 14)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', 2])],
  });
}

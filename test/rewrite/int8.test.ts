/**
 * Exact ablation through dynamic int8 (onnxruntime's quantize_dynamic, the
 * form of transformers.js's q8 variants): DynamicQuantizeLinear →
 * MatMulInteger → Cast → Mul(scale) → Add(bias), built here from a float
 * MLP with the packing of the operator specs (int8 symmetric per tensor for
 * the first layer, uint8 with a zero point per column for the second).
 * Ablating hidden units sets their weight codes to the zero point: the model
 * equals the same units zeroed by an inserted patch and keeps its encoding.
 */
import { describe, expect, it } from 'vitest';
import { ablate } from '../../src/api/ablate.js';
import { attrInt, node } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { rawTensor, makeTensor, tensorBytes } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { model, randomValues } from '../helpers/graphs.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';

const [D, H, O, N] = [8, 16, 4, 5];
const w1 = randomValues(D * H, 31, 0.7);
const w2 = randomValues(H * O, 32, 0.7);

/** int8 symmetric per tensor: q = round(w / s), s = max|w| / 127, zero point 0. */
function int8PerTensor(w: number[]): { q: Int8Array; scale: number } {
  const scale = Math.max(...w.map(Math.abs)) / 127;
  return { q: Int8Array.from(w, (v) => Math.max(-127, Math.min(127, Math.round(v / scale)))), scale };
}

/** uint8 per column n of W [K, N]: range [min(w,0), max(w,0)] over 255 steps, zero point round(-min / s). */
function uint8PerColumn(w: number[], K: number, cols: number): { q: Uint8Array; scales: number[]; zps: number[] } {
  const scales: number[] = [];
  const zps: number[] = [];
  const q = new Uint8Array(K * cols);
  for (let n = 0; n < cols; n++) {
    const col = Array.from({ length: K }, (_, k) => w[k * cols + n]);
    const [lo, hi] = [Math.min(0, ...col), Math.max(0, ...col)];
    const s = (hi - lo) / 255;
    const zp = Math.round(-lo / s);
    scales.push(s);
    zps.push(zp);
    for (let k = 0; k < K; k++) q[k * cols + n] = Math.max(0, Math.min(255, Math.round(w[k * cols + n] / s) + zp));
  }
  return { q, scales, zps };
}

function q8Mlp() {
  const a = int8PerTensor(w1);
  const b = uint8PerColumn(w2, H, O);
  const layer = (p: string, x: string, w: string, zp: string, scale: string, bias: string, out: string) => [
    node('DynamicQuantizeLinear', [x], [`${p}/xq`, `${p}/xs`, `${p}/xzp`]),
    node('MatMulInteger', [`${p}/xq`, w, `${p}/xzp`, zp], [`${p}/int`]),
    node('Cast', [`${p}/int`], [`${p}/float`], [attrInt('to', DataType.FLOAT)]),
    node('Mul', [`${p}/xs`, scale], [`${p}/scale`]),
    node('Mul', [`${p}/float`, `${p}/scale`], [`${p}/scaled`]),
    node('Add', [`${p}/scaled`, bias], [out]),
  ];
  return model(
    {
      node: [
        ...layer('fc1', 'x', 'w1q', 'w1zp', 'w1s', 'b1', 'pre'),
        node('Relu', ['pre'], ['hidden']),
        ...layer('fc2', 'hidden', 'w2q', 'w2zp', 'w2s', 'b2', 'y'),
      ],
      initializer: [
        rawTensor('w1q', DataType.INT8, [D, H], new Uint8Array(a.q.buffer)),
        rawTensor('w1zp', DataType.INT8, [], new Uint8Array(1)),
        makeTensor('w1s', DataType.FLOAT, [], [a.scale]),
        makeTensor('b1', DataType.FLOAT, [H], randomValues(H, 33, 0.2)),
        rawTensor('w2q', DataType.UINT8, [H, O], b.q),
        rawTensor('w2zp', DataType.UINT8, [O], Uint8Array.from(b.zps)),
        makeTensor('w2s', DataType.FLOAT, [O], b.scales),
        makeTensor('b2', DataType.FLOAT, [O], randomValues(O, 34, 0.2)),
      ],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', D])],
      output: [makeValueInfo('y', DataType.FLOAT, ['N', O])],
    },
    13,
  );
}

const x = f32(randomValues(N * D, 35, 1.5), [N, D]);

describe('ablation through dynamic int8 (DynamicQuantizeLinear + MatMulInteger)', () => {
  it('equals zeroing the units by an inserted patch, and keeps the 8-bit encoding', async () => {
    const dims = [2, 5, 11];
    const ablated = q8Mlp();
    const done = ablate(ablated, { tensor: 'hidden', dims });
    expect(done.edited.sort()).toEqual(['b1', 'w1q', 'w2q']);
    const inserted = q8Mlp();
    patchModel(inserted, [{ tensor: 'hidden', mode: 'suppress', dims, strength: 1 }]);
    const [a, b, intact] = [(await run(ablated, { x })).y.data, (await run(inserted, { x })).y.data, (await run(q8Mlp(), { x })).y.data] as Float32Array[];
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    expect(maxAbsDiff(a, intact)).toBeGreaterThan(1e-3);
    const types = (m: ReturnType<typeof q8Mlp>) => m.proto.graph!.initializer.map((t) => `${t.name} ${t.dataType} ${t.dims.join('x')}`).sort();
    expect(types(ablated)).toEqual(types(q8Mlp()));
    const init = (name: string) => ablated.proto.graph!.initializer.find((t) => t.name === name)!;
    const w1q = new Int8Array(Uint8Array.from(tensorBytes(init('w1q'), '/')).buffer);
    const w2q = tensorBytes(init('w2q'), '/');
    const zps = tensorBytes(init('w2zp'), '/');
    for (const d of dims) {
      for (let k = 0; k < D; k++) expect(w1q[k * H + d], `w1q [${k}, ${d}]`).toBe(0);
      for (let n = 0; n < O; n++) expect(w2q[d * O + n], `w2q [${d}, ${n}]`).toBe(zps[n]);
    }
  });

  it('refuses a fold through the quantizer, naming the exact alternative', () => {
    expect(() => patchModel(q8Mlp(), [{ tensor: 'hidden', mode: 'suppress', dims: [1], fold: true }])).toThrow(
      /DynamicQuantizeLinear at .* a fold would have to requantize it; patch 'hidden' instead/,
    );
  });
});

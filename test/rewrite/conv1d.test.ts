/**
 * Weight edits through Hugging Face's Conv1D, as torch.onnx exports it:
 * [B, T, D] → Reshape(Concat(-1, Shape(x)[-1:])) → Gemm → Reshape(Concat(
 * Shape(x)[0], Shape(x)[1], n)) → [B, T, n]. The Reshape targets are computed
 * in the graph, and the leading lengths are symbolic, so the walk must use the
 * inferred shapes and, when pruning, follow the lengths the targets read.
 * Checked against a plain TypeScript MLP with the same weights.
 */
import { describe, expect, it } from 'vitest';
import { attrInt } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { int64Tensor } from '../../src/onnx/tensor.js';
import { DataType, type NodeProto, type TensorProto } from '../../src/onnx/types.js';
import { mapThroughShapes } from '../../src/ops/registry.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { model, node, randomValues, weight } from '../helpers/graphs.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';

const D = 4;
const H = 6;
const [B, T] = [2, 3];

const ints = int64Tensor;

/** torch's Conv1D.forward as exported: returns the nodes, and the initializers its targets need. */
function conv1d(prefix: string, x: string, w: string, b: string, nf: number, out: string): { nodes: NodeProto[]; consts: TensorProto[] } {
  const p = (s: string) => `${prefix}/${s}`;
  const nodes = [
    // x.view(-1, x.size(-1))
    node('Shape', [x], [p('shape')]),
    node('Slice', [p('shape'), p('minus1'), p('big'), p('zero')], [p('last')]),
    node('Concat', [p('minus1'), p('last')], [p('flat_shape')], [attrInt('axis', 0)]),
    node('Reshape', [x, p('flat_shape')], [p('flat')]),
    node('Gemm', [p('flat'), w, b], [p('gemm')]),
    // .view(*x.shape[:-1], nf)
    node('Shape', [x], [p('shape_1')]),
    node('Gather', [p('shape_1'), p('zero_s')], [p('b')], [attrInt('axis', 0)]),
    node('Unsqueeze', [p('b'), p('zero')], [p('b1')]),
    node('Gather', [p('shape_1'), p('one_s')], [p('t')], [attrInt('axis', 0)]),
    node('Unsqueeze', [p('t'), p('zero')], [p('t1')]),
    node('Concat', [p('b1'), p('t1'), p('nf')], [p('out_shape')], [attrInt('axis', 0)]),
    node('Reshape', [p('gemm'), p('out_shape')], [out], [], p('Reshape_1')),
  ];
  const consts = [
    ints(p('minus1'), [-1]),
    ints(p('big'), [2 ** 31 - 1]),
    ints(p('zero'), [0]),
    ints(p('zero_s'), [0], []),
    ints(p('one_s'), [1], []),
    ints(p('nf'), [nf]),
  ];
  return { nodes, consts };
}

/** x [B,T,D] → c_fc (D→H) → Relu → `hidden` [B,T,H] → c_proj (H→D) → y [B,T,D]. */
function conv1dMlp(extra: NodeProto[] = [], extraOutputs: string[] = []) {
  const fc = conv1d('/c_fc', 'x', 'fc.weight', 'fc.bias', H, 'pre');
  const proj = conv1d('/c_proj', 'hidden', 'proj.weight', 'proj.bias', D, 'y');
  return model({
    node: [...fc.nodes, node('Relu', ['pre'], ['hidden']), ...proj.nodes, ...extra],
    initializer: [
      ...fc.consts,
      ...proj.consts,
      weight('fc.weight', [D, H], 1),
      weight('fc.bias', [H], 2),
      weight('proj.weight', [H, D], 3),
      weight('proj.bias', [D], 4),
    ],
    input: [makeValueInfo('x', DataType.FLOAT, ['batch', 'seq', D])],
    output: [makeValueInfo('y', DataType.FLOAT, ['batch', 'seq', D]), ...extraOutputs.map((n) => makeValueInfo(n, DataType.INT64, [undefined]))],
  });
}

/** The same MLP in plain TypeScript, with hidden units `zeroed` set to 0. */
function reference(x: number[], zeroed: number[]): number[] {
  const [w1, b1, w2, b2] = [randomValues(D * H, 1, 0.8), randomValues(H, 2, 0.8), randomValues(H * D, 3, 0.8), randomValues(D, 4, 0.8)];
  const y: number[] = [];
  for (let r = 0; r < B * T; r++) {
    const h = Array.from({ length: H }, (_, j) => {
      let s = b1[j];
      for (let i = 0; i < D; i++) s += x[r * D + i] * w1[i * H + j];
      return zeroed.includes(j) ? 0 : Math.max(0, s);
    });
    for (let k = 0; k < D; k++) y.push(h.reduce((s, v, j) => s + v * w2[j * D + k], b2[k]));
  }
  return y;
}

const x = randomValues(B * T * D, 9, 1.5);
const feeds = () => ({ x: f32(x, [B, T, D]) });

describe('weight edits through Hugging Face Conv1D (Reshape → Gemm → Reshape, targets computed)', () => {
  it('ablating hidden units zeroes Gemm columns and rows, equal to the MLP with those units zeroed', async () => {
    const m = conv1dMlp();
    const intact = (await run(m, feeds())).y.data as Float32Array;
    expect(maxAbsDiff(intact, reference(x, []))).toBeLessThan(1e-5);
    const result = ablateDims(m, 'hidden', [1, 3]);
    expect(result.edited.sort()).toEqual(['fc.bias', 'fc.weight', 'proj.weight']);
    const out = (await run(m, feeds())).y.data as Float32Array;
    expect(maxAbsDiff(out, reference(x, [1, 3]))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out, intact)).toBeGreaterThan(0.01);
  });

  it('pruning deletes them, shrinks the stored length in the output target, and leaves the one read from the tensor itself', async () => {
    const m = conv1dMlp();
    const result = ablateDims(m, 'hidden', [1, 3], { prune: true });
    expect(result.edited).toContain('/c_fc/nf');
    const out = (await run(m, feeds(), ['hidden'])) as Record<string, { data: Float32Array; dims: readonly number[] }>;
    expect(out.hidden.dims).toEqual([B, T, H - 2]);
    expect(maxAbsDiff(out.y.data, reference(x, [1, 3]))).toBeLessThan(1e-5);
    // c_proj's flattening target reads hidden's width at run time: untouched.
    expect(m.proto.graph!.initializer.find((t) => t.name === '/c_proj/minus1')).toBeDefined();
  });

  it('refuses pruning where the pruned width is read by anything but the Reshape of the tensor itself', () => {
    const stray = [node('Shape', ['hidden'], ['hidden_shape']), node('ConstantOfShape', ['hidden_shape'], ['zeros_like'])];
    const m = conv1dMlp(stray, []);
    expect(() => ablateDims(m, 'hidden', [1], { prune: true })).toThrow(/ConstantOfShape at .* uses the length of axis 2 of 'hidden'.*ablate instead/);
    const graphOutput = conv1dMlp([node('Shape', ['hidden'], ['hidden_shape'])], ['hidden_shape']);
    expect(() => ablateDims(graphOutput, 'hidden', [1], { prune: true })).toThrow(/uses the length of axis 2 of 'hidden'/);
    // Zeroing keeps every shape, so both still ablate.
    expect(ablateDims(conv1dMlp(stray), 'hidden', [1]).edited.length).toBe(3);
  });

  it('maps an axis through merged symbolic leading lengths by counting from the end', () => {
    expect(mapThroughShapes(['batch', 'seq', 32], ['batch*seq', 32], 2)).toEqual({ axis: 1 });
    expect(mapThroughShapes(['batch*seq', 96], ['batch', 'seq', 96], 1)).toEqual({ axis: 2 });
    expect(mapThroughShapes(['batch', 'seq', 4, 5], ['batch*seq', 20], 2)).toEqual({ axis: 1, block: 5 });
    expect(mapThroughShapes(['batch', 'seq', 4, 5], ['batch*seq', 4, 5], 2)).toEqual({ axis: 1 });
    // Split, or of length 1 (any of several), or with unknown trailing lengths: no mapping.
    expect(mapThroughShapes(['batch', 'seq', 32], ['batch*seq', 4, 8], 2)).toBeUndefined();
    expect(mapThroughShapes(['batch', 'seq', 1], ['batch*seq', 1], 2)).toBeUndefined();
    expect(mapThroughShapes(['batch', 'seq', 32], ['n', 'm'], 2)).toBeUndefined();
  });
});

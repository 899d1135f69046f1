import { describe, expect, it } from 'vitest';
import { attrFloat } from '../../../src/onnx/build.js';
import { DataType } from '../../../src/onnx/types.js';
import { attrInt, attrInts, attrString, attrTensor, f32, floatTensor, i64, int64Tensor, run, shape, shapes, typed } from './helpers.js';

const INT64_MAX = 9223372036854775807;

describe('elementwise', () => {
  it('broadcasts numpy-style, symbols included', () => {
    expect(shape(run('Add', [f32(['batch', 'seq', 768]), f32([768])]))).toEqual(['batch', 'seq', 768]);
    expect(shape(run('Mul', [f32([3, 1]), f32([1, 4])]))).toEqual([3, 4]);
    expect(shape(run('Add', [f32(['batch', 1, 1, 'seq']), f32(['batch', 12, 'seq', 'seq'])]))).toEqual(['batch', 12, 'seq', 'seq']);
    expect(shape(run('Sub', [f32(['n']), f32([4])]))).toEqual([4]);
    expect(run('Add', [f32([2, 3]), f32([4])]).reason).toMatch(/cannot broadcast \[2,3\] with \[4\]/);
    expect(shape(run('Add', [f32(['a']), f32(['b'])]))![0]).toMatch(/^unk__/);
    expect(shape(run('Sum', [f32([2, 1]), f32([3]), f32([1, 1])]))).toEqual([2, 3]);
  });

  it('gives bool for comparisons and logic, the target type for Cast and CastLike', () => {
    expect(run('Equal', [f32([2]), f32([2])]).outputs[0].type).toEqual({ elemType: DataType.BOOL, shape: [2] });
    expect(run('And', [typed(DataType.BOOL, [2]), typed(DataType.BOOL, [1])]).outputs[0].type?.elemType).toBe(DataType.BOOL);
    expect(run('Cast', [f32(['n'])], [attrInt('to', DataType.INT64)]).outputs[0].type).toEqual({ elemType: DataType.INT64, shape: ['n'] });
    expect(run('CastLike', [f32([2]), typed(DataType.FLOAT16, [])]).outputs[0].type?.elemType).toBe(DataType.FLOAT16);
    expect(shape(run('Where', [typed(DataType.BOOL, [1, 1, 'seq', 'seq']), f32([]), f32(['batch', 12, 'seq', 'seq'])]))).toEqual(['batch', 12, 'seq', 'seq']);
  });

  it('computes small integer values, on symbols too', () => {
    expect(run('Mul', [i64(['batch']), i64([12])]).outputs[0].value).toEqual(['12*batch']);
    expect(run('Div', [i64([768]), i64([12])]).outputs[0].value).toEqual([64]);
    expect(run('Div', [i64([7, -7]), i64([2])]).outputs[0].value).toEqual([3, -3]);
    expect(run('Div', [i64(['768*seq']), i64([12])]).outputs[0].value).toEqual(['64*seq']);
    expect(run('Sub', [i64(['seq']), i64([1])]).outputs[0].value).toEqual(['seq-1']);
    expect(run('Equal', [i64(['batch', -1, 5]), i64([-1])]).outputs[0].value).toEqual([0, 1, 0]);
    expect(run('Equal', [i64(['a']), i64(['b'])]).outputs[0].value).toBeUndefined();
    expect(run('Where', [{ ...typed(DataType.BOOL, [3]), value: [0, 1, 0] }, i64([1, 1, 1]), i64(['batch', -1, 5])]).outputs[0].value).toEqual(['batch', 1, 5]);
    expect(run('Cast', [{ ...f32([2]), value: [2.7, -1.5] }], [attrInt('to', DataType.INT64)]).outputs[0].value).toEqual([2, -1]);
    expect(run('Max', [i64(['seq']), i64([0])]).outputs[0].value).toEqual(['seq']);
    expect(run('Mod', [i64([-7, 7]), i64([3])]).outputs[0].value).toEqual([2, 1]);
    expect(run('Mod', [i64([-7, 7]), i64([3])], [attrInt('fmod', 1)]).outputs[0].value).toEqual([-1, 1]);
  });

  it('keeps shape through unary ops; Dropout adds a bool mask', () => {
    expect(shape(run('Erf', [f32(['b', 3])]))).toEqual(['b', 3]);
    expect(shape(run('Softmax', [f32(['b', 12, 's', 's'])], [attrInt('axis', -1)]))).toEqual(['b', 12, 's', 's']);
    const d = run('Dropout', [f32(['b', 8])], [], { outputs: 2 });
    expect(d.outputs[1].type).toEqual({ elemType: DataType.BOOL, shape: ['b', 8] });
  });
});

describe('shape ops', () => {
  it('Shape gives the dims as a value, with start/end from opset 15', () => {
    expect(run('Shape', [f32(['batch', 'seq', 768])]).outputs[0]).toEqual(i64(['batch', 'seq', 768]));
    expect(run('Shape', [f32(['batch', 'seq', 768])], [attrInt('start', -2)], { opset: 15 }).outputs[0].value).toEqual(['seq', 768]);
    expect(run('Shape', [f32(['batch', 'seq', 768])], [attrInt('start', 1), attrInt('end', 2)], { opset: 15 }).outputs[0].value).toEqual(['seq']);
    expect(run('Size', [f32(['batch', 'seq', 768])]).outputs[0]).toEqual(i64(['768*batch*seq'], []));
  });

  it('Reshape copies 0, infers -1 over symbols, and honours allowzero', () => {
    const x = f32(['batch', 'seq', 768]);
    expect(shape(run('Reshape', [x, i64([0, 0, 12, 64])]))).toEqual(['batch', 'seq', 12, 64]);
    expect(shape(run('Reshape', [x, i64([-1, 768])]))).toEqual(['batch*seq', 768]);
    expect(shape(run('Reshape', [f32(['batch*seq', 768]), i64(['batch', 'seq', -1])]))).toEqual(['batch', 'seq', 768]);
    expect(shape(run('Reshape', [f32([2, 0, 3]), i64([0, 3])], [attrInt('allowzero', 1)], { opset: 14 }))).toEqual([0, 3]);
    expect(shape(run('Reshape', [f32([2, 4, 3]), i64([0, -1])], [attrInt('allowzero', 0)], { opset: 14 }))).toEqual([2, 12]);
    expect(shape(run('Reshape', [f32([6]), undefined], [attrInts('shape', [2, 3])], { opset: 1 }))).toEqual([2, 3]);
    const unknownTarget = run(
      'Reshape',
      [x, i64([])].map((k, i) => (i === 1 ? { type: { elemType: DataType.INT64, shape: [4] } } : k)),
    );
    expect(unknownTarget.reason).toMatch(/target shape .* is not known/);
    expect(unknownTarget.outputs[0].type?.shape).toHaveLength(4);
  });

  it('Flatten, Transpose, Squeeze and Unsqueeze (attribute form before 13, input form after)', () => {
    expect(shape(run('Flatten', [f32(['N', 16, 5, 5])]))).toEqual(['N', 400]);
    expect(shape(run('Flatten', [f32(['N', 16, 5, 5])], [attrInt('axis', 0)]))).toEqual([1, '400*N']);
    expect(shape(run('Flatten', [f32(['N', 16, 5, 5])], [attrInt('axis', -1)]))).toEqual(['16*N*5'.replace('16*N*5', '80*N'), 5]);
    expect(shape(run('Transpose', [f32(['b', 's', 12, 64])], [attrInts('perm', [0, 2, 1, 3])]))).toEqual(['b', 12, 's', 64]);
    expect(shape(run('Transpose', [f32([2, 3, 4])]))).toEqual([4, 3, 2]);
    expect(shape(run('Squeeze', [f32([1, 'n', 1])], [attrInts('axes', [0])], { opset: 11 }))).toEqual(['n', 1]);
    expect(shape(run('Squeeze', [f32([1, 'n', 1]), i64([-1])], [], { opset: 13 }))).toEqual([1, 'n']);
    expect(shape(run('Squeeze', [f32([1, 3, 1])], [], { opset: 13 }))).toEqual([3]);
    expect(shape(run('Unsqueeze', [f32(['n'])], [attrInts('axes', [0, 2])], { opset: 11 }))).toEqual([1, 'n', 1]);
    expect(shape(run('Unsqueeze', [f32(['n']), i64([-1])], [], { opset: 13 }))).toEqual(['n', 1]);
    expect(run('Unsqueeze', [i64(['batch'], []), i64([0])], [], { opset: 13 }).outputs[0]).toEqual(i64(['batch']));
  });

  it('Concat adds along the axis and joins values', () => {
    expect(shape(run('Concat', [f32(['b', 'past', 64]), f32(['b', 'seq', 64])], [attrInt('axis', 1)]))).toEqual(['b', 'past+seq', 64]);
    expect(run('Concat', [i64(['batch']), i64(['seq']), i64([12, 64])], [attrInt('axis', 0)]).outputs[0]).toEqual(i64(['batch', 'seq', 12, 64]));
  });

  it('Split: attribute, input, num_outputs (18) and equal parts', () => {
    expect(shapes(run('Split', [f32(['b', 's', 2304])], [attrInt('axis', 2)], { outputs: 3 }))).toEqual([
      ['b', 's', 768],
      ['b', 's', 768],
      ['b', 's', 768],
    ]);
    expect(shapes(run('Split', [f32([10])], [attrInts('split', [3, 7])], { outputs: 2, opset: 11 }))).toEqual([[3], [7]]);
    expect(shapes(run('Split', [f32([10]), i64([4, 6])], [], { outputs: 2, opset: 13 }))).toEqual([[4], [6]]);
    expect(shapes(run('Split', [f32([10])], [attrInt('num_outputs', 3)], { outputs: 3, opset: 18 }))).toEqual([[4], [4], [2]]);
    expect(run('Split', [i64([5, 6, 7, 8]), i64([1, 3])], [], { outputs: 2, opset: 13 }).outputs.map((k) => k.value)).toEqual([[5], [6, 7, 8]]);
  });

  it('Slice: attributes before 10, inputs after, negative and INT64_MAX ends, steps', () => {
    expect(shape(run('Slice', [f32([10, 8])], [attrInts('starts', [2]), attrInts('ends', [5]), attrInts('axes', [1])], { opset: 9 }))).toEqual([10, 3]);
    expect(shape(run('Slice', [f32([10, 8]), i64([-3]), i64([INT64_MAX]), i64([0])]))).toEqual([3, 8]);
    expect(shape(run('Slice', [f32([10]), i64([1]), i64([INT64_MAX]), i64([0]), i64([3])]))).toEqual([3]);
    expect(shape(run('Slice', [f32([10]), i64([-1]), i64([-INT64_MAX]), i64([0]), i64([-1])]))).toEqual([10]);
    expect(shape(run('Slice', [f32([10]), i64([20]), i64([30])]))).toEqual([0]);
    expect(shape(run('Slice', [f32(['b', 'seq', 768]), i64([-1]), i64([INT64_MAX]), i64([1])]))).toEqual(['b', 1, 768]);
    expect(shape(run('Slice', [f32([1, 1, 1024, 1024]), i64([0, 0]), i64(['seq', 'seq']), i64([2, 3])]))).toEqual([1, 1, 'seq', 'seq']);
    expect(shape(run('Slice', [f32(['seq']), i64([1]), i64([-1])]))).toEqual(['seq-2']);
    expect(run('Slice', [i64(['b', 's', 12, 64]), i64([1]), i64([3])]).outputs[0].value).toEqual(['s', 12]);
  });

  it('Gather: embeddings, and picking dims out of a Shape value', () => {
    expect(shape(run('Gather', [f32([50257, 768]), typed(DataType.INT64, ['b', 's'])]))).toEqual(['b', 's', 768]);
    expect(shape(run('Gather', [f32(['b', 's', 768]), i64([-1], [])], [attrInt('axis', 1)]))).toEqual(['b', 768]);
    expect(run('Gather', [i64(['b', 's', 768]), i64([1], [])]).outputs[0]).toEqual(i64(['s'], []));
    expect(run('Gather', [i64(['b', 's', 768]), i64([0, -1])]).outputs[0].value).toEqual(['b', 768]);
    expect(shape(run('GatherElements', [f32([4, 5]), typed(DataType.INT64, [4, 2])], [attrInt('axis', 1)]))).toEqual([4, 2]);
    expect(shape(run('GatherND', [f32([2, 3, 4]), typed(DataType.INT64, [5, 2])]))).toEqual([5, 4]);
  });

  it('ConstantOfShape, Expand, Range, Tile, Pad', () => {
    const cos = run('ConstantOfShape', [i64(['b', 1, 's'])], [attrTensor('value', int64Tensor('v', [1], [1]))]);
    expect(cos.outputs[0].type).toEqual({ elemType: DataType.INT64, shape: ['b', 1, 's'] });
    expect(run('ConstantOfShape', [i64([3])], [attrTensor('value', int64Tensor('v', [1], [1]))]).outputs[0].value).toEqual([1, 1, 1]);
    expect(run('ConstantOfShape', [i64([2])]).outputs[0].type?.elemType).toBe(DataType.FLOAT);
    expect(shape(run('Expand', [f32([1, 1, 's']), i64(['b', 1, 1])]))).toEqual(['b', 1, 's']);
    expect(shape(run('Expand', [f32([3, 1]), i64([2, 1, 4])]))).toEqual([2, 3, 4]);
    expect(shape(run('Range', [i64([0], []), i64(['seq'], []), i64([1], [])]))).toEqual(['seq']);
    expect(run('Range', [i64([1], []), i64([10], []), i64([3], [])]).outputs[0]).toEqual(i64([1, 4, 7]));
    expect(shape(run('Range', [i64(['past'], []), i64(['past+seq'], []), i64([1], [])]))).toEqual(['seq']);
    expect(shape(run('Tile', [f32([2, 'n']), i64([3, 2])]))).toEqual([6, '2*n']);
    expect(run('Tile', [i64([1, 2]), i64([2])]).outputs[0].value).toEqual([1, 2, 1, 2]);
    expect(shape(run('Pad', [f32(['N', 3, 32, 32]), i64([0, 0, 1, 2, 0, 0, 1, 2])], [], { opset: 13 }))).toEqual(['N', 3, 34, 36]);
    expect(shape(run('Pad', [f32([3, 4])], [attrInts('pads', [1, 0, 1, 0])], { opset: 2 }))).toEqual([5, 4]);
    expect(shape(run('Pad', [f32([3, 4, 5]), i64([1, 2]), undefined, i64([-1])], [], { opset: 18 }))).toEqual([3, 4, 8]);
  });

  it('NonZero has a data-dependent length; TopK, Trilu, CumSum', () => {
    const nz = shape(run('NonZero', [f32([3, 4])]))!;
    expect(nz[0]).toBe(2);
    expect(String(nz[1])).toMatch(/^unk__/);
    const tk = run('TopK', [f32(['b', 100]), i64([5])], [], { outputs: 2 });
    expect(tk.outputs.map((k) => k.type)).toEqual([
      { elemType: DataType.FLOAT, shape: ['b', 5] },
      { elemType: DataType.INT64, shape: ['b', 5] },
    ]);
    expect(shape(run('TopK', [f32([7, 9])], [attrInt('k', 3), attrInt('axis', 0)], { opset: 9, outputs: 2 }))).toEqual([3, 9]);
    expect(shape(run('Trilu', [f32(['s', 's'])]))).toEqual(['s', 's']);
    expect(shape(run('CumSum', [f32(['s', 4]), i64([0], [])]))).toEqual(['s', 4]);
  });
});

describe('nn ops', () => {
  it('MatMul: batched with broadcasting, 1-D cases', () => {
    expect(shape(run('MatMul', [f32(['b', 12, 's', 64]), f32(['b', 12, 64, 's'])]))).toEqual(['b', 12, 's', 's']);
    expect(shape(run('MatMul', [f32(['b', 's', 768]), f32([768, 3072])]))).toEqual(['b', 's', 3072]);
    expect(shape(run('MatMul', [f32([4]), f32([4, 5])]))).toEqual([5]);
    expect(shape(run('MatMul', [f32([2, 3, 4]), f32([4])]))).toEqual([2, 3]);
    expect(shape(run('MatMul', [f32([4]), f32([4])]))).toEqual([]);
    expect(shape(run('MatMul', [f32([5, 1, 3, 4]), f32([6, 4, 2])]))).toEqual([5, 6, 3, 2]);
  });

  it('Gemm with transA/transB', () => {
    expect(shape(run('Gemm', [f32(['N', 3]), f32([8, 3]), f32([8])], [attrInt('transB', 1)]))).toEqual(['N', 8]);
    expect(shape(run('Gemm', [f32([3, 'N']), f32([3, 8])], [attrInt('transA', 1)]))).toEqual(['N', 8]);
  });

  it('Conv: pads, strides, dilations, auto_pad, group; symbolic spatial dims', () => {
    const w = f32([16, 3, 3, 3]);
    expect(shape(run('Conv', [f32(['N', 3, 32, 32]), w], [attrInts('pads', [1, 1, 1, 1]), attrInts('strides', [2, 2])]))).toEqual(['N', 16, 16, 16]);
    expect(shape(run('Conv', [f32([1, 3, 32, 32]), w], [attrInts('dilations', [2, 2])]))).toEqual([1, 16, 28, 28]);
    expect(shape(run('Conv', [f32([1, 3, 33, 20]), w], [attrString('auto_pad', 'SAME_UPPER'), attrInts('strides', [2, 2])]))).toEqual([1, 16, 17, 10]);
    expect(shape(run('Conv', [f32([1, 3, 33, 20]), w], [attrString('auto_pad', 'VALID')]))).toEqual([1, 16, 31, 18]);
    expect(shape(run('Conv', [f32([1, 32, 8, 8]), f32([32, 1, 3, 3])], [attrInt('group', 32), attrInts('pads', [1, 1, 1, 1])]))).toEqual([1, 32, 8, 8]);
    expect(shape(run('Conv', [f32(['N', 3, 'H', 'W']), w], [attrInts('pads', [1, 1, 1, 1])]))).toEqual(['N', 16, 'H', 'W']);
    expect(shape(run('Conv', [f32(['N', 3, 'H', 'W']), w], [attrInts('strides', [2, 2])]))).toEqual(['N', 16, 'floor((H-3)/2)+1', 'floor((W-3)/2)+1']);
    expect(shape(run('Conv', [f32(['N', 3, 100]), f32([4, 3, 5])]))).toEqual(['N', 4, 96]);
  });

  it('ConvTranspose: strides, pads, output_padding, group, output_shape', () => {
    expect(
      shape(
        run(
          'ConvTranspose',
          [f32([1, 8, 5, 5]), f32([8, 4, 3, 3])],
          [attrInts('strides', [2, 2]), attrInts('pads', [1, 1, 1, 1]), attrInts('output_padding', [1, 1])],
        ),
      ),
    ).toEqual([1, 4, 10, 10]);
    expect(shape(run('ConvTranspose', [f32([1, 8, 5, 5]), f32([8, 4, 3, 3])], [attrInt('group', 2)]))).toEqual([1, 8, 7, 7]);
    expect(shape(run('ConvTranspose', [f32([1, 8, 5, 5]), f32([8, 4, 3, 3])], [attrInts('output_shape', [11, 11]), attrInts('strides', [2, 2])]))).toEqual([
      1, 4, 11, 11,
    ]);
    expect(
      shape(run('ConvTranspose', [f32(['N', 8, 'H', 5]), f32([8, 4, 3, 3])], [attrString('auto_pad', 'SAME_UPPER'), attrInts('strides', [2, 2])])),
    ).toEqual(['N', 4, '2*H', 10]);
  });

  it('pools: ceil_mode, global pools; BatchNormalization, InstanceNormalization', () => {
    const k2 = [attrInts('kernel_shape', [2, 2]), attrInts('strides', [2, 2])];
    expect(shape(run('MaxPool', [f32(['N', 16, 5, 5])], k2))).toEqual(['N', 16, 2, 2]);
    expect(shape(run('MaxPool', [f32(['N', 16, 5, 5])], [...k2, attrInt('ceil_mode', 1)]))).toEqual(['N', 16, 3, 3]);
    expect(
      shape(run('AveragePool', [f32([1, 1, 5])], [attrInts('kernel_shape', [2]), attrInts('strides', [3]), attrInts('pads', [0, 1]), attrInt('ceil_mode', 1)])),
    ).toEqual([1, 1, 2]);
    const mp = run('MaxPool', [f32([1, 2, 6, 6])], [...k2], { outputs: 2 });
    expect(mp.outputs[1].type).toEqual({ elemType: DataType.INT64, shape: [1, 2, 3, 3] });
    expect(shape(run('GlobalAveragePool', [f32(['N', 512, 7, 7])]))).toEqual(['N', 512, 1, 1]);
    expect(shape(run('BatchNormalization', [f32(['N', 16, 8, 8]), f32([16]), f32([16]), f32([16]), f32([16])]))).toEqual(['N', 16, 8, 8]);
    expect(shape(run('InstanceNormalization', [f32(['N', 16, 8, 8]), f32([16]), f32([16])]))).toEqual(['N', 16, 8, 8]);
  });

  it('LayerNormalization and its Mean/InvStdDev outputs', () => {
    const r = run('LayerNormalization', [f32(['b', 's', 768]), f32([768]), f32([768])], [attrInt('axis', -1)], { outputs: 3 });
    expect(shapes(r)).toEqual([
      ['b', 's', 768],
      ['b', 's', 1],
      ['b', 's', 1],
    ]);
  });

  it('Einsum: explicit, implicit and ellipsis equations', () => {
    expect(shape(run('Einsum', [f32(['b', 12, 's', 64]), f32(['b', 12, 't', 64])], [attrString('equation', 'bhqd,bhkd->bhqk')]))).toEqual(['b', 12, 's', 't']);
    expect(shape(run('Einsum', [f32([2, 3]), f32([3, 4])], [attrString('equation', 'ij,jk')]))).toEqual([2, 4]);
    expect(shape(run('Einsum', [f32(['b', 5, 2, 3]), f32([3, 4])], [attrString('equation', '...ij,jk->...ik')]))).toEqual(['b', 5, 2, 4]);
    expect(shape(run('Einsum', [f32([3, 3])], [attrString('equation', 'ii->i')]))).toEqual([3]);
  });

  it('Resize from sizes or scales; Upsample', () => {
    expect(shape(run('Resize', [f32(['N', 3, 8, 8]), undefined, undefined, i64([1, 3, 16, 12])], [], { opset: 13 }))).toEqual([1, 3, 16, 12]);
    expect(shape(run('Resize', [f32(['N', 3, 'H', 7]), undefined, { ...f32([4]), value: [1, 1, 2, 1.5] }], [], { opset: 13 }))).toEqual(['N', 3, '2*H', 10]);
    expect(shape(run('Upsample', [f32(['N', 3, 4, 4]), { ...f32([4]), value: [1, 1, 2, 2] }], [], { opset: 9 }))).toEqual(['N', 3, 8, 8]);
    expect(run('Resize', [f32(['N', 3, 8, 8]), undefined, f32([4])], [], { opset: 13 }).reason).toMatch(/scales .* not known/);
  });
});

describe('reductions', () => {
  it('axes as attribute or input by opset, keepdims, noop_with_empty_axes', () => {
    const x = f32(['b', 's', 768]);
    expect(shape(run('ReduceMean', [x], [attrInts('axes', [-1])], { opset: 13 }))).toEqual(['b', 's', 1]);
    expect(shape(run('ReduceMean', [x, i64([1])], [attrInt('keepdims', 0)], { opset: 18 }))).toEqual(['b', 768]);
    expect(shape(run('ReduceSum', [x, i64([1])], [attrInt('keepdims', 0)], { opset: 13 }))).toEqual(['b', 768]);
    expect(shape(run('ReduceSum', [x], [attrInts('axes', [1])], { opset: 11 }))).toEqual(['b', 1, 768]);
    expect(shape(run('ReduceMax', [x], [attrInt('keepdims', 0)], { opset: 18 }))).toEqual([]);
    expect(shape(run('ReduceSum', [x, i64([])], [attrInt('noop_with_empty_axes', 1)], { opset: 13 }))).toEqual(['b', 's', 768]);
    expect(run('ReduceProd', [i64(['b', 's'])], [attrInt('keepdims', 0)], { opset: 13 }).outputs[0].value).toEqual(['b*s']);
    expect(run('ArgMax', [x], [attrInt('axis', -1), attrInt('keepdims', 0)]).outputs[0].type).toEqual({ elemType: DataType.INT64, shape: ['b', 's'] });
  });
});

describe('com.microsoft', () => {
  const ms = { domain: 'com.microsoft' };
  it('Gelu family, SkipLayerNormalization, Attention', () => {
    expect(shape(run('FastGelu', [f32(['b', 's', 3072]), f32([3072])], [], ms))).toEqual(['b', 's', 3072]);
    const sln = run('SkipLayerNormalization', [f32(['b', 's', 768]), f32(['b', 's', 768]), f32([768]), f32([768])], [], { ...ms, outputs: 4 });
    expect(shapes(sln)).toEqual([
      ['b', 's', 768],
      ['b', 's', 1],
      ['b', 's', 1],
      ['b', 's', 768],
    ]);
    const att = run('Attention', [f32(['b', 's', 768]), f32([768, 2304]), f32([2304])], [attrInt('num_heads', 12)], { ...ms, outputs: 2 });
    expect(shapes(att)).toEqual([
      ['b', 's', 768],
      [2, 'b', 12, 's', 64],
    ]);
    expect(shape(run('FusedMatMul', [f32(['b', 12, 's', 64]), f32(['b', 12, 't', 64])], [attrInt('transB', 1)], ms))).toEqual(['b', 12, 's', 't']);
    expect(shape(run('MultiHeadAttention', [f32(['b', 's', 768]), f32(['b', 't', 768]), f32(['b', 't', 512])], [attrInt('num_heads', 8)], ms))).toEqual([
      'b',
      's',
      512,
    ]);
    expect(shape(run('LayerNormalization', [f32(['b', 's', 768]), f32([768])], [], ms))).toEqual(['b', 's', 768]);
  });

  it('GroupQueryAttention (packed and separate), EmbedLayerNormalization, MatMulNBits, RotaryEmbedding', () => {
    const gqa = [attrInt('num_heads', 32), attrInt('kv_num_heads', 8)];
    expect(shape(run('GroupQueryAttention', [f32(['b', 's', 6144])], gqa, ms))).toEqual(['b', 's', 4096]);
    expect(shape(run('GroupQueryAttention', [f32(['b', 's', 4096]), f32(['b', 's', 1024]), f32(['b', 's', 1024])], gqa, ms))).toEqual(['b', 's', 4096]);
    const eln = run('EmbedLayerNormalization', [typed(DataType.INT32, ['b', 's']), undefined, f32([30522, 768]), f32([512, 768])], [], { ...ms, outputs: 2 });
    expect(eln.outputs.map((k) => k.type)).toEqual([
      { elemType: DataType.FLOAT, shape: ['b', 's', 768] },
      { elemType: DataType.INT32, shape: ['b'] },
    ]);
    expect(shape(run('MatMulNBits', [f32(['b', 's', 4096]), typed(DataType.UINT8, [11008, 128, 16])], [attrInt('K', 4096), attrInt('N', 11008)], ms))).toEqual([
      'b',
      's',
      11008,
    ]);
    expect(shape(run('RotaryEmbedding', [f32(['b', 's', 4096]), typed(DataType.INT64, ['b', 's'])], [], ms))).toEqual(['b', 's', 4096]);
  });
});

describe('reasons', () => {
  it('says which op has no rule, and which input is missing', () => {
    expect(run('MyCustomOp', [f32([1])]).reason).toBe('no shape rule for op MyCustomOp');
    expect(run('Relu', [f32([1])], [], { domain: 'my.domain' }).reason).toBe('no shape rule for op my.domain.Relu');
    expect(run('Relu', [undefined]).reason).toMatch(/input 0 .* has no known type/);
    expect(run('Reshape', [f32([4]), f32([2])]).reason).toMatch(/value of input 1|target shape/);
  });

  it('Constant nodes produce values', () => {
    expect(run('Constant', [], [attrTensor('value', int64Tensor('c', [12, 64]))]).outputs[0]).toEqual(i64([12, 64]));
    expect(run('Constant', [], [attrTensor('value', floatTensor('c', [8], []))]).outputs[0]).toEqual({
      type: { elemType: DataType.FLOAT, shape: [] },
      value: [8],
    });
    expect(run('Constant', [], [attrInts('value_ints', [1, 2])]).outputs[0]).toEqual(i64([1, 2]));
    expect(run('Constant', [], [attrFloat('value_float', 0.5)]).outputs[0]).toEqual({ type: { elemType: DataType.FLOAT, shape: [] }, value: [0.5] });
  });
});

describe('less common ops', () => {
  it('PRelu and opset < 7 arithmetic broadcast B to A', () => {
    expect(shape(run('PRelu', [f32([2, 3, 4]), f32([3, 1])]))).toEqual([2, 3, 4]);
    expect(shape(run('Add', [f32([2, 3, 4]), f32([3])], [attrInt('broadcast', 1), attrInt('axis', 1)], { opset: 6 }))).toEqual([2, 3, 4]);
  });

  it('recurrent layers, losses, quantisation', () => {
    const lstm = run(
      'LSTM',
      [f32(['seq', 'b', 10]), f32([2, 80, 10]), f32([2, 80, 20])],
      [attrInt('hidden_size', 20), attrString('direction', 'bidirectional')],
      { outputs: 3 },
    );
    expect(shapes(lstm)).toEqual([
      ['seq', 2, 'b', 20],
      [2, 'b', 20],
      [2, 'b', 20],
    ]);
    expect(shape(run('SoftmaxCrossEntropyLoss', [f32(['n', 5]), typed(DataType.INT64, ['n'])], [attrString('reduction', 'none')]))).toEqual(['n']);
    expect(shape(run('NegativeLogLikelihoodLoss', [f32(['n', 5]), typed(DataType.INT64, ['n'])]))).toEqual([]);
    const q = run('QuantizeLinear', [f32(['n', 4]), f32([]), typed(DataType.INT8, [])]);
    expect(q.outputs[0].type).toEqual({ elemType: DataType.INT8, shape: ['n', 4] });
    expect(run('DequantizeLinear', [typed(DataType.INT8, ['n', 4]), f32([])]).outputs[0].type).toEqual({ elemType: DataType.FLOAT, shape: ['n', 4] });
  });
});

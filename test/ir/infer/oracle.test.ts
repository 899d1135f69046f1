/**
 * onnxruntime as an independent oracle: every intermediate tensor of models
 * built here is made a graph output, the model runs on concrete inputs, and
 * the actual shapes (and the values of small integer tensors) must equal what
 * inference predicted, with its symbols bound to the input sizes.
 */
import { describe, expect, it } from 'vitest';
import { makeValueInfo } from '../../../src/onnx/graph.js';
import { attrFloat, newModel, emptyGraph } from '../../../src/onnx/build.js';
import { DataType, type AttributeProto, type TensorProto } from '../../../src/onnx/types.js';
import { checkAgainstRuntime } from './runtime.js';
import { attrInt, attrInts, attrString, int64Tensor, node } from './helpers.js';
import { cnnLike, gpt2Like } from '../../../scripts/torchlike.js';

describe('inference agrees with onnxruntime', () => {
  for (const opset of [11, 14, 17, 18]) {
    it(`GPT-2-style decoder, opset ${opset}: every intermediate tensor`, async () => {
      const { model } = gpt2Like({ opset, d: 16, heads: 4, layers: 2, vocab: 11 });
      const n = await checkAgainstRuntime(model, [{ name: 'input_ids', elemType: DataType.INT64, dims: [2, 5], maxInt: 11 }], { batch: 2, sequence: 5 });
      expect(n).toBeGreaterThan(100);
    });
  }

  it('CNN over symbolic N, H, W (12 x 11 at run time)', async () => {
    const { model } = cnnLike(13);
    model.graph!.input[0] = makeValueInfo('image', DataType.FLOAT, ['N', 3, 'H', 'W']);
    await checkAgainstRuntime(model, [{ name: 'image', elemType: DataType.FLOAT, dims: [3, 3, 12, 11] }], { N: 3, H: 12, W: 11 });
  });

  const cases: {
    label: string;
    op: string;
    x: number[];
    params?: TensorProto[];
    attrs?: AttributeProto[];
    opset?: number;
    outputs?: number;
    extra?: number[][];
  }[] = [
    {
      label: 'MaxPool ceil_mode with padding',
      op: 'MaxPool',
      x: [1, 2, 7, 6],
      attrs: [attrInts('kernel_shape', [3, 2]), attrInts('strides', [2, 2]), attrInts('pads', [1, 0, 1, 1]), attrInt('ceil_mode', 1)],
      outputs: 2,
    },
    {
      label: 'AveragePool ceil_mode whose last window starts in the padding',
      op: 'AveragePool',
      x: [1, 1, 5],
      attrs: [attrInts('kernel_shape', [2]), attrInts('strides', [3]), attrInts('pads', [0, 1]), attrInt('ceil_mode', 1)],
    },
    {
      label: 'AveragePool SAME_LOWER',
      op: 'AveragePool',
      x: [1, 1, 9, 10],
      attrs: [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 3]), attrString('auto_pad', 'SAME_LOWER')],
    },
    {
      label: 'Conv dilated, strided, grouped',
      op: 'Conv',
      x: [2, 4, 15, 12],
      extra: [[6, 2, 3, 2]],
      attrs: [attrInt('group', 2), attrInts('dilations', [2, 1]), attrInts('strides', [2, 3]), attrInts('pads', [1, 0, 2, 1])],
    },
    {
      label: 'ConvTranspose with output_padding',
      op: 'ConvTranspose',
      x: [1, 4, 5, 6],
      extra: [[4, 3, 3, 3]],
      attrs: [attrInts('strides', [2, 3]), attrInts('pads', [1, 0, 1, 1]), attrInts('output_padding', [1, 2])],
    },
    {
      label: 'Slice with negative steps',
      op: 'Slice',
      x: [7, 9],
      params: [int64Tensor('s', [-2, 8]), int64Tensor('e', [-9223372036854775807, 1]), int64Tensor('a', [0, 1]), int64Tensor('st', [-2, -3])],
    },
    {
      label: 'Pad opset 18 with axes',
      op: 'Pad',
      x: [2, 3, 4],
      params: [int64Tensor('p', [1, 2, 3, 0]), int64Tensor('', []), int64Tensor('ax', [0, 2])],
      opset: 18,
    },
    {
      label: 'Resize by scales',
      op: 'Resize',
      x: [1, 2, 5, 7],
      params: [
        int64Tensor('', []),
        { ...int64Tensor('sc', []), dataType: DataType.FLOAT, dims: [4], rawData: new Uint8Array(Float32Array.from([1, 1, 2.5, 0.5]).buffer) },
      ],
      opset: 13,
    },
    { label: 'Einsum batched', op: 'Einsum', x: [2, 3, 4, 5], extra: [[2, 3, 6, 5]], attrs: [attrString('equation', 'bhqd,bhkd->bhqk')] },
    { label: 'TopK', op: 'TopK', x: [3, 8], params: [int64Tensor('k', [3])], attrs: [attrInt('axis', -1)], outputs: 2 },
    { label: 'Tile', op: 'Tile', x: [2, 3], params: [int64Tensor('r', [3, 2])] },
    { label: 'Split num_outputs 18, uneven', op: 'Split', x: [10, 2], attrs: [attrInt('num_outputs', 4)], opset: 18, outputs: 4 },
    {
      label: 'LayerNormalization extra outputs',
      op: 'LayerNormalization',
      x: [2, 3, 4],
      extra: [
        [3, 4],
        [3, 4],
      ],
      attrs: [attrInt('axis', 1), attrFloat('epsilon', 1e-5)],
      outputs: 3,
    },
    { label: 'Flatten with negative axis', op: 'Flatten', x: [2, 3, 4, 5], attrs: [attrInt('axis', -2)] },
    { label: 'ReduceSum without axes, keepdims', op: 'ReduceSum', x: [2, 3, 4], opset: 13 },
    { label: 'GatherElements', op: 'GatherElements', x: [3, 4], params: [int64Tensor('i', [0, 1, 2, 3, 0, 1], [3, 2])], attrs: [attrInt('axis', 1)] },
    { label: 'Trilu', op: 'Trilu', x: [4, 5] },
    { label: 'CumSum', op: 'CumSum', x: [4, 5], params: [int64Tensor('ax', [1], [])] },
  ];
  for (const c of cases) {
    it(`${c.op}: ${c.label}`, async () => {
      const g = emptyGraph('one');
      const inputs = ['x'];
      g.input.push(makeValueInfo('x', DataType.FLOAT, c.x));
      (c.extra ?? []).forEach((dims, i) => {
        g.input.push(makeValueInfo(`x${i + 1}`, DataType.FLOAT, dims));
        inputs.push(`x${i + 1}`);
      });
      for (const p of c.params ?? []) {
        if (p.name) g.initializer.push(p);
        inputs.push(p.name ?? '');
      }
      g.node.push(
        node(
          c.op,
          inputs,
          Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`),
          c.attrs ?? [],
        ),
      );
      const feeds = [c.x, ...(c.extra ?? [])].map((dims, i) => ({ name: i === 0 ? 'x' : `x${i}`, elemType: DataType.FLOAT, dims }));
      await checkAgainstRuntime(newModel(g, c.opset ?? 17), feeds, {});
    });
  }
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attrFloat, attrInt, attrInts, emptyGraph, node } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel } from '../../src/onnx/model.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { DataType, type GraphProto, type NodeProto, type TensorProto } from '../../src/onnx/types.js';
import {
  isLinearOp,
  linearOp,
  lookupFromGraph,
  mapAxis,
  mapThroughShapes,
  opBehaviour,
  readSlice,
  resolveReshape,
  writeSlice,
  type GraphLookup,
  type LinearOp,
} from '../../src/ops/index.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

function int64(name: string, values: number[]): TensorProto {
  return {
    ...makeTensor(name, DataType.FLOAT, [values.length], new Array(values.length).fill(0)),
    dataType: DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  };
}

const w = (name: string, dims: number[]) => makeTensor(name, DataType.FLOAT, dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(0.5));

function lookupOf(nodes: NodeProto[], extra: Partial<GraphProto> = {}, opset = 17): GraphLookup {
  return lookupFromGraph({ ...emptyGraph('g'), node: nodes, ...extra }, { '': opset });
}

describe('op behaviour', () => {
  const init = [makeTensor('c2', DataType.FLOAT, [], [2]), makeTensor('zero', DataType.FLOAT, [], [0]), makeTensor('vec', DataType.FLOAT, [3], [1, -1, 2])];
  const lookup = lookupOf([], { initializer: init });
  const of = (n: NodeProto, l = lookup) => opBehaviour(n, l);

  it('unary ops: elementwise, with or without f(0) = 0', () => {
    expect(of(node('Relu', ['x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Erf', ['x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Sigmoid', ['x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: false });
  });

  it('binary ops with a constant: zeros kept by Mul, x/c, +0; moved by +c and c/x; two activations merge or multiply', () => {
    expect(of(node('Mul', ['c2', 'x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Mul', ['x', 'vec'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Div', ['x', 'c2'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Div', ['c2', 'x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: false });
    expect(of(node('Add', ['x', 'vec'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: false });
    expect(of(node('Add', ['zero', 'x'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Add', ['x', 'r'], ['y']))).toEqual({ kind: 'merge' });
    expect(of(node('Mul', ['gate', 'up'], ['y']))).toEqual({ kind: 'product' });
    expect(of(node('Max', ['x', 'zero'], ['y']))).toEqual({ kind: 'elementwise', zeroPreserving: true });
  });

  it('Clip keeps zeros when its range holds 0: bounds from inputs (opset 11+) or attributes', () => {
    const l = lookupOf([], {
      initializer: [makeTensor('lo', DataType.FLOAT, [], [0]), makeTensor('one', DataType.FLOAT, [], [1]), makeTensor('half', DataType.FLOAT, [], [0.5])],
    });
    expect(of(node('Clip', ['x', 'lo', 'one'], ['y']), l)).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of(node('Clip', ['x', 'half', ''], ['y']), l)).toEqual({ kind: 'elementwise', zeroPreserving: false });
    expect(of(node('Clip', ['x'], ['y'], [attrFloat('min', 0.1)]), lookupOf([], {}, 9))).toEqual({ kind: 'elementwise', zeroPreserving: false });
  });

  it('Softmax normalises over one axis from opset 13, over every axis from `axis` on before', () => {
    expect(of(node('Softmax', ['x'], ['y']), lookupOf([], {}, 13))).toEqual({ kind: 'normalize', axes: [-1] });
    expect(of(node('Softmax', ['x'], ['y']), lookupOf([], {}, 11))).toEqual({ kind: 'normalize', axes: [1], toEnd: true });
  });

  it("Reduce axes come from the attribute or, from the op's switch-over opset, from input 1", () => {
    expect(of(node('ReduceSum', ['x'], ['y'], [attrInts('axes', [-1])]), lookupOf([], {}, 11))).toEqual({ kind: 'reduce', axes: [-1], keepdims: true });
    const l13 = lookupOf([], { initializer: [int64('ax', [-1])] }, 13);
    expect(of(node('ReduceSum', ['x', 'ax'], ['y'], [attrInt('keepdims', 0)]), l13)).toEqual({ kind: 'reduce', axes: [-1], keepdims: false });
    // ReduceMean still takes an attribute at opset 13 (its input form starts at 18).
    expect(of(node('ReduceMean', ['x'], ['y'], [attrInts('axes', [2])]), l13)).toEqual({ kind: 'reduce', axes: [2], keepdims: true });
    expect(of(node('ReduceMean', ['x', 'ax'], ['y']), lookupOf([], { initializer: [int64('ax', [1])] }, 18))).toEqual({
      kind: 'reduce',
      axes: [1],
      keepdims: true,
    });
    expect(of(node('ReduceSum', ['x', 'computed'], ['y']), l13).kind).toBe('opaque');
  });

  it('norms, pools, BatchNorm, contrib ops, and unknown ops', () => {
    expect(of(node('LayerNormalization', ['x', 's', 'b'], ['y']))).toEqual({ kind: 'normalize', axes: [-1], toEnd: true });
    expect(of(node('LayerNormalization', ['x', 's'], ['y']), lookupOf([], {}, 16)).kind).toBe('opaque');
    expect(of(node('LpNormalization', ['x'], ['y']))).toEqual({ kind: 'rowScale', axes: [-1] });
    expect(of(node('MaxPool', ['x'], ['y']))).toEqual({ kind: 'pool' });
    expect(of(node('BatchNormalization', ['x', 'a', 'b', 'm', 'v'], ['y']))).toEqual({ kind: 'channelAffine', axis: 1 });
    expect(of({ ...node('Gelu', ['x'], ['y']), domain: 'com.microsoft' })).toEqual({ kind: 'elementwise', zeroPreserving: true });
    expect(of({ ...node('FastGelu', ['x', 'bias'], ['y']), domain: 'com.microsoft' })).toEqual({ kind: 'elementwise', zeroPreserving: false });
    expect(of(node('Einsum', ['x', 'y'], ['z']))).toEqual({ kind: 'opaque', reason: 'Einsum is not an op this toolkit knows how coordinates pass through' });
  });
});

describe('layout ops: where an axis goes', () => {
  it('Transpose, Unsqueeze, Squeeze', () => {
    const x = [makeValueInfo('x', DataType.FLOAT, ['B', 'T', 4, 8])];
    const l = lookupOf([], { input: x, initializer: [int64('ax0', [0])] }, 13);
    expect(mapAxis(node('Transpose', ['x'], ['y'], [attrInts('perm', [0, 2, 1, 3])]), 1, l)).toEqual({ axis: 2 });
    expect(mapAxis(node('Transpose', ['x'], ['y']), -1, l)).toEqual({ axis: 0 });
    expect(mapAxis(node('Unsqueeze', ['x', 'ax0'], ['y']), 3, l)).toEqual({ axis: 4 });
    expect(mapAxis(node('Squeeze', ['x', 'ax0'], ['y']), 3, l)).toEqual({ axis: 2 });
    expect(mapAxis(node('Squeeze', ['x', 'ax0'], ['y']), 0, l)).toBeUndefined();
  });

  it('Flatten and Reshape: a channel becomes a block of features; a split axis has no image', () => {
    const l = lookupOf([], {
      input: [makeValueInfo('map', DataType.FLOAT, ['N', 16, 2, 2]), makeValueInfo('seq', DataType.FLOAT, ['B', 'T', 32])],
      initializer: [int64('flat', [0, -1]), int64('heads', [0, 0, 2, 16]), int64('rows', [-1, 32])],
    });
    expect(mapAxis(node('Flatten', ['map'], ['f'], [attrInt('axis', 1)]), 1, l)).toEqual({ axis: 1, block: 4 });
    expect(mapAxis(node('Reshape', ['map', 'flat'], ['f']), 1, l)).toEqual({ axis: 1, block: 4 });
    expect(mapAxis(node('Reshape', ['seq', 'rows'], ['r']), 2, l)).toBeUndefined(); // -1 would need the batch and sequence lengths
    expect(mapAxis(node('Reshape', ['seq', 'heads'], ['h']), 2, l)).toBeUndefined();
    expect(mapThroughShapes([2, 8, 32], [16, 32], 2)).toEqual({ axis: 1 });
    expect(mapThroughShapes(['B', 16, 1, 1], ['B', 16], 1)).toEqual({ axis: 1 });
    expect(mapThroughShapes(['B', 'T', 32], ['B', 'T', 2, 16], 2)).toBeUndefined();
    expect(resolveReshape([2, 8, 32], [0, -1])).toEqual([2, 256]);
  });

  it("CNN fixture: GlobalAveragePool's [N,16,1,1] flattens to [N,16] with the channel axis intact", () => {
    const m = loadModel(path.join(FIXTURES, 'cnn.onnx'));
    const graph = m.proto.graph!;
    graph.valueInfo.push(makeValueInfo('/gap/GlobalAveragePool_output_0', DataType.FLOAT, ['batch', 16, 1, 1]));
    const l = lookupFromGraph(graph, { '': 14 });
    const flatten = l.producer('/flatten/Flatten_output_0')!;
    expect(mapAxis(flatten, 1, l)).toEqual({ axis: 1 });
    expect(opBehaviour(l.producer('/gap/GlobalAveragePool_output_0')!, l)).toEqual({ kind: 'pool' });
  });
});

describe('weight ops: channels to weight axes', () => {
  const init = [w('B', [6, 4]), w('Bt', [4, 6]), w('bias', [4]), w('K1', [8, 6, 1, 1]), w('K3', [8, 6, 3, 3]), w('Kg', [8, 3, 3, 3]), w('KT', [6, 4, 3, 3])];
  const lookup = lookupOf([], { initializer: init });
  const lin = (n: NodeProto, data = 'x'): LinearOp => {
    const r = linearOp(n, data, lookup);
    if (!isLinearOp(r)) throw new Error(r.refused);
    return r;
  };

  it('MatMul and Gemm (transA, transB): which weight axis reads and which writes, and the fold orientation', () => {
    expect(lin(node('MatMul', ['x', 'B'], ['y']))).toMatchObject({
      dataAxis: -1,
      reads: { input: 1, axis: 0 },
      writes: { input: 1, axis: 1 },
      fold: { rows: 6, cols: 4, axis: 0 },
    });
    expect(lin(node('MatMul', ['Bt', 'x'], ['y']))).toMatchObject({ data: 1, dataAxis: -2, reads: { input: 0, axis: 1 }, fold: { axis: 1 } });
    expect(lin(node('Gemm', ['x', 'B', 'bias'], ['y']))).toMatchObject({
      dataAxis: 1,
      reads: { axis: 0 },
      writes: { axis: 1 },
      bias: { input: 2, axis: 0 },
      fold: { axis: 0 },
    });
    expect(lin(node('Gemm', ['x', 'Bt', 'bias'], ['y'], [attrInt('transB', 1)]))).toMatchObject({
      reads: { axis: 1 },
      writes: { axis: 0 },
      fold: { rows: 4, cols: 6, axis: 1 },
    });
    expect(lin(node('Gemm', ['x', 'B'], ['y'], [attrInt('transA', 1)]))).toMatchObject({ dataAxis: 0 });
  });

  it('Conv: 1x1 folds as [N, D]; kxk and grouped convolutions say why they cannot', () => {
    expect(lin(node('Conv', ['x', 'K1', 'bias'], ['y']))).toMatchObject({
      dataAxis: 1,
      reads: { axis: 1 },
      writes: { axis: 0 },
      bias: { input: 2, axis: 0 },
      fold: { rows: 8, cols: 6, axis: 1 },
    });
    expect(lin(node('Conv', ['x', 'K3'], ['y'])).foldRefusal).toMatch(/a 3x3 kernel mixes positions/);
    const grouped = lin(node('Conv', ['x', 'Kg'], ['y'], [attrInt('group', 2)]));
    expect(grouped.foldRefusal).toMatch(/group=2/);
    // Cin = 6 in 2 groups of 3; Cout = 8 in 2 groups of 4: input channel 4 is column 1 of rows 4..7.
    expect(readSlice(grouped, 4)).toEqual({ index: 1, range: [4, 8], otherAxis: 0 });
    expect(writeSlice(grouped, 5)).toEqual({ index: 5 });
    const transposed = lin(node('ConvTranspose', ['x', 'KT'], ['y'], [attrInt('group', 2)]));
    expect(transposed).toMatchObject({ reads: { axis: 0 }, writes: { axis: 1 } });
    // ConvTranspose W [Cin=6, Cout/g=4]: output channel 5 is column 1 of the second group's rows 3..5.
    expect(writeSlice(transposed, 5)).toEqual({ index: 1, range: [3, 6], otherAxis: 0 });
  });

  it('refuses computed weights and ops that are not weight ops', () => {
    expect(linearOp(node('MatMul', ['x', 'k'], ['y']), 'x', lookup)).toEqual({
      refused: "MatMul 'y': its weight 'k' is computed in the graph (or a graph input), not a stored constant",
    });
    expect(linearOp(node('Gemm', ['a', 'x'], ['y']), 'x', lookup)).toMatchObject({ refused: expect.stringMatching(/as its B input/) });
    expect(linearOp(node('Relu', ['x'], ['y']), 'x', lookup)).toMatchObject({ refused: expect.stringMatching(/not a weight op/) });
  });
});

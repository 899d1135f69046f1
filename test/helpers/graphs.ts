/**
 * Small ONNX models built in code for tests: plain data in, a Model out.
 * Weights come from a seeded generator so every run sees the same numbers.
 */
import { makeValueInfo } from '../../src/onnx/graph.js';
import type { Model } from '../../src/onnx/model.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { attrFloat, attrInt, emptyGraph, newModel, node } from '../../src/onnx/build.js';
import { DataType, type GraphProto, type TensorProto } from '../../src/onnx/types.js';
import { Random } from '../../src/maths/random.js';

export function randomValues(n: number, seed: number, scale = 1): number[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () => (r.next() * 2 - 1) * scale);
}

export function weight(name: string, dims: number[], seed: number, dataType: number = DataType.FLOAT): TensorProto {
  return makeTensor(
    name,
    dataType,
    dims,
    randomValues(
      dims.reduce((a, b) => a * b, 1),
      seed,
      0.8,
    ),
  );
}

export function model(graph: Partial<GraphProto> & Pick<GraphProto, 'node' | 'input' | 'output'>, opset = 17): Model {
  return { proto: newModel({ ...emptyGraph('test'), ...graph }, opset, 'sca-tests'), baseDir: '/nonexistent' };
}

/**
 * rgb [N,3] -> Gemm(transB) -> Relu -> Gemm -> `latent` [N,D] -> Gemm -> Relu -> Gemm -> out [N,3].
 * `latent` has value info, like models this toolkit exports.
 */
export function gemmAutoencoder(D = 5, dataType: number = DataType.FLOAT): Model {
  const H = 8;
  return model({
    node: [
      node('Gemm', ['x', 'w0', 'b0'], ['h0'], [attrInt('transB', 1)]),
      node('Relu', ['h0'], ['a0']),
      node('Gemm', ['a0', 'w1', 'b1'], ['latent'], [attrInt('transB', 1)]),
      node('Gemm', ['latent', 'w2', 'b2'], ['h2'], [attrInt('transB', 1)]),
      node('Relu', ['h2'], ['a2']),
      node('Gemm', ['a2', 'w3', 'b3'], ['out'], [attrInt('transB', 1)]),
    ],
    initializer: [
      weight('w0', [H, 3], 1, dataType),
      weight('b0', [H], 2, dataType),
      weight('w1', [D, H], 3, dataType),
      weight('b1', [D], 4, dataType),
      weight('w2', [H, D], 5, dataType),
      weight('b2', [H], 6, dataType),
      weight('w3', [3, H], 7, dataType),
      weight('b3', [3], 8, dataType),
    ],
    input: [makeValueInfo('x', dataType, ['N', 3])],
    output: [makeValueInfo('out', dataType, ['N', 3])],
    valueInfo: [makeValueInfo('latent', dataType, ['N', D])],
  });
}

/** x [N,4] -> MatMul + Add -> `z` [N,6] -> MatMul -> y [N,2]; `z` has no value info (like torch exports). */
export function matmulMlp(): Model {
  return model({
    node: [node('MatMul', ['x', 'w0'], ['xw']), node('Add', ['xw', 'b0'], ['z']), node('MatMul', ['z', 'w1'], ['y'])],
    initializer: [weight('w0', [4, 6], 11), weight('b0', [6], 12), weight('w1', [6, 2], 13)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', 2])],
  });
}

/** A [B,T,D] block: LayerNormalization -> `h` -> MatMul + Add (residual) -> y [B,T,D]. */
export function layerNormBlock(D = 8): Model {
  return model({
    node: [
      node('LayerNormalization', ['x', 'gamma', 'beta'], ['h'], [attrInt('axis', -1), attrFloat('epsilon', 1e-5)]),
      node('MatMul', ['h', 'w'], ['hw']),
      node('Add', ['hw', 'x'], ['y']),
    ],
    initializer: [weight('gamma', [D], 21), weight('beta', [D], 22), weight('w', [D, D], 23)],
    input: [makeValueInfo('x', DataType.FLOAT, ['B', 'T', D])],
    output: [makeValueInfo('y', DataType.FLOAT, ['B', 'T', D])],
    valueInfo: [makeValueInfo('h', DataType.FLOAT, ['B', 'T', D])],
  });
}

/** `z` is both a graph output and read by the next node: x [N,4] -> Tanh(x W) = z -> z W2 = y. */
export function outputTargetModel(): Model {
  return model({
    node: [node('MatMul', ['x', 'w'], ['pre']), node('Tanh', ['pre'], ['z']), node('MatMul', ['z', 'w2'], ['y'])],
    initializer: [weight('w', [4, 4], 31), weight('w2', [4, 3], 32)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', 3]), makeValueInfo('z', DataType.FLOAT, ['N', 4])],
    valueInfo: [makeValueInfo('z', DataType.FLOAT, ['N', 4])],
  });
}

export { node };

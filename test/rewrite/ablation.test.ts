import { describe, expect, it } from 'vitest';
import { readAnchors, readInterventions } from '../../src/anchors/manifest.js';
import { NAMED_COLORS } from '../../src/domains/color/palette.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel } from '../../src/onnx/model.js';
import { DataType } from '../../src/onnx/types.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { colorForward } from '../helpers/colorReference.js';
import { FIXTURE_LATENT, FIXTURE_MODEL, fixtureExpected } from '../helpers/fixture.js';
import { gemmAutoencoder, layerNormBlock, matmulMlp, model, node, outputTargetModel, randomValues, weight } from '../helpers/graphs.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';

const SHIPPED = new URL('../../models/color-isolated.onnx', import.meta.url).pathname;
const N = 32;

async function outputs(m: Parameters<typeof run>[0], feeds: Parameters<typeof run>[1], name = 'out'): Promise<Float32Array> {
  return (await run(m, feeds))[name].data as Float32Array;
}

describe('ablation on the PyTorch fixture (Gemm transB=1, torch-style L2 norm)', () => {
  it("matches PyTorch's weight ablation", async () => {
    const expected = fixtureExpected();
    const m = loadModel(FIXTURE_MODEL);
    const result = ablateDims(m, FIXTURE_LATENT, [0]);
    expect(result.edited).toEqual(['encoder.4.weight', 'encoder.4.bias', 'decoder.0.weight']);
    const out = await outputs(m, { rgb: f32(expected.cube.flat(), [512, 3]) }, 'out');
    expect(maxAbsDiff(out, expected.ablated_weights.flat())).toBeLessThan(1e-5);
  });
});

describe('ablation and pruning on the shipped isolated SCA colour model (Gemm transB=0, ReduceL2 norm)', () => {
  const colors = Object.values(NAMED_COLORS);
  const feeds = { input: f32(colors.flat(), [colors.length, 3]) };

  it('zeroing and pruning give the same outputs, matching a TypeScript reference', async () => {
    const zeroed = loadModel(SHIPPED);
    ablateDims(zeroed, 'bottleneck', [0]);
    const pruned = loadModel(SHIPPED);
    ablateDims(pruned, 'bottleneck', [0], { prune: true });
    expect(pruned.proto.graph!.initializer.find((t) => t.name === 'encoder.2.weight')!.dims).toEqual([16, 4]);
    expect(pruned.proto.graph!.valueInfo.find((v) => v.name === 'bottleneck')!.type!.tensorType!.shape!.dim[1].dimValue).toBe(4);
    const a = await outputs(zeroed, feeds, 'output');
    const b = await outputs(pruned, feeds, 'output');
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    const reference = colorForward(loadModel(SHIPPED), colors, [0]).flat();
    expect(maxAbsDiff(a, reference)).toBeLessThan(1e-5);
  });

  it('removes red and leaves green, cyan and blue alone', async () => {
    const m = loadModel(SHIPPED);
    ablateDims(m, 'bottleneck', [0]);
    const out = await outputs(m, feeds, 'output');
    const mse = Object.fromEntries(Object.keys(NAMED_COLORS).map((name, i) => [name, colors[i].reduce((s, v, k) => s + (out[3 * i + k] - v) ** 2, 0) / 3]));
    expect(mse.red).toBeGreaterThan(0.2);
    for (const name of ['green', 'cyan', 'blue']) expect(mse[name], name).toBeLessThan(5e-3);
  });

  it('records the edit; pruning drops the anchor whose dims are gone', () => {
    const m = loadModel(SHIPPED);
    ablateDims(m, 'bottleneck', [0], { prune: true, concept: 'red' });
    expect(readInterventions(m.proto)).toEqual([expect.objectContaining({ kind: 'prune', concept: 'red', dims: [0] })]);
    expect(readAnchors(m.proto)).toEqual([]);
  });
});

describe('weight edits equal the inserted-node interventions', () => {
  const x = f32(randomValues(N * 3, 5, 1.5), [N, 3]);
  const d5 = [0.3, -0.6, 0.2, 0.5, 0.4];
  const d5b = [0.1, 0.2, 0.9, -0.3, 0];

  it.each([
    ['suppress a subspace', { mode: 'suppress' as const, directions: [d5, d5b] }],
    ['amplify a direction', { mode: 'amplify' as const, directions: [d5], strength: 1.5 }],
    ['suppress dims at half strength', { mode: 'suppress' as const, dims: [1, 3], strength: 0.5 }],
  ])('fold: %s, with no added nodes', async (_name, request) => {
    const folded = gemmAutoencoder();
    const nodes = folded.proto.graph!.node.length;
    await patchModel(folded, [{ tensor: 'latent', fold: true, ...request }]);
    expect(folded.proto.graph!.node.length).toBe(nodes);
    const inserted = gemmAutoencoder();
    await patchModel(inserted, [{ tensor: 'latent', ...request }]);
    expect(maxAbsDiff(await outputs(folded, { x }), await outputs(inserted, { x }))).toBeLessThan(1e-5);
  });

  it('zeroing dims of a Gemm (transB=1) layer equals suppressing them', async () => {
    const ablated = gemmAutoencoder();
    ablateDims(ablated, 'latent', [2]);
    const suppressed = gemmAutoencoder();
    await patchModel(suppressed, [{ tensor: 'latent', mode: 'suppress', dims: [2] }]);
    expect(maxAbsDiff(await outputs(ablated, { x }), await outputs(suppressed, { x }))).toBeLessThan(1e-6);
  });

  it('MatMul + Add producer: bias entries are zeroed too, and pruning matches', async () => {
    const x4 = f32(randomValues(N * 4, 6), [N, 4]);
    const zeroed = matmulMlp();
    const result = ablateDims(zeroed, 'z', [1, 4]);
    expect(result.edited).toEqual(['w0', 'b0', 'w1']);
    const pruned = matmulMlp();
    ablateDims(pruned, 'z', [1, 4], { prune: true });
    const suppressed = matmulMlp();
    await patchModel(suppressed, [{ tensor: 'z', mode: 'suppress', dims: [1, 4] }]);
    const expected = await outputs(suppressed, { x: x4 }, 'y');
    expect(maxAbsDiff(await outputs(zeroed, { x: x4 }, 'y'), expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(await outputs(pruned, { x: x4 }, 'y'), expected)).toBeLessThan(1e-6);
  });

  it('a weight shared with another layer is copied, so the other layer keeps the original', async () => {
    const m = gemmAutoencoder();
    const g = m.proto.graph!;
    // A second head computes the same Gemm as the latent's producer, sharing w1 and b1.
    g.node.push(node('Gemm', ['a0', 'w1', 'b1'], ['side'], [{ name: 'transB', type: 2, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [] }]));
    g.output.push(makeValueInfo('side', DataType.FLOAT, ['N', 5]));
    const before = (await run(m, { x })).side.data as Float32Array;
    const result = ablateDims(m, 'latent', [0]);
    expect(result.edited).toEqual(['w1/sca_edited', 'b1/sca_edited', 'w2']);
    const after = await run(m, { x }, ['latent']);
    expect(maxAbsDiff(after.side.data as Float32Array, before)).toBe(0);
    expect(
      Array.from(after.latent.data as Float32Array)
        .filter((_, i) => i % 5 === 0)
        .every((v) => v === 0),
    ).toBe(true);
  });
});

describe('torch.onnx-style Reshape/Transpose around the layers', () => {
  const shape = (name: string, values: number[]) => ({
    ...weight(name, [values.length], 0),
    dataType: DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });
  // x [2,3,4] -> Reshape [-1,4] -> Gemm(transB) -> Reshape [2,3,6] = z -> Transpose [1,0,2] -> MatMul -> y [3,2,5]
  const flattened = (lastOut = 6) =>
    model({
      node: [
        node('Reshape', ['x', 'flat'], ['xr']),
        node('Gemm', ['xr', 'w1', 'b1'], ['g'], [{ name: 'transB', type: 2, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [] }]),
        node('Reshape', ['g', 'unflat'], ['z']),
        node('Transpose', ['z'], ['zt'], [{ name: 'perm', type: 7, ints: [1, 0, 2], floats: [], strings: [], tensors: [], graphs: [] }]),
        node('MatMul', ['zt', 'w2'], ['y']),
      ],
      initializer: [shape('flat', [-1, 4]), weight('w1', [6, 4], 41), weight('b1', [6], 42), shape('unflat', [2, 3, lastOut]), weight('w2', [6, 5], 43)],
      input: [makeValueInfo('x', DataType.FLOAT, [2, 3, 4])],
      output: [makeValueInfo('y', DataType.FLOAT, [3, 2, 5])],
      valueInfo: [makeValueInfo('z', DataType.FLOAT, [2, 3, 6])],
    });
  const x = f32(randomValues(24, 44), [2, 3, 4]);

  it('zeroing and pruning walk through them and equal suppressing the dims', async () => {
    const suppressed = flattened();
    await patchModel(suppressed, [{ tensor: 'z', mode: 'suppress', dims: [1, 4] }]);
    const expected = await outputs(suppressed, { x }, 'y');
    const zeroed = flattened();
    expect(ablateDims(zeroed, 'z', [1, 4]).edited).toEqual(['w1', 'b1', 'w2']);
    const pruned = flattened();
    ablateDims(pruned, 'z', [1, 4], { prune: true });
    expect(pruned.proto.graph!.valueInfo.find((v) => v.name === 'z')!.type!.tensorType!.shape!.dim.map((d) => d.dimValue)).toEqual([2, 3, 4]);
    expect(maxAbsDiff(await outputs(zeroed, { x }, 'y'), expected)).toBeLessThan(1e-6);
    expect(maxAbsDiff(await outputs(pruned, { x }, 'y'), expected)).toBeLessThan(1e-6);
  });

  it('a Reshape that changes the anchored axis is refused by name', () => {
    const m = flattened();
    const g = m.proto.graph!;
    g.initializer = g.initializer.filter((t) => t.name !== 'unflat');
    g.initializer.push(shape('unflat', [2, 18]));
    expect(() => ablateDims(m, 'z', [0])).toThrow(/Reshape at z makes the edited axis out of several/);
  });
});

describe('refusals name the node at fault', () => {
  it('a LayerNormalization between producer and tensor', () => {
    expect(() => ablateDims(layerNormBlock(), 'h', [0])).toThrow(/LayerNorm at h normalises over the last axis: ablation through it is unsound/);
  });

  it('a consumer that mixes dims', () => {
    const m = model({
      node: [node('MatMul', ['x', 'w'], ['z']), node('Softmax', ['z'], ['y'])],
      initializer: [weight('w', [4, 4], 1)],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
      output: [makeValueInfo('y', DataType.FLOAT, ['N', 4])],
    });
    expect(() => ablateDims(m, 'z', [0])).toThrow(/Softmax at y normalises over the last axis: ablation through it is unsound/);
  });

  it('a weight that is a graph input', () => {
    const m = matmulMlp();
    const g = m.proto.graph!;
    g.initializer = g.initializer.filter((t) => t.name !== 'w0');
    g.input.push(makeValueInfo('w0', DataType.FLOAT, [4, 6]));
    expect(() => ablateDims(m, 'z', [0])).toThrow(/its weight 'w0' is computed in the graph \(or a graph input\)/);
  });

  it('pruning a tensor that is a graph output', () => {
    const m = outputTargetModel();
    expect(() => ablateDims(m, 'z', [0], { prune: true })).toThrow(/'z' is a graph output/);
  });
});

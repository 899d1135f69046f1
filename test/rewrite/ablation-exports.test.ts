/**
 * Ablation and pruning on real torch.onnx exports, against PyTorch's own
 * weight edits (test/fixtures/README.md, "Weight edits") and forward hooks
 * that zero the same channels: MLP neurons behind torch's erf GELU (MatMul
 * with a separate bias Add, Gemm transB 0 and 1, external data), CNN channels
 * through BatchNorm, ReLU and MaxPool into the next Conv, and through
 * pooling and Flatten into the Gemm. Refusals name the pattern at fault.
 */
import { describe, expect, it } from 'vitest';
import { readInterventions } from '../../src/anchors/manifest.js';
import { IrModel } from '../../src/ir/model.js';
import { validate } from '../../src/ir/passes.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel } from '../../src/onnx/model.js';
import { DataType } from '../../src/onnx/types.js';
import { ablateDims } from '../../src/rewrite/ablation.js';
import { attrFloat, attrInt } from '../../src/onnx/build.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { model, node, randomValues, weight } from '../helpers/graphs.js';
import { f32, run } from '../helpers/run.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import { expected, feeds, fixturePath, floats, runModel } from '../helpers/torchFixtures.js';

const tmp = useTempDir('ablation-exports');

async function output(name: string, m: ReturnType<typeof loadModel>): Promise<ArrayLike<number>> {
  const ref = expected(name);
  const out = await runModel(m, feeds(ref.inputs), tmp());
  return floats(out[ref.output]);
}

function initializer(m: ReturnType<typeof loadModel>, name: string) {
  return m.proto.graph!.initializer.find((t) => t.name === name)!;
}

/** Each case: a fixture, the tensor whose channels are removed, and PyTorch's weight edit that removes them. */
const MLP_CASES = [
  ['gpt2_op14', 'mlp0_hidden', 'ablate_mlp0_hidden'],
  ['gpt2_op17_ext', 'mlp0_hidden', 'ablate_mlp0_hidden'],
  ['bert_cls', 'mlp0_hidden', 'ablate_mlp0_hidden'],
  ['mlp_gemm_t1', 'hidden', 'ablate_hidden'],
  ['mlp_gemm_t0', 'hidden', 'ablate_hidden'],
  ['mlp_matmul_add', 'hidden', 'ablate_hidden'],
] as const;

describe.each(MLP_CASES)("%s: MLP neurons at %s (behind torch's GELU or ReLU)", (name, siteName, editName) => {
  const ref = expected(name);
  const site = ref.sites[siteName];
  const reference = ref.weight_edits[editName].output;

  it.each([false, true])("prune %s equals PyTorch's weight edit (max |diff| < 1e-4)", async (prune) => {
    const m = loadModel(fixturePath(name));
    const result = ablateDims(m, site.tensor, site.dims, { prune });
    // The writer's weight and bias and the reader's weight at least.
    expect(result.edited.length).toBeGreaterThanOrEqual(3);
    expect(validate(new IrModel(m).graph)).toEqual([]);
    const out = await output(name, m);
    const diff = maxAbsDiff(out, reference);
    console.log(`${name} ${prune ? 'prune' : 'ablate'} ${siteName}: max |diff| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
    // And it did change the model.
    expect(maxAbsDiff(out, ref.outputs[ref.output].data)).toBeGreaterThan(1e-4);
  });
});

describe('pruning shrinks the weights of the GPT-2 MLP', () => {
  it('fc loses rows, proj loses columns of its [in, out] copy; the record names them', () => {
    const m = loadModel(fixturePath('gpt2_op14'));
    const site = expected('gpt2_op14').sites.mlp0_hidden;
    const result = ablateDims(m, site.tensor, site.dims, { prune: true, concept: 'x' });
    const g = new IrModel(m).graph;
    const fc = g.nodes.find((n) => n.name === '/blocks.0/mlp/fc/MatMul')!;
    const proj = g.nodes.find((n) => n.name === '/blocks.0/mlp/proj/MatMul')!;
    expect(initializer(m, fc.input[1]).dims.map(Number)).toEqual([32, 126]);
    expect(initializer(m, proj.input[1]).dims.map(Number)).toEqual([126, 32]);
    expect(initializer(m, 'blocks.0.mlp.fc.bias').dims.map(Number)).toEqual([126]);
    expect(readInterventions(m.proto)).toEqual([expect.objectContaining({ kind: 'prune', concept: 'x', axis: 2, dims: [1, 3], edited: result.edited })]);
  });
});

describe('cnn: Conv channels', () => {
  const name = 'cnn';
  const ref = expected(name);

  it.each([false, true])('conv1 channels 1,3 through BN, ReLU and MaxPool into conv2 (prune %s) equal PyTorch zeroing them', async (prune) => {
    const m = loadModel(fixturePath(name));
    const site = ref.sites.map1_relu;
    // No axis given: the channel axis (1) of the channel-first map.
    const result = ablateDims(m, site.tensor, site.dims, { prune });
    expect(result.edited).toEqual([
      'conv1.weight',
      'conv1.bias',
      'bn1.weight',
      'bn1.bias',
      ...(prune ? ['bn1.running_mean', 'bn1.running_var'] : []),
      'conv2.weight',
    ]);
    if (prune) {
      expect(initializer(m, 'conv1.weight').dims.map(Number)).toEqual([6, 3, 3, 3]);
      expect(initializer(m, 'conv2.weight').dims.map(Number)).toEqual([16, 6, 3, 3]);
      expect(initializer(m, 'bn1.running_var').dims.map(Number)).toEqual([6]);
    }
    expect(readInterventions(m.proto)[0]).toMatchObject({ axis: 1, dims: [1, 3] });
    const out = await output(name, m);
    const diffs = [maxAbsDiff(out, ref.weight_edits.ablate_conv1_channels.output), maxAbsDiff(out, site.outputs.dims_zero)];
    console.log(`cnn ${prune ? 'prune' : 'ablate'} conv1 channels: max |diff| ${diffs.map((d) => d.toExponential(2)).join(' (weight edit), ')} (hook)`);
    for (const d of diffs) expect(d).toBeLessThan(1e-4);
  });

  it.each([
    ['/relu2/Relu_output_0', false],
    ['/relu2/Relu_output_0', true],
    ['/flatten/Flatten_output_0', false],
    ['/flatten/Flatten_output_0', true],
  ] as const)('conv2 channels 1,3 anchored at %s through MaxPool, GlobalAveragePool and Flatten into the Gemm (prune %s)', async (tensor, prune) => {
    const m = loadModel(fixturePath(name));
    const result = ablateDims(m, tensor, [1, 3], { prune });
    expect(result.edited).toEqual([
      'conv2.weight',
      'conv2.bias',
      'bn2.weight',
      'bn2.bias',
      ...(prune ? ['bn2.running_mean', 'bn2.running_var'] : []),
      'fc.weight',
    ]);
    if (prune) expect(initializer(m, 'fc.weight').dims.map(Number)).toEqual([5, 14]);
    const out = await output(name, m);
    const diffs = [maxAbsDiff(out, ref.weight_edits.ablate_conv2_channels.output), maxAbsDiff(out, ref.sites.features.outputs.dims_zero)];
    console.log(
      `cnn ${prune ? 'prune' : 'ablate'} conv2 channels at ${tensor}: max |diff| ${diffs.map((d) => d.toExponential(2)).join(' (weight edit), ')} (hook)`,
    );
    for (const d of diffs) expect(d).toBeLessThan(1e-4);
  });

  it('a flattened map: each channel is a block of H*W columns of the Gemm', async () => {
    // conv -> [N,2,2,2] -> Flatten -> [N,8] -> Gemm(transB=1, W [3,8]): channel 1 is columns 4..7.
    const build = () =>
      model({
        node: [
          node('Conv', ['x', 'k', 'kb'], ['c']),
          node('Relu', ['c'], ['r']),
          node('Flatten', ['r'], ['f']),
          node('Gemm', ['f', 'w', 'b'], ['y'], [attrInt('transB', 1)]),
        ],
        initializer: [weight('k', [2, 1, 1, 1], 1), weight('kb', [2], 2), weight('w', [3, 8], 3), weight('b', [3], 4)],
        input: [makeValueInfo('x', DataType.FLOAT, ['N', 1, 2, 2])],
        output: [makeValueInfo('y', DataType.FLOAT, ['N', 3])],
      });
    const zeroed = build();
    ablateDims(zeroed, 'r', [1]);
    const w = new Float32Array(new Uint8Array(initializer(zeroed, 'w').rawData as Uint8Array).buffer);
    for (let row = 0; row < 3; row++) {
      expect(Array.from(w.subarray(row * 8 + 4, row * 8 + 8))).toEqual([0, 0, 0, 0]);
      expect(Array.from(w.subarray(row * 8, row * 8 + 4)).every((v) => v !== 0)).toBe(true);
    }
    const pruned = build();
    ablateDims(pruned, 'r', [1], { prune: true });
    expect(initializer(pruned, 'w').dims.map(Number)).toEqual([3, 4]);
  });
});

describe('refusals name the pattern and a better place', () => {
  it('the residual stream: the residual Add', () => {
    const site = expected('gpt2_op14').sites.resid_block0;
    for (const prune of [false, true]) {
      expect(() => ablateDims(loadModel(fixturePath('gpt2_op14')), site.tensor, site.dims, { prune })).toThrow(
        new RegExp(`^cannot ${prune ? 'prune' : 'ablate'} '/blocks.0/Add_1_output_0': residual Add at /blocks.0/Add_1 adds .*patch the stream after the Add`),
      );
    }
  });

  it('a LayerNorm output (decomposed, LayerNormalization, post-LN BERT stream)', () => {
    for (const [name, siteName, label] of [
      ['gpt2_op14', 'ln_f', '/ln_f'],
      ['gpt2_op17_ext', 'ln_f', '/ln_f'],
      ['bert_cls', 'block0_out', '/layers.0/output_ln'],
    ]) {
      const site = expected(name).sites[siteName];
      expect(() => ablateDims(loadModel(fixturePath(name)), site.tensor, site.dims)).toThrow(
        new RegExp(`LayerNorm at ${label} normalises over the last axis: ablation through it is unsound .*; fold at its output`),
      );
    }
  });

  it('a LayerNorm input: the reader refuses, and nothing is edited', () => {
    const m = model({
      node: [
        node('MatMul', ['x', 'w'], ['z']),
        node('LayerNormalization', ['z', 'g', 'b'], ['h'], [attrInt('axis', -1), attrFloat('epsilon', 1e-5)]),
        node('MatMul', ['h', 'w2'], ['y']),
      ],
      initializer: [weight('w', [4, 4], 1), weight('g', [4], 2), weight('b', [4], 3), weight('w2', [4, 2], 4)],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
      output: [makeValueInfo('y', DataType.FLOAT, ['N', 2])],
    });
    const before = structuredClone(m.proto);
    expect(() => ablateDims(m, 'z', [0])).toThrow(
      /^cannot ablate 'z': LayerNorm at h normalises over the last axis: ablation through it is unsound .*; fold at its output \('h'\) instead$/,
    );
    expect(m.proto).toEqual(before);
  });

  it('attention scores: written by the product of two activations, not by a weight', () => {
    const m = loadModel(fixturePath('bert_cls'));
    expect(() => ablateDims(m, '/layers.0/attention/Div_1_output_0', [0], { axis: -1 })).toThrow(
      /^cannot ablate '\/layers.0\/attention\/Div_1_output_0': MatMul '\/layers.0\/attention\/MatMul': its weight '\/layers.0\/attention\/Transpose_2_output_0' is computed in the graph/,
    );
  });

  it('query heads: the Reshape that splits the features into heads', () => {
    const m = loadModel(fixturePath('bert_cls'));
    expect(() => ablateDims(m, '/layers.0/attention/query/Add_output_0', [0])).toThrow(
      /Reshape at \/layers.0\/attention\/Reshape splits, merges or drops the edited axis/,
    );
  });

  it('a tensor on the way up that another node also reads', () => {
    // z = Relu(a), a = x W; `a` is also a graph-visible input of another op: zeroing W's columns would change it.
    const m = model({
      node: [node('MatMul', ['x', 'w'], ['a']), node('Relu', ['a'], ['z']), node('MatMul', ['z', 'w2'], ['y']), node('Tanh', ['a'], ['side'])],
      initializer: [weight('w', [4, 4], 1), weight('w2', [4, 2], 2)],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
      output: [makeValueInfo('y', DataType.FLOAT, ['N', 2]), makeValueInfo('side', DataType.FLOAT, ['N', 4])],
    });
    expect(() => ablateDims(m, 'z', [0])).toThrow(/'a' \(on the way from 'z' to the weights that write it\) is also read by Tanh at side/);
  });
});

describe('products and grouped convolutions (equal to zeroing the channels with an inserted node)', () => {
  async function compare(
    build: () => ReturnType<typeof model>,
    tensor: string,
    dims: number[],
    feedsIn: Record<string, ReturnType<typeof f32>>,
    opts: { axis?: number } = {},
  ) {
    const suppressed = build();
    patchModel(suppressed, [{ tensor, mode: 'suppress', dims, ...(opts.axis !== undefined ? { axis: opts.axis } : {}) }]);
    const want = (await run(suppressed, feedsIn)).y.data as Float32Array;
    const results: Record<string, number> = {};
    for (const prune of [false, true]) {
      const m = build();
      ablateDims(m, tensor, dims, { prune, ...opts });
      expect(validate(new IrModel(m).graph)).toEqual([]);
      results[prune ? 'prune' : 'ablate'] = maxAbsDiff((await run(m, feedsIn)).y.data as Float32Array, want);
    }
    return results;
  }

  it('a gated MLP (SiLU(x Wg) * (x Wu)): ablation edits one factor, pruning both', async () => {
    const build = () =>
      model({
        node: [
          node('MatMul', ['x', 'wg'], ['g']),
          node('Sigmoid', ['g'], ['s']),
          node('Mul', ['g', 's'], ['gate']),
          node('MatMul', ['x', 'wu'], ['u']),
          node('Mul', ['gate', 'u'], ['h']),
          node('MatMul', ['h', 'wd'], ['y']),
        ],
        initializer: [weight('wg', [4, 6], 1), weight('wu', [4, 6], 2), weight('wd', [6, 3], 3)],
        input: [makeValueInfo('x', DataType.FLOAT, ['N', 4])],
        output: [makeValueInfo('y', DataType.FLOAT, ['N', 3])],
      });
    const ablated = build();
    expect(ablateDims(ablated, 'h', [1, 4]).edited).toEqual(['wg', 'wd']);
    const pruned = build();
    expect(ablateDims(pruned, 'h', [1, 4], { prune: true }).edited).toEqual(['wg', 'wu', 'wd']);
    const diffs = await compare(build, 'h', [1, 4], { x: f32(randomValues(32, 9), [8, 4]) });
    for (const d of Object.values(diffs)) expect(d).toBeLessThan(1e-6);
  });

  it('a depthwise Conv writes the channels and a group=2 Conv reads them: ablation works, pruning refuses the groups', async () => {
    const build = () =>
      model({
        node: [
          node('Conv', ['x', 'k1'], ['c1'], [attrInt('group', 4)]),
          node('Relu', ['c1'], ['r']),
          node('Conv', ['r', 'k2', 'b2'], ['c2'], [attrInt('group', 2)]),
          node('GlobalAveragePool', ['c2'], ['p']),
          node('Flatten', ['p'], ['y']),
        ],
        initializer: [weight('k1', [4, 1, 3, 3], 1), weight('k2', [6, 2, 1, 1], 2), weight('b2', [6], 3)],
        input: [makeValueInfo('x', DataType.FLOAT, ['N', 4, 5, 5])],
        output: [makeValueInfo('y', DataType.FLOAT, ['N', 6])],
      });
    const feedsIn = { x: f32(randomValues(2 * 4 * 25, 5), [2, 4, 5, 5]) };
    const suppressed = build();
    patchModel(suppressed, [{ tensor: 'r', mode: 'suppress', dims: [1, 2] }]);
    const want = (await run(suppressed, feedsIn)).y.data as Float32Array;
    const m = build();
    expect(ablateDims(m, 'r', [1, 2]).edited).toEqual(['k1', 'k2']);
    expect(maxAbsDiff((await run(m, feedsIn)).y.data as Float32Array, want)).toBeLessThan(1e-6);
    expect(() => ablateDims(build(), 'r', [1, 2], { prune: true })).toThrow(/cannot prune the output channels of Conv at c1: it has group=4/);
  });

  it('the axis can be given; a wrong one is refused where the weights write another axis', () => {
    const cnn = () => loadModel(fixturePath('cnn'));
    expect(
      readInterventions(
        (() => {
          const m = cnn();
          ablateDims(m, '/relu1/Relu_output_0', [1], { axis: 1 });
          return m.proto;
        })(),
      )[0],
    ).toMatchObject({ axis: 1 });
    expect(() => ablateDims(cnn(), '/relu1/Relu_output_0', [1], { axis: -1 })).toThrow(
      /BatchNormalization at \/bn1\/BatchNormalization acts per channel on axis 1, not the edited axis 3/,
    );
  });
});

describe('float16 weights', () => {
  it("gpt2_op14_fp16: ablating and pruning the MLP neurons keep float16 and match the fp32 PyTorch edit within the fixture's fp16 bound", async () => {
    const site = expected('gpt2_op14').sites.mlp0_hidden;
    const reference = expected('gpt2_op14').weight_edits.ablate_mlp0_hidden.output;
    for (const prune of [false, true]) {
      const m = loadModel(fixturePath('gpt2_op14_fp16'));
      const result = ablateDims(m, site.tensor, site.dims, { prune });
      for (const name of result.edited) expect(initializer(m, name).dataType, name).toBe(DataType.FLOAT16);
      const out = await runModel(m, feeds(expected('gpt2_op14').inputs), tmp());
      const diff = maxAbsDiff(floats(out.logits), reference);
      console.log(`gpt2_op14_fp16 ${prune ? 'prune' : 'ablate'} mlp0_hidden: max |diff| ${diff.toExponential(2)} (bound 0.031: 2 fp16 ulps at |logit| 26)`);
      expect(diff).toBeLessThan(0.031);
    }
  });
});

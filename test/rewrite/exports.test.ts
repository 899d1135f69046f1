/**
 * Inserted interventions on real torch.onnx exports, against PyTorch forward
 * hooks at the same sites (test/fixtures/README.md lists every site): the
 * residual stream, the final LayerNorm output, MLP neurons, CNN channels on
 * axis 1 (a map with C != W and one with C == H == W) and pooled features.
 * Shapes come from the IR's inference; nothing here runs a model to patch it.
 */
import { describe, expect, it } from 'vitest';
import { readInterventions } from '../../src/anchors/manifest.js';
import { IrModel } from '../../src/ir/model.js';
import { validate } from '../../src/ir/passes.js';
import { loadModel } from '../../src/onnx/model.js';
import { int64Tensor } from '../../src/onnx/tensor.js';
import { patchModel, type PatchRequest } from '../../src/rewrite/patch.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import { expected, feeds, fixturePath, floats, runModel, type Site } from '../helpers/torchFixtures.js';

const tmp = useTempDir('exports');

type ModeName = 'suppress_half' | 'suppress_full' | 'dims_zero' | 'amplify' | 'steer' | 'clamp';
const MODES: ModeName[] = ['suppress_half', 'suppress_full', 'dims_zero', 'amplify', 'steer', 'clamp'];

function request(mode: ModeName, site: Site, strengths: { amplify: number; steer: number; clamp: number }): PatchRequest {
  const a = [site.direction];
  switch (mode) {
    case 'suppress_half':
      return { mode: 'suppress', directions: a };
    case 'suppress_full':
      return { mode: 'suppress', directions: a, projection: 'full' };
    case 'dims_zero':
      return { mode: 'suppress', dims: site.dims };
    case 'amplify':
      return { mode: 'amplify', directions: a, strength: strengths.amplify };
    case 'steer':
      return { mode: 'steer', directions: a, strength: strengths.steer };
    case 'clamp':
      return { mode: 'clamp', directions: a, strength: strengths.clamp };
  }
}

const FP32 = ['gpt2_op14', 'gpt2_op17_ext', 'bert_cls', 'cnn', 'mlp_gemm_t1', 'mlp_gemm_t0', 'mlp_matmul_add'];

describe.each(FP32)('%s: every mode at every site equals the PyTorch hook (max |diff| < 1e-4)', (name) => {
  const ref = expected(name);
  const cases = Object.entries(ref.sites).flatMap(([siteName, site]) => MODES.map((mode) => [siteName, mode, site] as const));
  it.each(cases)('%s, %s', async (_siteName, mode, site) => {
    const model = loadModel(fixturePath(name));
    // No axis given: the default must be the site's axis (1 on the CNN's channel-first maps, the last elsewhere).
    const [applied] = patchModel(model, [{ tensor: site.tensor, ...request(mode, site, ref.strengths) }]);
    const rank = site.shape.length;
    expect(applied.axis).toBe(site.axis < 0 ? rank + site.axis : site.axis);
    expect(validate(new IrModel(model).graph)).toEqual([]);
    const out = await runModel(model, feeds(ref.inputs), tmp());
    expect(maxAbsDiff(floats(out[ref.output]), site.outputs[mode])).toBeLessThan(1e-4);
  });
});

describe('shapes without value_info or a runtime', () => {
  it('patches the external-data export with no value_info from inferred shapes alone', () => {
    const model = loadModel(fixturePath('gpt2_op17_ext'));
    expect(model.proto.graph!.valueInfo).toHaveLength(0);
    const ir = new IrModel(model);
    // Every intermediate value gets a shape; the residual stream is [batch, seq, 32].
    const unknown = ir.graph.nodes.flatMap((n) => n.output).filter((o) => !ir.types.get(o)?.shape);
    expect(unknown).toEqual([]);
    expect(ir.types.get('/blocks.0/Add_1_output_0')?.shape).toEqual(['batch', 'seq', 32]);
    // patchModel is synchronous: it cannot have run the model.
    const applied = patchModel(model, [{ tensor: '/blocks.0/Add_1_output_0', mode: 'suppress', dims: [1, 3] }]);
    expect(applied[0].axis).toBe(2);
    expect(applied[0].nodes).toBeGreaterThan(0);
  });

  it('records axis and projection in the manifest', () => {
    const ref = expected('cnn');
    const site = ref.sites.map1_pooled;
    const model = loadModel(fixturePath('cnn'));
    patchModel(model, [{ tensor: site.tensor, mode: 'suppress', directions: [site.direction], projection: 'full' }]);
    expect(readInterventions(model.proto)[0]).toMatchObject({ tensor: site.tensor, axis: 1, projection: 'full', mode: 'suppress' });
  });
});

describe('axes on feature maps', () => {
  const cnn = expected('cnn');
  const pooled = cnn.sites.map1_pooled; // [batch, 8, 8, 8]: C == H == W

  it('a C == H == W map made by pooling is patched on channels, never on width', async () => {
    const model = loadModel(fixturePath('cnn'));
    const [applied] = patchModel(model, [{ tensor: pooled.tensor, mode: 'suppress', dims: pooled.dims }]);
    expect(applied.axis).toBe(1);
    const out = await runModel(model, feeds(cnn.inputs), tmp());
    expect(maxAbsDiff(floats(out[cnn.output]), pooled.outputs.dims_zero)).toBeLessThan(1e-4);
  });

  it('the same map with its layout hidden (behind a Reshape) is refused without an axis, and done right with --axis 1', async () => {
    const model = loadModel(fixturePath('cnn'));
    const graph = model.proto.graph!;
    // Put an Identity-like Reshape after the pooled map: the IR can no longer tell channels from width.
    const shape = int64Tensor('hide_shape', [0, 8, 8, 8]);
    graph.initializer.push(shape);
    for (const n of graph.node) n.input = n.input.map((i) => (i === pooled.tensor ? 'hidden_map' : i));
    const at = graph.node.findIndex((n) => n.output.includes(pooled.tensor)) + 1;
    graph.node.splice(at, 0, { name: 'hide', opType: 'Reshape', domain: '', input: [pooled.tensor, 'hide_shape'], output: ['hidden_map'], attribute: [] });
    expect(() => patchModel(model, [{ tensor: 'hidden_map', mode: 'suppress', dims: pooled.dims }])).toThrow(
      /fits axes 1 and 2 and 3 of 'hidden_map' \[batch, 8, 8, 8\], whose layout is unknown: say which with axis/,
    );
    expect(() => patchModel(model, [{ tensor: 'hidden_map', mode: 'suppress', directions: [pooled.direction] }])).toThrow(/layout is unknown/);
    const [applied] = patchModel(model, [{ tensor: 'hidden_map', mode: 'suppress', dims: pooled.dims, axis: 1 }]);
    expect(applied.axis).toBe(1);
    const out = await runModel(model, feeds(cnn.inputs), tmp());
    expect(maxAbsDiff(floats(out[cnn.output]), pooled.outputs.dims_zero)).toBeLessThan(1e-4);
  });

  it('negative axes count from the end; an axis out of range and a direction that fits no axis are one-line errors', () => {
    const model = loadModel(fixturePath('cnn'));
    expect(patchModel(model, [{ tensor: pooled.tensor, mode: 'suppress', dims: [0], axis: -3 }])[0].axis).toBe(1);
    expect(() => patchModel(loadModel(fixturePath('cnn')), [{ tensor: pooled.tensor, mode: 'suppress', dims: [0], axis: 4 }])).toThrow(
      /axis 4 is out of range .* rank 4 .*use -4 to 3/,
    );
    expect(() => patchModel(loadModel(fixturePath('cnn')), [{ tensor: pooled.tensor, mode: 'suppress', directions: [[1, 2, 3]] }])).toThrow(
      /the direction has 3 values but axis 1 of '\/pool1\/MaxPool_output_0' \[batch, 8, 8, 8\] has 8/,
    );
  });
});

describe('float16 export', () => {
  // References are the fp32 model's; the fp16 run's own error scale is 2 fp16 ulps at the largest logit (see fixtures README).
  const fp32 = expected('gpt2_op14');
  const tolerance = 2 / 64;
  it.each(
    Object.entries(fp32.sites).flatMap(([s, site]) =>
      (['suppress_half', 'suppress_full', 'dims_zero', 'steer'] as ModeName[]).map((m) => [s, m, site] as const),
    ),
  )("%s, %s within the export's fp16 error scale", async (_s, mode, site) => {
    const model = loadModel(fixturePath('gpt2_op14_fp16'));
    patchModel(model, [{ tensor: site.tensor, ...request(mode, site, fp32.strengths) }]);
    const out = await runModel(model, feeds(fp32.inputs), tmp());
    expect(out[fp32.output].type).toBe('float16');
    expect(maxAbsDiff(floats(out[fp32.output]), site.outputs[mode])).toBeLessThan(tolerance);
  });
});

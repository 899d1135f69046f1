/**
 * Folding a projection into the weights that read a tensor, on real torch.onnx
 * exports, against PyTorch's own weight edits and against the same projection
 * inserted as nodes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInterventions } from '../../src/anchors/manifest.js';
import { loadModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { sca } from '../helpers/cli.js';
import { matmulMlp } from '../helpers/graphs.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, run } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';
import { expected, feeds, fixturePath, floats, runModel } from '../helpers/torchFixtures.js';

const tmp = useTempDir('fold');

describe.each([
  ['gpt2_op14', 'ln_f', 'fold_ln_f'],
  ['gpt2_op17_ext', 'ln_f', 'fold_ln_f'],
  ['cnn', 'features', 'fold_features'],
])('%s: fold at %s', (name, siteName, edit) => {
  const ref = expected(name);
  const site = ref.sites[siteName];

  it("equals PyTorch's weight edit and the inserted full projection, with no node added", async () => {
    const model = loadModel(fixturePath(name));
    const nodes = model.proto.graph!.node.length;
    const [applied] = patchModel(model, [{ tensor: site.tensor, mode: 'suppress', directions: [site.direction], fold: true }]);
    expect(applied.nodes).toBe(0);
    expect(applied.intervention.projection).toBe('full');
    expect(model.proto.graph!.node).toHaveLength(nodes);
    const out = floats((await runModel(model, feeds(ref.inputs), tmp()))[ref.output]);
    expect(maxAbsDiff(out, ref.weight_edits[edit].output)).toBeLessThan(1e-4);
    expect(maxAbsDiff(out, site.outputs.suppress_full)).toBeLessThan(1e-4);
    expect(readInterventions(model.proto).at(-1)).toMatchObject({ kind: 'fold', tensor: site.tensor, projection: 'full' });
  });

  it('amplify folds too, equal to the inserted amplification', async () => {
    const model = loadModel(fixturePath(name));
    patchModel(model, [{ tensor: site.tensor, mode: 'amplify', directions: [site.direction], strength: ref.strengths.amplify, fold: true }]);
    const out = floats((await runModel(model, feeds(ref.inputs), tmp()))[ref.output]);
    expect(maxAbsDiff(out, site.outputs.amplify)).toBeLessThan(1e-4);
  });
});

describe('fold refusals name the pattern', () => {
  it('the residual stream is read by a LayerNorm and a residual Add: refused, naming one', () => {
    const ref = expected('gpt2_op14');
    const site = ref.sites.resid_block0;
    expect(() =>
      patchModel(loadModel(fixturePath('gpt2_op14')), [{ tensor: site.tensor, mode: 'suppress', directions: [site.direction], fold: true }]),
    ).toThrow(/cannot fold into the readers of '\/blocks\.0\/Add_1_output_0': .*(LayerNorm|residual)/);
  });

  it('a CNN map read through BatchNorm-free ReLU and MaxPool by a 3x3 conv is refused', () => {
    const ref = expected('cnn');
    const site = ref.sites.map1_pooled;
    expect(() => patchModel(loadModel(fixturePath('cnn')), [{ tensor: site.tensor, mode: 'suppress', directions: [site.direction], fold: true }])).toThrow(
      /cannot fold into the readers/,
    );
  });
});

describe('fold edits only the reading side', () => {
  it('a weight shared with another reader is copied, so the other reader keeps its values', async () => {
    // z = x W0 + b0, y = z W1; a second MatMul reads W1 too, from x2.
    const m = matmulMlp();
    const g = m.proto.graph!;
    g.input.push({ name: 'x2', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, { dimValue: 6 }] } } } });
    g.node.push({ name: 'other', opType: 'MatMul', domain: '', input: ['x2', 'w1'], output: ['y2'], attribute: [] });
    g.output.push({ name: 'y2', type: { tensorType: { elemType: 1 } } });
    const x = f32(
      Array.from({ length: 8 }, (_, i) => i / 8 - 0.3),
      [2, 4],
    );
    const x2 = f32(
      Array.from({ length: 12 }, (_, i) => Math.sin(i)),
      [2, 6],
    );
    const before = await run(m, { x, x2 });
    patchModel(m, [{ tensor: 'z', mode: 'suppress', dims: [1], fold: true }]);
    expect(g.initializer.map((t) => t.name)).toContain('w1/sca_edited');
    const after = await run(m, { x, x2 });
    expect(Array.from(after.y2.data as Float32Array)).toEqual(Array.from(before.y2.data as Float32Array));
    expect(maxAbsDiff(after.y.data as Float32Array, before.y.data as Float32Array)).toBeGreaterThan(1e-4);
  });

  it('the CLI streams a fold of an external-data model into the output, and writes no other file', async () => {
    const ref = expected('gpt2_op17_ext');
    const site = ref.sites.ln_f;
    const out = path.join(tmp(), 'folded.onnx');
    const r = await sca(
      'patch',
      fixturePath('gpt2_op17_ext'),
      '-o',
      out,
      '--tensor',
      site.tensor,
      '--mode',
      'suppress',
      '--direction',
      site.direction.join(','),
      '--fold',
    );
    expect(r.err).toBe('');
    expect(r.out).toMatch(/folded into the weights that read it/);
    expect(fs.readdirSync(tmp()).sort()).toEqual(['folded.onnx', 'folded.onnx.data']);
    const result = floats((await runModel(loadModel(out), feeds(ref.inputs), tmp()))[ref.output]);
    expect(maxAbsDiff(result, ref.weight_edits.fold_ln_f.output)).toBeLessThan(1e-4);
  });
});

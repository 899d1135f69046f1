/**
 * Walk steps on the real torch.onnx exports: where an ablation or fold
 * passes, which weights it edits, and what it says where it must stop.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model.js';
import { lookupFromGraph, stepDown, stepUp, type GraphLookup, type Step } from '../../src/ops/index.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

function fixture(name: string): GraphLookup {
  const m = loadModel(path.join(FIXTURES, name));
  return lookupFromGraph(m.proto.graph!, Object.fromEntries(m.proto.opsetImport.map((o) => [o.domain ?? '', Number(o.version)])));
}

/** Steps up from `tensor` until a weight or a refusal; returns the kinds passed and the last step. */
function walkUp(lookup: GraphLookup, tensor: string, axis: number): { path: string[]; last: Step } {
  const path: string[] = [];
  let step = stepUp(tensor, axis, lookup, 'ablation');
  for (let i = 0; i < 10; i++) {
    path.push(
      step.kind === 'through' && step.pattern ? `through ${step.pattern.label}` : step.kind === 'through' ? `through ${step.nodes[0].opType}` : step.kind,
    );
    if (step.kind === 'through' || step.kind === 'bias' || step.kind === 'channelAffine') step = stepUp(step.tensor, step.axis, lookup, 'ablation');
    else break;
  }
  return { path, last: step };
}

describe('stepping up to the writer (ablation)', () => {
  it('GPT-2 MLP hidden: through GELU and the separate bias Add to the fc MatMul', () => {
    const { path: p, last } = walkUp(fixture('gpt2_op14.onnx'), '/blocks.0/mlp/act/Mul_1_output_0', -1);
    expect(p).toEqual(['through GELU', 'bias', 'weight']);
    expect(last).toMatchObject({ kind: 'weight', node: { name: '/blocks.0/mlp/fc/MatMul' }, op: { op: 'MatMul', writes: { input: 1, axis: 1 } } });
  });

  it('SCA bottleneck: through the L2 normalisation to the encoder Gemm (transB=1 writes rows)', () => {
    const { path: p, last } = walkUp(fixture('color_red.onnx'), '/bottleneck/Div_output_0', -1);
    expect(p).toEqual(['through L2 normalisation', 'weight']);
    expect(last).toMatchObject({ kind: 'weight', op: { op: 'Gemm', writes: { axis: 0 }, bias: { input: 2, axis: 0 } } });
  });

  it('CNN channels: through ReLU and BatchNorm to conv1 (weight rows)', () => {
    const { path: p, last } = walkUp(fixture('cnn.onnx'), '/relu1/Relu_output_0', 1);
    expect(p).toEqual(['through Relu', 'channelAffine', 'weight']);
    expect(last).toMatchObject({ kind: 'weight', node: { name: '/conv1/Conv' }, op: { op: 'Conv', writes: { axis: 0 }, bias: { input: 2 } } });
  });

  it('refuses at the residual stream and at LayerNorm outputs, naming the pattern', () => {
    const gpt2 = fixture('gpt2_op14.onnx');
    expect(walkUp(gpt2, '/blocks.0/Add_1_output_0', -1).last).toEqual({
      kind: 'refuse',
      message:
        "residual Add at /blocks.0/Add_1 adds '/blocks.0/mlp/proj/Add_output_0' to '/blocks.0/Add_output_0': the concept reaches '/blocks.0/Add_1_output_0' through the other branch, so ablation of the weights on this side does not remove it; patch the stream after the Add ('/blocks.0/Add_1_output_0') with sca patch, or fold into the weights that read it",
    });
    const ln = walkUp(gpt2, '/ln_f/Add_1_output_0', -1).last;
    expect(ln.kind === 'refuse' && ln.message).toMatch(
      /^LayerNorm at \/ln_f normalises over the last axis: ablation through it is unsound .*; fold at its output \('\/ln_f\/Add_1_output_0'\) instead$/,
    );
    const ln17 = walkUp(fixture('gpt2_op17_ext.onnx'), '/ln_f/LayerNormalization_output_0', -1).last;
    expect(ln17.kind === 'refuse' && ln17.message).toMatch(/^LayerNorm at \/ln_f normalises over the last axis/);
  });
});

describe('stepping down to the readers', () => {
  it('GPT-2 MLP hidden: its reader is the proj MatMul, reading weight rows', () => {
    const lookup = fixture('gpt2_op14.onnx');
    const tensor = '/blocks.0/mlp/act/Mul_1_output_0';
    expect(lookup.uses(tensor).map((n) => stepDown(n, tensor, -1, lookup, 'ablation'))).toMatchObject([
      { kind: 'weight', op: { op: 'MatMul', reads: { input: 1, axis: 0 }, fold: { axis: 0 } } },
    ]);
  });

  it('the residual stream is read by a LayerNorm and a residual Add: both refuse, by name', () => {
    const lookup = fixture('gpt2_op14.onnx');
    const tensor = '/blocks.0/Add_1_output_0';
    const messages = lookup
      .uses(tensor)
      .map((n) => stepDown(n, tensor, -1, lookup, 'ablation'))
      .map((s) => (s.kind === 'refuse' ? s.message : s.kind));
    expect(messages.some((m) => m.startsWith('LayerNorm at /blocks.1/ln_1 normalises over the last axis: ablation through it is unsound'))).toBe(true);
    expect(messages.some((m) => m.startsWith("residual Add at /blocks.1/Add adds '/blocks.0/Add_1_output_0'"))).toBe(true);
  });

  it('fold at the final LayerNorm output reaches the unembedding; fold at the MLP input stops at GELU', () => {
    const lookup = fixture('gpt2_op14.onnx');
    const lnOut = '/ln_f/Add_1_output_0';
    expect(lookup.uses(lnOut).map((n) => stepDown(n, lnOut, -1, lookup, 'fold'))).toMatchObject([{ kind: 'weight', node: { name: '/lm_head/MatMul' } }]);
    const pre = '/blocks.0/mlp/fc/Add_output_0';
    const steps = lookup.uses(pre).map((n) => stepDown(n, pre, -1, lookup, 'fold'));
    expect(steps[0]).toMatchObject({ kind: 'refuse', message: expect.stringMatching(/^GELU at \/blocks\.0\/mlp\/act is not linear/) });
    // Ablation passes the same GELU (GELU(0) = 0).
    expect(stepDown(lookup.uses(pre)[0], pre, -1, lookup, 'ablation')).toMatchObject({ kind: 'through', tensor: '/blocks.0/mlp/act/Mul_1_output_0' });
  });

  it('CNN: channels pass MaxPool into conv2 (input channels, axis 1); pooled features fold into the Gemm', () => {
    const lookup = fixture('cnn.onnx');
    const relu = '/relu1/Relu_output_0';
    const pool = stepDown(lookup.uses(relu)[0], relu, 1, lookup, 'ablation');
    expect(pool).toMatchObject({ kind: 'through', tensor: '/pool1/MaxPool_output_0', axis: 1 });
    const conv2 = lookup.uses('/pool1/MaxPool_output_0')[0];
    expect(stepDown(conv2, '/pool1/MaxPool_output_0', 1, lookup, 'ablation')).toMatchObject({ kind: 'weight', op: { op: 'Conv', reads: { axis: 1 } } });
    expect(stepDown(conv2, '/pool1/MaxPool_output_0', 1, lookup, 'fold')).toMatchObject({
      kind: 'refuse',
      message: expect.stringMatching(/a 3x3 kernel mixes positions/),
    });
    expect(stepDown(lookup.uses(relu)[0], relu, 1, lookup, 'fold')).toMatchObject({
      kind: 'refuse',
      message: expect.stringMatching(/MaxPool .* is not linear/),
    });
    const features = '/flatten/Flatten_output_0';
    expect(stepDown(lookup.uses(features)[0], features, -1, lookup, 'fold')).toMatchObject({
      kind: 'weight',
      op: { op: 'Gemm', fold: { rows: 5, cols: 16, axis: 1 } },
    });
  });

  it('BERT: attention scores reach a Softmax, which refuses by name', () => {
    const lookup = fixture('bert_cls.onnx');
    const scores = '/layers.0/attention/Add_output_0';
    const softmax = lookup.uses(scores).find((n) => n.opType === 'Softmax')!;
    expect(stepDown(softmax, scores, -1, lookup, 'ablation')).toEqual({
      kind: 'refuse',
      message:
        'Softmax at /layers.0/attention/Softmax normalises over the last axis: ablation through it is unsound (a zeroed input becomes exp(0)/sum, not 0, and every other output is rescaled); edit the tensor before it instead',
    });
  });
});

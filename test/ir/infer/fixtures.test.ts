/**
 * Inference on the real torch.onnx exports under test/fixtures: every
 * intermediate tensor gets a shape without value_info, the sites' shapes
 * and the residual stream's concrete d_model come out, declared value_info
 * agrees, and onnxruntime's actual shapes equal the inferred ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ort } from '../../../src/runtime/session.js';
import { loadModel } from '../../../src/onnx/model.js';
import type { GraphProto } from '../../../src/onnx/types.js';
import { formatShape } from '../../../src/ir/infer/dims.js';
import { describeStop, inferModel } from '../../../src/ir/infer/graph.js';
import { useTempDir } from '../../helpers/tmp.js';
import { checkAgainstRuntime } from './runtime.js';
import type { Input } from '../../helpers/torchFixtures.js';

const DIR = path.join(path.dirname(new URL(import.meta.url).pathname), '../../fixtures');
const tmp = useTempDir('infer-fixtures');

interface Expected {
  inputs: Record<string, Input>;
  sites: Record<string, { tensor: string; shape: (string | number)[]; torch_shape: number[] }>;
}

const ALL = ['gpt2_op14', 'gpt2_op17_ext', 'gpt2_op14_fp16', 'bert_cls', 'cnn', 'color_red', 'mlp_gemm_t1', 'mlp_gemm_t0', 'mlp_matmul_add'];
const WITH_SITES = ['gpt2_op14', 'gpt2_op17_ext', 'bert_cls', 'cnn', 'mlp_gemm_t1', 'mlp_gemm_t0', 'mlp_matmul_add'];

const load = (name: string) => loadModel(path.join(DIR, `${name}.onnx`));
const expected = (name: string) => JSON.parse(fs.readFileSync(path.join(DIR, `${name}.expected.json`), 'utf8')) as Expected;

function allOutputs(g: GraphProto): string[] {
  return g.node.flatMap((n) => [...n.output, ...n.attribute.flatMap((a) => (a.g ? allOutputs(a.g) : []))]).filter((o) => o !== '');
}

function feeds(inputs: Record<string, Input>): [string, ort.Tensor][] {
  return Object.entries(inputs).map(([k, v]) => [
    k,
    v.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.data, BigInt), v.shape) : new ort.Tensor('float32', Float32Array.from(v.data), v.shape),
  ]);
}

describe.each(ALL)('inference on fixture %s', (name) => {
  it('gives every intermediate tensor a shape without value_info, and agrees with the value_info the file has', () => {
    const m = load(name);
    const r = inferModel(m.proto, { useValueInfo: false });
    const missing = allOutputs(m.proto.graph!).filter((o) => !r.values.get(o)?.type?.shape || r.stopFor(o));
    expect(missing.map((o) => `${o}: ${describeStop(r.stopFor(o)!)}`)).toEqual([]);
    expect(r.unresolved.size).toBe(0);
    expect(inferModel(m.proto).conflicts).toEqual([]);
  });
});

describe.each(WITH_SITES)('sites of fixture %s', (name) => {
  it('have the symbolic shapes the fixture records, with concrete feature axes', () => {
    const r = inferModel(load(name).proto, { useValueInfo: false });
    for (const site of Object.values(expected(name).sites)) {
      expect(formatShape(r.values.get(site.tensor)?.type?.shape), site.tensor).toBe(formatShape(site.shape));
    }
  });
});

describe('the residual stream of the GPT-2 fixtures', () => {
  for (const name of ['gpt2_op14', 'gpt2_op17_ext', 'gpt2_op14_fp16']) {
    it(`${name}: every residual Add ends in the concrete d_model 32`, () => {
      const m = load(name);
      const r = inferModel(m.proto, { useValueInfo: false });
      const residual = m.proto.graph!.node.filter((n) => /^\/blocks\.\d+\/Add(_1)?$/.test(n.name ?? '')).map((n) => n.output[0]);
      expect(residual.length).toBe(4);
      for (const t of residual) expect(r.values.get(t)?.type?.shape, t).toEqual(['batch', 'seq', 32]);
    });
  }
});

describe("inferred shapes equal onnxruntime's on the fixtures", () => {
  const gptInputs = expected('gpt2_op14').inputs;
  const cases: [string, [string, ort.Tensor][], Record<string, number>][] = [
    ['gpt2_op14', feeds(gptInputs), {}],
    ['gpt2_op17_ext', feeds(gptInputs), {}],
    ['gpt2_op14_fp16', feeds(gptInputs), {}],
    ['bert_cls', feeds(expected('bert_cls').inputs), {}],
    ['cnn', feeds(expected('cnn').inputs), {}],
    ['mlp_matmul_add', feeds(expected('mlp_matmul_add').inputs), {}],
    [
      'color_red',
      [
        [
          'rgb',
          new ort.Tensor(
            'float32',
            Float32Array.from({ length: 12 }, (_, i) => (i % 7) / 7),
            [4, 3],
          ),
        ],
      ],
      {},
    ],
  ];
  for (const [name, inputs, env] of cases) {
    it(name, async () => {
      const n = await checkAgainstRuntime(load(name), inputs, env, tmp());
      expect(n).toBeGreaterThan(10);
    });
  }
});

/**
 * Patching a value computed inside nested graphs: optimum's merged decoder
 * holds the no-past and with-past decoders as the two branches of an If on
 * `use_cache_branch`, so a residual tensor is defined twice, once per branch.
 * The patch must act in both, with the weights the branches share from the
 * main graph left alone. Checked against the same maths in plain TypeScript.
 */
import { describe, expect, it } from 'vitest';
import { readInterventions } from '../../src/anchors/manifest.js';
import { IrModel } from '../../src/ir/model.js';
import { formatTensorListing, listTensors } from '../../src/ir/tensors.js';
import { withInputValues } from '../../src/runtime/session.js';
import { attrGraph, emptyGraph, node } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { DataType, type GraphProto } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { model, randomValues, weight } from '../helpers/graphs.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { f32, ort, run } from '../helpers/run.js';

const D = 4;
const N = 3;

function branch(name: string, op: 'Mul' | 'Add', constant: string): GraphProto {
  return {
    ...emptyGraph(name),
    node: [node('MatMul', ['x', 'W'], ['h'], [], `${name}/MatMul`), node(op, ['h', constant], ['out'], [], `${name}/${op}`)],
    output: [makeValueInfo('out', DataType.FLOAT, ['N', D])],
  };
}

/** x [N,D], use_cache_branch [1] → If: then (xW)·2, else xW + 1; W and the constants live in the main graph. */
function mergedToy() {
  return model({
    node: [
      node(
        'If',
        ['use_cache_branch'],
        ['y'],
        [attrGraph('then_branch', branch('then', 'Mul', 'two')), attrGraph('else_branch', branch('else', 'Add', 'one'))],
        'optimum::if',
      ),
    ],
    initializer: [weight('W', [D, D], 5), makeTensor('two', DataType.FLOAT, [], [2]), makeTensor('one', DataType.FLOAT, [], [1])],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', D]), makeValueInfo('use_cache_branch', DataType.BOOL, [1])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', D])],
  });
}

const x = randomValues(N * D, 3, 1);
const W = randomValues(D * D, 5, 0.8);
const direction = [0.5, -0.5, 0.5, 0.5];

function reference(branchTaken: boolean, steer: number): number[] {
  const y: number[] = [];
  for (let r = 0; r < N; r++)
    for (let c = 0; c < D; c++) {
      let h = steer * direction[c];
      for (let k = 0; k < D; k++) h += x[r * D + k] * W[k * D + c];
      y.push(branchTaken ? h * 2 : h + 1);
    }
  return y;
}

async function outputs(m: ReturnType<typeof mergedToy>, extra: Record<string, ort.Tensor> = {}) {
  const feeds = (taken: boolean) => ({ x: f32(x, [N, D]), use_cache_branch: new ort.Tensor('bool', Uint8Array.from([taken ? 1 : 0]), [1]), ...extra });
  return { then: (await run(m, feeds(true))).y.data as Float32Array, else: (await run(m, feeds(false))).y.data as Float32Array };
}

describe('patching a tensor defined inside If branches (a merged decoder)', () => {
  it('steers the tensor in both branches, and records one intervention with both places', async () => {
    const m = mergedToy();
    const intact = await outputs(m);
    expect(maxAbsDiff(intact.then, reference(true, 0))).toBeLessThan(1e-5);
    expect(maxAbsDiff(intact.else, reference(false, 0))).toBeLessThan(1e-5);
    const [applied] = patchModel(m, [{ tensor: 'h', mode: 'steer', directions: [direction], strength: 1.5 }]);
    expect(applied.places?.map((p) => p.scope)).toEqual(["then_branch of If 'optimum::if'", "else_branch of If 'optimum::if'"]);
    expect(new Set(applied.places!.map((p) => p.prefix)).size).toBe(2);
    const patched = await outputs(m);
    expect(maxAbsDiff(patched.then, reference(true, 1.5))).toBeLessThan(1e-5);
    expect(maxAbsDiff(patched.else, reference(false, 1.5))).toBeLessThan(1e-5);
    // The shared weight is untouched, and the manifest holds the patch once.
    expect(m.proto.graph!.initializer.find((t) => t.name === 'W')!.rawData).toEqual(mergedToy().proto.graph!.initializer.find((t) => t.name === 'W')!.rawData);
    const records = readInterventions(m.proto);
    expect(records).toHaveLength(1);
    expect(records[0].places).toHaveLength(2);
  });

  it('puts a strength input in the main graph, which both branches read', async () => {
    const m = mergedToy();
    patchModel(m, [{ tensor: 'h', mode: 'steer', directions: [direction], strength: 1.5, strengthInput: 'steer_strength' }]);
    expect(m.proto.graph!.input.map((v) => v.name)).toContain('steer_strength');
    expect(m.proto.graph!.node[0].attribute.every((a) => a.g!.input.length === 0)).toBe(true);
    const off = await outputs({ ...m, proto: withInputValues(m.proto, { steer_strength: 0 }) });
    expect(maxAbsDiff(off.then, reference(true, 0))).toBeLessThan(1e-5);
    const on = await outputs({ ...m, proto: withInputValues(m.proto, { steer_strength: -2 }) });
    expect(maxAbsDiff(on.else, reference(false, -2))).toBeLessThan(1e-5);
  });

  it('inspect --tensors lists the branch tensors under their branch', () => {
    const rows = listTensors(new IrModel(mergedToy()));
    expect(rows.map((r) => [r.name, r.scope])).toEqual([
      ['y', undefined],
      ['h', "then_branch of If 'optimum::if'"],
      ['out', "then_branch of If 'optimum::if'"],
      ['h', "else_branch of If 'optimum::if'"],
      ['out', "else_branch of If 'optimum::if'"],
    ]);
    expect(formatTensorListing(rows)).toMatch(/== in then_branch of If 'optimum::if' ==\n\(top level\)\n  h +MatMul/);
  });

  it('refuses a fold there (the readers use weights the branches share), and names branch tensors when one is misspelt', () => {
    expect(() => patchModel(mergedToy(), [{ tensor: 'h', mode: 'suppress', directions: [direction], fold: true }])).toThrow(
      /'h' is computed inside then_branch of If 'optimum::if' and else_branch .*without --fold/,
    );
    expect(() => patchModel(mergedToy(), [{ tensor: 'hh', mode: 'steer', directions: [direction] }])).toThrow(/no tensor named 'hh'.*did you mean 'h'/);
  });
});

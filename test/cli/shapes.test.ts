/**
 * Where shapes come from when the file does not give them: inference first
 * (no runtime), then, only for an axis inference cannot find, one run of the
 * model on small zero inputs, with a hard memory bound.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyGraph, newModel, node } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel, serializeModel, type Model } from '../../src/onnx/model.js';
import { AttributeType, DataType } from '../../src/onnx/types.js';
import { int64Tensor } from '../../src/onnx/tensor.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { ShapeUnknownError } from '../../src/rewrite/target.js';
import { probeShapes } from '../../src/runtime/shapes.js';
import { FIXTURE_DIR, fixturePath } from '../helpers/torchFixtures.js';
import { sca } from '../helpers/cli.js';
import { f32, run } from '../helpers/run.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('shapes');

function int64(name: string, values: bigint[]) {
  return int64Tensor(name, values);
}

/** x [N, width] -> CenterCropPad to [N, 4] (an op with no shape rule here) -> `c` -> Relu -> y. */
function cropModel(inputShape: (number | string)[]): Model {
  const crop = node(
    'CenterCropPad',
    ['x', 'crop'],
    ['c'],
    [{ name: 'axes', type: AttributeType.INTS, ints: [1], floats: [], strings: [], tensors: [], graphs: [] }],
  );
  const graph = {
    ...emptyGraph('crop'),
    node: [crop, node('Relu', ['c'], ['y'])],
    initializer: [int64('crop', [4n])],
    input: [makeValueInfo('x', DataType.FLOAT, inputShape)],
    output: [makeValueInfo('y', DataType.FLOAT)],
  };
  return { proto: newModel(graph, 18), baseDir: tmp() };
}

function save(m: Model, name: string): string {
  const file = path.join(tmp(), name);
  fs.writeFileSync(file, serializeModel(m.proto));
  return file;
}

describe('shapes for patching', () => {
  it('the runtime probe runs an external-data model in place, marks symbolic axes unknown, and writes nothing', async () => {
    const before = fs.readdirSync(FIXTURE_DIR).sort();
    const shapes = await probeShapes(loadModel(fixturePath('gpt2_op17_ext')), ['/blocks.0/Add_1_output_0']);
    expect(shapes.get('/blocks.0/Add_1_output_0')).toEqual({ elemType: DataType.FLOAT, shape: [undefined, undefined, 32] });
    expect(fs.readdirSync(FIXTURE_DIR).sort()).toEqual(before);
  });

  it('a huge declared input costs nothing: inference gives the shape, no model is run', () => {
    const graph = {
      ...emptyGraph('big'),
      node: [node('Relu', ['x'], ['r']), node('Neg', ['r'], ['y'])],
      input: [makeValueInfo('x', DataType.FLOAT, [100000, 100000])],
      output: [makeValueInfo('y', DataType.FLOAT)],
    };
    const m: Model = { proto: newModel(graph, 17), baseDir: tmp() };
    // Any run would need 40 GB; patchModel is synchronous and only infers.
    const [applied] = patchModel(m, [{ tensor: 'r', mode: 'suppress', dims: [5], axis: -1 }]);
    expect(applied.axis).toBe(1);
  });

  it('the library says where inference stopped', () => {
    expect(() => patchModel(cropModel(['N', 6]), [{ tensor: 'c', mode: 'suppress', dims: [0] }])).toThrow(ShapeUnknownError);
    expect(() => patchModel(cropModel(['N', 6]), [{ tensor: 'c', mode: 'suppress', dims: [0] }])).toThrow(/inference stopped at node 'c' \(op CenterCropPad\)/);
  });

  it('the command falls back to one run on small inputs, and the patch is right', async () => {
    const file = save(cropModel(['N', 6]), 'crop.onnx');
    const out = path.join(tmp(), 'patched.onnx');
    const r = await sca('patch', file, '-o', out, '--tensor', 'c', '--mode', 'clamp', '--dims', '2', '--strength', '0.5');
    expect(r.err).toBe('');
    expect(r.out).toMatch(/clamp on 'c' axis 1/);
    const x = f32([1, -2, 3, -4, 5, -6, 7, 8, 9, 10, 11, 12], [2, 6]);
    const y = Array.from((await run(loadModel(out), { x })).y.data as Float32Array);
    // Centre crop of 6 to 4 keeps columns 1..4; then dim 2 is clamped to 0.5, then Relu.
    expect(y).toEqual([0, 3, 0.5, 5, 8, 9, 0.5, 11]);
  });

  it('refuses, in one line, a run whose inputs would pass the memory bound', async () => {
    const file = save(cropModel([100000, 100000]), 'huge.onnx');
    const out = path.join(tmp(), 'patched.onnx');
    const r = await sca('patch', file, '-o', out, '--tensor', 'c', '--mode', 'suppress', '--dims', '0');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/would need inputs of \d+ MiB or more \(limit 64 MiB\)/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import { describe, expect, it } from 'vitest';
import { readAnchors } from '../../src/anchors/manifest.js';
import { parseSpec } from '../../src/api/check.js';
import { encodeNpy } from '../../src/data/npy.js';
import { node } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { DataType } from '../../src/onnx/types.js';
import { parseDirectionOptions, readDirectionFile, resolvePlanDirections } from '../../src/data/directions.js';
import { sca } from '../helpers/cli.js';
import { model, randomValues, weight } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('directions');
const D = 4096;

function write(name: string, bytes: Uint8Array | string): string {
  const file = path.join(tmp(), name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** x [N,D] -> Relu -> h -> MatMul -> y [N,2], with h's shape recorded. */
function wideModel(): string {
  const m = model({
    node: [node('Relu', ['x'], ['h']), node('MatMul', ['h', 'w'], ['y'])],
    initializer: [weight('w', [D, 2], 3)],
    input: [makeValueInfo('x', DataType.FLOAT, ['N', D])],
    output: [makeValueInfo('y', DataType.FLOAT, ['N', 2])],
    valueInfo: [makeValueInfo('h', DataType.FLOAT, ['N', D])],
  });
  const file = path.join(tmp(), 'wide.onnx');
  saveModel(m, file);
  return file;
}

describe('--direction @FILE', () => {
  it('a 4096-wide direction from .npy gives the same patched model bytes as the same numbers inline', async () => {
    const file = wideModel();
    // float32 values, so the inline text and the .npy hold exactly the same numbers.
    const values = Float32Array.from(randomValues(D, 21));
    const npy = write('dir.npy', encodeNpy('f4', [D], values));
    const inlineOut = path.join(tmp(), 'inline.onnx');
    const fileOut = path.join(tmp(), 'file.onnx');
    expect((await sca('patch', file, '-o', inlineOut, '--tensor', 'h', '--mode', 'suppress', '--direction', Array.from(values).join(','))).code).toBe(0);
    const r = await sca('patch', file, '-o', fileOut, '--tensor', 'h', '--mode', 'suppress', '--direction', `@${npy}`);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(fileOut).equals(fs.readFileSync(inlineOut))).toBe(true);

    // The same through a plan, with the file relative to the plan.
    const plan = write('plan.json', JSON.stringify([{ tensor: 'h', mode: 'suppress', directions: '@dir.npy' }]));
    const planOut = path.join(tmp(), 'plan.onnx');
    expect((await sca('patch', file, '-o', planOut, '--plan', plan)).code).toBe(0);
    expect(fs.readFileSync(planOut).equals(fs.readFileSync(inlineOut))).toBe(true);
  });

  it('check specs read "@FILE" directions relative to the spec', () => {
    fs.mkdirSync(path.join(tmp(), 'dirs'));
    write('dirs/a.npy', encodeNpy('f8', [2, 3], Float64Array.from([1, 0, 0, 0, 1, 0])));
    const spec = write(
      'spec.json',
      JSON.stringify({
        intact: 'm.onnx',
        checks: [{ patch: { tensor: 'h', mode: 'suppress', directions: ['@dirs/a.npy', [0, 0, 1]] }, metric: 'mse', min: 0 }],
      }),
    );
    const { spec: parsed } = parseSpec(spec);
    expect((parsed.checks[0].patch as { directions: number[][] }).directions).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
  });

  it('sca anchor records a direction read from JSON', async () => {
    const file = wideModel();
    const values = randomValues(D, 5);
    const json = write('dir.json', JSON.stringify(values));
    const out = path.join(tmp(), 'anchored.onnx');
    const r = await sca('anchor', file, '-o', out, '--concept', 'c', '--tensor', 'h', '--direction', `@${json}`);
    expect(r.code).toBe(0);
    expect(readAnchors(loadModel(out).proto)).toEqual([{ concept: 'c', tensor: 'h', direction: values }]);
    const two = write('two.json', JSON.stringify([values, values]));
    const bad = await sca('anchor', file, '-o', path.join(tmp(), 'x.onnx'), '--concept', 'c', '--tensor', 'h', '--direction', `@${two}`);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--direction: expected one direction, got 2/);
  });

  it('reads [k, D] subspaces from .npy (float64, float16) and JSON', () => {
    const rows = [
      [1, 0.5, -2],
      [0.25, 3, 1],
    ];
    expect(readDirectionFile('--direction', write('a.npy', encodeNpy('f8', [2, 3], Float64Array.from(rows.flat()))))).toEqual(rows);
    const half = new Float16Array(rows.flat());
    const f2 = Buffer.from(encodeNpy('f4', [2, 3], new Float32Array(6)));
    // Same header layout as f4 with the dtype renamed, followed by the float16 bytes.
    const header = f2
      .subarray(0, f2.length - 24)
      .toString('latin1')
      .replace("'<f4'", "'<f2'");
    const f2file = write('h.npy', Buffer.concat([Buffer.from(header, 'latin1'), Buffer.from(half.buffer)]));
    expect(readDirectionFile('--direction', f2file)).toEqual(rows);
    expect(readDirectionFile('--direction', write('a.json', JSON.stringify(rows)))).toEqual(rows);
    expect(parseDirectionOptions('--direction', ['1,0;0,1', `@${write('b.json', '[3,4]')}`])).toEqual([
      [1, 0],
      [0, 1],
      [3, 4],
    ]);
    expect(resolvePlanDirections('plan', ['@b.json', [1, 2]], tmp())).toEqual([
      [3, 4],
      [1, 2],
    ]);
  });

  it('bad files get one line naming the file and the fault', async () => {
    const cases: [string, Uint8Array | string, RegExp][] = [
      ['rank3.npy', encodeNpy('f4', [2, 2, 2], new Float32Array(8)), /shape \[2, 2, 2\]; expected \[D\] for one direction or \[k, D\]/],
      ['nan.npy', encodeNpy('f4', [3], Float32Array.from([1, NaN, 2])), /value 1 is NaN; directions must be finite/],
      ['empty.npy', encodeNpy('f4', [0], new Float32Array(0)), /holds no values/],
      ['ints.npy', encodeNpy('i4', [3], Int32Array.from([1, 2, 3])), /dtype i4; directions must be float32, float64 or float16/],
      ['zero.json', '[0, 0, 0]', /direction 0 is all zeros/],
      ['ragged.json', '[[1, 2], [3]]', /direction 1 has 1 values, direction 0 has 2/],
      ['text.json', 'not json', /neither a \.npy file nor valid JSON/],
      ['object.json', '{"a": 1}', /expected a JSON list/],
      ['empty.json', '[]', /holds no values/],
      ['deep.json', '[[[1]]]', /expected \[D\] \(one direction\) or \[k, D\]/],
      ['huge.json', '[1, 1e999]', /value 1 is Infinity/],
    ];
    const file = wideModel();
    for (const [name, content, message] of cases) {
      const f = write(name, content);
      expect(() => readDirectionFile('--direction', f), name).toThrow(message);
      const r = await sca('patch', file, '-o', path.join(tmp(), 'out.onnx'), '--tensor', 'h', '--mode', 'suppress', '--direction', `@${f}`);
      expect(r.code, name).toBe(2);
      expect(r.err.trim().split('\n'), name).toHaveLength(1);
      expect(r.err, name).toContain(f);
      expect(fs.existsSync(path.join(tmp(), 'out.onnx'))).toBe(false);
    }
    const missing = await sca('patch', file, '-o', path.join(tmp(), 'out.onnx'), '--tensor', 'h', '--mode', 'suppress', '--direction', '@nowhere.npy');
    expect(missing.err).toMatch(/--direction @.*nowhere\.npy: cannot read \(no such file\)/);
    expect(() => readDirectionFile('--direction', tmp())).toThrow(/cannot read \(is a directory\)/);
  });
});

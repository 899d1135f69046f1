import '../../src/domains/index.js';
import fs from 'node:fs';
import path from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadDataset, loadGroups, type ModelInput } from '../../src/data/datasets.js';
import { encodeNpy, parseNpy } from '../../src/data/npy.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('data');

const rgb: ModelInput[] = [{ name: 'rgb', elemType: 1, sampleShape: [3], shape: [undefined, 3] }];
const two: ModelInput[] = [
  { name: 'a', elemType: 1, sampleShape: [2], shape: [undefined, 2] },
  { name: 'ids', elemType: 7, sampleShape: [undefined], shape: [undefined, undefined] },
];

describe('datasets', () => {
  it('the built-in colour cube, with N points per axis and named-colour groups', () => {
    const d = loadDataset('color-cube:4', rgb);
    expect(d.samples).toBe(64);
    expect(Array.from(d.inputs.rgb.data as Float32Array).slice(-3)).toEqual([1, 1, 1]);
    expect(d.groups![0]).toBe('black');
    expect(d.groups![63]).toBe('white');
  });

  it('.npy round trip (float32), and float64 converted for a float32 input', () => {
    const f = path.join(tmp(), 'x.npy');
    fs.writeFileSync(f, encodeNpy('f8', [2, 3], Float64Array.from([1, 2, 3, 4, 5, 6])));
    const d = loadDataset(f, rgb);
    expect(d.samples).toBe(2);
    expect(d.inputs.rgb.data).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]));
    const back = parseNpy(encodeNpy('f4', [3], Float32Array.from([1, 2, 3])), 'x');
    expect(back).toEqual({ dtype: 'f4', shape: [3], data: Float32Array.from([1, 2, 3]) });
  });

  it('.npz with several inputs by name', () => {
    const f = path.join(tmp(), 'x.npz');
    fs.writeFileSync(
      f,
      zipSync({ 'a.npy': encodeNpy('f4', [2, 2], Float32Array.from([1, 2, 3, 4])), 'ids.npy': encodeNpy('i8', [2, 5], new BigInt64Array(10)) }),
    );
    const d = loadDataset(f, two);
    expect(d.inputs.ids.type).toBe('int64');
    expect(d.inputs.ids.sampleShape).toEqual([5]);
  });

  it('JSON, as a bare list for one input or by name', () => {
    const f = path.join(tmp(), 'x.json');
    fs.writeFileSync(
      f,
      JSON.stringify([
        [0, 0, 1],
        [1, 0, 0],
      ]),
    );
    expect(loadDataset(f, rgb).samples).toBe(2);
    fs.writeFileSync(f, JSON.stringify({ a: [[1, 2]], ids: [[3, 4, 5]] }));
    expect(Array.from(loadDataset(f, two).inputs.ids.data as BigInt64Array)).toEqual([3n, 4n, 5n]);
  });

  it.each([
    ['wrong shape', () => ['x.json', JSON.stringify([[1, 2]])], rgb, /axis 1 must be 3, the data has 2/],
    ['wrong rank', () => ['x.json', JSON.stringify([1, 2, 3])], rgb, /rank 2 in the model/],
    ['missing input', () => ['x.json', JSON.stringify({ a: [[1, 2]] })], two, /no data for input 'ids'/],
    ['unknown input', () => ['x.json', JSON.stringify({ rgb: [[1, 2, 3]], extra: [[1]] })], rgb, /'extra' is not an input/],
    ['dtype', () => ['x.json', JSON.stringify({ a: [[1, 2]], ids: [[0.5]] })], two, /whole numbers/],
    ['ragged', () => ['x.json', JSON.stringify([[1, 2, 3], [1]])], rgb, /rectangular/],
    ['npy for two inputs', () => ['x.npy', ''], two, /one array but the model takes 2/],
    ['not npy', () => ['y.npy', 'hello'], rgb, /not a .npy file/],
    ['colour cube on the wrong model', () => ['', ''], two, /needs a model with one input of shape \[batch, 3\]/],
  ])('%s: one clear error', (_n, make, inputs, message) => {
    const [name, content] = make();
    if (name) fs.writeFileSync(path.join(tmp(), name), content);
    expect(() => loadDataset(name ? path.join(tmp(), name) : 'color-cube', inputs)).toThrow(message);
  });

  it('groups from a list or from index lists', () => {
    const f = path.join(tmp(), 'g.json');
    fs.writeFileSync(f, JSON.stringify({ left: [0, 2], right: [1] }));
    expect(loadGroups(f, 3)).toEqual(['left', 'right', 'left']);
    fs.writeFileSync(f, JSON.stringify(['x', 'y']));
    expect(() => loadGroups(f, 3)).toThrow(/2 labels for 3 samples/);
  });
});

/** Weight views: what ablation and pruning read and write a weight through. */
import { describe, expect, it } from 'vitest';
import { makeTensor, tensorFloats } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { weightView } from '../../src/weights/view.js';
import { ScaError } from '../../src/errors.js';

describe('weight views', () => {
  it('a float16 weight reads as float32 and writes back as float16, with new dims when pruned', () => {
    const t = makeTensor('w', DataType.FLOAT16, [2, 3], [1, 2, 3, 4, 5, 6.5]);
    const view = weightView(t, '/nonexistent');
    expect(view.dims).toEqual([2, 3]);
    expect(Array.from(view.read())).toEqual([1, 2, 3, 4, 5, 6.5]);
    view.write(Float32Array.from([1, 3, 4, 6.5]), [2, 2]);
    expect(t.dataType).toBe(DataType.FLOAT16);
    expect(t.dims.map(Number)).toEqual([2, 2]);
    expect(Array.from(tensorFloats(t, '/nonexistent'))).toEqual([1, 3, 4, 6.5]);
  });

  it('an integer-encoded weight is refused, naming it, until its view exists', () => {
    const t = { ...makeTensor('q', DataType.FLOAT, [4], [0, 0, 0, 0]), dataType: DataType.INT8, rawData: new Uint8Array(4) };
    expect(() => weightView(t, '/nonexistent')).toThrow(ScaError);
    expect(() => weightView(t, '/nonexistent')).toThrow(/weight 'q' is stored as int8/);
  });
});

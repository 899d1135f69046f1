import { describe, expect, it } from 'vitest';
import { bfloat16ToFloats, floatsToBfloat16, tensorFloats } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { gemmAutoencoder } from '../helpers/graphs.js';

describe('bfloat16', () => {
  it('converts with round-to-nearest-even, hand-worked bit patterns', () => {
    // 1.0 = 0x3f800000 -> 0x3f80; 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: ties to even (0x3f80);
    // 1 + 3*2^-8 is halfway between 0x3f81 and 0x3f82: ties to even (0x3f82); -2.5 = 0xc0200000 -> 0xc020.
    const bits = floatsToBfloat16([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, Infinity, NaN]);
    expect(Array.from(bits.subarray(0, 5))).toEqual([0x3f80, 0x3f80, 0x3f82, 0xc020, 0x7f80]);
    expect(Number.isNaN(bfloat16ToFloats(bits.subarray(5))[0])).toBe(true);
    expect(Array.from(bfloat16ToFloats(Uint16Array.from([0x3f80, 0x3f82, 0xc020])))).toEqual([1, 1 + 2 ** -6, -2.5]);
  });

  it('a patch on a bfloat16 model builds its constants in bfloat16', () => {
    const m = gemmAutoencoder(5, DataType.BFLOAT16);
    const direction = [0.6, -0.3, 0.5, 0.2, -0.5];
    const [applied] = patchModel(m, [{ tensor: 'latent', mode: 'suppress', directions: [direction], projection: 'full' }]);
    const added = m.proto.graph!.initializer.filter((t) => t.name?.startsWith(`${applied.prefix}/`));
    expect(added.length).toBeGreaterThan(0);
    for (const t of added) expect(t.dataType).toBe(DataType.BFLOAT16);
    const basis = added.find((t) => t.dims.length === 2)!;
    const norm = Math.hypot(...direction);
    // Each value is the bfloat16 rounding of the unit direction (3 significant digits).
    expect(Array.from(tensorFloats(basis, '/')).map((v) => v.toPrecision(2))).toEqual(direction.map((v) => (v / norm).toPrecision(2)));
  });
});

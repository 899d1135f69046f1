import { describe, expect, it } from 'vitest';
import { addDims, canonicalDim, ceilDiv, evaluateDim, exactDiv, floorDiv, mulDims, productOf, subDims } from '../../../src/ir/infer/dims.js';

describe('symbolic dims', () => {
  it('prints equal products and sums the same way', () => {
    expect(mulDims('seq', 'batch')).toBe('batch*seq');
    expect(mulDims('batch', 'seq')).toBe('batch*seq');
    expect(canonicalDim('seq * batch')).toBe('batch*seq');
    expect(addDims('seq', 'past')).toBe(addDims('past', 'seq'));
    expect(canonicalDim('past_sequence_length + 1')).toBe('past_sequence_length+1');
    expect(mulDims(2, mulDims('h', 'w'))).toBe('2*h*w');
  });

  it('cancels terms and folds constants', () => {
    expect(subDims('seq', 'seq')).toBe(0);
    expect(subDims(addDims('seq', 3), 3)).toBe('seq');
    expect(subDims('seq', 1)).toBe('seq-1');
    expect(productOf([1, 'batch', 1])).toBe('batch');
  });

  it('divides exactly when the divisor is a factor (Reshape -1)', () => {
    const total = productOf(['batch', 'seq', 768]);
    expect(total).toBe('768*batch*seq');
    expect(exactDiv(total, productOf(['batch', 768]))).toBe('seq');
    expect(exactDiv(total, productOf(['batch', 12, 64]))).toBe('seq');
    expect(exactDiv(mulDims(2, addDims('seq', 1)), addDims('seq', 1))).toBe(2);
    expect(exactDiv('batch', 'seq')).toBeUndefined();
    expect(exactDiv(7, 2)).toBeUndefined();
  });

  it('writes inexact divisions as one canonical floor symbol', () => {
    const a = floorDiv(subDims('h', 1), 2);
    expect(a).toBe('floor((h-1)/2)');
    expect(floorDiv(subDims('h', 1), 2)).toBe(a);
    expect(addDims(a, 1)).toBe('floor((h-1)/2)+1');
    expect(mulDims(a, 'c')).toBe(mulDims('c', a));
    expect(ceilDiv('h', 2)).toBe('floor((h+1)/2)');
    expect(floorDiv(7, 2)).toBe(3);
    expect(ceilDiv(7, 2)).toBe(4);
  });

  it('evaluates expressions once symbols are bound', () => {
    const env = (s: string) => ({ h: 9, batch: 2, seq: 5 })[s];
    expect(evaluateDim(addDims(floorDiv(subDims('h', 1), 2), 1), env)).toBe(5);
    expect(evaluateDim('768*batch*seq', env)).toBe(7680);
    expect(evaluateDim(ceilDiv('h', 2), env)).toBe(5);
    expect(evaluateDim('other', env)).toBeUndefined();
  });

  it('keeps names outside the grammar whole', () => {
    expect(canonicalDim('batch size')).toBe('batch size');
    expect(mulDims('batch size', 2)).toBe('2*{batch size}');
    expect(exactDiv(mulDims('batch size', 2), 2)).toBe('batch size');
  });
});

import { describe, expect, it } from 'vitest';
import { hueChroma, hueSimilarity, pearson, selectivity } from '../../src/eval/colors.js';
import { classifierAgreement, cosine, histogram, kl, maxAbs, mse, softmax, summarize } from '../../src/eval/metrics.js';

describe('metrics, against values worked out by hand', () => {
  it('MSE, max |diff| and cosine', () => {
    expect(mse([1, 2, 3], [1, 0, 6])).toBeCloseTo((0 + 4 + 9) / 3, 12);
    expect(maxAbs([1, 2, 3], [1, 0, 6])).toBe(3);
    expect(cosine([1, 0], [0, 1])).toBe(0);
    expect(cosine([1, 1], [2, 2])).toBeCloseTo(1, 12);
    expect(cosine([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
    expect(cosine([0, 0], [0, 0])).toBe(1);
  });

  it('softmax, KL and top-1 for classifier outputs', () => {
    expect(softmax([0, Math.log(3)])).toEqual([expect.closeTo(0.25, 12), expect.closeTo(0.75, 12)]);
    expect(kl([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.5 * Math.log(2) + 0.5 * Math.log(2 / 3), 12);
    // Two positions of 2 classes: the first agrees, the second flips.
    const c = classifierAgreement([0, 1, 1, 0], [0, 1, 0, 1], 2);
    expect(c.top1).toBe(0.5);
    expect(c.kl).toBeCloseTo((0 + kl(softmax([1, 0]), softmax([0, 1]))) / 2, 12);
  });

  it('summaries average per sample (max for max |diff|), histograms count into bins', () => {
    const m = { mse: Float64Array.from([1, 3, 5]), maxAbs: Float64Array.from([1, 9, 2]), cosine: Float64Array.from([1, 0.5, 0]) };
    expect(summarize(m, [0, 1, 2])).toEqual({ mse: 3, maxAbs: 9, cosine: 0.5 });
    expect(summarize(m, [2])).toEqual({ mse: 5, maxAbs: 2, cosine: 0 });
    // Bins of width 0.5 from -1; the top edge belongs to the last bin.
    expect(histogram([-1, -0.5, 0, 0.99, 1], -1, 1, 4)).toEqual([1, 1, 1, 2]);
  });
});

describe('colour measurements', () => {
  it('hue and chroma', () => {
    expect(hueChroma([1, 0, 0])).toEqual({ hue: 0, chroma: 1 });
    expect(hueChroma([0, 1, 0]).hue).toBeCloseTo((2 * Math.PI) / 3, 12);
    expect(hueChroma([0.5, 0.5, 0.5])).toEqual({ hue: 0, chroma: 0 });
  });

  it('hue similarity to red: 1 for red, 0 for cyan and grays', () => {
    expect(hueSimilarity([1, 0, 0])).toBe(1);
    expect(hueSimilarity([0, 1, 1])).toBeCloseTo(0, 12);
    expect(hueSimilarity([0.3, 0.3, 0.3])).toBe(0);
    expect(hueSimilarity([1, 1, 0])).toBeCloseTo(0.75, 12); // 60 degrees: (1 + 1/2) / 2
  });

  it('Pearson r, undefined when nothing varies', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [0, 0, 0])).toBeUndefined();
    expect(selectivity([[1, 0, 0], [0, 1, 0], [0, 0, 1]], [0, 0, 0])).toBeUndefined();
  });
});

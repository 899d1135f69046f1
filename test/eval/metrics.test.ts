import { describe, expect, it } from 'vitest';
import { colorCube, hsvSimilarity, hueChroma, NAMED_COLORS, pearson, rgbToHsv, selectivity } from '../../src/domains/color/palette.js';
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

  it("HSV as Python's colorsys: hue in degrees, greys at h = 0, s = 0", () => {
    expect(rgbToHsv([1, 0.5, 0])).toEqual({ h: 30, s: 1, v: 1 });
    expect(rgbToHsv([0.25, 0.5, 0.5])).toEqual({ h: 180, s: 0.5, v: 0.5 });
    expect(rgbToHsv([0.5, 0.5, 0.5])).toEqual({ h: 0, s: 0, v: 0.5 });
    expect(rgbToHsv([0, 0, 0])).toEqual({ h: 0, s: 0, v: 0 });
  });

  it("the paper's similarity to red, by hand: red 1; orange, pink 2/3; yellow, magenta 1/3; lime to purple and greys 0", () => {
    const sim = (name: string) => hsvSimilarity(NAMED_COLORS[name]);
    expect(sim('red')).toBe(1);
    for (const name of ['orange', 'pink']) expect(sim(name), name).toBeCloseTo(2 / 3, 12);
    for (const name of ['yellow', 'magenta']) expect(sim(name), name).toBeCloseTo(1 / 3, 12);
    for (const name of ['lime', 'green', 'teal', 'cyan', 'azure', 'blue', 'purple']) expect(sim(name), name).toBe(0);
    for (const name of ['black', 'dark gray', 'gray', 'light gray', 'white']) expect(sim(name), name).toBe(0);
    // A dull red: s = 0.5, v = 0.5, so r = (0.25 + 1) / 2 and sim = (r + 1 - r)(1 - 0.5)(1 - 0.5) = 0.25.
    expect(hsvSimilarity([0.5, 0.25, 0.25])).toBeCloseTo(0.25, 12);
    // Orange at half value: d = 30 so sim_hue = 2/3; q = 0.5, r = 0.75; (0.75 * 2/3 + 0.25) * 1 * 0.5 = 0.375.
    expect(hsvSimilarity([0.5, 0.25, 0])).toBeCloseTo(0.375, 12);
  });

  it('selectivity is r^2 of MSE against similarity^p; p changes it', () => {
    const cube = colorCube(8);
    // Damage exactly proportional to sim^3: r = 1 at p = 3, less at p = 2.
    const errors = cube.map((c) => 0.3 * hsvSimilarity(c) ** 3 + 1e-4);
    expect(selectivity(cube, errors, 3)).toBeCloseTo(1, 12);
    const p2 = selectivity(cube, errors, 2)!;
    expect(p2).toBeLessThan(0.99);
    // Independent: r^2 = (n Sxy - Sx Sy)^2 / ((n Sxx - Sx^2)(n Syy - Sy^2)).
    const xs = cube.map((c) => hsvSimilarity(c) ** 2);
    const n = cube.length;
    const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
    const sxy = sum(xs.map((x, i) => x * errors[i]));
    const num = (n * sxy - sum(xs) * sum(errors)) ** 2;
    const den = (n * sum(xs.map((x) => x * x)) - sum(xs) ** 2) * (n * sum(errors.map((e) => e * e)) - sum(errors) ** 2);
    expect(p2).toBeCloseTo(num / den, 10);
  });

  it('Pearson r, undefined when nothing varies', () => {
    expect(pearson([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [0, 0, 0])).toBeUndefined();
    expect(
      selectivity(
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
        [0, 0, 0],
        2,
      ),
    ).toBeUndefined();
  });
});

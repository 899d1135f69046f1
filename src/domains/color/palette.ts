/**
 * Colour-model measurements from the paper: named colours, hue similarity to
 * the anchor colour, and the selectivity score.
 */
export type Rgb = [number, number, number];

/**
 * The RGB cube with n points per axis: including both ends (the paper's
 * training colours and the `color-cube[:N]` data), or at cell centres (its
 * validation colours). One point per axis is mid-gray.
 */
export function colorCube(n = 8, centres = false): Rgb[] {
  const axis = Array.from({ length: n }, (_, i) => (centres ? (i + 0.5) / n : n === 1 ? 0.5 : i / (n - 1)));
  const out: Rgb[] = [];
  for (const r of axis) for (const g of axis) for (const b of axis) out.push([r, g, b]);
  return out;
}

/** The paper's table: hues every 30 degrees from red, then the achromatic colours. */
export const NAMED_COLORS: Record<string, Rgb> = {
  red: [1, 0, 0],
  orange: [1, 0.5, 0],
  yellow: [1, 1, 0],
  lime: [0.5, 1, 0],
  green: [0, 1, 0],
  teal: [0, 1, 0.5],
  cyan: [0, 1, 1],
  azure: [0, 0.5, 1],
  blue: [0, 0, 1],
  purple: [0.5, 0, 1],
  magenta: [1, 0, 1],
  pink: [1, 0, 0.5],
  black: [0, 0, 0],
  'dark gray': [0.25, 0.25, 0.25],
  gray: [0.5, 0.5, 0.5],
  'light gray': [0.75, 0.75, 0.75],
  white: [1, 1, 1],
};

/** The hexcone hue in sixths of a turn [0, 6) and chroma (max - min), both 0 for greys. */
function hueSector([r, g, b]: Rgb): { sector: number; chroma: number } {
  const max = Math.max(r, g, b);
  const chroma = max - Math.min(r, g, b);
  if (chroma === 0) return { sector: 0, chroma: 0 };
  if (max === r) return { sector: ((g - b) / chroma + 6) % 6, chroma };
  if (max === g) return { sector: (b - r) / chroma + 2, chroma };
  return { sector: (r - g) / chroma + 4, chroma };
}

/** Hue in radians (HSV hexcone) and chroma (max - min), both 0 for grays. */
export function hueChroma(c: Rgb): { hue: number; chroma: number } {
  const { sector, chroma } = hueSector(c);
  return { hue: (sector * Math.PI) / 3, chroma };
}

/** HSV as Python's colorsys computes it: hue in degrees [0, 360), greys at h = 0, s = 0. */
export function rgbToHsv(c: Rgb): { h: number; s: number; v: number } {
  const v = Math.max(c[0], c[1], c[2]);
  const { sector, chroma } = hueSector(c);
  return { h: sector * 60, s: v === 0 ? 0 : chroma / v, v };
}

/**
 * The paper's similarity of a colour to the anchor colour (SCA.md, "Selectivity,
 * exactly"): hue similarity max(0, (90 - d) / 90) for a circular hue distance
 * d in degrees, weighted by the mean vibrancy r of the two colours (q = s v,
 * r = (q + q_anchor) / 2, so hue counts less for dull colours), times the
 * closeness of saturation and of value. Against red: orange and pink 2/3,
 * yellow and magenta 1/3, hues 90 degrees or more away and every grey 0.
 */
export function hsvSimilarity(c: Rgb, anchor: Rgb = NAMED_COLORS.red): number {
  const x = rgbToHsv(c);
  const a = rgbToHsv(anchor);
  const diff = Math.abs(x.h - a.h) % 360;
  const d = Math.min(diff, 360 - diff);
  const simHue = Math.max(0, (90 - d) / 90);
  const r = (x.s * x.v + a.s * a.v) / 2;
  return (r * simHue + 1 - r) * (1 - Math.abs(x.s - a.s)) * (1 - Math.abs(x.v - a.v));
}

/** Pearson correlation; undefined when either side is constant (nothing to correlate). */
export function pearson(xs: ArrayLike<number>, ys: ArrayLike<number>): number | undefined {
  const n = xs.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i] / n;
    my += ys[i] / n;
  }
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return undefined;
  return sxy / Math.sqrt(sxx * syy);
}

/** The selectivity grid of SCA.md: 8 points per axis; the notebooks also print 20. */
export const SELECTIVITY_GRID = 8;

/** p of the paper: 2 for inserted suppression, 3 for weight ablation or pruning. */
export const SELECTIVITY_POWER = { suppression: 2, ablation: 3 } as const;

/**
 * The paper's selectivity score: the squared Pearson r between each colour's
 * reconstruction MSE after the intervention (clamped output against the input)
 * and its similarity to the anchor colour raised to `power`. 1 when damage
 * grows exactly with similarity. Undefined when either side is constant.
 */
export function selectivity(colors: Rgb[], errors: ArrayLike<number>, power: number, anchor: Rgb = NAMED_COLORS.red): number | undefined {
  const r = pearson(
    errors,
    colors.map((c) => hsvSimilarity(c, anchor) ** power),
  );
  return r === undefined ? undefined : r * r;
}

/** Reconstruction MSE of one colour: the mean over channels of (clamp(y, 0, 1) - x)^2. */
export function colorMse(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < 3; k++) s += (Math.min(Math.max(y[k], 0), 1) - x[k]) ** 2;
  return s / 3;
}

/** Colours far from red in hue: what suppressing red must leave alone. */
export const DEFAULT_OFF_TARGET = ['green', 'teal', 'cyan', 'azure', 'blue', 'black', 'dark gray', 'gray', 'light gray', 'white'];

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

/** Hue in radians (HSV hexcone) and chroma (max - min), both 0 for grays. */
export function hueChroma([r, g, b]: Rgb): { hue: number; chroma: number } {
  const max = Math.max(r, g, b);
  const chroma = max - Math.min(r, g, b);
  if (chroma === 0) return { hue: 0, chroma: 0 };
  let h: number;
  if (max === r) h = ((g - b) / chroma + 6) % 6;
  else if (max === g) h = (b - r) / chroma + 2;
  else h = (r - g) / chroma + 4;
  return { hue: (h * Math.PI) / 3, chroma };
}

/**
 * How much a colour looks like the anchor colour by hue: (1 + cos(hue
 * difference)) / 2, scaled by chroma so grays (no hue) count as unlike it.
 */
export function hueSimilarity(c: Rgb, anchor: Rgb = NAMED_COLORS.red): number {
  const a = hueChroma(anchor);
  const x = hueChroma(c);
  return (x.chroma * (1 + Math.cos(x.hue - a.hue))) / 2;
}

/** Pearson correlation; undefined when either side is constant (nothing to correlate). */
export function pearson(xs: number[], ys: number[]): number | undefined {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
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

/** The paper's selectivity: Pearson r between per-colour error and (hue similarity to the anchor)^3. */
export function selectivity(colors: Rgb[], errors: number[], anchor: Rgb = NAMED_COLORS.red): number | undefined {
  return pearson(errors, colors.map((c) => hueSimilarity(c, anchor) ** 3));
}

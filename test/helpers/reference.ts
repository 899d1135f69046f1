/**
 * The interventions of SCA.md written as plain loops over rows, independent
 * of the graph code: what the patched models must compute.
 */
export type Row = number[];

const dot = (a: Row, b: Row): number => a.reduce((s, x, i) => s + x * b[i], 0);

export function gate(s: number, t: number, b: number, p: number): number {
  const a = Math.min(Math.max(s, 0), 1);
  if (!(s > t)) return 0;
  return p === 0 ? b : b * Math.pow(Math.min(Math.max((a - t) / (1 - t), 0), 1), p);
}

/** z - g(z.a) (z.a) a, with a normalised here. */
export function suppressDirection(z: Row, dir: Row, t = 0, b = 1, p = 0): Row {
  const n = Math.hypot(...dir);
  const a = dir.map((x) => x / n);
  const s = dot(z, a);
  const g = gate(s, t, b, p);
  return z.map((x, i) => x - g * s * a[i]);
}

/** z minus strength times its projection onto span(dirs), with the basis from Gram-Schmidt. */
export function projectSubspace(z: Row, dirs: Row[], coefficient: (s: number) => number): Row {
  const basis: Row[] = [];
  for (const d of dirs) {
    let v = [...d];
    for (const q of basis) {
      const c = dot(v, q);
      v = v.map((x, i) => x - c * q[i]);
    }
    const n = Math.hypot(...v);
    basis.push(v.map((x) => x / n));
  }
  const out = [...z];
  for (const q of basis) {
    const s = dot(z, q);
    const c = coefficient(s);
    for (let i = 0; i < out.length; i++) out[i] += c * q[i];
  }
  return out;
}

export function applyDims(z: Row, dims: number[], f: (x: number) => number): Row {
  return z.map((x, i) => (dims.includes(i) ? f(x) : x));
}

export function rows(data: ArrayLike<number>, width: number): Row[] {
  const out: Row[] = [];
  for (let i = 0; i < data.length; i += width) out.push(Array.from(data).slice(i, i + width));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

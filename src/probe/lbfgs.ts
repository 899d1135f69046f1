/**
 * Limited-memory BFGS with a backtracking (Armijo) line search, for the
 * smooth convex objectives of the probes. It is an optimiser, not linear
 * algebra: nothing here decomposes a matrix.
 */
export interface Objective {
  /** Value at x; writes the gradient into `grad`. */
  (x: Float64Array, grad: Float64Array): number;
}

export interface LbfgsOptions {
  maxIterations?: number;
  /** Stop when the gradient's largest entry is below this. */
  tolerance?: number;
  memory?: number;
}

export function minimize(f: Objective, x0: Float64Array, options: LbfgsOptions = {}): { x: Float64Array; value: number; iterations: number } {
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-8;
  const memory = options.memory ?? 10;
  const n = x0.length;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let value = f(x, g);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const direction = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    if (maxAbs(g) < tolerance) break;
    // Two-loop recursion: direction = -H g.
    direction.set(g);
    const alpha = new Array<number>(s.length);
    for (let k = s.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(s[k], direction);
      axpy(-alpha[k], y[k], direction);
    }
    if (s.length) {
      const last = s.length - 1;
      scale(direction, dot(s[last], y[last]) / dot(y[last], y[last]));
    }
    for (let k = 0; k < s.length; k++) axpy(alpha[k] - rho[k] * dot(y[k], direction), s[k], direction);
    scale(direction, -1);
    let slope = dot(direction, g);
    if (!(slope < 0)) {
      // Not a descent direction (lost curvature): restart from steepest descent.
      s.length = y.length = rho.length = 0;
      direction.set(g);
      scale(direction, -1);
      slope = -dot(g, g);
    }
    let step = s.length ? 1 : 1 / Math.max(1, Math.sqrt(dot(g, g)));
    let newValue = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * direction[i];
      newValue = f(xNew, gNew);
      if (newValue <= value + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(newValue <= value)) break;
    const sk = new Float64Array(n);
    const yk = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sk[i] = xNew[i] - x[i];
      yk[i] = gNew[i] - g[i];
    }
    const sy = dot(sk, yk);
    x.set(xNew);
    g.set(gNew);
    const improvement = value - newValue;
    value = newValue;
    if (sy > 1e-12) {
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
      if (s.length > memory) {
        s.shift();
        y.shift();
        rho.shift();
      }
    }
    if (improvement <= 1e-15 * Math.max(1, Math.abs(value))) break;
  }
  return { x, value, iterations };
}

function dot(a: Float64Array, b: Float64Array): number {
  let r = 0;
  for (let i = 0; i < a.length; i++) r += a[i] * b[i];
  return r;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i];
}

function scale(x: Float64Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

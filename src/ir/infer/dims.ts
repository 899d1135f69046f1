/**
 * Dimension arithmetic with symbols. A dim is a concrete length or a
 * symbolic expression held as its canonical string: a polynomial over
 * symbol names with integer coefficients, terms sorted, factors sorted
 * ("batch*seq", "past+seq", "2*seq-1"). Two expressions that are equal as
 * polynomials print the same, so `===` on canonical dims is equality, and
 * Reshape(-1) can divide `768*batch*seq` by `768*batch` exactly.
 *
 * What a polynomial cannot say (a floor division that is not exact) becomes
 * an opaque atom written like a call, `floor((h-1)/2)`, which is canonical
 * too, so two convolutions over the same input still agree.
 */

export type Dim = number | string;

/** monomial key (factors sorted, joined by '*'; '' for the constant) -> coefficient */
type Poly = Map<string, number>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_.:]*$/;

class ParseFailure extends Error {}

/** Parses a dim expression; anything outside the grammar is one opaque symbol. */
function parse(text: string): Poly {
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length && s[i] === ' ') i++;
  };
  const expr = (): Poly => {
    let acc = term();
    for (;;) {
      ws();
      const c = s[i];
      if (c !== '+' && c !== '-') return acc;
      i++;
      const t = term();
      acc = addPoly(acc, c === '+' ? t : scalePoly(t, -1));
    }
  };
  const term = (): Poly => {
    let acc = factor();
    for (;;) {
      ws();
      if (s[i] !== '*') return acc;
      i++;
      acc = mulPoly(acc, factor());
    }
  };
  const balanced = (open: string, close: string): string => {
    const start = i;
    let depth = 0;
    for (; i < s.length; i++) {
      if (s[i] === open) depth++;
      else if (s[i] === close && --depth === 0) return s.slice(start, ++i);
    }
    throw new ParseFailure();
  };
  const factor = (): Poly => {
    ws();
    const c = s[i];
    if (c === '-') {
      i++;
      return scalePoly(factor(), -1);
    }
    if (c === '(') {
      i++;
      const inner = expr();
      ws();
      if (s[i++] !== ')') throw new ParseFailure();
      return inner;
    }
    if (c === '{') {
      const group = balanced('{', '}');
      return atomPoly(group.slice(1, -1));
    }
    const num = /^\d+/.exec(s.slice(i));
    if (num) {
      i += num[0].length;
      return constPoly(Number(num[0]));
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.:]*/.exec(s.slice(i));
    if (!id) throw new ParseFailure();
    i += id[0].length;
    if (s[i] === '(') return atomPoly(id[0] + balanced('(', ')'));
    return atomPoly(id[0]);
  };
  try {
    const p = expr();
    ws();
    if (i !== s.length) throw new ParseFailure();
    return p;
  } catch (e) {
    if (e instanceof ParseFailure) return atomPoly(text);
    throw e;
  }
}

function constPoly(n: number): Poly {
  return n === 0 ? new Map<string, number>() : new Map([['', n]]);
}

function atomPoly(name: string): Poly {
  return new Map([[name, 1]]);
}

function addPoly(a: Poly, b: Poly): Poly {
  const out = new Map(a);
  for (const [k, v] of b) {
    const sum = (out.get(k) ?? 0) + v;
    if (sum === 0) out.delete(k);
    else out.set(k, sum);
  }
  return out;
}

function scalePoly(a: Poly, c: number): Poly {
  if (c === 0) return new Map();
  const out: Poly = new Map();
  for (const [k, v] of a) out.set(k, v * c);
  return out;
}

function splitKey(k: string): string[] {
  if (k === '') return [];
  if (!k.includes('*') || IDENT.test(k)) return [k];
  return splitTopLevel(k, '*');
}

/** `text` split at each `sep` outside brackets: atoms such as floor(a*b/2) hold operators inside. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '{') depth++;
    else if (c === ')' || c === '}') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function joinKey(factors: string[]): string {
  return factors.sort().join('*');
}

function mulPoly(a: Poly, b: Poly): Poly {
  let out: Poly = new Map();
  for (const [ka, va] of a) {
    for (const [kb, vb] of b) {
      const key = ka === '' ? kb : kb === '' ? ka : joinKey([...splitKey(ka), ...splitKey(kb)]);
      out = addPoly(out, new Map([[key, va * vb]]));
    }
  }
  return out;
}

/** Factors of `key` left after removing those of `div`, or undefined when `div` does not divide it. */
function divideKey(key: string, div: string): string | undefined {
  if (div === '') return key;
  const rest = splitKey(key);
  for (const f of splitKey(div)) {
    const at = rest.indexOf(f);
    if (at < 0) return undefined;
    rest.splice(at, 1);
  }
  return joinKey(rest);
}

/** a / b when b divides a exactly as polynomials (monomial divisors, or a constant multiple of b). */
function dividePoly(a: Poly, b: Poly): Poly | undefined {
  if (b.size === 0) return undefined;
  if (a.size === 0) return new Map();
  if (b.size === 1) {
    const [[bk, bv]] = b;
    const out: Poly = new Map();
    for (const [k, v] of a) {
      const q = divideKey(k, bk);
      if (q === undefined || v % bv !== 0) return undefined;
      out.set(q, v / bv);
    }
    return out;
  }
  if (a.size !== b.size) return undefined;
  let ratio: number | undefined;
  for (const [k, v] of a) {
    const bv = b.get(k);
    if (bv === undefined || v % bv !== 0) return undefined;
    const r = v / bv;
    if (ratio !== undefined && r !== ratio) return undefined;
    ratio = r;
  }
  return constPoly(ratio!);
}

function needsBraces(atom: string): boolean {
  if (IDENT.test(atom)) return false;
  // A call-like atom `name(...)` parses back as one factor.
  const call = /^[A-Za-z_][A-Za-z0-9_.:]*\(/.exec(atom);
  return !(call && atom.endsWith(')'));
}

function formatPoly(p: Poly): Dim {
  if (p.size === 0) return 0;
  const c = p.get('');
  if (p.size === 1 && c !== undefined) return c;
  const keys = [...p.keys()].filter((k) => k !== '').sort();
  if (keys.length === 1 && c === undefined && p.get(keys[0]) === 1 && splitKey(keys[0]).length === 1) return keys[0];
  let out = '';
  for (const k of keys) {
    const v = p.get(k)!;
    const body = splitKey(k)
      .map((f) => (needsBraces(f) ? `{${f}}` : f))
      .join('*');
    const mag = Math.abs(v) === 1 ? body : `${Math.abs(v)}*${body}`;
    out += v < 0 ? `-${mag}` : out === '' ? mag : `+${mag}`;
  }
  if (c !== undefined) out += c < 0 ? `${c}` : `+${c}`;
  return out;
}

const parsed = new Map<string, Poly>();

function poly(d: Dim): Poly {
  if (typeof d === 'number') return constPoly(d);
  let p = parsed.get(d);
  if (!p) {
    p = parse(d);
    parsed.set(d, p);
  }
  return p;
}

function out(p: Poly): Dim {
  const d = formatPoly(p);
  if (typeof d === 'string' && !parsed.has(d)) parsed.set(d, p);
  return d;
}

/** The canonical form of a dim: equal expressions give the same string. */
const canonical = new Map<string, Dim>();

export function canonicalDim(d: Dim): Dim {
  if (typeof d === 'number') return d;
  let c = canonical.get(d);
  if (c === undefined) {
    if (canonical.size > 100_000) canonical.clear();
    c = out(poly(d));
    canonical.set(d, c);
  }
  return c;
}

export function isConcrete(d: Dim | undefined): d is number {
  return typeof d === 'number';
}

export function dimsEqual(a: Dim, b: Dim): boolean {
  return a === b || canonicalDim(a) === canonicalDim(b);
}

/**
 * Results of symbolic operations, memoised: a transformer computes the same
 * few products and sums thousands of times. Cleared when it grows large.
 */
const memo = new Map<string, Dim | undefined>();

function memoised(op: string, a: Dim, b: Dim, f: () => Dim | undefined): Dim | undefined {
  const key = `${op}\u0000${a}\u0000${b}`;
  if (memo.has(key)) return memo.get(key);
  if (memo.size > 100_000) memo.clear();
  const r = f();
  memo.set(key, r);
  return r;
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (b === 0) return canonicalDim(a);
  if (a === 0) return canonicalDim(b);
  return memoised('+', a, b, () => out(addPoly(poly(a), poly(b))))!;
}

export function subDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (b === 0) return canonicalDim(a);
  return memoised('-', a, b, () => out(addPoly(poly(a), scalePoly(poly(b), -1))))!;
}

export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (b === 1) return canonicalDim(a);
  if (a === 1) return canonicalDim(b);
  return memoised('*', a, b, () => out(mulPoly(poly(a), poly(b))))!;
}

export function productOf(dims: readonly Dim[]): Dim {
  let acc: Dim = 1;
  for (const d of dims) acc = mulDims(acc, d);
  return acc;
}

/** a / b when it divides exactly; undefined otherwise. */
export function exactDiv(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : undefined;
  if (b === 1) return canonicalDim(a);
  return memoised('/', a, b, () => {
    const q = dividePoly(poly(a), poly(b));
    return q && out(q);
  });
}

function wrap(d: Dim): string {
  return typeof d === 'number' || IDENT.test(d) || !needsBraces(d) ? String(d) : `(${d})`;
}

/** floor(a / b) for b > 0: exact when possible, otherwise an opaque `floor(a/b)` symbol. */
export function floorDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.floor(a / b);
  return exactDiv(a, b) ?? canonicalDim(`floor(${wrap(a)}/${wrap(b)})`);
}

/** ceil(a / b) for b > 0, written as floor((a+b-1)/b) so there is one form. */
export function ceilDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.ceil(a / b);
  return exactDiv(a, b) ?? floorDiv(subDims(addDims(a, b), 1), b);
}

/** a truncated toward zero divided by b, as ONNX integer Div does (symbols are non-negative lengths). */
export function truncDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return Math.trunc(a / b);
  return floorDiv(a, b);
}

export function formatShape(shape: readonly Dim[] | undefined): string {
  return shape ? `[${shape.join(',')}]` : '[?]';
}

/**
 * The number a dim stands for once its symbols are bound (e.g. every
 * symbol to 1 for a probe run); undefined when a symbol is unbound.
 */
export function evaluateDim(d: Dim, env: (symbol: string) => number | undefined): number | undefined {
  if (typeof d === 'number') return d;
  let total = 0;
  for (const [key, coef] of poly(d)) {
    let term = coef;
    for (const f of splitKey(key)) {
      const v = evaluateAtom(f, env);
      if (v === undefined) return undefined;
      term *= v;
    }
    total += term;
  }
  return total;
}

function evaluateAtom(atom: string, env: (symbol: string) => number | undefined): number | undefined {
  const m = /^floor\((.*)\)$/.exec(atom);
  if (!m) return env(atom);
  // floor(A/B): split at the first '/' outside brackets.
  const [numerator, ...rest] = splitTopLevel(m[1], '/');
  if (rest.length === 0) return env(atom);
  const a = evaluateDim(unwrap(numerator), env);
  const b = evaluateDim(unwrap(rest.join('/')), env);
  return a === undefined || b === undefined ? undefined : Math.floor(a / b);
}

function unwrap(text: string): Dim {
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

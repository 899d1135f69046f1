/**
 * Export patterns that stand for one op: torch.onnx writes GELU as
 * Div/Erf/Add/Mul/Mul, LayerNorm (before opset 17) as nine nodes, SCA's L2
 * bottleneck as Abs/Pow/ReduceSum/Pow/Clip/Div. The walks step over a whole
 * pattern using its behaviour, and refusals name it ("LayerNorm at /ln_f")
 * instead of an internal Mul.
 *
 * Matchers work backwards from the pattern's last node, so operand order
 * (Mul(x, c) or Mul(c, x)), Div by sqrt(2) or Mul by 1/sqrt(2), and scalars
 * in Constant nodes or initializers all match. Internal tensors must not be
 * read outside the pattern: a match never hides a use.
 */
import { attrFloat, attrInt, nodeLabel, near, scalarOf, type GraphLookup, type NodeLike } from './lookup.js';
import { reduceAxes, type AxisBehaviour } from './registry.js';
import { domainKey, isDefaultDomain } from '../onnx/graph.js';

export type PatternKind = 'gelu' | 'silu' | 'layernorm' | 'rmsnorm' | 'l2norm' | 'skip-layernorm';

export interface PatternMatch {
  pattern: PatternKind;
  /** What a person calls it: 'GELU', 'LayerNorm', 'L2 normalisation', ... */
  label: string;
  /** How the file writes it: 'torch erf decomposition', 'LayerNormalization', 'com.microsoft.Gelu', ... */
  form: string;
  /** Every node of the pattern (Constant nodes read only by it included), last node last. */
  nodes: NodeLike[];
  /** The data input. */
  input: string;
  /** The tensor the pattern computes. */
  output: string;
  /** The module it belongs to, from torch's node names ('/ln_f'); else its last node's name. */
  site: string;
  /** How it treats its input's coordinates, as one op. */
  behaviour: AxisBehaviour;
  /** Affine parameters and the like, by tensor name; `skip` is SkipLayerNormalization's residual input. */
  params: { scale?: string; bias?: string; skip?: string; epsilon?: number; axes?: number[] };
}

const SQRT2 = Math.SQRT2;
/** Pattern constants are compared to within float16 rounding (fp16 exports store 1.4140625 for sqrt 2). */
const CONSTANT_TOLERANCE = 2e-3;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;

/** The producer of `tensor` if it is `opType` in the default domain. */
function made(lookup: GraphLookup, tensor: string | undefined, ...opTypes: string[]): NodeLike | undefined {
  if (!tensor) return undefined;
  const p = lookup.producer(tensor);
  return p && opTypes.includes(p.opType ?? '') && isDefaultDomain(p.domain) ? p : undefined;
}

/** For a binary node, the input that is a scalar constant equal to `value` and the other input. */
function withScalar(lookup: GraphLookup, node: NodeLike, value: number, tolerance = CONSTANT_TOLERANCE): string | undefined {
  const [a, b] = node.input;
  if (near(scalarOf(lookup, b), value, tolerance) && scalarOf(lookup, a) === undefined) return a;
  if (near(scalarOf(lookup, a), value, tolerance) && scalarOf(lookup, b) === undefined) return b;
  return undefined;
}

/** The non-constant input of a binary node whose other input is a scalar constant, with that scalar. */
function splitScalar(lookup: GraphLookup, node: NodeLike): { data: string; value: number; first: boolean } | undefined {
  const [a, b] = node.input;
  const va = scalarOf(lookup, a);
  const vb = scalarOf(lookup, b);
  if (vb !== undefined && va === undefined) return { data: a, value: vb, first: true };
  if (va !== undefined && vb === undefined) return { data: b, value: va, first: false };
  return undefined;
}

/** Multiplicative factors of `tensor`: Mul nodes read only here are opened up; Pow(x, 3) counts as x three times. */
function factors(lookup: GraphLookup, tensor: string, nodes: NodeLike[], depth = 0): string[] {
  const mul = depth === 0 || lookup.uses(tensor).length === 1 ? made(lookup, tensor, 'Mul') : undefined;
  if (mul && depth < 4) {
    if (depth > 0) nodes.push(mul);
    return mul.input.flatMap((i) => factors(lookup, i, nodes, depth + 1));
  }
  const pow = depth > 0 && lookup.uses(tensor).length === 1 ? made(lookup, tensor, 'Pow') : undefined;
  if (pow && scalarOf(lookup, pow.input[1]) === 3) {
    nodes.push(pow);
    return [pow.input[0], pow.input[0], pow.input[0]];
  }
  return [tensor];
}

/** Splits factors into scalar constants (multiplied together) and the rest. */
function scalarProduct(lookup: GraphLookup, list: string[]): { scalar: number; rest: string[] } {
  let scalar = 1;
  const rest: string[] = [];
  for (const f of list) {
    const v = scalarOf(lookup, f);
    if (v === undefined) rest.push(f);
    else scalar *= v;
  }
  return { scalar, rest };
}

/** `t` is 1 + f(...) for f one of `opTypes`: returns f's node and the Add. */
function onePlus(lookup: GraphLookup, t: string, opType: string): { add: NodeLike; fn: NodeLike } | undefined {
  const add = made(lookup, t, 'Add');
  if (!add) return undefined;
  const other = withScalar(lookup, add, 1);
  const fn = made(lookup, other, opType);
  return fn ? { add, fn } : undefined;
}

/** The tensor the GELU's inner x/sqrt(2) reads, or undefined. */
function overSqrt2(lookup: GraphLookup, t: string): { x: string; node: NodeLike } | undefined {
  const div = made(lookup, t, 'Div');
  if (div && near(scalarOf(lookup, div.input[1]), SQRT2, CONSTANT_TOLERANCE) && scalarOf(lookup, div.input[0]) === undefined)
    return { x: div.input[0], node: div };
  const mul = made(lookup, t, 'Mul');
  const x = mul && withScalar(lookup, mul, 1 / SQRT2);
  return x && mul ? { x, node: mul } : undefined;
}

function matchErfGelu(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (end.opType !== 'Mul') return undefined;
  const inner: NodeLike[] = [];
  const { scalar, rest } = scalarProduct(lookup, factors(lookup, end.output[0], inner));
  if (!near(scalar, 0.5, CONSTANT_TOLERANCE) || rest.length !== 2) return undefined;
  for (const [x, term] of [rest, [rest[1], rest[0]]]) {
    const one = onePlus(lookup, term, 'Erf');
    const scaled = one && overSqrt2(lookup, one.fn.input[0]);
    if (one && scaled && scaled.x === x) {
      return finish(lookup, 'gelu', 'GELU', 'torch erf decomposition', x, end, [scaled.node, one.fn, one.add, ...inner], {
        kind: 'elementwise',
        zeroPreserving: true,
      });
    }
  }
  return undefined;
}

function matchTanhGelu(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (end.opType !== 'Mul') return undefined;
  const inner: NodeLike[] = [];
  const { scalar, rest } = scalarProduct(lookup, factors(lookup, end.output[0], inner));
  if (!near(scalar, 0.5, CONSTANT_TOLERANCE) || rest.length !== 2) return undefined;
  for (const [x, term] of [rest, [rest[1], rest[0]]]) {
    const one = onePlus(lookup, term, 'Tanh');
    if (!one) continue;
    // tanh(sqrt(2/pi) * (x + 0.044715 * x^3))
    const argNodes: NodeLike[] = [];
    const arg = scalarProduct(lookup, factors(lookup, one.fn.input[0], argNodes));
    const sum = arg.rest.length === 1 ? made(lookup, arg.rest[0], 'Add') : undefined;
    if (!near(arg.scalar, SQRT_2_OVER_PI, CONSTANT_TOLERANCE) || !sum || lookup.uses(sum.output[0]).length !== 1) continue;
    const cubeTerm = sum.input[0] === x ? sum.input[1] : sum.input[1] === x ? sum.input[0] : undefined;
    if (!cubeTerm) continue;
    const cubeNodes: NodeLike[] = [];
    const mulCube = made(lookup, cubeTerm, 'Mul');
    if (!mulCube) continue;
    cubeNodes.push(mulCube);
    const cube = scalarProduct(
      lookup,
      mulCube.input.flatMap((i) => factors(lookup, i, cubeNodes, 1)),
    );
    if (!near(cube.scalar, GELU_KAPPA, CONSTANT_TOLERANCE) || cube.rest.length !== 3 || cube.rest.some((f) => f !== x)) continue;
    return finish(
      lookup,
      'gelu',
      'GELU',
      'tanh decomposition',
      x,
      end,
      [...cubeNodes, sum, ...argNodes, made(lookup, one.fn.input[0], 'Mul')!, one.fn, one.add, ...inner],
      { kind: 'elementwise', zeroPreserving: true },
    );
  }
  return undefined;
}

/** x * sigmoid(x) (SiLU / Swish, LLaMA's MLP gate). */
function matchSilu(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (end.opType !== 'Mul') return undefined;
  const [a, b] = end.input;
  for (const [x, s] of [
    [a, b],
    [b, a],
  ]) {
    const sig = made(lookup, s, 'Sigmoid');
    if (sig && sig.input[0] === x) return finish(lookup, 'silu', 'SiLU', 'x * Sigmoid(x)', x, end, [sig], { kind: 'elementwise', zeroPreserving: true });
  }
  return undefined;
}

/** A Reduce node's axes, or undefined when computed. */
function axesOf(lookup: GraphLookup, node: NodeLike): number[] | 'all' | undefined {
  const opset = lookup.opset?.('') ?? 17;
  return reduceAxes(node, lookup, opset, node.opType === 'ReduceSum' ? 13 : 18);
}

function keepsDims(node: NodeLike): boolean {
  return attrInt(node, 'keepdims', 1) === 1;
}

/** Whether reduction axes are the last axis (-1, or rank-1 when the rank is known). */
function lastAxisOnly(lookup: GraphLookup, axes: number[] | 'all' | undefined, x: string): axes is number[] {
  if (!Array.isArray(axes) || axes.length !== 1) return false;
  if (axes[0] === -1) return true;
  const rank = lookup.type?.(x)?.shape?.length;
  return rank !== undefined && axes[0] === rank - 1;
}

/** Optional `* gamma` then `+ beta` (constants) ending at `end`; returns the tensor before them. */
function affineTail(lookup: GraphLookup, end: NodeLike, nodes: NodeLike[]): { core: string; scale?: string; bias?: string } {
  let t = end.output[0];
  let bias: string | undefined;
  let scale: string | undefined;
  const add = made(lookup, t, 'Add');
  if (add) {
    const [a, b] = add.input;
    const c = lookup.weight(b) ? b : lookup.weight(a) ? a : undefined;
    if (c) {
      bias = c;
      nodes.push(add);
      t = c === b ? a : b;
    }
  }
  const mul = made(lookup, t, 'Mul');
  if (mul && (t === end.output[0] || lookup.uses(t).length === 1)) {
    const [a, b] = mul.input;
    const c = lookup.weight(b) ? b : lookup.weight(a) ? a : undefined;
    if (c) {
      scale = c;
      nodes.push(mul);
      t = c === b ? a : b;
    }
  }
  return { core: t, scale, bias };
}

/** d*d or d^2: returns d. */
function square(lookup: GraphLookup, t: string, nodes: NodeLike[]): string | undefined {
  const pow = made(lookup, t, 'Pow');
  if (pow && scalarOf(lookup, pow.input[1]) === 2) {
    nodes.push(pow);
    return pow.input[0];
  }
  const mul = made(lookup, t, 'Mul');
  if (mul && mul.input[0] === mul.input[1]) {
    nodes.push(mul);
    return mul.input[0];
  }
  return undefined;
}

/** Sqrt(s + eps) or Sqrt(s): returns s and eps. */
function sqrtPlusEps(lookup: GraphLookup, t: string, nodes: NodeLike[]): { s: string; eps: number } | undefined {
  const sqrt = made(lookup, t, 'Sqrt');
  if (!sqrt) return undefined;
  nodes.push(sqrt);
  const add = made(lookup, sqrt.input[0], 'Add');
  const split = add && splitScalar(lookup, add);
  if (add && split) {
    nodes.push(add);
    return { s: split.data, eps: split.value };
  }
  return { s: sqrt.input[0], eps: 0 };
}

/** ReduceMean(x)/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul gamma][/Add beta]: torch's LayerNorm before opset 17. */
function matchDecomposedLayerNorm(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (!['Add', 'Mul', 'Div'].includes(end.opType ?? '')) return undefined;
  const nodes: NodeLike[] = [];
  const { core, scale, bias } = affineTail(lookup, end, nodes);
  const div = made(lookup, core, 'Div');
  if (!div) return undefined;
  nodes.push(div);
  const [d, std] = div.input;
  const sub = made(lookup, d, 'Sub');
  const root = sqrtPlusEps(lookup, std, nodes);
  if (!sub || !root) return undefined;
  const [x, mean] = sub.input;
  const meanNode = made(lookup, mean, 'ReduceMean');
  const varNode = made(lookup, root.s, 'ReduceMean');
  if (!meanNode || !varNode || meanNode.input[0] !== x || !keepsDims(meanNode) || !keepsDims(varNode)) return undefined;
  const axes = axesOf(lookup, meanNode);
  if (!Array.isArray(axes) || JSON.stringify(axes) !== JSON.stringify(axesOf(lookup, varNode))) return undefined;
  if (square(lookup, varNode.input[0], nodes) !== d) return undefined;
  nodes.push(sub, meanNode, varNode);
  return finish(
    lookup,
    'layernorm',
    'LayerNorm',
    'torch decomposition (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div)',
    x,
    end,
    nodes,
    { kind: 'normalize', axes },
    { scale, bias, epsilon: root.eps, axes },
  );
}

/** x * 1/sqrt(mean(x^2) + eps) [* gamma]: RMSNorm (LLaMA, T5) as torch writes it. */
function matchRmsNorm(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (end.opType !== 'Mul' && end.opType !== 'Div') return undefined;
  const nodes: NodeLike[] = [];
  const { core, scale } = end.opType === 'Mul' ? affineTail(lookup, end, nodes) : { core: end.output[0], scale: undefined };
  const node = lookup.producer(core);
  if (!node) return undefined;
  let x: string | undefined;
  let root: { s: string; eps: number } | undefined;
  const local: NodeLike[] = [node];
  if (node.opType === 'Div') {
    x = node.input[0];
    root = sqrtPlusEps(lookup, node.input[1], local);
  } else if (node.opType === 'Mul') {
    for (const [a, b] of [node.input, [node.input[1], node.input[0]]]) {
      const rec = made(lookup, b, 'Reciprocal');
      const tried: NodeLike[] = [];
      const r = rec ? sqrtPlusEps(lookup, rec.input[0], tried) : undefined;
      if (rec && r) {
        x = a;
        root = r;
        local.push(rec, ...tried);
        break;
      }
    }
  }
  const mean = root && made(lookup, root.s, 'ReduceMean');
  if (!x || !root || !mean || !keepsDims(mean) || square(lookup, mean.input[0], local) !== x) return undefined;
  const axes = axesOf(lookup, mean);
  if (!Array.isArray(axes)) return undefined;
  nodes.push(...local, mean);
  return finish(
    lookup,
    'rmsnorm',
    'RMSNorm',
    'torch decomposition (Pow/ReduceMean/Add/Sqrt)',
    x,
    end,
    nodes,
    { kind: 'rowScale', axes },
    { scale, epsilon: root.eps, axes },
  );
}

/** x / max(norm(x), eps) over the last axis: SCA's bottleneck, F.normalize, and ReduceL2 forms. */
function matchL2(end: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  if (end.opType !== 'Div') return undefined;
  const [x, den] = end.input;
  const nodes: NodeLike[] = [];
  let t = den;
  const expand = made(lookup, t, 'Expand');
  if (expand) {
    nodes.push(expand);
    t = expand.input[0];
  }
  let epsilon = 0;
  const guard = made(lookup, t, 'Clip', 'Max', 'Add');
  if (guard) {
    const eps =
      guard.opType === 'Clip'
        ? (scalarOf(lookup, guard.input[1]) ?? (guard.input[1] ? undefined : attrFloat(guard, 'min', 0)))
        : splitScalar(lookup, guard)?.value;
    if (eps !== undefined) {
      nodes.push(guard);
      epsilon = eps;
      t = guard.input[0] && scalarOf(lookup, guard.input[0]) === undefined ? guard.input[0] : guard.input[1];
    }
  }
  let reduce: NodeLike | undefined;
  const l2 = made(lookup, t, 'ReduceL2');
  if (l2) {
    if (l2.input[0] !== x) return undefined;
    reduce = l2;
  } else {
    // sqrt(sum(x^2)) or sum(|x|^2)^0.5
    const pow = made(lookup, t, 'Pow');
    const sqrt = made(lookup, t, 'Sqrt');
    const rootNode = sqrt ?? (pow && near(scalarOf(lookup, pow.input[1]), 0.5, CONSTANT_TOLERANCE) ? pow : undefined);
    if (!rootNode) return undefined;
    nodes.push(rootNode);
    const sum = made(lookup, rootNode.input[0], 'ReduceSum', 'ReduceSumSquare');
    if (!sum) return undefined;
    reduce = sum;
    if (sum.opType === 'ReduceSumSquare') {
      if (sum.input[0] !== x) return undefined;
    } else {
      let base = square(lookup, sum.input[0], nodes);
      const abs = made(lookup, base, 'Abs');
      if (abs) {
        nodes.push(abs);
        base = abs.input[0];
      }
      if (base !== x) return undefined;
    }
  }
  const axes = axesOf(lookup, reduce);
  if (!keepsDims(reduce) || !lastAxisOnly(lookup, axes, x)) return undefined;
  nodes.push(reduce);
  return finish(lookup, 'l2norm', 'L2 normalisation', `${reduce.opType} form`, x, end, nodes, { kind: 'rowScale', axes }, { epsilon, axes });
}

/** Patterns that are one node: fused or contrib ops. */
function matchSingle(node: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  const domain = domainKey(node.domain);
  const one = (pattern: PatternKind, label: string, behaviour: AxisBehaviour, params: PatternMatch['params'] = {}) =>
    finish(lookup, pattern, label, domain ? `${domain}.${node.opType}` : node.opType!, node.input[0], node, [], behaviour, params);
  const eps = attrFloat(node, 'epsilon', 1e-5);
  if (domain === '') {
    switch (node.opType) {
      case 'LayerNormalization': {
        const axis = attrInt(node, 'axis', -1);
        return one(
          'layernorm',
          'LayerNorm',
          { kind: 'normalize', axes: [axis], toEnd: true },
          { scale: node.input[1], bias: node.input[2] || undefined, epsilon: eps, axes: [axis] },
        );
      }
      case 'Gelu':
        return one('gelu', 'GELU', { kind: 'elementwise', zeroPreserving: true });
      case 'LpNormalization':
        return attrInt(node, 'p', 2) === 2
          ? one('l2norm', 'L2 normalisation', { kind: 'rowScale', axes: [attrInt(node, 'axis', -1)] }, { axes: [attrInt(node, 'axis', -1)] })
          : undefined;
      case 'RMSNormalization':
        return one('rmsnorm', 'RMSNorm', { kind: 'rowScale', axes: [attrInt(node, 'axis', -1)] }, { scale: node.input[1], epsilon: eps });
    }
    return undefined;
  }
  if (domain !== 'com.microsoft') return undefined;
  switch (node.opType) {
    case 'Gelu':
    case 'QuickGelu':
      return one('gelu', 'GELU', { kind: 'elementwise', zeroPreserving: true });
    case 'FastGelu':
    case 'BiasGelu':
      // gelu(x + bias): still one coordinate at a time, but 0 goes to gelu(bias).
      return one('gelu', 'GELU', { kind: 'elementwise', zeroPreserving: !node.input[1] }, node.input[1] ? { bias: node.input[1] } : {});
    case 'LayerNormalization':
      return one(
        'layernorm',
        'LayerNorm',
        { kind: 'normalize', axes: [attrInt(node, 'axis', -1)], toEnd: true },
        { scale: node.input[1], bias: node.input[2] || undefined, epsilon: eps },
      );
    case 'SimplifiedLayerNormalization':
      return one('rmsnorm', 'RMSNorm', { kind: 'rowScale', axes: [attrInt(node, 'axis', -1)] }, { scale: node.input[1], epsilon: eps });
    case 'SkipLayerNormalization':
    case 'SkipSimplifiedLayerNormalization': {
      const simplified = node.opType === 'SkipSimplifiedLayerNormalization';
      return one(
        'skip-layernorm',
        simplified ? 'SkipRMSNorm' : 'SkipLayerNorm',
        simplified ? { kind: 'rowScale', axes: [-1] } : { kind: 'normalize', axes: [-1] },
        {
          skip: node.input[1],
          scale: node.input[2],
          bias: (simplified ? undefined : node.input[3]) || undefined,
          epsilon: eps,
          axes: [-1],
        },
      );
    }
  }
  return undefined;
}

const MATCHERS = [matchErfGelu, matchTanhGelu, matchSilu, matchDecomposedLayerNorm, matchRmsNorm, matchL2];

/** The torch module path shared by the nodes' names ('/ln_f/Sub' and '/ln_f/Div' give '/ln_f'). */
export function siteOf(nodes: NodeLike[], end: NodeLike): string {
  const names = nodes.map((n) => n.name ?? '').filter((n) => n.startsWith('/'));
  if (names.length === 0) return nodeLabel(end);
  let parts = names[0].split('/').slice(0, -1);
  for (const name of names.slice(1)) {
    const other = name.split('/').slice(0, -1);
    let i = 0;
    while (i < parts.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  const site = parts.join('/');
  return site || nodeLabel(end);
}

function finish(
  lookup: GraphLookup,
  pattern: PatternKind,
  label: string,
  form: string,
  input: string,
  end: NodeLike,
  inner: NodeLike[],
  behaviour: AxisBehaviour,
  params: PatternMatch['params'] = {},
): PatternMatch | undefined {
  const body = [...new Set([...inner.filter((n) => n !== end), end])];
  const inside = new Set(body);
  // Internal tensors must not leak: a use outside the pattern would see a value the walk skipped.
  for (const n of body) {
    if (n === end) continue;
    for (const o of n.output) {
      if (o && (lookup.isOutput?.(o) || lookup.uses(o).some((u) => !inside.has(u)))) return undefined;
    }
  }
  // Constant nodes read only by the pattern belong to it.
  const constants: NodeLike[] = [];
  for (const n of body) {
    for (const i of n.input) {
      const p = i ? lookup.producer(i) : undefined;
      if (p?.opType === 'Constant' && !constants.includes(p) && lookup.uses(i).every((u) => inside.has(u))) constants.push(p);
    }
  }
  const nodes = [...constants, ...body];
  return { pattern, label, form, nodes, input, output: end.output[0], site: siteOf(nodes, end), behaviour, params };
}

/** The pattern whose last node is `node`, if any (several can end at one node: the largest wins). */
export function patternEndingAt(node: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  const single = matchSingle(node, lookup);
  if (single) return single;
  let best: PatternMatch | undefined;
  for (const m of MATCHERS) {
    const found = m(node, lookup);
    if (found && (!best || found.nodes.length > best.nodes.length)) best = found;
  }
  return best;
}

/**
 * Every pattern among `nodes`, each once: where patterns nest (a LayerNorm
 * without its affine tail inside the one with it), the largest is kept.
 */
export function findPatterns(nodes: Iterable<NodeLike>, lookup: GraphLookup): PatternMatch[] {
  const all = [...nodes].map((n) => patternEndingAt(n, lookup)).filter((m): m is PatternMatch => !!m);
  const end = (m: PatternMatch) => m.nodes[m.nodes.length - 1];
  return all.filter((m) => !all.some((o) => o !== m && o.nodes.length > m.nodes.length && o.nodes.includes(end(m))));
}

/** How many nodes downstream of a node to look for the end of a pattern containing it. */
const SEARCH = 16;

/**
 * The pattern that `node` is part of, found by trying every node within a
 * few steps downstream as the pattern's end. For a LayerNorm, `node` may be
 * its first ReduceMean, its Sub, or its final Add alike.
 */
export function recognizePattern(node: NodeLike, lookup: GraphLookup): PatternMatch | undefined {
  const seen = new Set<NodeLike>([node]);
  const queue = [node];
  let best: PatternMatch | undefined;
  for (let i = 0; i < queue.length && i < SEARCH; i++) {
    const candidate = queue[i];
    const found = patternEndingAt(candidate, lookup);
    if (found && found.nodes.includes(node) && (!best || found.nodes.length > best.nodes.length)) best = found;
    for (const o of candidate.output) {
      for (const u of lookup.uses(o)) {
        if (!seen.has(u)) {
          seen.add(u);
          queue.push(u);
        }
      }
    }
  }
  return best;
}

/** The pattern that reads `tensor` as its data input, for walks going downstream. */
export function patternReading(tensor: string, lookup: GraphLookup): PatternMatch[] {
  const found: PatternMatch[] = [];
  for (const use of lookup.uses(tensor)) {
    const m = recognizePattern(use, lookup);
    if (m && m.input === tensor && !found.some((f) => f.output === m.output)) found.push(m);
  }
  return found;
}

/** The pattern that writes `tensor`, for walks going upstream. */
export function patternWriting(tensor: string, lookup: GraphLookup): PatternMatch | undefined {
  const p = lookup.producer(tensor);
  return p ? patternEndingAt(p, lookup) : undefined;
}

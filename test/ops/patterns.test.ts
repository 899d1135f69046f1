import { describe, expect, it } from 'vitest';
import { attrFloat as makeAttrFloat, attrInt as makeAttrInt, attrInts, emptyGraph, node } from '../../src/onnx/build.js';
import { loadModel } from '../../src/onnx/model.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { AttributeType, DataType, type GraphProto, type NodeProto, type TensorProto } from '../../src/onnx/types.js';
import { lookupFromGraph, type GraphLookup } from '../../src/ops/lookup.js';
import { normalizationRefusal, residualRefusal, rowScaleFoldRefusal, softmaxRefusal } from '../../src/ops/refusals.js';
import { findPatterns, patternEndingAt, patternReading, patternWriting, recognizePattern, type PatternMatch } from '../../src/ops/patterns.js';
import { makeValueInfo } from '../../src/onnx/graph.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

function int64Tensor(name: string, values: number[], dims = [values.length]): TensorProto {
  return {
    ...makeTensor(name, DataType.FLOAT, [], [0]),
    dataType: DataType.INT64,
    dims,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  };
}

/** A Constant node as torch.onnx writes it: `value` holds a 0-d tensor (float32 unless told). */
function constant(output: string, value: number, dataType: number = DataType.FLOAT): NodeProto {
  const t = makeTensor('', dataType, [], [value]);
  delete t.name;
  return node(
    'Constant',
    [],
    [output],
    [{ name: 'value', type: AttributeType.TENSOR, t, floats: [], ints: [], strings: [], tensors: [], graphs: [] }],
    output.replace(/_output_0$/, ''),
  );
}

function constantInts(output: string, values: number[]): NodeProto {
  return node(
    'Constant',
    [],
    [output],
    [{ name: 'value', type: AttributeType.TENSOR, t: int64Tensor('', values), floats: [], ints: [], strings: [], tensors: [], graphs: [] }],
    output.replace(/_output_0$/, ''),
  );
}

function graphOf(nodes: NodeProto[], extra: Partial<GraphProto> = {}): GraphProto {
  return { ...emptyGraph('g'), node: nodes, ...extra };
}

function lookupOf(nodes: NodeProto[], extra: Partial<GraphProto> = {}, opset = 14, domains: Record<string, number> = {}): GraphLookup {
  return lookupFromGraph(graphOf(nodes, extra), { '': opset, ...domains });
}

/** A node that reads `t`, so the pattern's output has a consumer like in a real graph. */
const reader = (t: string) => node('MatMul', [t, 'w_next'], ['next']);

/** torch 1.13, nn.GELU(): exactly the nodes of test/fixtures/gpt2_op14.onnx's /blocks.0/mlp/act. */
function torchErfGelu(p: string, x: string): NodeProto[] {
  return [
    constant(`${p}/Constant_output_0`, 1.4142135381698608),
    node('Div', [x, `${p}/Constant_output_0`], [`${p}/Div_output_0`], [], `${p}/Div`),
    node('Erf', [`${p}/Div_output_0`], [`${p}/Erf_output_0`], [], `${p}/Erf`),
    constant(`${p}/Constant_1_output_0`, 1),
    node('Add', [`${p}/Erf_output_0`, `${p}/Constant_1_output_0`], [`${p}/Add_output_0`], [], `${p}/Add`),
    node('Mul', [x, `${p}/Add_output_0`], [`${p}/Mul_output_0`], [], `${p}/Mul`),
    constant(`${p}/Constant_2_output_0`, 0.5),
    node('Mul', [`${p}/Mul_output_0`, `${p}/Constant_2_output_0`], [`${p}/Mul_1_output_0`], [], `${p}/Mul_1`),
  ];
}

/** torch 1.13 opset 14, nn.LayerNorm(d): ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add with the affine weights as initializers. */
function torchLayerNorm(p: string, x: string, prefix = 'ln'): NodeProto[] {
  return [
    node('ReduceMean', [x], [`${p}/ReduceMean_output_0`], [attrInts('axes', [-1])], `${p}/ReduceMean`),
    node('Sub', [x, `${p}/ReduceMean_output_0`], [`${p}/Sub_output_0`], [], `${p}/Sub`),
    constant(`${p}/Constant_output_0`, 2),
    node('Pow', [`${p}/Sub_output_0`, `${p}/Constant_output_0`], [`${p}/Pow_output_0`], [], `${p}/Pow`),
    node('ReduceMean', [`${p}/Pow_output_0`], [`${p}/ReduceMean_1_output_0`], [attrInts('axes', [-1])], `${p}/ReduceMean_1`),
    constant(`${p}/Constant_1_output_0`, 9.999999747378752e-6),
    node('Add', [`${p}/ReduceMean_1_output_0`, `${p}/Constant_1_output_0`], [`${p}/Add_output_0`], [], `${p}/Add`),
    node('Sqrt', [`${p}/Add_output_0`], [`${p}/Sqrt_output_0`], [], `${p}/Sqrt`),
    node('Div', [`${p}/Sub_output_0`, `${p}/Sqrt_output_0`], [`${p}/Div_output_0`], [], `${p}/Div`),
    node('Mul', [`${p}/Div_output_0`, `${prefix}.weight`], [`${p}/Mul_output_0`], [], `${p}/Mul`),
    node('Add', [`${p}/Mul_output_0`, `${prefix}.bias`], [`${p}/Add_1_output_0`], [], `${p}/Add_1`),
  ];
}

const lnWeights = (prefix = 'ln') => [
  makeTensor(`${prefix}.weight`, DataType.FLOAT, [4], [1, 1, 1, 1]),
  makeTensor(`${prefix}.bias`, DataType.FLOAT, [4], [0, 0, 0, 0]),
];

function expectMatch(m: PatternMatch | undefined, fields: Partial<PatternMatch>, nodeCount: number): PatternMatch {
  expect(m).toBeDefined();
  expect(m).toMatchObject(fields);
  expect(m!.nodes).toHaveLength(nodeCount);
  return m!;
}

describe('GELU', () => {
  it("recognises torch's erf decomposition from any of its nodes, with its scalars from Constant nodes", () => {
    const nodes = [...torchErfGelu('/mlp/act', 'h'), reader('/mlp/act/Mul_1_output_0')];
    const lookup = lookupOf(nodes);
    for (const n of nodes.slice(0, 8)) {
      expectMatch(
        recognizePattern(n, lookup),
        {
          pattern: 'gelu',
          label: 'GELU',
          input: 'h',
          output: '/mlp/act/Mul_1_output_0',
          site: '/mlp/act',
          behaviour: { kind: 'elementwise', zeroPreserving: true },
        },
        8,
      );
    }
    expect(patternReading('h', lookup).map((m) => m.output)).toEqual(['/mlp/act/Mul_1_output_0']);
    expect(patternWriting('/mlp/act/Mul_1_output_0', lookup)?.input).toBe('h');
  });

  it('recognises the other operand orders and x * (1/sqrt 2), scalars as initializers', () => {
    // 0.5 * x first, then * (1 + erf(x * 0.7071)), constants stored as initializers (float64).
    const init = [
      makeTensor('half', DataType.DOUBLE, [], [0.5]),
      makeTensor('one', DataType.FLOAT, [1], [1]),
      makeTensor('rsqrt2', DataType.FLOAT, [], [Math.SQRT1_2]),
    ];
    const nodes = [
      node('Mul', ['half', 'x'], ['hx']),
      node('Mul', ['x', 'rsqrt2'], ['xs']),
      node('Erf', ['xs'], ['e']),
      node('Add', ['one', 'e'], ['a']),
      node('Mul', ['a', 'hx'], ['y']),
      reader('y'),
    ];
    const m = expectMatch(patternEndingAt(nodes[4], lookupOf(nodes, { initializer: init })), { pattern: 'gelu', input: 'x', output: 'y' }, 5);
    expect(m.form).toBe('torch erf decomposition');
  });

  it('does not match a wrong constant, a different input inside, or an inner tensor read elsewhere', () => {
    const wrongScale = torchErfGelu('/a', 'h');
    wrongScale[0] = constant('/a/Constant_output_0', 2);
    expect(patternEndingAt(wrongScale[7], lookupOf([...wrongScale, reader('/a/Mul_1_output_0')]))).toBeUndefined();

    const otherInput = torchErfGelu('/a', 'h');
    otherInput[1] = node('Div', ['g', '/a/Constant_output_0'], ['/a/Div_output_0']);
    expect(patternEndingAt(otherInput[7], lookupOf(otherInput))).toBeUndefined();

    // The Erf's output also feeds another node: stepping over the pattern would hide that read.
    const leaky = [...torchErfGelu('/a', 'h'), node('Relu', ['/a/Erf_output_0'], ['side'])];
    expect(patternEndingAt(leaky[7], lookupOf(leaky))).toBeUndefined();
  });

  it("recognises torch's tanh decomposition (approximate='tanh') and GPT-2's NewGELU", () => {
    // torch 1.13 symbolic: 0.5 * (x * (1 + tanh(beta * (x + kappa * (x * (x * x)))))), constants float64.
    const d = DataType.DOUBLE;
    const torchTanh = [
      constant('beta', Math.sqrt(2 / Math.PI), d),
      constant('kappa', 0.044715, d),
      constant('one', 1, d),
      constant('half', 0.5, d),
      node('Mul', ['x', 'x'], ['xx']),
      node('Mul', ['x', 'xx'], ['x3']),
      node('Mul', ['kappa', 'x3'], ['kx3']),
      node('Add', ['x', 'kx3'], ['s']),
      node('Mul', ['beta', 's'], ['inner']),
      node('Tanh', ['inner'], ['t']),
      node('Add', ['one', 't'], ['a']),
      node('Mul', ['x', 'a'], ['xa']),
      node('Mul', ['half', 'xa'], ['y']),
      reader('y'),
    ];
    expectMatch(patternEndingAt(torchTanh[12], lookupOf(torchTanh)), { pattern: 'gelu', form: 'tanh decomposition', input: 'x', output: 'y' }, 13);
    expect(recognizePattern(torchTanh[5], lookupOf(torchTanh))?.output).toBe('y');

    // HF NewGELU: 0.5 * x * (1.0 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3.0))))
    const newGelu = [
      constant('c05', 0.5),
      constant('c3', 3),
      constant('ck', 0.044715),
      constant('cb', 0.7978845608028654),
      constant('c1', 1),
      node('Mul', ['x', 'c05'], ['hx']),
      node('Pow', ['x', 'c3'], ['p3']),
      node('Mul', ['p3', 'ck'], ['kp']),
      node('Add', ['x', 'kp'], ['s']),
      node('Mul', ['s', 'cb'], ['inner']),
      node('Tanh', ['inner'], ['t']),
      node('Add', ['t', 'c1'], ['a']),
      node('Mul', ['hx', 'a'], ['y']),
      reader('y'),
    ];
    expectMatch(patternEndingAt(newGelu[12], lookupOf(newGelu)), { pattern: 'gelu', input: 'x', output: 'y' }, 13);
  });

  it('recognises com.microsoft Gelu, FastGelu (with its bias, which moves zero) and ai.onnx Gelu', () => {
    const ms = { domain: 'com.microsoft' };
    const gelu = { ...node('Gelu', ['x'], ['y']), ...ms };
    const fast = { ...node('FastGelu', ['x', 'b'], ['z']), ...ms };
    const lookup = lookupOf([gelu, fast], { initializer: [makeTensor('b', DataType.FLOAT, [4], [0.1, 0, 0, 0])] }, 17, { 'com.microsoft': 1 });
    expectMatch(recognizePattern(gelu, lookup), { pattern: 'gelu', form: 'com.microsoft.Gelu', behaviour: { kind: 'elementwise', zeroPreserving: true } }, 1);
    expectMatch(recognizePattern(fast, lookup), { pattern: 'gelu', params: { bias: 'b' }, behaviour: { kind: 'elementwise', zeroPreserving: false } }, 1);
    expectMatch(recognizePattern(node('Gelu', ['x'], ['y']), lookupOf([], {}, 20)), { pattern: 'gelu', form: 'Gelu' }, 1);
  });

  it('recognises SiLU (x * Sigmoid(x))', () => {
    const nodes = [node('Sigmoid', ['g'], ['s']), node('Mul', ['g', 's'], ['y']), reader('y')];
    expectMatch(
      recognizePattern(nodes[0], lookupOf(nodes)),
      { pattern: 'silu', input: 'g', output: 'y', behaviour: { kind: 'elementwise', zeroPreserving: true } },
      2,
    );
  });
});

describe('LayerNorm', () => {
  it("recognises torch's opset-14 decomposition from any node, with weight, bias, epsilon and axes", () => {
    const nodes = [...torchLayerNorm('/ln_f', 'resid'), reader('/ln_f/Add_1_output_0')];
    const lookup = lookupOf(nodes, { initializer: lnWeights() });
    for (const n of nodes.slice(0, 11)) {
      const m = expectMatch(
        recognizePattern(n, lookup),
        {
          pattern: 'layernorm',
          label: 'LayerNorm',
          input: 'resid',
          output: '/ln_f/Add_1_output_0',
          site: '/ln_f',
          behaviour: { kind: 'normalize', axes: [-1] },
          params: { scale: 'ln.weight', bias: 'ln.bias', axes: [-1] },
        },
        11,
      );
      expect(m.params.epsilon).toBeCloseTo(1e-5, 10);
    }
  });

  it('matches opset 18 ReduceMean (axes as an input) and a LayerNorm without affine', () => {
    const nodes = torchLayerNorm('/ln', 'x').slice(0, 9);
    nodes[0] = node('ReduceMean', ['x', 'axes'], ['/ln/ReduceMean_output_0'], [], '/ln/ReduceMean');
    nodes[4] = node('ReduceMean', ['/ln/Pow_output_0', 'axes'], ['/ln/ReduceMean_1_output_0'], [], '/ln/ReduceMean_1');
    nodes.push(constantInts('axes', [-1]), reader('/ln/Div_output_0'));
    const m = expectMatch(patternEndingAt(nodes[8], lookupOf(nodes, {}, 18)), { pattern: 'layernorm', output: '/ln/Div_output_0', params: { axes: [-1] } }, 10);
    expect(m.params.scale).toBeUndefined();
    // At opset 14 ReduceMean takes no axes input, so these nodes reduce over every axis: not a LayerNorm.
    expect(patternEndingAt(nodes[8], lookupOf(nodes, {}, 14))).toBeUndefined();
  });

  it('recognises LayerNormalization (opset 17) and com.microsoft SkipLayerNormalization', () => {
    const ln = node(
      'LayerNormalization',
      ['x', 'ln.weight', 'ln.bias'],
      ['y'],
      [makeAttrInt('axis', -1), makeAttrFloat('epsilon', 1e-5)],
      '/ln_f/LayerNormalization',
    );
    expectMatch(
      recognizePattern(ln, lookupOf([ln], {}, 17)),
      {
        pattern: 'layernorm',
        site: '/ln_f',
        form: 'LayerNormalization',
        behaviour: { kind: 'normalize', axes: [-1], toEnd: true },
        params: { scale: 'ln.weight', bias: 'ln.bias' },
      },
      1,
    );
    const skip = {
      ...node('SkipLayerNormalization', ['x', 'attn_out', 'g', 'b'], ['y', '', '', 'sum'], [], '/blocks.0/SkipLayerNorm'),
      domain: 'com.microsoft',
    };
    expectMatch(
      recognizePattern(skip, lookupOf([skip], {}, 17, { 'com.microsoft': 1 })),
      {
        pattern: 'skip-layernorm',
        input: 'x',
        output: 'y',
        params: { skip: 'attn_out', scale: 'g', bias: 'b' },
        behaviour: { kind: 'normalize', axes: [-1] },
      },
      1,
    );
  });

  it('recognises RMSNorm as LLaMA exports it (a row scale)', () => {
    const nodes = [
      constant('two', 2),
      constant('eps', 1e-6),
      node('Pow', ['x', 'two'], ['sq']),
      node('ReduceMean', ['sq'], ['ms'], [attrInts('axes', [-1])]),
      node('Add', ['ms', 'eps'], ['mse']),
      node('Sqrt', ['mse'], ['rms']),
      node('Reciprocal', ['rms'], ['inv']),
      node('Mul', ['x', 'inv'], ['n']),
      node('Mul', ['norm.weight', 'n'], ['y']),
      reader('y'),
    ];
    const lookup = lookupOf(nodes, { initializer: [makeTensor('norm.weight', DataType.FLOAT, [4], [1, 2, 3, 4])] });
    expectMatch(
      recognizePattern(nodes[3], lookup),
      { pattern: 'rmsnorm', input: 'x', output: 'y', params: { scale: 'norm.weight' }, behaviour: { kind: 'rowScale', axes: [-1] } },
      9,
    );
  });
});

describe('L2 normalisation', () => {
  it('recognises ReduceL2 -> Clip -> Expand -> Div (F.normalize in torch 1.13)', () => {
    const nodes = [
      node('ReduceL2', ['z'], ['n'], [attrInts('axes', [-1]), makeAttrInt('keepdims', 1)], '/norm/ReduceL2'),
      constant('/norm/Constant_output_0', 1e-12),
      node('Clip', ['n', '/norm/Constant_output_0', ''], ['c'], [], '/norm/Clip'),
      node('Shape', ['z'], ['s'], [], '/norm/Shape'),
      node('Expand', ['c', 's'], ['e'], [], '/norm/Expand'),
      node('Div', ['z', 'e'], ['y'], [], '/norm/Div'),
      reader('y'),
    ];
    const m = expectMatch(
      recognizePattern(nodes[0], lookupOf(nodes)),
      { pattern: 'l2norm', input: 'z', output: 'y', site: '/norm', behaviour: { kind: 'rowScale', axes: [-1] } },
      5,
    );
    expect(m.params.epsilon).toBeCloseTo(1e-12, 20);
  });

  it('refuses a norm over another axis than the last', () => {
    const nodes = [node('ReduceL2', ['z'], ['n'], [attrInts('axes', [0])]), node('Div', ['z', 'n'], ['y'])];
    expect(patternEndingAt(nodes[1], lookupOf(nodes, { input: [makeValueInfo('z', DataType.FLOAT, [4, 5])] }))).toBeUndefined();
  });
});

describe('real torch.onnx exports (test/fixtures)', () => {
  function fixture(name: string): { lookup: GraphLookup; graph: GraphProto } {
    const m = loadModel(`${FIXTURES}${name}`);
    const opsets = Object.fromEntries(m.proto.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]));
    return { lookup: lookupFromGraph(m.proto.graph!, opsets), graph: m.proto.graph! };
  }

  /** Every pattern in the graph, by its last node, counted per kind. */
  function census(name: string): { matches: PatternMatch[]; count: Record<string, number> } {
    const { lookup, graph } = fixture(name);
    const matches = findPatterns(graph.node, lookup);
    const count: Record<string, number> = {};
    for (const m of matches) count[m.pattern] = (count[m.pattern] ?? 0) + 1;
    return { matches, count };
  }

  it('colour model: four GELUs and the L2 bottleneck, named by their modules', () => {
    const { matches, count } = census('color_red.onnx');
    expect(count).toEqual({ gelu: 4, l2norm: 1 });
    const l2 = matches.find((m) => m.pattern === 'l2norm')!;
    expect(l2).toMatchObject({ input: '/encoder/encoder.4/Gemm_output_0', output: '/bottleneck/Div_output_0', site: '/bottleneck' });
    expect(l2.nodes.map((n) => n.opType).sort()).toEqual(['Abs', 'Clip', 'Constant', 'Constant', 'Constant', 'Constant', 'Div', 'Pow', 'Pow', 'ReduceSum']);
    expect(matches.filter((m) => m.pattern === 'gelu').map((m) => m.site)).toEqual([
      '/encoder/encoder.1',
      '/encoder/encoder.3',
      '/decoder/decoder.1',
      '/decoder/decoder.3',
    ]);
  });

  it('GPT-2 at opset 14: five decomposed LayerNorms and two erf GELUs; the MLP site is a GELU output', () => {
    const { matches, count } = census('gpt2_op14.onnx');
    expect(count).toEqual({ layernorm: 5, gelu: 2 });
    expect(matches.filter((m) => m.pattern === 'layernorm').map((m) => m.site)).toEqual([
      '/blocks.0/ln_1',
      '/blocks.0/ln_2',
      '/blocks.1/ln_1',
      '/blocks.1/ln_2',
      '/ln_f',
    ]);
    const lnF = matches.find((m) => m.site === '/ln_f')!;
    expect(lnF).toMatchObject({ input: '/blocks.1/Add_1_output_0', output: '/ln_f/Add_1_output_0', params: { scale: 'ln_f.weight', bias: 'ln_f.bias' } });
    expect(matches.find((m) => m.site === '/blocks.0/mlp/act')).toMatchObject({
      input: '/blocks.0/mlp/fc/Add_output_0',
      output: '/blocks.0/mlp/act/Mul_1_output_0',
    });
  });

  it('GPT-2 in float16: the same patterns, with float16 constants', () => {
    expect(census('gpt2_op14_fp16.onnx').count).toEqual({ layernorm: 5, gelu: 2 });
  });

  it('GPT-2 at opset 17 (external data): LayerNormalization nodes', () => {
    const { count } = census('gpt2_op17_ext.onnx');
    expect(count).toEqual({ layernorm: 5, gelu: 2 });
  });

  it('BERT: post-LN blocks and the embedding LayerNorm, GELUs', () => {
    const { count } = census('bert_cls.onnx');
    expect(count.gelu).toBe(2);
    expect(count.layernorm).toBe(5);
  });

  it('refusal messages name the pattern, where it is, and a better place', () => {
    const { matches } = census('gpt2_op14.onnx');
    const lnF = matches.find((m) => m.site === '/ln_f')!;
    expect(normalizationRefusal(lnF, 'ablation')).toBe(
      "LayerNorm at /ln_f normalises over the last axis: ablation through it is unsound (it re-centres and rescales each row, so zeroed dims do not stay zero); fold at its output ('/ln_f/Add_1_output_0') instead",
    );
    expect(normalizationRefusal(lnF, 'fold')).toMatch(
      /^LayerNorm at \/ln_f normalises over the last axis: a map folded into the weights after it is not the map before it; fold at its output/,
    );
    const { lookup } = fixture('gpt2_op14.onnx');
    const add = lookup.producer('/blocks.0/Add_1_output_0')!;
    expect(residualRefusal(add, '/blocks.0/mlp/proj/Add_output_0', 'ablation')).toBe(
      "residual Add at /blocks.0/Add_1 adds '/blocks.0/mlp/proj/Add_output_0' to '/blocks.0/Add_output_0': the concept reaches '/blocks.0/Add_1_output_0' through the other branch, so ablation of the weights on this side does not remove it; patch the stream after the Add ('/blocks.0/Add_1_output_0') with sca patch, or fold into the weights that read it",
    );
    const softmax = lookup.producer('/blocks.0/attn/Softmax_output_0')!;
    expect(softmaxRefusal(softmax, [-1], 'pruning')).toMatch(
      /^Softmax at \/blocks\.0\/attn\/Softmax normalises over the last axis: pruning through it is unsound/,
    );
    const l2 = census('color_red.onnx').matches.find((m) => m.pattern === 'l2norm')!;
    expect(rowScaleFoldRefusal(l2)).toMatch(/^L2 normalisation at \/bottleneck rescales each row by its norm/);
  });
});

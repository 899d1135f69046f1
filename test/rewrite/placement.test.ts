/**
 * Patches on values that a fused op also reads inside itself, or that are
 * quantized before their readers: each must act on what every reader
 * computes with, or be refused naming the node. References are plain
 * TypeScript of the same maths.
 */
import { describe, expect, it } from 'vitest';
import { attrFloat, attrInt } from '../../src/onnx/build.js';
import { makeValueInfo } from '../../src/onnx/graph.js';
import { serializeModel, type Model } from '../../src/onnx/model.js';
import { makeTensor } from '../../src/onnx/tensor.js';
import { DataType, type NodeProto } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { openSession, ort, tensorNumbers } from '../../src/runtime/session.js';
import { ScaError } from '../../src/errors.js';
import { IrModel } from '../../src/ir/model.js';
import { listTensors } from '../../src/ir/tensors.js';
import { model, node, randomValues, weight } from '../helpers/graphs.js';

const B = 2,
  T = 3,
  D = 8;
const ms = (n: NodeProto): NodeProto => ({ ...n, domain: 'com.microsoft' });

/** SkipLayerNormalization(x, r, gamma, beta, bias) -> y and s = x + r + bias; out = y W + s. */
function skipNormModel(simplified: boolean): Model {
  const op = simplified ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization';
  const inputs = simplified ? ['x', 'r', 'gamma', 'bias'] : ['x', 'r', 'gamma', 'beta', 'bias'];
  const m = model({
    node: [
      ms(node(op, inputs, ['y', '', '', 's'], [attrFloat('epsilon', 1e-5)], 'fused')),
      node('MatMul', ['y', 'w'], ['yw']),
      node('Add', ['yw', 's'], ['out']),
    ],
    initializer: [weight('gamma', [D], 41), weight('beta', [D], 42), weight('bias', [D], 43), weight('w', [D, D], 44)].filter(
      (t) => !simplified || t.name !== 'beta',
    ),
    input: [makeValueInfo('x', DataType.FLOAT, ['B', 'T', D]), makeValueInfo('r', DataType.FLOAT, ['B', 'T', D])],
    output: [makeValueInfo('out', DataType.FLOAT, ['B', 'T', D])],
  });
  m.proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
  return m;
}

function reference(simplified: boolean, x: number[], r: number[], a: number[] | undefined): number[] {
  const gamma = randomValues(D, 41, 0.8),
    beta = randomValues(D, 42, 0.8),
    bias = randomValues(D, 43, 0.8),
    w = randomValues(D * D, 44, 0.8);
  const out: number[] = [];
  for (let row = 0; row < B * T; row++) {
    let s = Array.from({ length: D }, (_, i) => x[row * D + i] + r[row * D + i] + bias[i]);
    if (a) {
      const dot = s.reduce((acc, v, i) => acc + v * a[i], 0);
      s = s.map((v, i) => v - dot * a[i]);
    }
    const mean = simplified ? 0 : s.reduce((p, v) => p + v, 0) / D;
    const variance = s.reduce((p, v) => p + (v - mean) ** 2, 0) / D;
    const y = s.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma[i] + (simplified ? 0 : beta[i]));
    for (let j = 0; j < D; j++) out.push(y.reduce((p, v, i) => p + v * w[i * D + j], 0) + s[j]);
  }
  return out;
}

async function run(m: Model, feeds: Record<string, number[]>): Promise<number[]> {
  const session = await openSession(serializeModel(m.proto));
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', Float32Array.from(v), [B, T, D])]));
  const result = await session.run(inputs);
  return Array.from(tensorNumbers(result.out));
}

const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));

describe('a patch on the residual sum of a fused skip norm', () => {
  for (const simplified of [true, false]) {
    const op = simplified ? 'SkipSimplifiedLayerNormalization' : 'SkipLayerNormalization';
    it(`${op}: splits the op so the normalised output reads the patched sum too`, async () => {
      const x = randomValues(B * T * D, 51),
        r = randomValues(B * T * D, 52),
        a = unit(randomValues(D, 53));
      const intact = skipNormModel(simplified);
      const patched = skipNormModel(simplified);
      const [applied] = patchModel(patched, [{ tensor: 's', directions: [a], mode: 'suppress', projection: 'full' }]);
      expect(applied.split).toHaveLength(3);
      expect(applied.notes?.[0]).toMatch(new RegExp(`${op} node 'fused' computes output 0 \\(output\\) 'y' from 's'`));
      // The fused node is gone; its parts write the same names.
      const ops = patched.proto.graph!.node.map((n) => n.opType);
      expect(ops).not.toContain(op);
      expect(ops).toContain(simplified ? 'SimplifiedLayerNormalization' : 'LayerNormalization');
      const feeds = { x, r };
      const got = await run(patched, feeds);
      const want = reference(simplified, x, r, a);
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      // Intact model and the unpatched reference agree, and the patch changed something.
      const base = await run(intact, feeds);
      const before = reference(simplified, x, r, undefined);
      for (let i = 0; i < before.length; i++) expect(base[i]).toBeCloseTo(before[i], 4);
      expect(Math.max(...got.map((v, i) => Math.abs(v - base[i])))).toBeGreaterThan(0.05);
    });
  }

  it('records the split in the intervention', () => {
    const m = skipNormModel(true);
    patchModel(m, [{ tensor: 's', dims: [1], mode: 'clamp' }]);
    const meta = m.proto.metadataProps.find((p) => p.key === 'sca.interventions');
    const record = JSON.parse(meta!.value!)[0];
    expect(record.split).toMatchObject({ node: 'fused', op: 'SkipSimplifiedLayerNormalization' });
  });

  it('patching output 0 needs no split', () => {
    const m = skipNormModel(true);
    const [applied] = patchModel(m, [{ tensor: 'y', dims: [1], mode: 'clamp' }]);
    expect(applied.split).toBeUndefined();
    expect(m.proto.graph!.node.map((n) => n.opType)).toContain('SkipSimplifiedLayerNormalization');
  });

  it('fold is refused there: its readers are not the whole story', () => {
    const m = skipNormModel(true);
    expect(() => patchModel(m, [{ tensor: 's', dims: [1], mode: 'suppress', fold: true }])).toThrow(
      /fold cannot reach what com\.microsoft\.SkipSimplifiedLayerNormalization node 'fused' computes from 's'/,
    );
  });
});

function refusal(m: Model, tensor: string): ScaError {
  const before = serializeModel(m.proto);
  try {
    patchModel(m, [{ tensor, dims: [0], mode: 'clamp' }]);
  } catch (err) {
    expect(err).toBeInstanceOf(ScaError);
    expect((err as ScaError).code).toBe('REFUSED');
    // Nothing was edited before the refusal.
    expect(serializeModel(m.proto)).toEqual(before);
    return err as ScaError;
  }
  throw new Error(`patching '${tensor}' was not refused`);
}

describe('outputs that other outputs of the same op are computed from are refused', () => {
  it("LayerNormalization's Mean", () => {
    const m = model({
      node: [node('LayerNormalization', ['x', 'gamma', 'beta'], ['y', 'mean', 'istd'], [attrInt('axis', -1)]), node('Add', ['y', 'mean'], ['out'])],
      initializer: [weight('gamma', [D], 1), weight('beta', [D], 2)],
      input: [makeValueInfo('x', DataType.FLOAT, ['B', 'T', D])],
      output: [makeValueInfo('out', DataType.FLOAT, ['B', 'T', D])],
    });
    expect(refusal(m, 'mean').message).toMatch(/'mean' is output 1 \(Mean\) of LayerNormalization node 'y', which also computes output 0 \(Y\) 'y'/);
  });

  it("GroupQueryAttention's present key", () => {
    const m = model({
      node: [
        ms(
          node(
            'GroupQueryAttention',
            ['q', 'k', 'v', 'pk', 'pv', 'seqlens', 'total'],
            ['o', 'present_k', 'present_v'],
            [attrInt('num_heads', 2), attrInt('kv_num_heads', 1)],
            'gqa',
          ),
        ),
        node('Identity', ['present_k'], ['pk_out']),
      ],
      input: ['q', 'k', 'v']
        .map((n) => makeValueInfo(n, DataType.FLOAT, [1, 4, n === 'q' ? 8 : 4]))
        .concat(['pk', 'pv'].map((n) => makeValueInfo(n, DataType.FLOAT, [1, 1, 0, 4]))),
      output: [makeValueInfo('o', DataType.FLOAT, [1, 4, 8]), makeValueInfo('pk_out', DataType.FLOAT, [1, 1, 4, 4])],
      valueInfo: [makeValueInfo('present_k', DataType.FLOAT, [1, 1, 4, 4])],
    });
    m.proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
    expect(refusal(m, 'present_k').message).toMatch(
      /GroupQueryAttention node 'gqa', which also computes output 0 \(output\) 'o'.*patch the attention input or its output 0/,
    );
  });

  it("EmbedLayerNormalization's embedding sum", () => {
    const m = model({
      node: [ms(node('EmbedLayerNormalization', ['ids', '', 'we', 'pe', '', 'g', 'b'], ['o', 'mask', 'esum'], [], 'embed')), node('Identity', ['esum'], ['e'])],
      input: [makeValueInfo('ids', DataType.INT32, [1, 4])],
      initializer: [weight('we', [10, D], 1), weight('pe', [4, D], 2), weight('g', [D], 3), weight('b', [D], 4)],
      output: [makeValueInfo('o', DataType.FLOAT, [1, 4, D]), makeValueInfo('e', DataType.FLOAT, [1, 4, D])],
      valueInfo: [makeValueInfo('esum', DataType.FLOAT, [1, 4, D])],
    });
    m.proto.opsetImport.push({ domain: 'com.microsoft', version: 1 });
    expect(refusal(m, 'esum').message).toMatch(/EmbedLayerNormalization node 'embed', which also computes output 0/);
  });

  it('an unknown custom op with several outputs', () => {
    const m = model({
      node: [{ ...node('Mystery', ['x'], ['a', 'b'], [], 'm'), domain: 'org.example' }, node('Add', ['a', 'b'], ['out'])],
      input: [makeValueInfo('x', DataType.FLOAT, ['B', D])],
      output: [makeValueInfo('out', DataType.FLOAT, ['B', D])],
      valueInfo: [makeValueInfo('a', DataType.FLOAT, ['B', D])],
    });
    m.proto.opsetImport.push({ domain: 'org.example', version: 1 });
    expect(refusal(m, 'a').message).toMatch(/org\.example\.Mystery node 'm', an op this toolkit does not know; it also writes 'b'/);
  });

  it('a graph input that is also a graph output', () => {
    const m = model({
      node: [node('Relu', ['x'], ['y'])],
      input: [makeValueInfo('x', DataType.FLOAT, ['B', D])],
      output: [makeValueInfo('y', DataType.FLOAT, ['B', D]), makeValueInfo('x', DataType.FLOAT, ['B', D])],
    });
    expect(refusal(m, 'x').message).toMatch(/both a graph input and a graph output/);
  });
});

/** x -> MatMul -> h -> QuantizeLinear -> DequantizeLinear -> hq -> MatMul -> out, with `extra` readers of h. */
function qdqModel(extra: NodeProto[] = []): Model {
  return model(
    {
      node: [
        node('MatMul', ['x', 'w0'], ['h']),
        node('QuantizeLinear', ['h', 'scale', 'zp'], ['h_q'], [], 'h_QuantizeLinear'),
        node('DequantizeLinear', ['h_q', 'scale', 'zp'], ['hq'], [], 'h_DequantizeLinear'),
        node('MatMul', ['hq', 'w1'], ['out']),
        ...extra,
      ],
      initializer: [
        weight('w0', [D, D], 61),
        weight('w1', [D, 2], 62),
        makeTensor('scale', DataType.FLOAT, [], [0.02]),
        { ...makeTensor('zp', DataType.FLOAT, [], [0]), dataType: DataType.UINT8, rawData: new Uint8Array([0]) },
      ],
      input: [makeValueInfo('x', DataType.FLOAT, ['N', D])],
      output: [makeValueInfo('out', DataType.FLOAT, ['N', 2]), ...extra.map((n) => makeValueInfo(n.output[0], DataType.FLOAT, ['N', D]))],
    },
    13,
  );
}

describe('a quantized activation', () => {
  it('is patched after its DequantizeLinear, where its readers compute with it', async () => {
    const m = qdqModel();
    const a = unit(randomValues(D, 63));
    const [applied] = patchModel(m, [{ tensor: 'h', directions: [a], mode: 'steer', strength: 3 }]);
    expect(applied.actsOn).toBe('hq');
    expect(applied.notes?.[0]).toMatch(/'h' is quantized by QuantizeLinear 'h_QuantizeLinear' before its readers: the patch acts on 'hq'/);
    const record = JSON.parse(m.proto.metadataProps.find((p) => p.key === 'sca.interventions')!.value!)[0];
    expect(record).toMatchObject({ tensor: 'h', actsOn: 'hq', quantized: { quantize: 'h_QuantizeLinear', dequantize: 'h_DequantizeLinear' } });
    // Reference: hq = dequantize(quantize(x W0)) + 3a, out = hq W1.
    const x = randomValues(4 * D, 64);
    const w0 = randomValues(D * D, 61, 0.8),
      w1 = randomValues(D * 2, 62, 0.8);
    const session = await openSession(serializeModel(m.proto));
    const out = tensorNumbers((await session.run({ x: new ort.Tensor('float32', Float32Array.from(x), [4, D]) })).out);
    for (let n = 0; n < 4; n++) {
      const hq = Array.from({ length: D }, (_, j) => {
        const h = x.slice(n * D, n * D + D).reduce((p, v, i) => p + v * w0[i * D + j], 0);
        return Math.min(255, Math.max(0, Math.round(h / 0.02))) * 0.02 + 3 * a[j];
      });
      for (let k = 0; k < 2; k++)
        expect(out[n * 2 + k]).toBeCloseTo(
          hq.reduce((p, v, i) => p + v * w1[i * 2 + k], 0),
          4,
        );
    }
  });

  it('read both quantized and directly is refused', () => {
    const m = qdqModel([node('Relu', ['h'], ['side'])]);
    expect(refusal(m, 'h').message).toMatch(/quantized by QuantizeLinear 'h_QuantizeLinear' before its readers, but Relu 'side' also reads it directly/);
  });

  it('its integer form is refused, naming the dequantized value', () => {
    expect(refusal(qdqModel(), 'h_q').message).toMatch(/'h_q' is the quantized \(integer\) form .*patch 'hq'/);
  });

  it('inspect --tensors marks it', () => {
    const rows = listTensors(new IrModel(qdqModel()));
    expect(rows.find((r) => r.name === 'h')?.quantized).toEqual({ via: 'h_QuantizeLinear', readersUse: 'hq' });
    expect(rows.find((r) => r.name === 'hq')?.quantized).toBeUndefined();
  });
});

describe('soundness refusals carry the REFUSED code', () => {
  it('an ablation through a LayerNorm, a fold through a residual Add, an ambiguous axis', async () => {
    const { ablateDims } = await import('../../src/rewrite/ablation.js');
    const { layerNormBlock } = await import('../helpers/graphs.js');
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as ScaError).code;
      }
      return 'no error';
    };
    expect(codeOf(() => ablateDims(layerNormBlock(), 'x', [1]))).toBe('REFUSED');
    expect(codeOf(() => patchModel(layerNormBlock(), [{ tensor: 'x', dims: [1], mode: 'suppress', fold: true }]))).toBe('REFUSED');
    const square = model({
      node: [node('Relu', ['x'], ['sq'])],
      input: [makeValueInfo('x', DataType.FLOAT, [D, D])],
      output: [makeValueInfo('sq', DataType.FLOAT, [D, D])],
    });
    expect(codeOf(() => patchModel(square, [{ tensor: 'sq', dims: [1], mode: 'clamp' }]))).toBe('REFUSED');
  });
});

/**
 * Exact ablation through com.microsoft MatMulNBits (4-bit blocks of 32 with
 * packed zero points: the onnxruntime-genai int4 fixture). Zeroing MLP
 * hidden units sets the codes of the affected weight entries to their
 * block's zero point, which dequantizes to exactly 0: the model equals the
 * same units zeroed by an inserted patch, keeps its encoding (no float
 * weight appears), and a plain TypeScript decoder of the packed format shows
 * the entries at their zero points.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ablate } from '../../src/api/ablate.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { tensorBytes } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { GENAI_DIR, genaiReference, greedyDecode } from '../helpers/genai.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('nbits');
const INT4 = path.join(GENAI_DIR, 'int4', 'model.onnx');
const HIDDEN = '/model/layers.0/mlp/Mul/output_0';
const DIMS = [1, 3, 7, 40];

/** Code of W[k, n] and its zero point, read from the packed bytes as the spec lays them out (4 bits, low nibble first). */
function code(b: Uint8Array, zp: Uint8Array, k: number, n: number, K: number): { code: number; zero: number } {
  const blocks = Math.ceil(K / 32);
  const block = Math.floor(k / 32);
  const j = k % 32;
  const byte = b[(n * blocks + block) * 16 + (j >> 1)];
  const z = zp[n * Math.ceil(blocks / 2) + (block >> 1)];
  return { code: j & 1 ? byte >> 4 : byte & 15, zero: block & 1 ? z >> 4 : z & 15 };
}

describe('ablation through MatMulNBits (int4)', () => {
  it('equals zeroing the units by an inserted patch, and keeps the 4-bit encoding', async () => {
    const ref = genaiReference();
    const edited = loadModel(INT4);
    const done = ablate(edited, { tensor: HIDDEN, dims: DIMS });
    expect(done.edited.sort()).toEqual(['model.layers.0.mlp.down_proj.MatMulNBits.qweight', 'model.layers.0.mlp.gate_proj.MatMulNBits.qweight']);
    const inserted = loadModel(INT4);
    patchModel(inserted, [{ tensor: HIDDEN, mode: 'suppress', dims: DIMS, strength: 1 }]);
    const [x, y] = [path.join(tmp(), 'ablated.onnx'), path.join(tmp(), 'inserted.onnx')];
    saveModel(edited, x);
    saveModel(inserted, y);
    const [a, b] = [await greedyDecode(x, ref, 6), await greedyDecode(y, ref, 6)];
    expect(maxAbsDiff(a.promptLogits, b.promptLogits)).toBeLessThan(1e-5);
    expect(a.tokens).toEqual(b.tokens);
    expect(maxAbsDiff(a.promptLogits, ref.int4.intact_logits)).toBeGreaterThan(1e-4);

    // The encoding is kept: the same initializers with the same types and shapes, nothing float added.
    const before = loadModel(INT4)
      .proto.graph!.initializer.map((t) => [t.name, t.dataType, t.dims.map(Number).join('x')].join(' '))
      .sort();
    const after = loadModel(x)
      .proto.graph!.initializer.map((t) => [t.name, t.dataType, t.dims.map(Number).join('x')].join(' '))
      .sort();
    expect(after).toEqual(before);

    // gate_proj writes the units (SiLU(gate) · up: zeroing either factor zeroes the product): column n of its W [64, 128] sits at its zero point for every k; down_proj reads them: row k of its W [128, 64].
    const saved = loadModel(x);
    const init = (name: string) =>
      tensorBytes(
        saved.proto.graph!.initializer.find((t) => t.name === name)!,
        path.dirname(x),
      );
    const [gateB, gateZ] = [init('model.layers.0.mlp.gate_proj.MatMulNBits.qweight'), init('model.layers.0.mlp.gate_proj.MatMulNBits.qzeros')];
    const [downB, downZ] = [init('model.layers.0.mlp.down_proj.MatMulNBits.qweight'), init('model.layers.0.mlp.down_proj.MatMulNBits.qzeros')];
    for (const d of DIMS) {
      for (let k = 0; k < 64; k++) {
        const c = code(gateB, gateZ, k, d, 64);
        expect(c.code, `gate_proj [${k}, ${d}]`).toBe(c.zero);
      }
      for (let n = 0; n < 64; n++) {
        const c = code(downB, downZ, d, n, 128);
        expect(c.code, `down_proj [${d}, ${n}]`).toBe(c.zero);
      }
    }
    // An untouched unit keeps its codes: not every code is a zero point.
    expect(Array.from({ length: 64 }, (_, k) => code(gateB, gateZ, k, 2, 64)).some((c) => c.code !== c.zero)).toBe(true);
    expect(saved.proto.graph!.initializer.find((t) => t.name === 'model.layers.0.mlp.gate_proj.MatMulNBits.qweight')!.dataType).toBe(DataType.UINT8);
  });

  it('refuses pruning in one line, naming the quantized weight and the exact alternative', () => {
    expect(() => ablate(loadModel(INT4), { tensor: HIDDEN, dims: [1], prune: true })).toThrow(
      /pruning MatMulNBits weight .* would repack its blocks.*ablate instead/,
    );
  });
});

describe('inspect names the quantization', () => {
  it('of a MatMulNBits model by format, and of a QDQ model, and none for a float model', async () => {
    const { sca } = await import('../helpers/cli.js');
    expect((await sca('inspect', INT4)).out).toMatch(
      /^ {2}quantized MatMulNBits \(block-quantized weights\): 15 weights, 4-bit, block 32, asymmetric \(zero points\)$/m,
    );
    expect((await sca('inspect', path.join(GENAI_DIR, '..', 'qdq', 'mlp_relu_kept.onnx'))).out).toMatch(
      /^ {2}quantized QDQ \(QuantizeLinear \/ DequantizeLinear\)$/m,
    );
    expect((await sca('inspect', path.join(GENAI_DIR, 'fp32', 'model.onnx'))).out).not.toMatch(/quantized/);
  });
});

describe('folding into MatMulNBits weights', () => {
  it('requantizes with the same blocks and reports the error it adds, which equals an independent decoding of the result', async () => {
    const g = genaiReference();
    const tensor = '/model/layers.1/input_layernorm/output_0';
    const model = loadModel(INT4);
    const [applied] = patchModel(model, [{ tensor, mode: 'suppress', directions: [g.direction], fold: true }]);
    expect(applied.requantized!.map((r) => r.weight).sort()).toEqual(['k', 'q', 'v'].map((p) => `model.layers.1.attn.${p}_proj.MatMulNBits.qweight`));
    expect(applied.notes!.join('\n')).toMatch(/requantized 'model\.layers\.1\.attn\.q_proj\.MatMulNBits\.qweight' \(4-bit, block 32, zero points\): max error/);
    const file = path.join(tmp(), 'folded.onnx');
    saveModel(model, file);
    const before = loadModel(INT4);
    const after = loadModel(file);
    const norm = Math.hypot(...g.direction);
    const a = g.direction.map((v) => v / norm);
    for (const r of applied.requantized!) {
      const prefix = r.weight.replace(/\.qweight$/, '');
      const node = before.proto.graph!.node.find((n) => n.input[1] === r.weight)!;
      const K = Number(node.attribute.find((x) => x.name === 'K')!.i);
      const N = Number(node.attribute.find((x) => x.name === 'N')!.i);
      const decode = (m: ReturnType<typeof loadModel>, dir: string) => {
        const get = (suffix: string) =>
          tensorBytes(
            m.proto.graph!.initializer.find((t) => t.name === `${prefix}.${suffix}`)!,
            dir,
          );
        const [b, zp] = [get('qweight'), get('qzeros')];
        const scales = new Float32Array(Uint8Array.from(get('scales')).buffer);
        const w = new Float64Array(K * N);
        for (let k = 0; k < K; k++)
          for (let n = 0; n < N; n++)
            w[k * N + n] = (code(b, zp, k, n, K).code - code(b, zp, k, n, K).zero) * scales[n * Math.ceil(K / 32) + Math.floor(k / 32)];
        return w;
      };
      const w = decode(before, path.dirname(INT4));
      // The unquantized fold, in float64: W' = W - a (aᵀ W).
      for (let n = 0; n < N; n++) {
        let dot = 0;
        for (let k = 0; k < K; k++) dot += a[k] * w[k * N + n];
        for (let k = 0; k < K; k++) w[k * N + n] -= a[k] * dot;
      }
      const got = decode(after, path.dirname(file));
      const max = Math.max(...got.map((v, i) => Math.abs(v - w[i])));
      expect(Math.abs(max - r.maxError), r.weight).toBeLessThan(1e-5);
      expect(r.maxError).toBeGreaterThan(0);
    }
    const types = (m: ReturnType<typeof loadModel>) => m.proto.graph!.initializer.map((t) => `${t.name} ${t.dataType} ${t.dims.join('x')}`).sort();
    expect(types(after)).toEqual(types(before));
  });

  it('refuses above a tolerance the user sets, naming the error and the exact alternative', () => {
    const g = genaiReference();
    expect(() =>
      patchModel(loadModel(INT4), [
        { tensor: '/model/layers.1/input_layernorm/output_0', mode: 'suppress', directions: [g.direction], fold: true, foldTolerance: 1e-3 },
      ]),
    ).toThrow(/requantizes its 4-bit, block 32, zero points weight with a max error of .* above the tolerance 0\.001; patch the tensor instead/);
  });
});

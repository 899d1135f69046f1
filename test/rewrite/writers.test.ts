/**
 * Abliteration as a weight edit (orthogonalising every writer into the
 * residual stream) on the fixture's Hugging Face-style GPT-2: afterwards the
 * stream has (z·a) = 0 at every residual tensor, in fp32 and fp16, and the
 * logits equal those of the intact model with a full projection inserted at
 * every residual tensor.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { orthogonaliseWriters } from '../../src/rewrite/writers.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { decodeGpt2, fp16Tolerance, GPT2_DIR, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import { run } from '../helpers/run.js';
import { ort } from '../../src/runtime/session.js';
import { tensorNumbers } from '../../src/runtime/session.js';

const ref = gpt2Reference();
const tmp = useTempDir('writers');
const a = ref.steer.direction;
const D = ref.config.n_embd;

function feeds(half: boolean): Record<string, ort.Tensor> {
  const n = ref.prompt_ids.length;
  const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
  const f: Record<string, ort.Tensor> = { input_ids: i64(ref.prompt_ids), attention_mask: i64(Array(n).fill(1)), position_ids: i64(ref.position_ids) };
  for (let l = 0; l < 2; l++)
    for (const kv of ['key', 'value'])
      f[`past_key_values.${l}.${kv}`] = half
        ? new ort.Tensor('float16', new Uint16Array(0), [1, 2, 0, 32])
        : new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 32]);
  return f;
}

for (const [file, half] of [
  ['tjs/onnx/model.onnx', false],
  ['tjs/onnx/model_fp16.onnx', true],
] as const) {
  describe(`orthogonalising the residual writers of ${file}`, () => {
    it('leaves no component along the direction anywhere in the stream', async () => {
      const model = loadModel(path.join(GPT2_DIR, file));
      const result = orthogonaliseWriters(model, siteTensor(ref, 'resid_block0', file), a);
      expect(result.stream).toHaveLength(5); // embedding sum, then attention and MLP adds of 2 blocks
      expect(result.edited).toEqual(
        expect.arrayContaining(['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.h.1.mlp.c_proj.weight', 'transformer.h.1.mlp.c_proj.bias']),
      );
      expect(result.edited).toHaveLength(2 + 2 * 2 * 2);
      const out = await run(model, feeds(half), result.stream);
      const tol = half ? 2e-2 : 1e-5;
      for (const t of result.stream) {
        const z = tensorNumbers(out[t]);
        let worst = 0;
        for (let r = 0; r < z.length / D; r++) {
          let dot = 0;
          for (let c = 0; c < D; c++) dot += z[r * D + c] * a[c];
          worst = Math.max(worst, Math.abs(dot));
        }
        expect(worst, t).toBeLessThan(tol);
      }
    });

    it('gives the logits of inserted full projections at every residual tensor', async () => {
      const edited = loadModel(path.join(GPT2_DIR, file));
      const { stream } = orthogonaliseWriters(edited, siteTensor(ref, 'resid_block0', file), a);
      const inserted = loadModel(path.join(GPT2_DIR, file));
      patchModel(
        inserted,
        stream.map((tensor) => ({ tensor, mode: 'suppress' as const, directions: [a], projection: 'full' as const })),
      );
      const [x, y] = [path.join(tmp(), 'edited.onnx'), path.join(tmp(), 'inserted.onnx')];
      saveModel(edited, x);
      saveModel(inserted, y);
      const [le, li] = [(await decodeGpt2(x, ref, 1)).logits, (await decodeGpt2(y, ref, 1)).logits];
      expect(maxAbsDiff(le, li)).toBeLessThan(half ? fp16Tolerance(ref) : 1e-4);
      expect(maxAbsDiff(le, ref.intact.logits)).toBeGreaterThan(1e-2);
    });
  });
}

describe('refusals', () => {
  it('a tensor that is not in a residual stream, and a direction of the wrong width', () => {
    const model = loadModel(path.join(GPT2_DIR, 'tjs/onnx/model.onnx'));
    expect(() => orthogonaliseWriters(model, siteTensor(ref, 'mlp0_hidden', 'tjs/onnx/model.onnx'), a)).toThrow(/is not written by a residual Add/);
    expect(() => orthogonaliseWriters(model, siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx'), [1, 0, 0])).toThrow(
      /the direction has 3 values, but .* writes 64 channels/,
    );
  });
});

describe('sca ablate --writers and sca patch --layers all', () => {
  it('agree on a model folder: the same greedy text, first-token KL under 1e-8', async () => {
    const { sca } = await import('../helpers/cli.js');
    const fs = await import('node:fs');
    const dir = path.join(GPT2_DIR, 'tjs');
    const direction = `@${path.join(GPT2_DIR, 'direction.npy')}`;
    const [w, p] = [path.join(tmp(), 'writers'), path.join(tmp(), 'layers')];
    const tensor = siteTensor(ref, 'resid_block0', 'tjs/onnx/model.onnx');
    const ab = await sca('ablate', dir, '-o', w, '--tensor', tensor, '--writers', '--direction', direction);
    expect(ab.code, ab.err).toBe(0);
    expect(ab.out).toMatch(/orthogonalised 10 weights writing into the residual stream .* \(5 residual tensors\)/);
    const pa = await sca('patch', dir, '-o', p, '--tensor', tensor, '--layers', 'all', '--mode', 'suppress', '--projection', 'full', '--direction', direction);
    expect(pa.code, pa.err).toBe(0);
    expect(pa.out.match(/^onnx\/model\.onnx \(fp32\): suppress on /gm)).toHaveLength(5);
    const prompts = path.join(tmp(), 'p.txt');
    fs.writeFileSync(prompts, `${ref.prompt}\nthe mat\n`);
    const r = await sca('compare', w, p, '--prompts', prompts, '--max-new-tokens', '12', '--json', '-');
    const text = JSON.parse(r.out).text;
    expect(text.tokenAgreement).toBe(1);
    expect(text.firstTokenKl).toBeLessThan(1e-8);
  }, 60_000);
});

describe('writers in onnxruntime-genai’s fused graph', () => {
  it('follow the stream through SkipSimplifiedLayerNormalization sums, and agree with patches inserted at every residual tensor (split where fused)', async () => {
    const { GENAI_DIR, genaiReference, greedyDecode } = await import('../helpers/genai.js');
    const g = genaiReference();
    const file = path.join(GENAI_DIR, 'fp32', 'model.onnx');
    const tensor = '/model/layers.0/post_attention_layernorm/output_3';
    const edited = loadModel(file);
    const { stream, edited: weights } = orthogonaliseWriters(edited, tensor, g.direction);
    expect(stream[0]).toBe('/model/embed_tokens/Gather/output_0');
    expect(weights).toEqual(
      expect.arrayContaining(['model.embed_tokens.weight', 'model.layers.1.mlp.down_proj.MatMul.weight', 'model.layers.0.attn.o_proj.MatMul.weight']),
    );
    const inserted = loadModel(file);
    patchModel(inserted, [{ tensor, layers: 'all', mode: 'suppress', directions: [g.direction], projection: 'full' }]);
    const [x, y] = [path.join(tmp(), 'edited.onnx'), path.join(tmp(), 'inserted.onnx')];
    saveModel(edited, x);
    saveModel(inserted, y);
    const [a1, b1] = [await greedyDecode(x, g, 8), await greedyDecode(y, g, 8)];
    expect(maxAbsDiff(a1.promptLogits, b1.promptLogits)).toBeLessThan(1e-4);
    expect(a1.tokens).toEqual(b1.tokens);
    expect(maxAbsDiff(a1.promptLogits, g.fp32.intact_logits)).toBeGreaterThan(1e-3);
  });
});

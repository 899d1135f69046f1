/**
 * The residual stream of an onnxruntime-genai-style Llama (fused
 * SkipSimplifiedLayerNormalization, GroupQueryAttention, RotaryEmbedding,
 * MatMulNBits, every weight external): the residual after layer 0 exists only
 * as output 3 of layer 1's fused input norm. A full projection there must
 * reach layer 1's normalised input as well as the carried-on residual, and
 * match PyTorch's model with that residual projected for every reader.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sca } from '../helpers/cli.js';
import { GENAI_DIR, genaiReference, greedyDecode } from '../helpers/genai.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = genaiReference();
const tmp = useTempDir('genai');

const VARIANTS = [
  { folder: 'fp32', ref: 'fp32' as const },
  { folder: 'fp32-value-info', ref: 'fp32' as const },
  { folder: 'int4', ref: 'int4' as const },
];

describe('patching the residual of a genai-builder model', () => {
  for (const v of VARIANTS) {
    it(`${v.folder}: full projection of the residual after layer 0 matches PyTorch, greedy tokens included`, async () => {
      const input = path.join(GENAI_DIR, v.folder, 'model.onnx');
      const intact = await greedyDecode(input, ref, 12);
      // The intact model's own error against PyTorch (dequantized weights for int4) sets the bar.
      const intactError = maxAbsDiff(intact.promptLogits, ref[v.ref].intact_logits);
      expect(intactError).toBeLessThan(1e-4);
      expect(intact.tokens).toEqual(ref.greedy[v.ref].intact);

      const out = path.join(tmp(), 'model.onnx');
      const r = await sca(
        'patch',
        input,
        '-o',
        out,
        '--tensor',
        ref.residual_tensor,
        '--direction',
        `@${path.join(GENAI_DIR, 'direction.npy')}`,
        '--mode',
        'suppress',
        '--projection',
        'full',
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(
        /SkipSimplifiedLayerNormalization node '\/model\/layers\.1\/input_layernorm\/SkipLayerNorm' computes output 0 \(output\) '\/model\/layers\.1\/input_layernorm\/output_0' from '\/model\/layers\.1\/input_layernorm\/output_3' inside the op: split it/,
      );
      expect(fs.existsSync(`${out}.data`)).toBe(true);

      const patched = await greedyDecode(out, ref, 12);
      expect(maxAbsDiff(patched.promptLogits, ref[v.ref].patched_logits)).toBeLessThan(Math.max(1e-4, 2 * intactError));
      expect(patched.tokens).toEqual(ref.greedy[v.ref].patched);
      // The patch changed the model's behaviour, not just its numbers.
      expect(patched.tokens).not.toEqual(intact.tokens);
    });
  }

  it('patching the attention cache is refused in one line, naming the node', async () => {
    const input = path.join(GENAI_DIR, 'fp32', 'model.onnx');
    const out = path.join(tmp(), 'model.onnx');
    const r = await sca('patch', input, '-o', out, '--tensor', 'present.1.key', '--dims', '0', '--mode', 'clamp', '--axis', '-1');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/GroupQueryAttention node '\/model\/layers\.1\/attn\/GroupQueryAttention', which also computes output 0/);
    expect(fs.readdirSync(tmp())).toEqual([]);
  });
});

/**
 * Weight edits on Hugging Face's GPT-2 as optimum exports it: Conv1D layers
 * (Reshape → Gemm → Reshape with targets computed from Shape) and a Reshape
 * between ln_f and the unembedding. Each edit is checked against PyTorch's
 * model with the same weights edited (test/fixtures/gpt2-folder/reference.json):
 * ablating and pruning MLP hidden units of block 0, and folding a rank-1
 * projection at ln_f into the unembedding and at block 1's ln_1 into c_attn.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ablate } from '../../src/api/ablate.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { patchModel } from '../../src/rewrite/patch.js';
import { decodeGpt2, GPT2_DIR, gpt2Reference, siteTensor } from '../helpers/gpt2Folder.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';

const ref = gpt2Reference();
const tmp = useTempDir('gpt2-edits');
const edits = ref.weight_edits;

/** The prompt logits of `model` saved to a temporary file (external data beside it, as the input had). */
async function promptLogits(model: ReturnType<typeof loadModel>): Promise<number[]> {
  const file = path.join(tmp(), 'edited.onnx');
  saveModel(model, file);
  return (await decodeGpt2(file, ref, 1)).logits;
}

for (const file of ['tjs/onnx/model.onnx', 'tjs-op17/onnx/model.onnx']) {
  const load = () => loadModel(path.join(GPT2_DIR, file));
  const site = (name: string) => siteTensor(ref, name, file);

  describe(`weight edits through Conv1D on ${file}`, () => {
    it('ablating MLP hidden units zeroes c_fc columns and bias and c_proj rows: PyTorch’s edited model within 1e-4', async () => {
      const model = load();
      const done = ablate(model, { tensor: site('mlp0_hidden'), dims: edits.ablate_mlp0_hidden.dims });
      expect(done.edited.sort()).toEqual(['transformer.h.0.mlp.c_fc.bias', 'transformer.h.0.mlp.c_fc.weight', 'transformer.h.0.mlp.c_proj.weight']);
      const got = await promptLogits(model);
      expect(maxAbsDiff(got, edits.ablate_mlp0_hidden.logits)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got, ref.intact.logits)).toBeGreaterThan(1e-3);
    });

    it('pruning deletes them, and shrinks the width the output Reshape stores', async () => {
      const model = load();
      const done = ablate(model, { tensor: site('mlp0_hidden'), dims: edits.prune_mlp0_hidden.dims, prune: true });
      expect(done.method).toBe('pruned');
      const dims = (name: string) => model.proto.graph!.initializer.find((t) => t.name === name)!.dims.map(Number);
      expect(dims('transformer.h.0.mlp.c_fc.weight')).toEqual([64, 254]);
      expect(dims('transformer.h.0.mlp.c_proj.weight')).toEqual([254, 64]);
      expect(maxAbsDiff(await promptLogits(model), edits.prune_mlp0_hidden.logits)).toBeLessThan(1e-4);
    });

    it('folding (I - a aᵀ) at ln_f goes through the Reshape into the unembedding', async () => {
      const model = load();
      const [applied] = patchModel(model, [{ tensor: site('ln_f'), mode: 'suppress', directions: [edits.fold_ln_f.direction!], fold: true }]);
      expect(applied.nodes).toBe(0);
      expect(maxAbsDiff(await promptLogits(model), edits.fold_ln_f.logits)).toBeLessThan(1e-4);
    });

    it('folding (I - b bᵀ) at block 1’s ln_1 goes into c_attn’s Conv1D weight', async () => {
      const model = load();
      patchModel(model, [{ tensor: site('ln1_block1'), mode: 'suppress', directions: [edits.fold_ln1_block1.direction!], fold: true }]);
      expect(maxAbsDiff(await promptLogits(model), edits.fold_ln1_block1.logits)).toBeLessThan(1e-4);
    });
  });
}

describe('weight edits on a merged decoder', () => {
  it('are refused in one line naming both branches (the branches read shared weights), and patching is the way', () => {
    const model = loadModel(path.join(GPT2_DIR, 'merged/onnx/decoder_model_merged.onnx'));
    expect(() => ablate(model, { tensor: siteTensor(ref, 'mlp0_hidden', 'tjs/onnx/model.onnx'), dims: [1] })).toThrow(
      /computed inside (then|else)_branch of If 'optimum::if' and (then|else)_branch .*not supported: patch the tensor instead/,
    );
  });
});

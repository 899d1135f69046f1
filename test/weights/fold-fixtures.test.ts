/**
 * The low-rank fold on real torch.onnx exports, wired the way the fold walk
 * will be: the readers of the site tensor come from the lookup, the weight
 * axis from the op registry (src/ops/weights.ts), the edit from lowrank.ts.
 * Each result is checked against PyTorch's own weight edit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSession, ort } from '../../src/runtime/session.js';
import { loadModel, saveModel } from '../../src/onnx/model.js';
import { isLinearOp, linearOp, lookupFromGraph } from '../../src/ops/index.js';
import { FoldedWeight, foldTensorLowRank } from '../../src/weights/lowrank.js';
import { maxAbsDiff } from '../helpers/reference.js';
import { useTempDir } from '../helpers/tmp.js';
import type { Input } from '../helpers/torchFixtures.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const tmp = useTempDir('fold-fixtures');

interface Expected {
  inputs: Record<string, Input>;
  output: string;
  sites: Record<string, { tensor: string; direction: number[] }>;
  weight_edits: Record<string, { site: string; output: number[] }>;
}

function feeds(inputs: Record<string, Input>): Record<string, ort.Tensor> {
  return Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [
      k,
      v.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(v.data, BigInt), v.shape) : new ort.Tensor('float32', Float32Array.from(v.data), v.shape),
    ]),
  );
}

const CASES = [
  { fixture: 'gpt2_op14', edit: 'fold_ln_f', reader: 'MatMul', axis: 0 },
  { fixture: 'gpt2_op17_ext', edit: 'fold_ln_f', reader: 'MatMul', axis: 0 },
  { fixture: 'cnn', edit: 'fold_features', reader: 'Gemm', axis: 1 },
];

describe.each(CASES)('fold on $fixture ($edit)', ({ fixture, edit, reader, axis }) => {
  it("equals PyTorch's weight edit (max |diff| < 1e-4), with no node added", async () => {
    const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${fixture}.expected.json`), 'utf8')) as Expected;
    const { site, output: want } = ref.weight_edits[edit];
    const { tensor, direction } = ref.sites[site];
    const model = loadModel(path.join(FIXTURES, `${fixture}.onnx`));
    const graph = model.proto.graph!;
    const nodeCount = graph.node.length;
    const lookup = lookupFromGraph(graph, Object.fromEntries(model.proto.opsetImport.map((o) => [o.domain ?? '', Number(o.version)])));
    const readers = lookup.uses(tensor);
    expect(readers.map((n) => n.opType)).toEqual([reader]);
    const op = linearOp(readers[0], tensor, lookup);
    if (!isLinearOp(op)) throw new Error(op.refused);
    expect(op.fold?.axis).toBe(axis);
    const weight = graph.initializer.find((t) => t.name === readers[0].input[op.reads.input])!;
    const out = path.join(tmp(), 'folded.onnx');
    // A 0-byte in-memory limit leaves the result to be computed while saving, as a big weight's is.
    foldTensorLowRank(weight, model.baseDir, op.fold!.axis, { basis: [direction], scale: -1 }, { inMemoryBytes: 0, chunkBytes: 1000 });
    expect(weight.rawData).toBeInstanceOf(FoldedWeight);
    saveModel(model, out);
    expect(fs.readdirSync(tmp()).filter((f) => !f.startsWith('folded.onnx'))).toEqual([]);
    expect(loadModel(out).proto.graph!.node).toHaveLength(nodeCount);
    const session = await openSession(out);
    try {
      const got = (await session.run(feeds(ref.inputs)))[ref.output].data as Float32Array;
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
      // The fold changed the output: the check above is not vacuous.
      const intact = await openSession(path.join(FIXTURES, `${fixture}.onnx`));
      const before = (await intact.run(feeds(ref.inputs)))[ref.output].data as Float32Array;
      await intact.release();
      expect(maxAbsDiff(before, want)).toBeGreaterThan(1e-3);
    } finally {
      await session.release();
    }
  });
});

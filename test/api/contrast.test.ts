/**
 * Directions from contrastive prompts, on the fixture's GPT-2 with a concept
 * planted in the residual stream of one block: at block 1's output the graph
 * adds 16·p whenever the prompt holds the letter q (a node reading input_ids).
 * `layers: 'all'` must pick that block, and the direction must be p.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorFromPrompts } from '../../src/api/contrast.js';
import { readAnchors } from '../../src/anchors/manifest.js';
import { IrModel } from '../../src/ir/model.js';
import { attrInt, attrInts, node } from '../../src/onnx/build.js';
import { loadModel, saveModel, type Model } from '../../src/onnx/model.js';
import { int64Tensor, makeTensor } from '../../src/onnx/tensor.js';
import { DataType } from '../../src/onnx/types.js';
import { loadTokenizer } from '../../src/data/tokenizer.js';
import { copyFixtureFolder, GPT2_DIR } from '../helpers/gpt2Folder.js';
import { randomValues } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';

const tmp = useTempDir('contrast');
const PLANT_AT = '/transformer/h.1/Add_1_output_0';
const planted = (() => {
  const v = randomValues(64, 99, 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
})();

/** The fixture with `16·p` added at block 1's output when the prompt holds token `marker`. */
function plant(model: Model, marker: number): void {
  const g = new IrModel(model).graph;
  const producer = g.producer(PLANT_AT)!;
  g.renameOutput(producer, PLANT_AT, 'planted/before');
  g.addInitializers([
    int64Tensor('planted/marker', [marker], []),
    int64Tensor('planted/axes', [2]),
    makeTensor(
      'planted/p',
      DataType.FLOAT,
      [64],
      planted.map((x) => 16 * x),
    ),
  ]);
  g.insertNodes(g.nodes.indexOf(producer) + 1, [
    node('Equal', ['input_ids', 'planted/marker'], ['planted/is']),
    node('Cast', ['planted/is'], ['planted/float'], [attrInt('to', DataType.FLOAT)]),
    node('ReduceMax', ['planted/float'], ['planted/any'], [attrInts('axes', [1]), attrInt('keepdims', 1)]),
    node('Unsqueeze', ['planted/any', 'planted/axes'], ['planted/any3']),
    node('Mul', ['planted/any3', 'planted/p'], ['planted/offset']),
    node('Add', ['planted/before', 'planted/offset'], [PLANT_AT]),
  ]);
}

const WORDS = ['the', 'cat', 'dog', 'sat', 'ran', 'on', 'a', 'log', 'big', 'red', 'old', 'hat', 'sun', 'day', 'bird', 'tree'];

describe('anchor from contrastive prompts', () => {
  it('with layers all, picks the block where the concept was planted, and the direction is the planted one (cos >= 0.95)', async () => {
    const dir = copyFixtureFolder('tjs', path.join(tmp(), 'planted'));
    const file = path.join(dir, 'onnx/model.onnx');
    const tokenizer = loadTokenizer(dir);
    const [marker] = tokenizer.encode('q');
    const model = loadModel(path.join(GPT2_DIR, 'tjs/onnx/model.onnx'));
    plant(model, marker);
    fs.rmSync(file);
    saveModel(model, file);
    const r = new (await import('../../src/maths/random.js')).Random(5);
    const pick = () => WORDS[r.int(WORDS.length)];
    const lines = (letter: string) => Array.from({ length: 40 }, () => `${pick()} ${pick()} ${letter} ${pick()} mat`).join('\n');
    fs.writeFileSync(path.join(tmp(), 'a.txt'), lines('q'));
    fs.writeFileSync(path.join(tmp(), 'b.txt'), lines('k'));
    expect(tokenizer.encode('q').length).toBe(1);
    const loaded = loadModel(file);
    const anchor = await anchorFromPrompts(loaded, file, {
      concept: 'q',
      prompts: path.join(tmp(), 'a.txt'),
      contrast: path.join(tmp(), 'b.txt'),
      layers: 'all',
    });
    expect(anchor.tensor).toBe(PLANT_AT);
    const cos = anchor.direction!.reduce((s, v, i) => s + v * planted[i], 0);
    expect(cos).toBeGreaterThanOrEqual(0.95);
    // Chance elsewhere: every other tensor of the stream separates the prompts no better than a coin.
    for (const l of anchor.promptProvenance!.layers) if (l.tensor !== PLANT_AT) expect(l.auc).toBeLessThan(0.6);
    const table = anchor.promptProvenance!.layers;
    expect(table.map((l) => l.tensor)).toContain('/transformer/h.0/Add_1_output_0');
    const best = table.find((l) => l.tensor === PLANT_AT)!;
    expect(best.auc).toBe(1);
    for (const l of table) if (l.tensor !== PLANT_AT) expect(l.separation).toBeLessThan(best.separation);
    expect(readAnchors(loaded.proto)[0].promptProvenance).toMatchObject({ position: 'last', prompts: 40, contrast: 40 });

    // The same from the command line, on the folder: the table of layers, the chosen one marked, the anchor in every variant.
    const { sca } = await import('../helpers/cli.js');
    const out = path.join(tmp(), 'anchored');
    const cli = await sca(
      'anchor',
      dir,
      '-o',
      out,
      '--concept',
      'q',
      '--prompts',
      path.join(tmp(), 'a.txt'),
      '--contrast',
      path.join(tmp(), 'b.txt'),
      '--layers',
      'all',
    );
    expect(cli.code, cli.err).toBe(0);
    expect(cli.out).toMatch(/anchored 'q' at '\/transformer\/h\.1\/Add_1_output_0' as the mean difference of 40 against 40 prompts \(last position\)/);
    expect(cli.out).toMatch(/^  \* \/transformer\/h\.1\/Add_1_output_0 +held-out AUC 1\.000/m);
    expect(readAnchors(loadModel(path.join(out, 'onnx/model_fp16.onnx')).proto)[0].tensor).toBe(PLANT_AT);
  });
});

describe('removal of a contrastive concept', () => {
  it('ablate --writers against the found direction leaves nothing along it (probe on it at chance), and says what the next token paid', async () => {
    const { orthogonaliseWriters } = await import('../../src/rewrite/writers.js');
    const { compareText } = await import('../../src/eval/compareText.js');
    const { openTapped } = await import('../../src/runtime/taps.js');
    const { ort, tensorNumbers } = await import('../../src/runtime/session.js');
    // Planted in the token embedding this time: every writer is a weight the edit reaches.
    const dir = copyFixtureFolder('tjs', path.join(tmp(), 'embedded'));
    const file = path.join(dir, 'onnx/model.onnx');
    const tokenizer = loadTokenizer(dir);
    const [marker] = tokenizer.encode('q');
    const model = loadModel(path.join(GPT2_DIR, 'tjs/onnx/model.onnx'));
    const wte = model.proto.graph!.initializer.find((t) => t.name === 'transformer.wte.weight')!;
    const { tensorFloats, setTensorFloats } = await import('../../src/onnx/tensor.js');
    const table = tensorFloats(wte, '/');
    for (let j = 0; j < 64; j++) table[marker * 64 + j] += 16 * planted[j];
    setTensorFloats(wte, table);
    fs.rmSync(file);
    saveModel(model, file);
    const r = new (await import('../../src/maths/random.js')).Random(6);
    const pick = () => WORDS[r.int(WORDS.length)];
    const lines = (letter: string) => Array.from({ length: 40 }, () => `${pick()} ${pick()} ${letter} ${pick()} mat`).join('\n');
    const [a, b] = [path.join(tmp(), 'a.txt'), path.join(tmp(), 'b.txt')];
    fs.writeFileSync(a, lines('q'));
    fs.writeFileSync(b, lines('k'));
    const anchor = await anchorFromPrompts(loadModel(file), file, { concept: 'q', prompts: a, contrast: b, layers: 'all', position: 'mean' });
    const found = anchor.promptProvenance!.layers.find((l) => l.tensor === anchor.tensor)!;
    expect(found.auc).toBeGreaterThan(0.9);

    const edited = loadModel(file);
    orthogonaliseWriters(edited, anchor.tensor, anchor.direction!);
    // The probe on the anchored direction, at the anchored tensor, averaged over the prompt: every score is 0, so AUC is 1/2.
    const session = await openTapped(edited, edited.proto, [anchor.tensor], 'cpu');
    const scores: number[][] = [];
    for (const f of [a, b]) {
      const s: number[] = [];
      for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
        const ids = tokenizer.encode(line);
        const i64 = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
        const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
          input_ids: i64(ids),
          attention_mask: i64(ids.map(() => 1)),
          position_ids: i64(ids.map((_, k) => k)),
        };
        for (let l = 0; l < 2; l++)
          for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 32]);
        const z = tensorNumbers((await session.run(feeds, [anchor.tensor]))[anchor.tensor]);
        let score = 0;
        for (let p = 0; p < z.length / 64; p++) score += anchor.direction!.reduce((acc, v, j) => acc + v * z[p * 64 + j], 0) / (z.length / 64);
        s.push(score);
      }
      scores.push(s);
    }
    await session.release();
    // Before the edit the same scores separate the sets (found.auc); after it every one is 0 to float rounding.
    expect(Math.max(...scores.flat().map(Math.abs))).toBeLessThan(1e-4);
    const editedDir = copyFixtureFolder('tjs', path.join(tmp(), 'removed'));
    fs.rmSync(path.join(editedDir, 'onnx/model.onnx'));
    saveModel(edited, path.join(editedDir, 'onnx/model.onnx'));
    const text = await compareText(dir, editedDir, { prompts: a, maxNewTokens: 4 });
    expect(text.text.firstTokenKl).toBeGreaterThan(0);
    expect(Number.isFinite(text.text.firstTokenKl)).toBe(true);
  }, 60_000);
});

/**
 * The language-model demo's measures on the GPT-2 fixture, against PyTorch's
 * logits for the fixture prompt (reference.json) and hand-worked numbers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConceptSpec } from '../../src/domains/lm/concept.js';
import { corpusPerplexity, meanFirstTokenKl, nextTokenLogProbs, relativeDrop, rSquared, tokenRate, wordToken } from '../../src/domains/lm/metrics.js';
import { UsageError } from '../../src/errors.js';
import { decoderLayout } from '../../src/eval/generate.js';
import { openSession, type ort } from '../../src/runtime/session.js';
import { loadTokenizer } from '../../src/data/tokenizer.js';
import { GPT2_DIR, gpt2Reference } from '../helpers/gpt2Folder.js';

const ref = gpt2Reference();
const V = ref.config.vocab_size;
const T = ref.prompt_ids.length;

/** PyTorch's log-softmax at one position of the prompt, in plain float64. */
function torchLogProbs(p: number): number[] {
  const row = ref.intact.logits.slice(p * V, (p + 1) * V);
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
  return row.map((v) => v - lse);
}

let session: ort.InferenceSession;
beforeAll(async () => {
  session = await openSession(path.join(GPT2_DIR, 'tjs', 'onnx', 'model.onnx'));
});
afterAll(async () => session?.release());

describe('language-model demo metrics', () => {
  it("next-token log-probabilities after a prompt are PyTorch's at its last position", async () => {
    const [lp] = await nextTokenLogProbs(session, decoderLayout(session, 'fixture'), [ref.prompt_ids]);
    const want = torchLogProbs(T - 1);
    expect(Math.max(...want.map((v, i) => Math.abs(v - lp[i])))).toBeLessThan(1e-4);
    const top = [0, 1, 2].map((k) => [...want.keys()].sort((a, b) => want[b] - want[a])[k]);
    expect(tokenRate([lp], top)).toBeCloseTo(
      top.reduce((s, t) => s + Math.exp(want[t]), 0),
      5,
    );
  });

  it('perplexity is exp of the mean next-token NLL over every text, from PyTorch logits', async () => {
    const ids = ref.prompt_ids;
    let nll = 0;
    for (let p = 0; p + 1 < T; p++) nll -= torchLogProbs(p)[ids[p + 1]];
    // the same text twice: the mean over all predicted tokens is the one text's
    const ppl = await corpusPerplexity(session, decoderLayout(session, 'fixture'), [ids, ids, [ids[0]]]);
    // compared as log-perplexity: the fixture's random weights give perplexities near 5e5
    expect(Math.log(ppl)).toBeCloseTo(nll / (T - 1), 4);
  });

  it('first-token KL is zero for a model against itself and positive against another', () => {
    const a = [Float64Array.from(torchLogProbs(T - 1))];
    const b = [Float64Array.from(torchLogProbs(T - 2))];
    expect(meanFirstTokenKl(a, a)).toBe(0);
    expect(meanFirstTokenKl(a, b)).toBeGreaterThan(0);
  });

  it('r² and the relative drop by hand', () => {
    // y = 2x + 1 exactly: r² = 1; y = (1, 3, 2) on x = (0, 1, 2): sxy = 1, sxx = 2, syy = 2, r² = 1/4
    expect(rSquared([0, 1, 2], [1, 3, 5])).toBeCloseTo(1, 12);
    expect(rSquared([0, 1, 2], [1, 3, 2])).toBeCloseTo(0.25, 12);
    expect(rSquared([0, 1, 2], [4, 4, 4])).toBeNull();
    expect(relativeDrop(0.5, 0.05)).toBeCloseTo(0.9, 12);
    expect(relativeDrop(0.5, 0.75)).toBeCloseTo(-0.5, 12);
  });

  it('a word that is several tokens is refused by name', () => {
    const tok = loadTokenizer(path.join(GPT2_DIR, 'tjs'));
    expect(() => wordToken(tok.encode, 'zzqxv')).toThrow(/word 'zzqxv' is \d+ tokens/);
  });
});

describe('concept file', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-concept-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = {
    concept: 'red',
    site: { block: 1, tensor: '/transformer/h.1/Add_1_output_0', dims: [0] },
    words: [
      { word: 'red', family: true, similarity: 1, prompts: ['the apple is'] },
      { word: 'orange', family: false, similarity: 0.7, prompts: ['the sunset is'] },
      { word: 'blue', family: false, similarity: 0, prompts: ['the sky is'] },
    ],
    heldOut: ['the cat sat on the mat'],
    neutral: ['the cat'],
    fit: [{ ids: [1, 2, 3], labelled: [1], colour: [1, 2] }],
  };
  const write = (v: unknown) => fs.writeFileSync(path.join(dir, 'concept.json'), typeof v === 'string' ? v : JSON.stringify(v));

  it('reads a well-formed file', () => {
    write(good);
    expect(loadConceptSpec(dir).words.map((w) => w.word)).toEqual(['red', 'orange', 'blue']);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no family word', { ...good, words: good.words.map((w) => ({ ...w, family: false })) }, /no word is marked "family"/],
    ['a position past the sequence', { ...good, fit: [{ ids: [1], labelled: [3], colour: [] }] }, /fit\[0\]: a position lies past/],
    ['too few words', { ...good, words: good.words.slice(0, 2) }, /3 words at least/],
  ])('refuses %s in one line', (_, value, message) => {
    write(value);
    expect(() => loadConceptSpec(dir)).toThrow(UsageError);
    expect(() => loadConceptSpec(dir)).toThrow(message);
  });

  it('says when the folder has none', () => {
    expect(() => loadConceptSpec(path.join(dir, 'missing'))).toThrow(/no concept.json/);
  });
});

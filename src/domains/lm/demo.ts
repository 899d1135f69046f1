/**
 * `sca demo lm`: the SCA language model against its twin. The concept is
 * suppressed and ablated in the SCA model, and removed from the twin with the
 * post-hoc directions fitted on the same labelled positions (mean difference
 * and LEACE). Each edited model is written as a model folder, and each is
 * measured against its intact model on the concept file's prompts:
 * - the concept rate (family probability at inviting prompts, and the sampled rate);
 * - held-out perplexity;
 * - first-token KL on neutral prompts;
 * - per-word damage against designed similarity (r²).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { decoderLayout, generateBatch, type DecoderLayout } from '../../eval/generate.js';
import { loadModelFolder, saveModelFolder, variantFile } from '../../onnx/folder.js';
import { loadTokenizer, type TextTokenizer } from '../../data/tokenizer.js';
import { loadModel, type Model } from '../../onnx/model.js';
import { openSession, type Device } from '../../runtime/session.js';
import { loadConceptSpec, type ConceptSpec } from './concept.js';
import { meanDifference } from '../../anchors/fromData.js';
import { ablateAnchored, eraseWithLeace, fitRows, suppressAnchored, suppressDirection, type EditName } from './edits.js';
import { corpusPerplexity, meanFirstTokenKl, nextTokenLogProbs, relativeDrop, rSquared, tokenRate, wordToken } from './metrics.js';

export interface PairValue {
  intact: number;
  patched: number;
}

export interface WordDamage {
  word: string;
  similarity: number;
  family: boolean;
  intact: number;
  patched: number;
  drop: number;
}

export interface EditResult {
  /** The family's summed probability at its inviting prompts. */
  conceptRate: PairValue;
  /** Share of sampled continuations (a few tokens, seeded) holding a family word. */
  sampledRate: PairValue;
  perplexity: PairValue;
  firstTokenKl: number;
  /** r² of each word's drop against its designed similarity; null when no word changed. */
  selectivity: number | null;
  words: WordDamage[];
  /** The edited model folder written. */
  folder: string;
  /** Greedy continuations of the first inviting prompts, intact and patched. */
  generations: { prompt: string; intact: string; patched: string }[];
}

export interface LmDemoResult {
  model: string;
  twin: string;
  concept: string;
  site: ConceptSpec['site'];
  results: { sca: { suppress: EditResult; ablate: EditResult }; twin: { meanDiff: EditResult; leace: EditResult } };
}

export interface LmDemoOptions {
  device?: Device;
  /** Sampled continuations per inviting prompt (default 8) and their length (default 3 tokens). */
  samples?: number;
  sampleTokens?: number;
  onStep?: (text: string) => void;
}

/** What one model (intact or edited) does on the concept file's prompts. */
interface Measures {
  family: Float64Array[];
  words: Float64Array[][];
  neutral: Float64Array[];
  perplexity: number;
  sampled: number;
  greedy: string[];
}

interface Encoded {
  family: number[][];
  words: number[][][];
  neutral: number[][];
  heldOut: number[][];
  wordIds: number[];
  familyIds: number[];
}

function encodeSpec(spec: ConceptSpec, tok: TextTokenizer): Encoded {
  const enc = (t: string) => tok.encode(t);
  const wordIds = spec.words.map((w) => wordToken(enc, w.word));
  return {
    family: spec.words.filter((w) => w.family).flatMap((w) => w.prompts.map(enc)),
    words: spec.words.map((w) => w.prompts.map(enc)),
    neutral: spec.neutral.map(enc),
    heldOut: spec.heldOut.map(enc),
    wordIds,
    familyIds: wordIds.filter((_, i) => spec.words[i].family),
  };
}

async function measure(file: string, e: Encoded, tok: TextTokenizer, options: LmDemoOptions): Promise<Measures> {
  const session = await openSession(file, options.device ?? 'cpu', path.dirname(file));
  try {
    const layout: DecoderLayout = decoderLayout(session, file);
    const family = await nextTokenLogProbs(session, layout, e.family);
    const words: Float64Array[][] = [];
    for (const prompts of e.words) words.push(await nextTokenLogProbs(session, layout, prompts));
    const samples = options.samples ?? 8;
    const repeated = e.family.flatMap((p) => new Array<number[]>(samples).fill(p));
    const sampledRuns = await generateBatch(session, layout, repeated, {
      maxNewTokens: options.sampleTokens ?? 3,
      sampling: { temperature: 1, seed: 1 },
      ...(tok.contextLength ? { contextLength: tok.contextLength } : {}),
    });
    const family_ = new Set(e.familyIds);
    const sampled = sampledRuns.filter((g) => g.tokens.some((t) => family_.has(t))).length / Math.max(1, sampledRuns.length);
    const greedyRuns = await generateBatch(session, layout, e.family.slice(0, 4), { maxNewTokens: 6, eos: tok.eos });
    return {
      family,
      words,
      neutral: await nextTokenLogProbs(session, layout, e.neutral),
      perplexity: await corpusPerplexity(session, layout, e.heldOut),
      sampled,
      greedy: greedyRuns.map((g) => tok.decode(g.tokens)),
    };
  } finally {
    await session.release();
  }
}

function compare(spec: ConceptSpec, e: Encoded, intact: Measures, patched: Measures, folder: string): EditResult {
  const words = spec.words.map((w, i) => {
    const a = tokenRate(intact.words[i], [e.wordIds[i]]);
    const b = tokenRate(patched.words[i], [e.wordIds[i]]);
    return { word: w.word, similarity: w.similarity, family: w.family, intact: a, patched: b, drop: relativeDrop(a, b) };
  });
  const firstPrompts = spec.words.filter((w) => w.family).flatMap((w) => w.prompts);
  return {
    conceptRate: { intact: tokenRate(intact.family, e.familyIds), patched: tokenRate(patched.family, e.familyIds) },
    sampledRate: { intact: intact.sampled, patched: patched.sampled },
    perplexity: { intact: intact.perplexity, patched: patched.perplexity },
    firstTokenKl: meanFirstTokenKl(intact.neutral, patched.neutral),
    selectivity: rSquared(
      words.map((w) => w.similarity),
      words.map((w) => w.drop),
    ),
    words,
    folder,
    generations: intact.greedy.map((g, i) => ({ prompt: firstPrompts[i], intact: g, patched: patched.greedy[i] })),
  };
}

/** Loads the folder, applies `edit` to its one fp32 model and writes the folder to `out`; the model file written. */
async function editFolder(dir: string, out: string, edit: (m: Model) => void | Promise<void>): Promise<string> {
  const rel = path.relative(dir, variantFile(dir)).split(path.sep).join('/');
  const folder = loadModelFolder(dir);
  const model = folder.models.get(rel)!;
  await edit(model);
  folder.edited.add(rel);
  saveModelFolder(folder, out);
  return path.join(out, rel);
}

export async function runLmDemo(modelDir: string, twinDir: string, outDir: string, options: LmDemoOptions = {}): Promise<LmDemoResult> {
  const step = options.onStep ?? (() => {});
  const spec = loadConceptSpec(modelDir);
  const tok = loadTokenizer(modelDir);
  const e = encodeSpec(spec, tok);
  const label = (dir: string) => path.basename(path.resolve(dir));
  const outFor = (name: string) => path.join(outDir, name);

  step(`editing ${label(modelDir)}: suppressing '${spec.concept}' at block ${spec.site.block} and ablating its residual writers`);
  const width = embeddingWidth(modelDir);
  const folders: Record<EditName, string> = {
    suppress: outFor('sca-suppressed'),
    ablate: outFor('sca-ablated'),
    meanDiff: outFor('twin-mean-diff'),
    leace: outFor('twin-leace'),
  };
  for (const f of Object.values(folders)) if (fs.existsSync(f)) throw new UsageError(`${f} exists; give a fresh --out folder (nothing is overwritten)`);
  fs.mkdirSync(outDir, { recursive: true });
  const suppressed = await editFolder(modelDir, folders.suppress, (m) => suppressAnchored(m, spec, modelDir));
  const ablated = await editFolder(modelDir, folders.ablate, (m) => ablateAnchored(m, spec, width, modelDir));
  step(`fitting mean-diff and LEACE on ${label(twinDir)} at ${spec.site.tensor} from ${spec.fit.length} labelled sequences`);
  const { x, labels } = await fitRows(loadModel(variantFile(twinDir)), spec, options.device ?? 'cpu', twinDir);
  const files: Record<EditName, string> = {
    suppress: suppressed,
    ablate: ablated,
    meanDiff: await editFolder(twinDir, folders.meanDiff, (m) => suppressDirection(m, spec, meanDifference(x, labels, 2), twinDir)),
    leace: await editFolder(twinDir, folders.leace, (m) => eraseWithLeace(m, spec, x, labels, twinDir)),
  };

  step('measuring the intact and edited models on the concept prompts, held-out text and neutral prompts');
  const intactSca = await measure(variantFile(modelDir), e, tok, options);
  const intactTwin = await measure(variantFile(twinDir), e, tok, options);
  const result = async (name: EditName, intact: Measures) => compare(spec, e, intact, await measure(files[name], e, tok, options), folders[name]);
  return {
    model: modelDir,
    twin: twinDir,
    concept: spec.concept,
    site: spec.site,
    results: {
      sca: { suppress: await result('suppress', intactSca), ablate: await result('ablate', intactSca) },
      twin: { meanDiff: await result('meanDiff', intactTwin), leace: await result('leace', intactTwin) },
    },
  };
}

/** The residual width from the folder's config.json (GPT-2's n_embd, or hidden_size). */
function embeddingWidth(dir: string): number {
  const file = path.join(dir, 'config.json');
  let config: { n_embd?: unknown; hidden_size?: unknown };
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof config;
  } catch {
    throw new UsageError(`${file}: missing or not JSON; the demo reads the residual width from it`, 'BAD_MODEL');
  }
  const width = [config.n_embd, config.hidden_size].find((v): v is number => Number.isInteger(v));
  if (!width) throw new UsageError(`${file}: no n_embd or hidden_size`, 'BAD_MODEL');
  return width;
}

/**
 * `sca anchor MODEL --prompts A.txt --contrast B.txt`: a concept's direction
 * from two sets of prompts, as abliteration and CAA find one: the residual
 * stream at the last prompt token (or averaged over the prompt) is
 * collected for every prompt, and the direction is the difference of the two
 * means. With `layers: 'all'`, every tensor of the residual stream is tried
 * (ir/residual.ts finds them) and the one that separates the sets best on
 * held-out prompts is recorded, with the table of all.
 *
 * Separation per tensor: the area under the ROC curve of the projection on
 * the mean difference, each half of the prompts scored by the direction
 * fitted on the other half (two-fold, so no prompt scores itself); and the
 * mean difference's norm over the pooled standard deviation along it.
 */
import { decoderLayout, promptFeeds } from '../eval/generate.js';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { writeAnchors, type Anchor, type PromptProvenance } from '../anchors/manifest.js';
import { UsageError } from '../errors.js';
import { IrModel } from '../ir/model.js';
import { residualChain, residualTensors } from '../ir/residual.js';
import { normalize } from '../maths/basis.js';
import type { Model } from '../onnx/model.js';
import { loadPrompts } from '../data/prompts.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { ort, tensorNumbers, type Device } from '../runtime/session.js';
import { openTapped } from '../runtime/taps.js';

export interface PromptAnchorRequest {
  concept: string;
  /** Prompts that have the concept, and prompts that do not (.txt or .jsonl, as --prompts). */
  prompts: string;
  contrast: string;
  /** The tensor to take the direction at; or `layers: 'all'` to try every residual tensor through it (default: the first stream found). */
  tensor?: string;
  layers?: 'all';
  position?: 'last' | 'mean';
  device?: Device;
}

const hash = (file: string) => `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;

export async function anchorFromPrompts(model: Model, modelPath: string, request: PromptAnchorRequest, label = modelPath): Promise<Anchor> {
  const position = request.position ?? 'last';
  if (position !== 'last' && position !== 'mean') throw new UsageError(`position: expected last or mean, got '${String(position)}'`);
  const tokenizer = loadTokenizer(modelPath);
  const a = loadPrompts(request.prompts, tokenizer).map((p) => tokenizer.encode(p.text));
  const b = loadPrompts(request.contrast, tokenizer).map((p) => tokenizer.encode(p.text));
  if (a.length < 2 || b.length < 2)
    throw new UsageError('`prompts` and `contrast` need 2 prompts each at least (the separation is measured on held-out halves)');
  const tensors = candidateTensors(model, request, label);
  const session = await openTapped(model, model.proto, tensors, request.device ?? 'cpu');
  let rowsA: Float64Array[][];
  let rowsB: Float64Array[][];
  try {
    rowsA = await collect(session, label, a, tensors, position);
    rowsB = await collect(session, label, b, tensors, position);
  } finally {
    await session.release();
  }
  const layers = tensors.map((tensor, k) => ({ tensor, ...separation(rowsA[k], rowsB[k]) }));
  const best = layers.reduce((x, y) => (y.auc > x.auc || (y.auc === x.auc && y.separation > x.separation) ? y : x));
  const k = tensors.indexOf(best.tensor);
  const provenance: PromptProvenance = {
    method: 'mean-diff',
    promptsHash: hash(request.prompts),
    contrastHash: hash(request.contrast),
    prompts: a.length,
    contrast: b.length,
    position,
    layers,
  };
  const anchor: Anchor = { concept: request.concept, tensor: best.tensor, direction: meanDifference(rowsA[k], rowsB[k]), promptProvenance: provenance };
  writeAnchors(model.proto, [anchor]);
  return anchor;
}

function candidateTensors(model: Model, request: PromptAnchorRequest, label: string): string[] {
  const ir = new IrModel(model);
  if (request.layers !== undefined && request.layers !== 'all') throw new UsageError(`layers: expected 'all', got '${String(request.layers)}'`);
  if (request.tensor) ir.graph.require(request.tensor, label);
  if (!request.layers) {
    if (!request.tensor) throw new UsageError('give `tensor`, or `layers` all');
    return [request.tensor];
  }
  const start = request.tensor ?? ir.graph.nodes.find((n) => n.opType === 'Add' && residualChain(ir.graph, n.output[0]))?.output[0];
  const chain = start ? residualChain(ir.graph, start) : undefined;
  if (!chain) throw new UsageError(`${label}: no residual stream found${request.tensor ? ` through '${request.tensor}'` : ''}; give \`tensor\``, 'REFUSED');
  return residualTensors(chain);
}

/** Per tensor, one row per prompt: the last position's activation, or the mean over positions. */
async function collect(
  session: ort.InferenceSession,
  label: string,
  prompts: number[][],
  tensors: string[],
  position: 'last' | 'mean',
): Promise<Float64Array[][]> {
  const out: Float64Array[][] = tensors.map(() => []);
  const layout = decoderLayout(session, label);
  for (const ids of prompts) {
    const result = await session.run(promptFeeds(layout, ids), tensors);
    tensors.forEach((t, k) => {
      const v = tensorNumbers(result[t]);
      const width = result[t].dims[result[t].dims.length - 1];
      const positions = v.length / width;
      const row = new Float64Array(width);
      const from = position === 'last' ? positions - 1 : 0;
      for (let p = from; p < positions; p++) for (let j = 0; j < width; j++) row[j] += v[p * width + j] / (positions - from);
      out[k].push(row);
    });
  }
  return out;
}

function mean(rows: Float64Array[]): Float64Array {
  const m = new Float64Array(rows[0].length);
  for (const r of rows) for (let j = 0; j < m.length; j++) m[j] += r[j] / rows.length;
  return m;
}

function meanDifference(a: Float64Array[], b: Float64Array[]): number[] {
  const [ma, mb] = [mean(a), mean(b)];
  return normalize(
    Array.from(ma, (v, j) => v - mb[j]),
    'the mean difference',
  );
}

function dot(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** Two-fold held-out AUC of the mean-difference projection, and the mean difference over the pooled sd along it. */
function separation(a: Float64Array[], b: Float64Array[]): { auc: number; separation: number } {
  const half = <T>(xs: T[], odd: boolean) => xs.filter((_, i) => i % 2 === (odd ? 1 : 0));
  const scores: { s: number; positive: boolean }[] = [];
  for (const odd of [false, true]) {
    const dir = meanDifference(half(a, !odd), half(b, !odd));
    for (const r of half(a, odd)) scores.push({ s: dot(r, dir), positive: true });
    for (const r of half(b, odd)) scores.push({ s: dot(r, dir), positive: false });
  }
  const pos = scores.filter((x) => x.positive);
  const neg = scores.filter((x) => !x.positive);
  let wins = 0;
  for (const p of pos) for (const n of neg) wins += p.s > n.s ? 1 : p.s === n.s ? 0.5 : 0;
  const dir = meanDifference(a, b);
  const pa = a.map((r) => dot(r, dir));
  const pb = b.map((r) => dot(r, dir));
  const m = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const ss = (xs: number[]) => xs.reduce((s, v) => s + (v - m(xs)) ** 2, 0);
  const sd = Math.sqrt((ss(pa) + ss(pb)) / Math.max(1, pa.length + pb.length - 2));
  return { auc: wins / (pos.length * neg.length), separation: sd > 0 ? (m(pa) - m(pb)) / sd : Infinity };
}

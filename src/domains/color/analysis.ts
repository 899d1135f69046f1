/**
 * The colour domain's part of a comparison: the paper's per-colour table
 * (reconstruction error of each named colour, intact and patched) and its
 * selectivity score over a grid of the RGB cube, with each cube colour's
 * hue, similarity to the anchor colour and change, for the report's plots.
 * Compare calls `analyseColors` through the domain hook (eval/domain.ts)
 * once its loop is done.
 */
import { readInterventions } from '../../anchors/manifest.js';
import { sampleFeeds } from '../../data/datasets.js';
import type { DomainContext } from '../../eval/domain.js';
import { mse } from '../../eval/metrics.js';
import type { Model } from '../../onnx/model.js';
import { tensorNumbers, type ort } from '../../runtime/session.js';
import { colorDataset } from './dataset.js';
import { colorCube, colorMse, hsvSimilarity, hueChroma, NAMED_COLORS, selectivity, SELECTIVITY_GRID, SELECTIVITY_POWER, type Rgb } from './palette.js';

export interface NamedColorRow {
  name: string;
  rgb: Rgb;
  /** Reconstruction MSE against the input colour. */
  intactMse: number;
  patchedMse: number;
  /** patchedMse / intactMse; null when the intact error is exactly 0. */
  ratio: number | null;
  /** MSE between the two models' outputs. */
  changeMse: number;
}

export interface ColorAnalysis {
  anchor: Rgb;
  /**
   * The paper's selectivity: squared Pearson r, over the grid^3 colours,
   * between each colour's patched reconstruction MSE and its HSV similarity
   * to the anchor colour raised to `power`; null when the patched model's
   * outputs do not differ from the intact model's (or either side is constant).
   */
  selectivity: number | null;
  power: number;
  /** Where p came from: given, or read from the interventions the patched model records. */
  powerFrom: 'option' | 'suppression' | 'ablation' | 'default';
  grid: number;
  named: NamedColorRow[];
}

declare module '../../eval/results.js' {
  interface DomainResults {
    /** The colour domain's analysis: with the colour cube on a colour model, else null. */
    color: ColorAnalysis | null;
  }
  interface DomainDetails {
    /** Colour cube only: each colour with its hue (degrees), similarity to the anchor and change. */
    cube?: { color: Rgb; hue: number; chroma: number; similarity: number; change: number }[];
    /** Colour model: outputs for the named colours. */
    namedOutputs?: { intact: Float32Array; patched: Float32Array };
  }
}

/**
 * p of the paper by intervention: 3 when the patched model records a weight
 * ablation or pruning beyond what the intact model records, 2 for anything
 * else (inserted suppression, and models patched elsewhere).
 */
export function selectivityPower(intact: Model, patched: Model, given?: number): { power: number; from: ColorAnalysis['powerFrom'] } {
  if (given !== undefined) return { power: given, from: 'option' };
  const added = readInterventions(patched.proto).slice(readInterventions(intact.proto).length);
  if (added.some((r) => r.kind === 'ablate' || r.kind === 'prune')) return { power: SELECTIVITY_POWER.ablation, from: 'ablation' };
  if (added.length) return { power: SELECTIVITY_POWER.suppression, from: 'suppression' };
  return { power: SELECTIVITY_POWER.suppression, from: 'default' };
}

async function runColors(session: ort.InferenceSession, input: string, output: string, colors: Rgb[]): Promise<Float32Array> {
  const set = colorDataset(colors, [{ name: input, elemType: 1, sampleShape: [3], shape: [undefined, 3] }], 'colours');
  return Float32Array.from(tensorNumbers((await session.run(sampleFeeds(set, 0, set.samples), [output]))[output]));
}

/** Fills `result.color` and the detail's cube when the data is the colour cube and the model reconstructs colours. */
export async function analyseColors({ dataset, intact, patched, output, options, result, detail }: DomainContext): Promise<void> {
  if (!dataset.colors) return;
  const [a, b] = [intact.session, patched.session];
  const anchor: Rgb = options.anchorColor ?? NAMED_COLORS.red;
  const { power, from } = selectivityPower(intact.model, patched.model, options.selectivityPower);
  const grid = options.selectivityGrid ?? SELECTIVITY_GRID;
  const inputName = Object.keys(dataset.inputs)[0];
  const names = Object.keys(NAMED_COLORS);
  const intactOut = await runColors(
    a,
    inputName,
    output,
    names.map((n) => NAMED_COLORS[n]),
  );
  const patchedOut = await runColors(
    b,
    inputName,
    output,
    names.map((n) => NAMED_COLORS[n]),
  );
  if (intactOut.length !== 3 * names.length) return; // not a colour model after all: no colour table
  detail.namedOutputs = { intact: intactOut, patched: patchedOut };
  const rows: NamedColorRow[] = names.map((name, i) => {
    const rgb = NAMED_COLORS[name];
    const x = intactOut.subarray(3 * i, 3 * i + 3);
    const y = patchedOut.subarray(3 * i, 3 * i + 3);
    const intactMse = mse(x, rgb);
    const patchedMse = mse(y, rgb);
    return { name, rgb, intactMse, patchedMse, ratio: intactMse === 0 ? null : patchedMse / intactMse, changeMse: mse(x, y) };
  });
  const change = detail.perSample[output].mse;
  detail.cube = dataset.colors!.map((color, i) => {
    const { hue, chroma } = hueChroma(color);
    return { color, hue: (hue * 180) / Math.PI, chroma, similarity: hsvSimilarity(color, anchor), change: change[i] };
  });
  const cube = colorCube(grid);
  const gridIntact = await runColors(a, inputName, output, cube);
  const gridPatched = await runColors(b, inputName, output, cube);
  const changed = gridPatched.some((v, i) => v !== gridIntact[i]);
  const errors = cube.map((c, i) => colorMse(c, gridPatched.subarray(3 * i, 3 * i + 3)));
  const score = changed ? selectivity(cube, errors, power, anchor) : undefined;
  result.color = { anchor, selectivity: score ?? null, power, powerFrom: from, grid, named: rows };
}

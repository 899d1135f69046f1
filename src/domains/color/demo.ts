/**
 * `sca demo`: the main job end to end on the shipped colour models, as the
 * paper does it: suppress red (inserted nodes) in the anchored model, ablate
 * it (edited weights) in the isolated model, compare each with its intact
 * model over the colour cube, and write both patched models, one HTML report
 * and the paper-format table (baseline MSE and deltas for 17 colours, beside
 * the paper's published deltas).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';
import { loadModel, saveModel } from '../../onnx/model.js';
import { ablateDims } from '../../rewrite/ablation.js';
import { patchModel } from '../../rewrite/patch.js';
import { writeTextFile } from '../../util/files.js';
import { NAMED_COLORS } from './palette.js';
import { compareModels, type Comparison } from '../../eval/compare.js';
import { paperDelta, PAPER_SELECTIVITY } from './paper.js';
import { renderReport } from '../../eval/report.js';
import type { Device } from '../../runtime/session.js';
// The demo's comparisons are the colour domain's: make sure it is registered.
import './index.js';

/**
 * The shipped models of this package, wherever it is run from: the nearest
 * folder above this module with a package.json (src/eval from sources,
 * dist/src/eval when built). Each is the best of 60 seeds of its preset
 * (scripts/train-models.ts).
 */
const MODELS = path.join(packageRoot(path.dirname(fileURLToPath(import.meta.url))), 'models');
export const SHIPPED_MODELS = {
  /** exp. 2.4.1: K=4, N=1, red anchored at e0; the paper suppresses in it. */
  anchored: path.join(MODELS, 'color-anchored.onnx'),
  /** exp. 2.9.1: K=5, N=2, dim 0 reserved for red; the paper ablates in it. */
  isolated: path.join(MODELS, 'color-isolated.onnx'),
};

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** One colour of the paper-format table: baseline MSE and delta (intervention - baseline) per model, and the paper's delta. */
export interface PaperRow {
  name: string;
  suppression: { baseline: number; delta: number; paper: number; paperIsBound: boolean };
  ablation: { baseline: number; delta: number; paper: number; paperIsBound: boolean };
}

export interface DemoRun {
  /** The intact model. */
  model: string;
  /** The patched model written. */
  path: string;
  comparison: Comparison;
  /** The paper's best-of-60 selectivity for this model and intervention. */
  paperSelectivity: number;
}

export interface DemoResult {
  outDir: string;
  suppressed: DemoRun;
  ablated: DemoRun;
  table: PaperRow[];
  report: string;
}

export function paperTable(suppressed: Comparison, ablated: Comparison): PaperRow[] {
  const row = (c: Comparison, name: string) => c.result.color!.named.find((r) => r.name === name)!;
  return Object.keys(NAMED_COLORS).map((name) => {
    const s = row(suppressed, name);
    const a = row(ablated, name);
    const ps = paperDelta(name, 'suppression');
    const pa = paperDelta(name, 'ablation');
    return {
      name,
      suppression: { baseline: s.intactMse, delta: s.patchedMse - s.intactMse, paper: ps.value, paperIsBound: ps.bound },
      ablation: { baseline: a.intactMse, delta: a.patchedMse - a.intactMse, paper: pa.value, paperIsBound: pa.bound },
    };
  });
}

const published = (preset: 'anchored' | 'isolated') => PAPER_SELECTIVITY.find((p) => p.preset === preset)!;

export async function runDemo(
  outDir: string,
  options: { device?: Device; models?: { anchored?: string; isolated?: string }; onStep?: (text: string) => void } = {},
): Promise<DemoResult> {
  const anchored = options.models?.anchored ?? SHIPPED_MODELS.anchored;
  const isolated = options.models?.isolated ?? SHIPPED_MODELS.isolated;
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new UsageError(`\`outDir\`: ${outDir} is a file, not a folder`);
  fs.mkdirSync(outDir, { recursive: true });
  const step = options.onStep ?? (() => {});

  step('suppressing red in the anchored model (inserted projection nodes)');
  const suppressed = loadModel(anchored);
  await patchModel(suppressed, [{ concept: 'red', mode: 'suppress' }], anchored);
  const suppressedPath = path.join(outDir, 'color-anchored-suppressed.onnx');
  saveModel(suppressed, suppressedPath);

  step('ablating red in the isolated model (zeroed weights)');
  const ablated = loadModel(isolated);
  ablateDims(ablated, 'bottleneck', [0], { concept: 'red' });
  const ablatedPath = path.join(outDir, 'color-isolated-ablated.onnx');
  saveModel(ablated, ablatedPath);

  step('comparing each with its intact model on the colour cube');
  const device = options.device ?? 'cpu';
  const suppressedComparison = await compareModels(anchored, suppressedPath, { data: 'color-cube', device, taps: ['bottleneck'] });
  const ablatedComparison = await compareModels(isolated, ablatedPath, { data: 'color-cube', device, taps: ['bottleneck'] });
  const report = path.join(outDir, 'report.html');
  writeTextFile(
    report,
    renderReport(
      [
        { heading: 'Suppression (anchored model)', comparison: suppressedComparison, paper: published('anchored') },
        { heading: 'Ablation (isolated model)', comparison: ablatedComparison, paper: published('isolated') },
      ],
      'sca demo: removing red from the SCA colour autoencoders',
      { reportPath: report },
    ),
  );
  return {
    outDir,
    suppressed: { model: anchored, path: suppressedPath, comparison: suppressedComparison, paperSelectivity: published('anchored').best },
    ablated: { model: isolated, path: ablatedPath, comparison: ablatedComparison, paperSelectivity: published('isolated').best },
    table: paperTable(suppressedComparison, ablatedComparison),
    report,
  };
}

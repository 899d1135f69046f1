/**
 * `sca demo`: the main job end to end on the shipped colour model. Suppress
 * red (inserted nodes) and ablate it (edited weights), compare each with the
 * intact model over the colour cube, and write both patched models and one
 * HTML report.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { loadModel, saveModel } from '../onnx/model.js';
import { ablateDims } from '../rewrite/ablation.js';
import { patchModel } from '../rewrite/patch.js';
import { writeTextFile } from '../util/files.js';
import { compareModels, type Comparison } from './compare.js';
import { renderReport } from './report.js';
import type { Device } from './session.js';

/**
 * models/color-red.onnx of this package, wherever it is run from: the nearest
 * folder above this module with a package.json (src/eval from sources,
 * dist/src/eval when built).
 */
export const SHIPPED_COLOR_MODEL = path.join(packageRoot(path.dirname(fileURLToPath(import.meta.url))), 'models', 'color-red.onnx');

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export interface DemoResult {
  model: string;
  outDir: string;
  suppressed: { path: string; comparison: Comparison };
  ablated: { path: string; comparison: Comparison };
  report: string;
}

export async function runDemo(outDir: string, options: { device?: Device; model?: string; onStep?: (text: string) => void } = {}): Promise<DemoResult> {
  const source = options.model ?? SHIPPED_COLOR_MODEL;
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new UsageError(`\`outDir\`: ${outDir} is a file, not a folder`);
  fs.mkdirSync(outDir, { recursive: true });
  const step = options.onStep ?? (() => {});

  step('suppressing red (inserted projection nodes)');
  const suppressed = loadModel(source);
  await patchModel(suppressed, [{ concept: 'red', mode: 'suppress' }], source);
  const suppressedPath = path.join(outDir, 'color-red-suppressed.onnx');
  saveModel(suppressed, suppressedPath);

  step('ablating red (zeroed weights)');
  const ablated = loadModel(source);
  ablateDims(ablated, 'bottleneck', [0], { concept: 'red' });
  const ablatedPath = path.join(outDir, 'color-red-ablated.onnx');
  saveModel(ablated, ablatedPath);

  step('comparing each with the intact model on the colour cube');
  const device = options.device ?? 'cpu';
  const suppressedComparison = await compareModels(source, suppressedPath, { data: 'color-cube', device, taps: ['bottleneck'] });
  const ablatedComparison = await compareModels(source, ablatedPath, { data: 'color-cube', device, taps: ['bottleneck'] });
  const report = path.join(outDir, 'report.html');
  writeTextFile(
    report,
    renderReport(
      [
        { heading: 'Suppression', comparison: suppressedComparison },
        { heading: 'Ablation', comparison: ablatedComparison },
      ],
      'sca demo: removing red from the SCA colour autoencoder',
      { reportPath: report },
    ),
  );
  return { model: source, outDir, suppressed: { path: suppressedPath, comparison: suppressedComparison }, ablated: { path: ablatedPath, comparison: ablatedComparison }, report };
}

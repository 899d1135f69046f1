/**
 * Regenerates the models shipped in models/ (deterministic: same seeds, same
 * weights on the same machine). Run with `npm run build && node dist/scripts/train-models.js`.
 *
 * models/color-red.onnx: the paper's colour autoencoder (K=5, N=2, H=10), red
 * anchored at e0 with dim 0 reserved, best of seeds 0-15 (see pickBest in
 * src/train/evaluate.ts). About 10 s per seed on one core.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NAMED_COLORS } from '../src/eval/colors.js';
import { trainColorModel } from '../src/train/color.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const output = path.join(root, 'models', 'color-red.onnx');
const seeds = Number(process.argv[2] ?? 16);

const result = await trainColorModel(output, { seed: 0, seeds });
for (const r of result.runs) {
  const named = Object.keys(NAMED_COLORS).map((n) => `${n} ${r.quality.named[n].ablated.toExponential(1)}`).join(', ');
  console.log(`seed ${r.seed}: val ${r.quality.validationMse.toExponential(2)} selectivity ${r.quality.selectivity?.toFixed(3)} | dim 0 zeroed: ${named}`);
}
console.log(`kept seed ${result.best.seed}; wrote ${result.saved.path} (${result.saved.bytes} bytes)`);

import type { Command } from 'commander';
import { isDirectory, variantFile } from '../onnx/folder.js';
import { parseDevice } from '../runtime/session.js';
import { probeModels, type ProbeReport } from '../probe/run.js';
import type { Estimate } from '../probe/stats.js';
import { writeTextFile } from '../util/files.js';
import { number, positiveInt } from '../util/options.js';
import type { Context } from './context.js';

interface ProbeCliOptions {
  tensor: string[];
  variant?: string;
  maxRows?: string;
  data: string;
  labels: string;
  patched?: string;
  axis?: string;
  json?: string | boolean;
  folds: string;
  seed: string;
  l2: string;
  device: string;
  batchSize: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerProbe(program: Command, { io }: Context): void {
  program
    .command('probe')
    .description('fit a linear probe for labelled examples on tensors of a model (and a patched copy): is the concept still linearly readable?')
    .argument('<model>', 'ONNX model, or a model folder (see --variant); never modified')
    .option('--variant <v>', 'with folders: the variant to run, by dtype (fp32, fp16, q4), file name or path (default: the only one, or the fp32 one)')
    .requiredOption('--tensor <name>', 'tensor to probe (repeatable)', collect)
    .requiredOption('--data <spec>', 'color-cube[:N], or a .npy, .npz or .json file of inputs (as for compare)')
    .requiredOption('--labels <file>', 'a label per example (or per position) as .npy or .json; `redness` for the colour cube (redness > 0.5)')
    .option('--patched <model>', 'also probe this patched model, side by side')
    .option('--axis <n>', 'feature axis of the tensors (default: the last)')
    .option('--folds <k>', 'cross-validation folds', '5')
    .option('--seed <n>', 'seed of the fold split', '0')
    .option('--l2 <c>', 'L2 penalty on the standardised probe weights', '0.01')
    .option('--json [file]', 'write the results as JSON (schemaVersion 1; no file or - for stdout)')
    .option('--device <device>', 'cpu or cuda', 'cpu')
    .option('--batch-size <n>', 'examples per onnxruntime run', '256')
    .option('--max-rows <n>', 'keep at most this many probe rows, a seeded uniform sample (the same for intact and patched); default: what fits 512 MiB')
    .action(async (arg: string, opts: ProbeCliOptions) => {
      const pick = (p: string) => (isDirectory(p) ? variantFile(p, opts.variant) : p);
      const report = await probeModels({
        model: pick(arg),
        ...(opts.patched ? { patched: pick(opts.patched) } : {}),
        tensors: opts.tensor,
        data: opts.data,
        labels: opts.labels,
        ...(opts.axis !== undefined ? { axis: number('--axis', opts.axis) } : {}),
        folds: positiveInt('--folds', opts.folds),
        seed: number('--seed', opts.seed),
        l2: number('--l2', opts.l2),
        device: parseDevice(opts.device),
        batchSize: positiveInt('--batch-size', opts.batchSize),
        ...(opts.maxRows ? { maxRows: positiveInt('--max-rows', opts.maxRows) } : {}),
      });
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (opts.json === true || opts.json === '-') {
        io.out(json);
        return;
      }
      if (typeof opts.json === 'string') writeTextFile(opts.json, json);
      io.out(`${formatProbe(report)}\n`);
    });
}

const pct = (e: Estimate | null): string => (e === null ? 'n/a' : `${e.value.toFixed(3)} [${e.low.toFixed(3)}, ${e.high.toFixed(3)}]`);

export function formatProbe(r: ProbeReport): string {
  const first = r.tensors[0]?.intact;
  const lines = [
    `linear probe on ${r.data.name} (${r.data.samples} examples), labels ${r.labels.source}: ` +
      `${r.labels.classes.map((c, i) => `${c} ${r.labels.counts[i]}`).join(', ')}; ${first?.folds ?? 5} folds, seed ${first?.seed ?? 0}`,
  ];
  const header = ['tensor', 'width', 'majority', `accuracy [95% CI]`, 'AUC [95% CI]', ...(r.patched ? ['patched accuracy', 'patched AUC'] : [])];
  const rows = r.tensors.map((t) => [
    t.tensor,
    String(t.width),
    t.intact.majority.toFixed(3),
    pct(t.intact.accuracy),
    pct(t.intact.auc),
    ...(r.patched ? [pct(t.patched!.accuracy), pct(t.patched!.auc)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(header), ...rows.map(line));
  for (const t of r.tensors) {
    if (!t.purity) continue;
    const p = t.purity;
    lines.push(
      `purity of '${p.intact.concept}' at ${t.tensor} (share inside the anchor): mean difference ${p.intact.meanDiff.toFixed(3)}, probe weight ${p.intact.probeWeight.toFixed(3)}` +
        (p.patched ? `; patched ${p.patched.meanDiff.toFixed(3)}, ${p.patched.probeWeight.toFixed(3)}` : ''),
    );
  }
  for (const t of r.tensors)
    if (t.sample)
      lines.push(`${t.tensor}: probed a seeded sample of ${t.sample.rows} of ${t.sample.of} rows (seed ${t.sample.seed}); --max-rows sets the bound`);
  if (r.patched) lines.push(`intact: ${r.model}; patched: ${r.patched}`);
  return lines.join('\n');
}

import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEFAULT_BACKEND, PAPER_ARCHITECTURE, PAPER_STEPS } from '../train/defaults.js';
import { Progress } from '../util/progress.js';
import { number, positiveInt } from '../util/options.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface TrainCliOptions {
  output: string;
  seed: string;
  seeds: string;
  steps: string;
  latent: string;
  layers: string;
  hidden: string;
  anchor: boolean;
  antiAnchor?: boolean;
  backend: string;
  json?: JsonOption;
}

const fmt = (v: number | undefined, digits = 3): string => (v === undefined ? 'n/a' : v.toExponential(digits - 1));

export function registerTrain(program: Command, { io }: Context): void {
  const train = program.command('train').description('train SCA models');
  train
    .command('color')
    .description('train the paper\'s colour autoencoder with red anchored at e0, and export it to ONNX')
    .requiredOption('-o, --output <file>', 'where to write the ONNX model')
    .option('--seed <n>', 'random seed (the same seed gives the same weights)', '0')
    .option('--seeds <n>', 'train this many seeds from --seed and keep the best', '1')
    .option('--steps <n>', 'training steps', String(PAPER_STEPS))
    .option('--latent <k>', 'latent dims K', String(PAPER_ARCHITECTURE.latent))
    .option('--layers <n>', 'nonlinear layers N per side', String(PAPER_ARCHITECTURE.layers))
    .option('--hidden <h>', 'hidden width H', String(PAPER_ARCHITECTURE.hidden))
    .option('--no-anchor', 'leave out the anchor regularizer (the ablation run)')
    .option('--anti-anchor', 'add the anti-anchor regularizer at -e0')
    .option('--backend <name>', 'tfjs backend: wasm (the faster in npm run bench) or cpu', DEFAULT_BACKEND)
    .option(JSON_FLAG, 'print the seed table as JSON, or write it to a file')
    .action(async (opts: TrainCliOptions) => {
      if (opts.backend !== 'cpu' && opts.backend !== 'wasm') throw new UsageError(`--backend: expected cpu or wasm, got '${opts.backend}'`);
      const steps = positiveInt('--steps', opts.steps);
      const seed = number('--seed', opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed: '${opts.seed}' must be a whole number of at least 0`);
      const architecture = { latent: positiveInt('--latent', opts.latent), layers: positiveInt('--layers', opts.layers), hidden: positiveInt('--hidden', opts.hidden) };
      if (architecture.latent < 2) throw new UsageError('--latent: needs at least 2 dims (one is reserved for red)');
      const seeds = positiveInt('--seeds', opts.seeds);
      // Loaded here, not at start-up: tfjs costs every other command 0.1 s.
      const { trainColorModel } = await import('../train/color.js');
      // Training is always long work: progress lines from the first 10%, terminal or not.
      const progress = new Progress(seeds > 1 ? `training ${seeds} seeds` : 'training', steps * seeds, process.stderr, { quietSeconds: 0 });
      const result = await trainColorModel(
        opts.output,
        { seed, seeds, steps, architecture, anchor: opts.anchor, antiAnchor: Boolean(opts.antiAnchor), backend: opts.backend },
        (s, step, losses) => progress.update((s - seed) * steps + step, `seed ${s} ${Object.entries(losses).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(' ')}`),
      );
      progress.done();
      const rows = result.runs.map((r) => ({
        seed: r.seed,
        validationMse: r.quality.validationMse,
        selectivity: r.quality.selectivity ?? null,
        redMseAblated: r.quality.named.red.ablated,
        labelledFraction: r.result.labelledFraction,
        seconds: r.result.seconds,
        best: r === result.best,
      }));
      if (emitJson(io, opts.json, { output: result.saved.path, exportDiff: result.exportDiff, runs: rows })) return;
      io.out(' seed  val MSE    selectivity  red MSE (dim 0 zeroed)  labelled  time\n');
      for (const r of rows) {
        io.out(`${r.best ? '*' : ' '}${String(r.seed).padStart(4)}  ${fmt(r.validationMse)}  ${(r.selectivity ?? NaN).toFixed(3).padStart(11)}  ${fmt(r.redMseAblated).padStart(22)}  ${(100 * r.labelledFraction).toFixed(3)}%  ${r.seconds.toFixed(1)}s\n`);
      }
      io.out(`wrote ${result.saved.path} (seed ${result.best.seed}; onnxruntime matches tfjs to ${result.exportDiff.toExponential(1)})\n`);
    });
}

import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { PRESET_NAMES, PRESETS, type PresetName } from '../train/presets.js';
import { number, positiveInt } from '../util/options.js';
import { Progress } from '../util/progress.js';
import type { Context } from './context.js';
import { emitJson, JSON_FLAG, type JsonOption } from './json.js';

interface TrainCliOptions {
  output: string;
  preset: string;
  seed: string;
  seeds: string;
  jobs?: string;
  steps?: string;
  latent?: string;
  layers?: string;
  hidden?: string;
  peakLr?: string;
  fallback?: string | boolean;
  json?: JsonOption;
}

const sci = (v: number | null, digits = 2): string => (v === null ? 'n/a' : v.toExponential(digits));
const fixed = (v: number | null, digits = 3): string => (v === null ? 'n/a' : v.toFixed(digits));

/** The follow-up's fallback weight: --fallback alone means 0.05. */
export const DEFAULT_FALLBACK = 0.05;

export function registerTrain(program: Command, { io }: Context): void {
  const train = program.command('train').description('train SCA models');
  train
    .command('color')
    .description("train the paper's colour autoencoder (red anchored at e0 of 'bottleneck') and export the best seed to ONNX")
    .requiredOption('-o, --output <file>', 'where to write the ONNX model')
    .option(
      '--preset <name>',
      `the paper's configuration: anchored (exp. 2.4.1, K=4 N=1, judged by suppression), isolated (2.9.1, K=5 N=2, judged by ablation) or 2.10.1`,
      'isolated',
    )
    .option('--seed <n>', 'first random seed (a seed gives the same weights every time)', '0')
    .option('--seeds <n>', "train this many seeds from --seed, on worker threads, and keep the authors' pick", '1')
    .option('--jobs <n>', 'worker threads for --seeds (default: all cores)')
    .option('--steps <n>', "training steps (the presets' 1501: steps 0..1500)")
    .option('--latent <k>', "latent dims K (default: the preset's)")
    .option('--layers <n>', "nonlinear layers N per side (default: the preset's)")
    .option('--hidden <h>', "hidden width H (default: the preset's, 16)")
    .option('--peak-lr <lr>', "the follow-up's change: learning-rate plateau (the paper's is 0.1), annealed to half of it at the end")
    .option('--fallback [weight]', `the follow-up's decoder-only term, weight * MSE(decoder(-e0), mid-grey) (weight ${DEFAULT_FALLBACK} if not given)`)
    .option(JSON_FLAG, 'print the sweep (per-seed table, statistics, pick) as JSON, or write it to a file')
    .action(async (opts: TrainCliOptions) => {
      if (!(PRESET_NAMES as readonly string[]).includes(opts.preset))
        throw new UsageError(`--preset: expected one of ${PRESET_NAMES.join(', ')}, got '${opts.preset}'`);
      const preset = opts.preset as PresetName;
      const seed = number('--seed', opts.seed);
      if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed: '${opts.seed}' must be a whole number of at least 0`);
      const seeds = positiveInt('--seeds', opts.seeds);
      const jobs = opts.jobs === undefined ? undefined : positiveInt('--jobs', opts.jobs);
      const architecture = {
        ...(opts.latent !== undefined ? { latent: positiveInt('--latent', opts.latent) } : {}),
        ...(opts.layers !== undefined ? { layers: positiveInt('--layers', opts.layers) } : {}),
        ...(opts.hidden !== undefined ? { hidden: positiveInt('--hidden', opts.hidden) } : {}),
      };
      const latent = architecture.latent ?? PRESETS[preset].architecture.latent;
      if (latent < 2) throw new UsageError('--latent: needs at least 2 dims (one is reserved for red)');
      if (preset === 'anchored' && latent < 3) throw new UsageError('--latent: the anchored preset needs at least 3 dims (dims 0 and 1 hold vibrant colours)');
      const peakLr = opts.peakLr === undefined ? undefined : number('--peak-lr', opts.peakLr);
      if (peakLr !== undefined && !(peakLr > 0)) throw new UsageError(`--peak-lr: '${opts.peakLr}' must be above 0`);
      const fallback = opts.fallback === undefined ? undefined : opts.fallback === true ? DEFAULT_FALLBACK : number('--fallback', String(opts.fallback));
      if (fallback !== undefined && !(fallback >= 0)) throw new UsageError(`--fallback: '${String(opts.fallback)}' must be at least 0`);
      const config = {
        preset,
        ...(opts.steps !== undefined ? { steps: positiveInt('--steps', opts.steps) } : {}),
        ...(Object.keys(architecture).length ? { architecture } : {}),
        ...(peakLr !== undefined ? { peakLr } : {}),
        ...(fallback !== undefined ? { fallback } : {}),
      };
      // Training is always long work: progress lines from the first 10%, terminal or not.
      const progress = new Progress(seeds > 1 ? `training ${seeds} seeds` : 'training', (config.steps ?? PRESETS[preset].steps) * seeds, process.stderr, {
        quietSeconds: 0,
      });
      let stepsDone = 0;
      // Loaded here, not at start-up, to keep other commands' start-up short.
      const { trainColorModel } = await import('../train/color.js');
      const result = await trainColorModel(opts.output, {
        config,
        seed,
        seeds,
        jobs,
        onSteps: (done) => progress.update((stepsDone = done)),
        onResult: (r) => progress.update(stepsDone, `seed ${r.seed}: score ${fixed(r.quality.score)}`),
      });
      progress.done();
      const { intervention, power } = PRESETS[preset];
      const rows = result.runs.map((r) => ({
        seed: r.seed,
        score: r.quality.score,
        valRecon: r.quality.valRecon,
        valAnchor: r.quality.valAnchor,
        leak: r.quality.leak,
        health: r.quality.health,
        selectivity: { suppression: r.quality.suppression, ablation: r.quality.ablation, reflect: r.quality.reflect, redirect: r.quality.redirect },
        redMse: {
          baseline: r.quality.named[0].baseline,
          suppression: r.quality.named[0].suppression,
          ablation: r.quality.named[0].ablation,
          reflect: r.quality.named[0].reflect,
          redirect: r.quality.named[0].redirect,
        },
        labels: r.labels,
        draws: r.draws,
        seconds: r.seconds,
        best: r === result.best,
      }));
      if (
        emitJson(io, opts.json, {
          output: result.saved.path,
          config,
          score: { intervention, power },
          seconds: result.seconds,
          exportDiff: result.exportDiff,
          stats: result.stats,
          best: result.best.seed,
          runs: rows,
        })
      )
        return;
      io.out(`preset ${preset} (exp. ${PRESETS[preset].experiment}): score = ${intervention} selectivity, p = ${power}\n`);
      // With the fallback term, also its own intervention (the authors' pairing): reflect sends red to -e0, where the decoder gives mid-grey.
      const reflected = Boolean(config.fallback);
      io.out(
        ` seed   score  val recon  val anchor   leak  health        red ${intervention === 'ablation' ? 'ablated' : 'suppressed'}${reflected ? '  reflect score  red reflected' : ''}  labels  time\n`,
      );
      for (const r of rows) {
        const red = intervention === 'ablation' ? r.redMse.ablation : r.redMse.suppression;
        const extra = reflected ? `  ${fixed(r.selectivity.reflect).padStart(13)}  ${fixed(r.redMse.reflect).padStart(13)}` : '';
        io.out(
          `${r.best ? '*' : ' '}${String(r.seed).padStart(4)}  ${fixed(r.score).padStart(6)}  ${sci(r.valRecon).padStart(9)}  ${fixed(r.valAnchor).padStart(10)}  ${fixed(r.leak).padStart(5)}  ${(r.health ?? '-').padEnd(12)}  ${fixed(red).padStart(11)}${extra}  ${String(r.labels).padStart(6)}  ${r.seconds.toFixed(1)}s\n`,
        );
      }
      const s = result.stats;
      if (seeds > 1) {
        io.out(
          `score over ${s.seeds} seeds: mean ${fixed(s.mean)} +- ${fixed(s.sd)} (sd), min ${fixed(s.min)}, best ${fixed(s.max)}; ${result.seconds.toFixed(1)} s in all\n`,
        );
        io.out("* = the authors' pick: highest score on the Pareto front of low val recon, low val anchor, high score\n");
      }
      io.out(`wrote ${result.saved.path} (seed ${result.best.seed}; onnxruntime matches the trainer to ${result.exportDiff.toExponential(1)})\n`);
    });
}

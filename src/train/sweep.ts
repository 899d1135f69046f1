/**
 * Seed sweeps: train many seeds of one configuration on worker threads (one
 * seed per task, as many workers as cores by default), then summarise the
 * score as the paper does (mean +- sd, min, best) and pick the seed the
 * authors' way: the highest score on the Pareto front of low validation
 * reconstruction, low validation anchor loss and high score.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { evaluateSeed, type SeedQuality } from './evaluate.js';
import { network, type Network } from './network.js';
import { resolveConfig, trainSeed, type TrainConfig } from './trainer.js';

export interface SeedResult {
  seed: number;
  params: Float64Array;
  quality: SeedQuality;
  labels: number;
  draws: number;
  seconds: number;
}

/** Trains and evaluates one seed: the unit of work of a sweep, in a worker or in this thread. */
export function runSeed(config: TrainConfig, seed: number, onStep?: (step: number) => void): SeedResult {
  const t = trainSeed(config, seed, onStep && ((step) => onStep(step)));
  return { seed, params: t.params, quality: evaluateSeed(t.net, t.params, resolveConfig(config).preset), labels: t.labels, draws: t.draws, seconds: t.seconds };
}

export function defaultJobs(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * The compiled worker script. Built code finds worker.js beside this module;
 * code run from TypeScript sources (the tests) uses the build in dist/.
 */
function workerScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'worker.js');
  if (fs.existsSync(beside)) return beside;
  for (let dir = here; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const built = path.join(dir, 'dist', 'src', 'train', 'worker.js');
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      if (fs.existsSync(built)) return built;
      break;
    }
  }
  throw new Error('the sweep worker (dist/src/train/worker.js) is not built: run npm run build');
}

export interface SweepOptions {
  jobs?: number;
  onResult?: (result: SeedResult, done: number, total: number) => void;
  /** Training steps done over all seeds, and the total: reported every few steps of each seed, for progress. */
  onSteps?: (done: number, total: number) => void;
}

/** Steps between progress messages from a seed (a message costs far less than a step; a seed is about 1500 steps). */
export const STEP_REPORT_EVERY = 10;

/** A worker's message: a seed's progress, or its result. */
export type WorkerMessage = { kind: 'steps'; seed: number; done: number } | { kind: 'result'; result: SeedResult };

/** Results in seed order, whatever order the workers finish in; each seed's result does not depend on the worker or the job count. */
export async function sweep(config: TrainConfig, seeds: number[], options: SweepOptions = {}): Promise<SeedResult[]> {
  const jobs = Math.max(1, Math.min(options.jobs ?? defaultJobs(), seeds.length));
  const results = new Map<number, SeedResult>();
  const { steps } = resolveConfig(config);
  const stepsDone = new Map<number, number>();
  let allSteps = 0;
  const progress = (seed: number, done: number) => {
    allSteps += done - (stepsDone.get(seed) ?? 0);
    stepsDone.set(seed, done);
    options.onSteps?.(allSteps, steps * seeds.length);
  };
  const report = (r: SeedResult) => {
    results.set(r.seed, r);
    progress(r.seed, steps);
    options.onResult?.(r, results.size, seeds.length);
  };
  if (jobs === 1) {
    for (const seed of seeds) report(runSeed(config, seed, options.onSteps && ((step) => (step + 1) % STEP_REPORT_EVERY === 0 && progress(seed, step + 1))));
  } else {
    const queue = [...seeds];
    const script = workerScript();
    const workers: Worker[] = [];
    try {
      await Promise.all(
        Array.from(
          { length: jobs },
          () =>
            new Promise<void>((resolve, reject) => {
              const worker = new Worker(script);
              workers.push(worker);
              const next = () => {
                const seed = queue.shift();
                if (seed === undefined) resolve();
                else worker.postMessage({ config, seed, reportSteps: Boolean(options.onSteps) });
              };
              worker.on('message', (m: WorkerMessage) => {
                if (m.kind === 'steps') return progress(m.seed, m.done);
                report(m.result);
                next();
              });
              worker.on('error', reject);
              // An exit before the queue is done (after it, this reject is a no-op).
              worker.on('exit', (code) => reject(new Error(`a sweep worker stopped (exit code ${code})`)));
              next();
            }),
        ),
      );
    } finally {
      // On success the workers are idle; on a failure the others stop too.
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return seeds.map((s) => results.get(s)!);
}

export interface ScoreStats {
  seeds: number;
  /** Seeds with a defined score. */
  scored: number;
  mean: number | null;
  /** Sample standard deviation (n - 1). */
  sd: number | null;
  min: number | null;
  max: number | null;
}

export function scoreStats(scores: (number | null)[]): ScoreStats {
  const v = scores.filter((s): s is number => s !== null);
  if (v.length === 0) return { seeds: scores.length, scored: 0, mean: null, sd: null, min: null, max: null };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { seeds: scores.length, scored: v.length, mean, sd, min: Math.min(...v), max: Math.max(...v) };
}

interface Ranked {
  quality: Pick<SeedQuality, 'valRecon' | 'valAnchor' | 'score'>;
}

/** a dominates b: no worse on low val recon, low val anchor and high score, and better on one. */
function dominates(a: Ranked, b: Ranked): boolean {
  const [x, y] = [a.quality, b.quality];
  const sx = x.score ?? -Infinity;
  const sy = y.score ?? -Infinity;
  const noWorse = x.valRecon <= y.valRecon && x.valAnchor <= y.valAnchor && sx >= sy;
  return noWorse && (x.valRecon < y.valRecon || x.valAnchor < y.valAnchor || sx > sy);
}

export function paretoFront<T extends Ranked>(runs: T[]): T[] {
  return runs.filter((r) => !runs.some((o) => o !== r && dominates(o, r)));
}

/** The authors' pick: the highest score on the Pareto front (ties: lower val recon). */
export function pickBest<T extends Ranked>(runs: T[]): T {
  return paretoFront(runs).reduce((best, r) => {
    const [s, b] = [r.quality.score ?? -Infinity, best.quality.score ?? -Infinity];
    return s > b || (s === b && r.quality.valRecon < best.quality.valRecon) ? r : best;
  });
}

export function networkFor(config: TrainConfig): Network {
  return network(resolveConfig(config).preset.architecture);
}

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/onnx/model.js';
import { paretoFront, pickBest, scoreStats, sweep } from '../../src/train/sweep.js';
import { sca } from '../helpers/cli.js';
import { useTempDir } from '../helpers/tmp.js';

const run = (name: string, valRecon: number, valAnchor: number, score: number | null) => ({ name, quality: { valRecon, valAnchor, score } });

describe("choosing a seed the authors' way", () => {
  it('keeps the Pareto front of low val recon, low val anchor, high score, and picks its highest score', () => {
    const runs = [
      run('a', 1e-5, 0.05, 0.95),
      run('b', 2e-5, 0.06, 0.94), // dominated by a
      run('c', 5e-6, 0.09, 0.9), // best recon: on the front
      run('d', 3e-5, 0.02, 0.6), // best anchor: on the front
      run('e', 4e-5, 0.1, 0.97), // best score: on the front and picked
      run('f', 1e-4, 0.2, null), // no score: dominated
    ];
    expect(paretoFront(runs).map((r) => r.name)).toEqual(['a', 'c', 'd', 'e']);
    expect(pickBest(runs).name).toBe('e');
  });

  it('summarises scores: mean, sample sd, min, best; null scores left out', () => {
    expect(scoreStats([0.9, 0.8, 1.0, null])).toEqual({ seeds: 4, scored: 3, mean: expect.closeTo(0.9, 12), sd: expect.closeTo(0.1, 12), min: 0.8, max: 1 });
    expect(scoreStats([null])).toEqual({ seeds: 1, scored: 0, mean: null, sd: null, min: null, max: null });
  });
});

describe('seed sweeps on worker threads', () => {
  it('give each seed the same result whatever the number of workers', async () => {
    const config = { preset: 'isolated' as const, steps: 20 };
    const seen: number[] = [];
    const parallel = await sweep(config, [4, 5, 6], { jobs: 2, onResult: (r) => seen.push(r.seed) });
    const serial = await sweep(config, [4, 5, 6], { jobs: 1 });
    expect(parallel.map((r) => r.seed)).toEqual([4, 5, 6]);
    expect(seen.sort()).toEqual([4, 5, 6]);
    for (let i = 0; i < 3; i++) {
      expect(Array.from(parallel[i].params)).toEqual(Array.from(serial[i].params));
      expect(parallel[i].quality).toEqual(serial[i].quality);
    }
  });
});

const tmp = useTempDir('train');

describe('sca train color', () => {
  it('sweeps seeds, prints the per-seed table and statistics, writes the pick with its training record', async () => {
    const out = path.join(tmp(), 'm.onnx');
    const r = await sca('train', 'color', '-o', out, '--preset', 'anchored', '--seeds', '3', '--seed', '7', '--jobs', '2', '--steps', '30', '--json');
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out);
    expect(json.runs.map((x: { seed: number }) => x.seed)).toEqual([7, 8, 9]);
    expect(json.score).toEqual({ intervention: 'suppression', power: 2 });
    expect(Object.keys(json.runs[0])).toEqual([
      'seed',
      'score',
      'valRecon',
      'valAnchor',
      'leak',
      'health',
      'selectivity',
      'redMse',
      'labels',
      'draws',
      'seconds',
      'best',
    ]);
    expect(json.runs.filter((x: { best: boolean }) => x.best)).toHaveLength(1);
    expect(json.stats.seeds).toBe(3);
    const record = JSON.parse(loadModel(out).proto.metadataProps.find((p) => p.key === 'sca.training')!.value!);
    expect(record).toMatchObject({ preset: 'anchored', experiment: '2.4.1', latent: 4, layers: 1, hidden: 16, steps: 30, seed: json.best, seeds: 3 });

    const text = await sca('train', 'color', '-o', out, '--seeds', '2', '--jobs', '1', '--steps', '10', '--peak-lr', '0.05', '--fallback');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^preset isolated \(exp\. 2\.9\.1\): score = ablation selectivity, p = 3\n seed +score +val recon +val anchor/);
    expect(text.out).toMatch(/score over 2 seeds: mean \S+ \+- \S+ \(sd\), min \S+, best \S+/);
    expect(JSON.parse(loadModel(out).proto.metadataProps.find((p) => p.key === 'sca.training')!.value!)).toMatchObject({ peakLr: 0.05, fallback: 0.05 });
  });

  it('refuses bad options with one line and exit code 2, writing nothing', async () => {
    const out = path.join(tmp(), 'bad.onnx');
    for (const [args, message] of [
      [['--preset', 'huge'], /^sca: --preset: expected one of anchored, isolated, 2\.10\.1, got 'huge'\n$/],
      [['--jobs', '0'], /^sca: --jobs: '0' must be a whole number of at least 1\n$/],
      [['--peak-lr', '-1'], /^sca: --peak-lr: '-1' must be above 0\n$/],
      [['--fallback', 'x'], /^sca: --fallback: 'x' is not a number\n$/],
    ] as const) {
      const r = await sca('train', 'color', '-o', out, ...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
    expect(fs.existsSync(out)).toBe(false);
  });
});

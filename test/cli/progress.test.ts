/**
 * Progress of long work: a bar with elapsed time and ETA on a terminal, a
 * plain line about every 10% without one (CI logs), nothing for short work.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { saveModel } from '../../src/onnx/model.js';
import { formatSeconds, Progress, writingProgress } from '../../src/util/progress.js';
import { gemmAutoencoder } from '../helpers/graphs.js';
import { useTempDir } from '../helpers/tmp.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const tmp = useTempDir('progress');

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 200, write: (t: string) => writes.push(t) } };
}

describe('Progress without a terminal', () => {
  it('prints a line about every 10%, with elapsed time and the time left at the measured rate', () => {
    let now = 0;
    const { writes, stream } = sink(false);
    const p = new Progress('training', 1000, stream, { now: () => now, quietSeconds: 0 });
    for (let done = 0; done <= 1000; done += 25) {
      p.update(done);
      now += 500; // 25 steps per half second: 50 steps/s
    }
    expect(writes).toHaveLength(9); // 10% .. 90%; the caller prints the result at 100%
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    // At 500 of 1000 steps, 10 s after the first update, at 50 steps/s: 10 s left.
    expect(writes[4]).toBe('training: 50% (500/1000), 10 s elapsed, about 10 s left\n');
  });

  it('stays quiet for work that ends within a second', () => {
    let now = 0;
    const { writes, stream } = sink(false);
    const p = new Progress('comparing', 100, stream, { now: () => now });
    for (let done = 10; done <= 100; done += 10) {
      now += 50;
      p.update(done);
    }
    expect(writes).toEqual([]);
  });
});

describe('Progress on a terminal', () => {
  it('redraws one bar in place with elapsed time and ETA', () => {
    let now = 0;
    const { writes, stream } = sink(true);
    const saved = process.env.CI;
    delete process.env.CI;
    try {
      const p = new Progress('training', 100, stream, { now: () => now });
      p.update(0);
      now = 4000;
      p.update(40);
      p.done();
    } finally {
      if (saved !== undefined) process.env.CI = saved;
    }
    expect(writes[0]).toMatch(/^\rtraining \[#{10}\.{14}\] 40% 4\.0 s elapsed, ETA 6\.0 s/);
    expect(writes.at(-1)).toBe('\r\x1b[2K');
  });

  it('formats durations for people', () => {
    expect(formatSeconds(3.25)).toBe('3.3 s');
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(125)).toBe('2 min 05 s');
    expect(formatSeconds(Infinity)).toBe('?');
  });
});

describe('a long command without a terminal', () => {
  it('sca train color --seeds 2 reports progress on stderr as it goes', () => {
    const out = path.join(tmp(), 'm.onnx');
    const r = spawnSync(process.execPath, [CLI, 'train', 'color', '-o', out, '--seeds', '2', '--steps', '100'], {
      encoding: 'utf8',
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const percents = lines.map((l) => Number(/^training 2 seeds: (\d+)% \(\d+\/200\), [\d.]+ s elapsed, about [\d.?]+ s left$/.exec(l)?.[1]));
    expect(percents.every(Number.isFinite), r.stderr).toBe(true);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(r.stdout).toMatch(/wrote .*m\.onnx/);
  });
});

describe('writing a large model', () => {
  it('saveModel reports bytes written up to the size of the model and its side file', () => {
    for (const externalData of [false, true]) {
      const calls: [number, number][] = [];
      const saved = saveModel(gemmAutoencoder(512), path.join(tmp(), `m${externalData}.onnx`), { externalData, onProgress: (w, t) => calls.push([w, t]) });
      const total = saved.bytes + (saved.dataBytes ?? 0);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.every(([, t]) => t === calls[0][1])).toBe(true);
      expect(calls.map(([w]) => w)).toEqual([...calls.map(([w]) => w)].sort((a, b) => a - b));
      expect(calls.at(-1)![0]).toBe(calls[0][1]);
      // The total is known before writing; the side file's 4 KiB alignment padding is not counted.
      expect(Math.abs(calls[0][1] - total)).toBeLessThan(externalData ? 4096 * 8 : 1);
    }
  });

  it('shows megabytes without a terminal', () => {
    let now = 0;
    const { writes, stream } = sink(false);
    const report = writingProgress('writing', stream, { now: () => now, quietSeconds: 0 });
    for (let w = 0; w <= 2e9; w += 2e8) {
      now += 1000;
      report(w, 2e9);
    }
    expect(writes[0]).toBe('writing: 10% (200 MB/2000 MB), 1.0 s elapsed, about 9.0 s left\n');
  });
});

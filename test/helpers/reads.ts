/**
 * Records every path the toolkit opens for reading, for tests that must show
 * a file was never read (the fuzz campaigns' canary): every way the code
 * reads a file goes through one of these fs calls.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, vi } from 'vitest';

export function recordReads(): { opened: string[]; reset(): void } {
  const state = { opened: [] as string[], reset: () => void (state.opened = []) };
  const spies: { mockRestore(): void }[] = [];
  beforeAll(() => {
    for (const fn of ['openSync', 'readFileSync', 'copyFileSync', 'createReadStream'] as const) {
      const original = fs[fn] as (...a: unknown[]) => unknown;
      spies.push(
        vi.spyOn(fs, fn).mockImplementation(((...args: unknown[]) => {
          if (typeof args[0] === 'string') state.opened.push(args[0]);
          return original.apply(fs, args);
        }) as never),
      );
    }
  });
  afterAll(() => spies.forEach((s) => s.mockRestore()));
  return state;
}

/** True when any of `opened` is the file `target` (through links too). */
export function readFile(opened: string[], target: string): boolean {
  const real = fs.realpathSync(target);
  return opened.some((f) => {
    try {
      return fs.realpathSync(f) === real;
    } catch {
      return false;
    }
  });
}

/**
 * Progress of long work on stderr. On a terminal, one bar redrawn in place
 * with elapsed time and an estimate of the time left. Without one (CI logs,
 * pipes), a plain line about every 10% of the work, so a log shows the job is
 * alive; work that ends within `quietSeconds` prints nothing at all.
 */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Without a terminal, print nothing before this many seconds have passed (default 1). */
  quietSeconds?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** How to show an amount of work (default: the count). */
  unit?: (n: number) => string;
}

/** Bytes as people read them, for progress over large files. */
export const megabytes = (n: number): string => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

export class Progress {
  private lastDraw = 0;
  private lastDecile = 0;
  private readonly tty: boolean;
  private readonly started: number;
  private readonly now: () => number;
  private readonly quietMs: number;
  private readonly unit: (n: number) => string;
  /** The first update's time and count: the rate is measured from there, so set-up time does not skew the estimate. */
  private first?: { t: number; done: number };

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    options: ProgressOptions = {},
  ) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.quietMs = 1000 * (options.quietSeconds ?? 1);
    this.unit = options.unit ?? String;
  }

  /** Elapsed seconds and, once some work is done, the estimated seconds left. */
  timing(done: number): { elapsed: number; left: number } {
    const t = this.now();
    this.first ??= { t, done };
    const elapsed = (t - this.started) / 1000;
    const rate = done > this.first.done ? (done - this.first.done) / ((t - this.first.t) / 1000) : 0;
    const left = done >= this.total ? 0 : rate > 0 ? (this.total - done) / rate : Number.POSITIVE_INFINITY;
    return { elapsed, left };
  }

  update(done: number, detail = ''): void {
    const fraction = this.total > 0 ? Math.min(done / this.total, 1) : 1;
    const { elapsed, left } = this.timing(done);
    if (!this.tty) {
      const decile = Math.floor(fraction * 10);
      if (decile <= this.lastDecile || decile >= 10 || elapsed * 1000 < this.quietMs) return;
      this.lastDecile = decile;
      this.stream.write(
        `${this.label}: ${Math.round(fraction * 100)}% (${this.unit(done)}/${this.unit(this.total)}), ${formatSeconds(elapsed)} elapsed, about ${formatSeconds(left)} left\n`,
      );
      return;
    }
    const t = this.now();
    if (done < this.total && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    const columns = Math.min(this.stream.columns || 120, 160);
    const line = `${this.label} [${bar}] ${Math.round(fraction * 100)}% ${formatSeconds(elapsed)} elapsed, ETA ${formatSeconds(left)} ${detail}`;
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
  }

  done(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }
}

/** Progress for writing a model (saveModel's onProgress): silent unless the write takes over a second. */
export function writingProgress(
  label = 'writing',
  stream: ProgressStream = process.stderr,
  options: ProgressOptions = {},
): (written: number, total: number) => void {
  let progress: Progress | undefined;
  return (written, total) => {
    progress ??= new Progress(label, total, stream, { unit: megabytes, ...options });
    progress.update(written);
    if (written >= total) progress.done();
  };
}

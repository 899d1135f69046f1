/**
 * A one-line progress bar on stderr for long work. It redraws in place on a
 * terminal and stays silent otherwise (CI logs, pipes), where only the final
 * summary line is printed by the caller.
 */
export class Progress {
  private last = 0;
  private readonly tty: boolean;

  constructor(private readonly label: string, private readonly total: number, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  update(done: number, detail = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    this.stream.write(`\r${this.label} [${bar}] ${done}/${this.total} ${detail}`.slice(0, (this.stream.columns || 120) - 1).padEnd(Math.min(this.stream.columns || 120, 120) - 1));
  }

  done(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }
}

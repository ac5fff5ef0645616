/**
 * Live progress on stderr: one redrawn line (bar, loss, ETA) on a TTY; on a pipe or CI log, one plain
 * line per ~10 % so logs stay readable.
 */
export class Progress {
  private readonly start = performance.now();
  private lastPrinted = -1;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly quiet = false,
  ) {}

  update(done: number, loss?: number): void {
    if (this.quiet) return;
    const frac = this.total > 0 ? done / this.total : 1;
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : Number.NaN;
    const lossText = loss === undefined ? '' : ` loss ${loss.toFixed(4)}`;
    const text = `${this.label.padEnd(14)} ${bar(frac)} ${String(Math.round(frac * 100)).padStart(3)}% ${done}/${this.total}${lossText} ${fmtTime(elapsed)} ETA ${fmtTime(eta)}`;
    if (this.tty) {
      process.stderr.write(`\r${text}\u001b[K`);
    } else {
      const decile = Math.floor(frac * 10);
      if (decile === this.lastPrinted) return;
      this.lastPrinted = decile;
      process.stderr.write(`${text}\n`);
    }
  }

  done(note = ''): void {
    if (this.quiet) return;
    const elapsed = (performance.now() - this.start) / 1000;
    const text = `${this.label.padEnd(14)} ${bar(1)} done in ${fmtTime(elapsed)}${note ? ` ${note}` : ''}`;
    process.stderr.write(this.tty ? `\r${text}\u001b[K\n` : `${text}\n`);
  }
}

function bar(frac: number, width = 20): string {
  const full = Math.round(Math.min(Math.max(frac, 0), 1) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

// A one-line progress bar with ETA on a terminal; inactive (the trainer prints plain lines) otherwise.
export class Progress {
  private done = 0;
  private readonly t0 = performance.now();
  private last = 0;
  constructor(readonly total: number, readonly active: boolean) {}

  tick(msg: string): void {
    this.done++;
    if (!this.active) return;
    const now = performance.now();
    if (now - this.last < 200 && this.done < this.total) return;
    this.last = now;
    const frac = Math.min(1, this.done / this.total);
    const eta = ((now - this.t0) / this.done) * (this.total - this.done) / 1000;
    const bar = '#'.repeat(Math.round(frac * 20)).padEnd(20, '.');
    process.stdout.write(`\r[${bar}] ${this.done}/${this.total} ${msg} ETA ${fmt(eta)}  `);
  }

  clear(): void {
    if (this.active) process.stdout.write('\n');
  }
}

function fmt(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s` : `${Math.round(s)}s`;
}

/** A one-line progress bar on stderr (TTY only), redrawn in place. */

import type { Output } from '../context.js';

export class ProgressBar {
  private shown = false;

  constructor(
    private readonly out: Output,
    private readonly total: number,
    private readonly enabled: boolean,
  ) {}

  update(done: number, label: string): void {
    if (!this.enabled) return;
    const width = 24;
    const filled = Math.round((done / Math.max(1, this.total)) * width);
    const columns = this.out.columns ?? 80;
    const text = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${this.total} ${label}`;
    this.out.write(`\r\x1b[K${text.slice(0, columns - 1)}`);
    this.shown = true;
  }

  /** Erase the bar (before printing other lines, and at the end). */
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

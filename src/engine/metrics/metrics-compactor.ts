import type { Logger } from '../../logger';
import type { Database } from '../../platform/database';
import { compactMetricDeltas } from './metrics-store';

/**
 * Folds counted deltas into the hourly rollup every `intervalMs` (wall time) on worker
 * instances. Readers add rollup and deltas, so how often this runs changes only read cost,
 * never a number. Safe on any number of instances (see `compactMetricDeltas`).
 */
export class MetricsCompactor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Starts the periodic compaction (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  /** Compacts until the backlog is empty; returns the number of deltas folded. */
  async compactAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const folded = await this.db.asSystem((tx) => compactMetricDeltas(tx));
      total += folded;
      if (folded === 0) return total;
    }
  }

  /** Stops the timer and waits for a pass under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async runOnce(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    this.running = this.compactAll()
      .then((folded) => {
        if (folded > 0) {
          this.log.debug({ folded, durationMs: Date.now() - started }, 'metric deltas compacted');
        }
      })
      .catch((err: unknown) => this.log.warn({ err }, 'metric compaction failed; will retry'))
      .finally(() => (this.running = null));
    await this.running;
  }
}

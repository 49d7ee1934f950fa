/**
 * Nudge settings for a whole bench run, from `BENCH_NUDGE_ENV` in the runner's environment:
 * space-separated `NUDGE_…=value` pairs given to every Nudge process the workloads start,
 * after each workload's own settings, e.g.
 *
 *     BENCH_NUDGE_ENV="NUDGE_DELIVERY_PER_TENANT=32 NUDGE_DB_POOL_SIZE=40" npm run bench -- --only B5
 *
 * to measure a knob without editing a workload. Only `NUDGE_` variables are taken, so a run
 * cannot quietly point Nudge at another database; the report's command line shows the setting.
 */

export const BENCH_NUDGE_ENV = 'BENCH_NUDGE_ENV';

export function benchNudgeSettings(
  raw: string | undefined = process.env[BENCH_NUDGE_ENV],
): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of (raw ?? '').split(/\s+/).filter(Boolean)) {
    const match = /^(NUDGE_[A-Z0-9_]+)=(.*)$/.exec(pair);
    if (!match) {
      throw new Error(`${BENCH_NUDGE_ENV}: expected NUDGE_NAME=value pairs, got "${pair}"`);
    }
    settings[match[1]] = match[2];
  }
  return settings;
}

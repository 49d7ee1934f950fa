import fs from 'node:fs';
import path from 'node:path';

/**
 * Switches on `timer-phase-probe.js` (where a timer fire's time goes) for the Nudge children
 * of the timer workloads: with `NUDGE_BENCH_TIMER_PROBE=<dir>` in the runner's environment,
 * each engine writes `<dir>/<label>.json` when it stops, and `describeTimerProbe` turns that
 * into note lines. Off by default.
 */

interface ProbeTotals {
  elapsedMs: number;
  totals: Record<string, { calls: number; ms: number }>;
}

export function timerProbeFile(label: string): string | null {
  const dir = process.env.NUDGE_BENCH_TIMER_PROBE;
  return dir ? path.resolve(dir, `${label}.json`) : null;
}

/** Environment for a Nudge child: preload the probe and say where it writes. */
export function timerProbeEnv(label: string): NodeJS.ProcessEnv {
  const file = timerProbeFile(label);
  if (!file) return {};
  fs.mkdirSync(path.dirname(file), { recursive: true });
  return {
    NODE_OPTIONS: `--require ${path.join(__dirname, 'timer-phase-probe.js')}`,
    NUDGE_BENCH_TIMER_PROBE_OUT: file,
  };
}

/**
 * One note line per probed phase: calls, total ms, ms per call, and ms per fire (the total
 * divided by the number of fires), e.g. "pg statement in fire: 34,000 calls, 0.61 ms each,
 * 10.4 ms per fire". Empty when the probe was off or wrote nothing.
 */
export function describeTimerProbe(label: string): string[] {
  const file = timerProbeFile(label);
  if (!file || !fs.existsSync(file)) return [];
  const probe = JSON.parse(fs.readFileSync(file, 'utf8')) as ProbeTotals;
  const fires = probe.totals['fire (whole)']?.calls ?? 0;
  const lines = Object.entries(probe.totals)
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([name, { calls, ms }]) => {
      const perFire = fires ? `, ${(ms / fires).toFixed(2)} ms per fire` : '';
      return `${name}: ${calls} calls, ${(ms / calls).toFixed(3)} ms each${perFire}`;
    });
  return [
    `timer probe (${label}, ${fires} fires in ${(probe.elapsedMs / 1000).toFixed(0)} s of engine life):`,
    ...lines.map((line) => `  ${line}`),
  ];
}

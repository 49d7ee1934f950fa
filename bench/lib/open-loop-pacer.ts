import { wallClockMs } from './wall-clock';
import { summarizeLatencies, type LatencySummary } from './latency-summary';

/**
 * Open-loop pacing: calls `fire(seq)` for seq = 0 … count − 1 on a fixed schedule (seq is due
 * `seq / ratePerSec` seconds after the start), whatever became of earlier calls. It checks
 * the schedule on every 1 ms timer tick and fires everything due, so a slow tick delays
 * calls (measured as lag) but never drops or thins them. `fire` returning `false` stops the
 * run early (e.g. when the system under test is hopelessly behind).
 */
export interface PacedRun {
  /** Calls made (count, unless stopped early). */
  fired: number;
  startedAtMs: number;
  endedAtMs: number;
  /** Actual call time − scheduled time, ms. */
  lag: LatencySummary;
}

export function runPaced(
  count: number,
  ratePerSec: number,
  fire: (seq: number) => void | boolean,
): Promise<PacedRun> {
  const lags = new Float64Array(count);
  const startedAtMs = wallClockMs();
  const intervalMs = 1000 / ratePerSec;
  let next = 0;
  let stopped = false;
  return new Promise((resolve, reject) => {
    const tick = () => {
      try {
        const now = wallClockMs();
        while (!stopped && next < count && startedAtMs + next * intervalMs <= now) {
          lags[next] = wallClockMs() - (startedAtMs + next * intervalMs);
          if (fire(next) === false) stopped = true;
          else next++;
        }
      } catch (err) {
        reject(err as Error);
        return;
      }
      if (next < count && !stopped) setTimeout(tick, 1);
      else {
        resolve({
          fired: next,
          startedAtMs,
          endedAtMs: wallClockMs(),
          lag: summarizeLatencies(lags.subarray(0, next)),
        });
      }
    };
    tick();
  });
}

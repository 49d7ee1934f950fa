import { performance } from 'node:perf_hooks';

/**
 * Wall-clock time in milliseconds with sub-millisecond resolution
 * (`performance.timeOrigin + performance.now()`), comparable across processes on the same
 * machine: a publisher stamps a message with it and a receiver in another process subtracts
 * it from its own reading. `Date.now()` would cost the figures their fraction of a millisecond.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

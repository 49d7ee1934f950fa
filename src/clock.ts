/**
 * The injected clock. Everything that asks "what time is it" asks this, never `Date.now()`,
 * so tests and replays can drive months of history on a virtual clock.
 */
export interface Clock {
  readonly kind: 'system' | 'manual';
  nowMs(): number;
}

export class SystemClock implements Clock {
  readonly kind = 'system' as const;

  nowMs(): number {
    return Date.now();
  }
}

/** A clock that only moves when told to. Starts at `startMs` (default: the wall clock). */
export class ManualClock implements Clock {
  readonly kind = 'manual' as const;
  private currentMs: number;

  constructor(startMs: number = Date.now()) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  set(ms: number): void {
    this.currentMs = ms;
  }
}

import { ManualClock, type Clock } from '../../clock';
import { ForbiddenError } from '../../errors';
import { parseDuration } from '../time/duration';
import type { TimerRunner } from './timer-runner';

/** The operator's control of the virtual clock (NUDGE_CLOCK=manual). */
export class ClockService {
  constructor(
    private readonly clock: Clock,
    private readonly runner: TimerRunner,
  ) {}

  /**
   * Moves the clock to `targetMs`, firing every timer due up to and including it, in
   * due-time order, before returning. Moving forward, each fires at its due instant (or at
   * the current time if it is already overdue); moving backwards, timers due at or before the
   * target still fire, each at its own due instant. FORBIDDEN on the system clock.
   */
  async setTo(targetMs: number): Promise<{ now: Date; timersFired: number }> {
    if (!(this.clock instanceof ManualClock)) {
      throw new ForbiddenError(
        'the service runs on the system clock; start it with NUDGE_CLOCK=manual',
      );
    }
    const timersFired = await this.runner.advanceTo(targetMs);
    return { now: new Date(this.clock.nowMs()), timersFired };
  }

  async advanceBy(durationIso: string): Promise<{ now: Date; timersFired: number }> {
    return this.setTo(this.clock.nowMs() + parseDuration(durationIso).ms);
  }
}

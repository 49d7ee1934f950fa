import type { BestHourChoice } from '../engagement/best-hour';
import { atLocalTime } from '../time/local-time';
import { nextOpening } from '../time/send-window';
import type { StepDefinition, TriggerDefinition } from '../triggers/trigger-definition';

export interface StepTime {
  dueMs: number;
  /** Set when the send window moved the step: the time it would otherwise have been due. */
  deferredFromMs: number | null;
  /** Set when BEST_HOUR moved the step: the choice, and the time it was due before it. */
  bestHour: { fromMs: number; choice: BestHourChoice } | null;
}

/**
 * When a step is due, given the time its delay counts from (the run's start for the first
 * step, the previous step's due time after that): `base + delay`, then moved to the step's
 * local time if it has one, then to the send time `chooseSendTime` picks (BEST_HOUR), then to
 * the next opening of the trigger's send window if it lies outside. Computed once, when the
 * step is scheduled: a deferred step is inside the window by construction and is never
 * deferred again.
 */
export function stepTime(
  baseMs: number,
  step: Pick<StepDefinition, 'delayMs' | 'at'>,
  definition: Pick<TriggerDefinition, 'sendWindow'>,
  zone: string,
  chooseSendTime: ((dueMs: number) => BestHourChoice | null) | null = null,
): StepTime {
  let dueMs = baseMs + step.delayMs;
  if (step.at) dueMs = atLocalTime(dueMs, zone, step.at);
  const choice = chooseSendTime?.(dueMs) ?? null;
  const bestHour = choice && choice.atMs !== dueMs ? { fromMs: dueMs, choice } : null;
  if (choice) dueMs = choice.atMs;
  if (!definition.sendWindow) return { dueMs, deferredFromMs: null, bestHour };
  const opening = nextOpening(definition.sendWindow, zone, dueMs);
  return opening === dueMs
    ? { dueMs, deferredFromMs: null, bestHour }
    : { dueMs: opening, deferredFromMs: dueMs, bestHour };
}

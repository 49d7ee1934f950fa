import { atLocalTime } from '../time/local-time';
import { nextOpening } from '../time/send-window';
import type { StepDefinition, TriggerDefinition } from '../triggers/trigger-definition';

export interface StepTime {
  dueMs: number;
  /** Set when the send window moved the step: the time it would otherwise have been due. */
  deferredFromMs: number | null;
}

/**
 * When a step is due, given the time its delay counts from (the run's start for the first
 * step, the previous step's due time after that): `base + delay`, then moved to the step's
 * local time if it has one, then to the next opening of the trigger's send window if it lies
 * outside. Computed once, when the step is scheduled: a deferred step is inside the window by
 * construction and is never deferred again.
 */
export function stepTime(
  baseMs: number,
  step: Pick<StepDefinition, 'delayMs' | 'at'>,
  definition: Pick<TriggerDefinition, 'sendWindow'>,
  zone: string,
): StepTime {
  let dueMs = baseMs + step.delayMs;
  if (step.at) dueMs = atLocalTime(dueMs, zone, step.at);
  if (!definition.sendWindow) return { dueMs, deferredFromMs: null };
  const opening = nextOpening(definition.sendWindow, zone, dueMs);
  return opening === dueMs
    ? { dueMs, deferredFromMs: null }
    : { dueMs: opening, deferredFromMs: dueMs };
}

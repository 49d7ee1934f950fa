import type { TriggerDefinition } from '../triggers/trigger-definition';

/** A customer's past runs of one trigger, as far as re-entry rules need them. */
export interface RunHistory {
  /** Runs ever entered (any state except held). */
  entered: number;
  /** Runs still waiting for their deadline or running their steps. */
  open: number;
  lastEntryMs: number | null;
  /** When a run last started its sequence (the trigger "fired" for the customer). */
  lastActivationMs: number | null;
}

export type ReentryBlock =
  | { reason: 'REENTRY_NOT_ALLOWED'; detail: Record<string, unknown> }
  | { reason: 'ACTIVE_LIMIT'; detail: Record<string, unknown> }
  | { reason: 'COOLDOWN'; detail: Record<string, unknown> };

/**
 * Whether a new entry at `atMs` is refused, checked in this order (the first that applies is
 * the reason): the cap on open runs, the re-entry policy (ONCE: never again; ONCE_PER: not
 * before `period` has passed since the last entry), the cooldown since the trigger last
 * fired. Null: the entry may proceed.
 */
export function reentryBlock(
  definition: Pick<TriggerDefinition, 'reentry' | 'maxActive' | 'cooldownMs'>,
  history: RunHistory,
  atMs: number,
): ReentryBlock | null {
  const { reentry } = definition;
  if (definition.maxActive !== null && history.open >= definition.maxActive) {
    return { reason: 'ACTIVE_LIMIT', detail: { maxActive: definition.maxActive } };
  }
  if (reentry.policy === 'ONCE' && history.entered > 0) {
    return {
      reason: 'REENTRY_NOT_ALLOWED',
      detail: {
        policy: 'ONCE',
        ...(history.lastEntryMs !== null
          ? { lastEntryAt: new Date(history.lastEntryMs).toISOString() }
          : {}),
      },
    };
  }
  if (
    reentry.policy === 'ONCE_PER' &&
    history.lastEntryMs !== null &&
    atMs - history.lastEntryMs < reentry.periodMs!
  ) {
    return {
      reason: 'REENTRY_NOT_ALLOWED',
      detail: {
        policy: 'ONCE_PER',
        period: reentry.period,
        lastEntryAt: new Date(history.lastEntryMs).toISOString(),
        allowedFrom: new Date(history.lastEntryMs + reentry.periodMs!).toISOString(),
      },
    };
  }
  if (
    definition.cooldownMs !== null &&
    history.lastActivationMs !== null &&
    atMs - history.lastActivationMs < definition.cooldownMs
  ) {
    return {
      reason: 'COOLDOWN',
      detail: {
        lastFiredAt: new Date(history.lastActivationMs).toISOString(),
        allowedFrom: new Date(history.lastActivationMs + definition.cooldownMs).toISOString(),
      },
    };
  }
  return null;
}

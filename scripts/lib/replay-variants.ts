import { CART_WINDOW_MS, countExpectedReminders, type ExpectedRun } from './expected-reminders';
import {
  CART_SEND_WINDOW,
  countExpectedKeyedReminders,
  nextWindowOpening,
} from './expected-keyed-reminders';
import { CART_REMINDER_TRIGGER } from './nudge-operations';
import type { RetailRocketEvent } from './retailrocket-events';

/** The triggers the replay can try on the same events. */
export const REPLAY_VARIANTS = ['basic', 'keyed-windowed', 'three-step'] as const;
export type ReplayVariantName = (typeof REPLAY_VARIANTS)[number];

/**
 * The one-email variants, checked against reminders computed from the CSV (`runReplay`). The
 * three-step flow (email, SMS, push) is checked against what its channel peers received
 * instead; it is set up in scripts/lib/three-step-flow.ts and run by `runThreeStepReplay`.
 */
export type ReminderVariantName = Exclude<ReplayVariantName, 'three-step'>;

/** One expected run, whatever the variant; `sendAtMs` is null for a cancelled run. */
export interface VariantRun extends ExpectedRun {
  /** The item the run is keyed by; null when runs are per visitor only. */
  itemId: string | null;
  sendAtMs: number | null;
}

/** What a variant expects from the events, computed independently of the engine. */
export interface VariantExpectation {
  runs: VariantRun[];
  reminders: number;
  cancelled: number;
  /** Reminders whose send instant is later than their run's deadline. */
  deferred: number;
}

/** How one variant sets up its tenant and trigger, and what it expects. */
export interface ReplayVariant {
  name: ReminderVariantName;
  /** One line for the summary. */
  description: string;
  /** The tenant's zone (visitors have none of their own). */
  tenantTimezone: string;
  /** The `CreateTriggerInput` of the live trigger, also the definition simulated. */
  trigger: Record<string, unknown>;
  /**
   * Which visitors are identified (given an address) before the events: all of them, or only
   * those with an add-to-cart, the only ones a reminder can go to. The others are created by
   * their first event, as the API does for any unknown external id.
   */
  identifies: 'every visitor' | 'visitors with an add-to-cart';
  /** After the last event the clock moves this far, past every reminder's send instant. */
  finalClockMarginMs: number;
  /** The instants an event may make something due at (for `BatchLimits.deadlineOf`). */
  dueTimesOf: (event: { timestampMs: number; event: string }) => readonly number[] | null;
  expect: (events: readonly RetailRocketEvent[]) => VariantExpectation;
  /** Groups runs and messages for the per-run comparison. */
  runKey: (visitorId: string, itemId: string | null) => string;
}

const HOUR_MS = 3_600_000;

/** Today's replay, unchanged: per visitor, any transaction cancels, sent at the deadline. */
const BASIC: ReplayVariant = {
  name: 'basic',
  description: 'addtocart, unless a transaction within 2 h; reminder at the deadline (UTC tenant)',
  tenantTimezone: 'UTC',
  trigger: CART_REMINDER_TRIGGER,
  identifies: 'every visitor',
  finalClockMarginMs: 3 * HOUR_MS,
  dueTimesOf: (e) => (e.event === 'addtocart' ? [e.timestampMs + CART_WINDOW_MS] : null),
  expect: (events) => {
    const expected = countExpectedReminders(events);
    return {
      runs: expected.runs.map((run) => ({
        ...run,
        itemId: null,
        sendAtMs: run.isReminded ? run.deadlineMs : null,
      })),
      reminders: expected.reminders,
      cancelled: expected.cancelled,
      deferred: 0,
    };
  },
  runKey: (visitorId) => visitorId,
};

/**
 * One run per (visitor, item); only a transaction of that item cancels; reminders only
 * Mon–Fri 09:00–17:00 in the tenant's zone, Europe/Berlin.
 */
export const KEYED_WINDOWED_TRIGGER = {
  ...CART_REMINDER_TRIGGER,
  name: 'Cart reminder per item, office hours',
  entryKey: ['itemId'],
  unless: { event: 'transaction', within: 'PT2H', matchOn: ['itemId'] },
  sendWindow: { days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], from: '09:00', to: '17:00' },
};

const KEYED_WINDOWED: ReplayVariant = {
  name: 'keyed-windowed',
  description:
    'addtocart keyed by itemId, unless a transaction of that item within 2 h; ' +
    'reminders Mon-Fri 09:00-17:00 Europe/Berlin',
  tenantTimezone: CART_SEND_WINDOW.zone,
  trigger: KEYED_WINDOWED_TRIGGER,
  identifies: 'visitors with an add-to-cart',
  // A deadline (2 h after the last event at most) may be deferred from Friday 17:00 to
  // Monday 09:00: 64 h, 65 h across a DST change. Three days on top of the 3 h cover it.
  finalClockMarginMs: 3 * HOUR_MS + 72 * HOUR_MS,
  dueTimesOf: (e) => {
    if (e.event !== 'addtocart') return null;
    const deadlineMs = e.timestampMs + CART_WINDOW_MS;
    return [deadlineMs, nextWindowOpening(CART_SEND_WINDOW, deadlineMs)];
  },
  expect: (events) => countExpectedKeyedReminders(events),
  runKey: (visitorId, itemId) => `${visitorId} item ${itemId ?? '?'}`,
};

export const VARIANTS: Record<ReminderVariantName, ReplayVariant> = {
  basic: BASIC,
  'keyed-windowed': KEYED_WINDOWED,
};

/** The variant name, checked; throws naming the known ones otherwise. */
export function replayVariantName(name: string): ReplayVariantName {
  const found = REPLAY_VARIANTS.find((known) => known === name);
  if (!found) {
    throw new Error(`unknown variant "${name}"; expected one of ${REPLAY_VARIANTS.join(', ')}`);
  }
  return found;
}

/** The reminder variant of that name; throws for an unknown name and for `three-step`. */
export function replayVariant(name: string): ReplayVariant {
  const found = replayVariantName(name);
  if (found === 'three-step') {
    throw new Error('three-step is not a reminder variant; runThreeStepReplay runs it');
  }
  return VARIANTS[found];
}

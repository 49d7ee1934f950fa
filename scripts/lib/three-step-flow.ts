/**
 * The three-step cart flow the replay runs on the RetailRocket sample (issue #4): what the
 * tenant and the trigger look like, the synthetic contact data each visitor gets, which
 * emails a person opens, and the instants the replay must stop the clock at. Pure: no I/O.
 *
 * The data has no cart id, no contact data and no consent. A RetailRocket cart line is a
 * visitor and an item (transaction rows name the item bought, as the keyed-windowed variant
 * uses), so the item is the run's key and the goal matches on it. Everything about contacts
 * is derived from a SHA-256 hash of the visitor id, so every run of the replay on the same
 * file makes the same customers with the same addresses, consents and subscriptions, and
 * opens the same emails.
 */
import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import { visitorEmail } from './nudge-operations';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The tenant's zone: visitors have none of their own, so quiet hours are read in it. */
export const THREE_STEP_ZONE = 'Europe/Berlin';

/** Local hours in which marketing waits (crossing midnight). */
export const THREE_STEP_QUIET_HOURS = { from: '21:00', to: '08:00' } as const;

/** `updateTenantSettings` input: quiet hours, and at most 3 marketing messages per 7 days. */
export const THREE_STEP_SETTINGS = {
  quietHours: THREE_STEP_QUIET_HOURS,
  frequencyCaps: [{ purpose: 'MARKETING', max: 3, within: 'P7D' }],
  // The default, spelt out: marketing SMS needs a recorded grant; email and push do not.
  explicitConsentChannels: ['SMS'],
};

const EMAIL_DELAY_MS = 30 * MINUTE_MS;
const SMS_AFTER_EMAIL_MS = 24 * HOUR_MS;
const PUSH_AFTER_ENTRY_MS = 48 * HOUR_MS;

/** The email subject; `itemOfSubject` reads the item back from a received mail. */
const EMAIL_SUBJECT = 'Item {{ event.properties.itemId }} is still in your cart';
const SUBJECT_ITEM = /^Item (\S+) is still in your cart$/;

/**
 * "Cart left → EMAIL at +30 min with the item, SMS 24 h after the email if it was not opened,
 * PUSH 48 h after entry with a final offer; goal: a transaction of the same item within 7
 * days." No `unless`: every add-to-cart starts a run at once, and the goal ends it the moment
 * the item is bought (a purchase within 30 minutes converts before anything is sent).
 */
export const THREE_STEP_TRIGGER = {
  name: 'Cart rescue: email, SMS, push',
  event: 'addtocart',
  entryKey: ['itemId'],
  goal: { event: 'transaction', within: 'P7D', matchOn: ['itemId'] },
  steps: [
    {
      delay: 'PT30M',
      channel: 'EMAIL',
      purpose: 'MARKETING',
      template: {
        subject: EMAIL_SUBJECT,
        body:
          'Hello! You left item {{ event.properties.itemId }} in your cart ' +
          '({{ event.occurredAt }}). It is still there: https://shop.example/cart',
        html:
          '<html><body><p>You left this in your cart:</p>' +
          '<ul><li>Item {{ event.properties.itemId }}</li></ul>' +
          '<p><a href="https://shop.example/cart">Back to your cart</a></p></body></html>',
      },
    },
    {
      delay: 'PT24H',
      after: 'PREVIOUS_STEP',
      channel: 'SMS',
      purpose: 'MARKETING',
      condition: { previousStep: 'NOT_OPENED' },
      template: {
        body: 'Item {{ event.properties.itemId }} is still in your cart: https://shop.example/cart',
      },
    },
    {
      delay: 'PT48H',
      after: 'ENTRY',
      channel: 'PUSH',
      purpose: 'MARKETING',
      template: {
        subject: 'Last chance',
        body: '10% off item {{ event.properties.itemId }}, today only',
      },
    },
  ],
};

/** One line for the summary. */
export const THREE_STEP_DESCRIPTION =
  'addtocart keyed by itemId: EMAIL +30 min, SMS +24 h if not opened, PUSH +48 h after ' +
  'entry; goal: transaction of the item within P7D; quiet 21:00-08:00 Europe/Berlin; ' +
  'at most 3 marketing messages per P7D';

/** SMS marketing consent as the replay records it before the first event. */
export type SmsConsent = 'granted' | 'revoked' | 'none';

/** What the replay tells Nudge about one visitor. */
export interface SyntheticContact {
  visitorId: string;
  /** Always set: `visitor-<id>@replay.example`. */
  email: string;
  /** `+1555` and the visitor id padded to 7 digits (unique per visitor), or null. */
  phone: string | null;
  sms: SmsConsent;
  /** Whether a browser of the visitor registered for push (with the local push service). */
  hasPush: boolean;
}

/**
 * The contact rules, by `bucket('contact', visitorId)` (0–99):
 *
 * | bucket | phone | SMS marketing consent                                   | SMS step gives   |
 * | ------ | ----- | ------------------------------------------------------- | ---------------- |
 * | 0–49   | yes   | granted                                                 | sent             |
 * | 50–59  | yes   | granted, then revoked (a STOP) before the data begins   | NO_CONSENT       |
 * | 60–69  | yes   | none recorded (SMS needs an explicit grant)             | NO_CONSENT       |
 * | 70–79  | no    | granted (a checkbox ticked, no number on file)          | INVALID_ADDRESS  |
 * | 80–99  | no    | none recorded                                           | NO_CONSENT       |
 *
 * A push subscription when `bucket('push', visitorId)` < 50; without one the push step is
 * INVALID_ADDRESS. Email is always known and needs no recorded grant. Frequency caps come on
 * top: a visitor with several carts in a week hears at most 3 marketing messages.
 */
export function syntheticContact(visitorId: string): SyntheticContact {
  const b = bucket('contact', visitorId);
  return {
    visitorId,
    email: visitorEmail(visitorId),
    phone: b < 70 ? `+1555${visitorId.padStart(7, '0')}` : null,
    sms: b < 50 || (b >= 70 && b < 80) ? 'granted' : b < 60 ? 'revoked' : 'none',
    hasPush: bucket('push', visitorId) < 50,
  };
}

/** When the person opens a chosen email: this long after it arrived (well past 2 s). */
export const OPEN_AFTER_MS = HOUR_MS;

/**
 * Whether a person opens the cart email of this visitor and item: `bucket('open', …)` < 40,
 * about 40 % of the emails. They open it `OPEN_AFTER_MS` after it arrived, in a browser-like
 * mail client, so the service counts a person's open and skips that run's SMS (NOT_OPENED).
 */
export function isOpenedByPerson(visitorId: string, itemId: string): boolean {
  return bucket('open', `${visitorId}:${itemId}`) < 40;
}

/** The item a received cart email is about (from its subject), or null for another mail. */
export function itemOfSubject(subject: string): string | null {
  return SUBJECT_ITEM.exec(subject)?.[1] ?? null;
}

/**
 * Every instant an add-to-cart may make a step due at: the email at +30 min, the SMS 24 h
 * after the email and the push at +48 h, each also moved to the end of the quiet hours, and
 * the instant a chosen email gets opened. The replay cuts its batches before any event after
 * one of them (see `BatchLimits.deadlineOf`), so every step is decided after exactly the
 * events that happened before it: a purchase never reaches the engine before an email that
 * really went out earlier.
 */
export function flowDueTimesOf(event: {
  timestampMs: number;
  event: string;
}): readonly number[] | null {
  if (event.event !== 'addtocart') return null;
  const emailMs = event.timestampMs + EMAIL_DELAY_MS;
  const emailSentMs = afterQuietHours(emailMs);
  const sms = [emailMs + SMS_AFTER_EMAIL_MS, emailSentMs + SMS_AFTER_EMAIL_MS];
  const pushMs = event.timestampMs + PUSH_AFTER_ENTRY_MS;
  const times = [
    emailMs,
    emailSentMs,
    emailSentMs + OPEN_AFTER_MS,
    ...sms,
    ...sms.map(afterQuietHours),
    pushMs,
    afterQuietHours(pushMs),
  ];
  return [...new Set(times)];
}

/**
 * The instants the replay moves the clock to on its own for one add-to-cart, besides the
 * instant before each batch: when its email goes out, and `OPEN_AFTER_MS` later, when the
 * person opens it. Only for emails a person opens; an empty list otherwise.
 */
export function openStopsOf(event: {
  timestampMs: number;
  event: string;
  visitorId: string;
  itemId: string;
}): number[] {
  if (event.event !== 'addtocart' || !isOpenedByPerson(event.visitorId, event.itemId)) return [];
  const emailSentMs = afterQuietHours(event.timestampMs + EMAIL_DELAY_MS);
  return [emailSentMs, emailSentMs + OPEN_AFTER_MS];
}

/**
 * `ms`, or the end of the quiet hours in `THREE_STEP_ZONE` when `ms` falls inside them
 * (`from` inclusive, `to` exclusive). Used only to place clock stops: an imprecise answer
 * costs a stop, never a wrong figure.
 */
export function afterQuietHours(ms: number): number {
  const local = DateTime.fromMillis(ms, { zone: THREE_STEP_ZONE });
  const minute = local.hour * 60 + local.minute;
  const from = minutesOf(THREE_STEP_QUIET_HOURS.from);
  const to = minutesOf(THREE_STEP_QUIET_HOURS.to);
  const [toHour, toMinute] = [Math.floor(to / 60), to % 60];
  const endToday = local.set({ hour: toHour, minute: toMinute, second: 0, millisecond: 0 });
  if (minute >= from) return endToday.plus({ days: 1 }).toMillis();
  if (minute < to) return endToday.toMillis();
  return ms;
}

function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':').map(Number);
  return hours * 60 + minutes;
}

/** 0–99 from the first 4 bytes of SHA-256(`<salt>:<key>`): stable across runs and machines. */
export function bucket(salt: string, key: string): number {
  return createHash('sha256').update(`${salt}:${key}`).digest().readUInt32BE(0) % 100;
}

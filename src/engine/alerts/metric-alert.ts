import { InputProblem } from '../../errors';

/** The rates an alert can watch, each over the last N concluded sends (see `alert-rate.ts`). */
export const ALERT_METRICS = [
  'OPEN_RATE',
  'CLICK_RATE',
  'DELIVERY_RATE',
  'FAILURE_RATE',
  'CONVERSION_RATE',
] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

export const ALERT_COMPARISONS = ['BELOW', 'ABOVE'] as const;
export type AlertComparison = (typeof ALERT_COMPARISONS)[number];

/** OK: the condition does not hold (or there are fewer than N sends); FIRING: it holds. */
export type AlertState = 'OK' | 'FIRING';

/** What a transition raises: OK → FIRING is FIRING, FIRING → OK is RESOLVED. */
export type AlertEventState = 'FIRING' | 'RESOLVED';

/** Largest `overLastSends`: the window is read from `messages` on every evaluation. */
export const MAX_OVER_LAST_SENDS = 10_000;
/** Alerts a tenant may hold; each is evaluated whenever its trigger's messages move. */
export const MAX_ALERTS_PER_TENANT = 100;

/** A stored alert as the engine and the API see it. */
export interface MetricAlertView {
  id: string;
  /** Null: every trigger of the tenant together. */
  triggerId: string | null;
  metric: AlertMetric;
  comparison: AlertComparison;
  /** A fraction from 0 to 1 (0.2 = 20 %). */
  threshold: number;
  overLastSends: number;
  webhookUrl: string | null;
  state: AlertState;
  lastValue: number | null;
  lastSends: number | null;
  lastEvaluatedAt: Date | null;
  stateChangedAt: Date | null;
  createdAt: Date;
}

/** One crossing, as published on the bus and POSTed to the alert's webhook (plain JSON). */
export interface MetricAlertEvent {
  /** Stable per alert and transition: `<alertId>:<transition number>` (the webhook id). */
  eventId: string;
  tenantId: string;
  triggerId: string | null;
  alert: Omit<MetricAlertView, 'lastEvaluatedAt' | 'stateChangedAt' | 'createdAt'> & {
    createdAt: string;
  };
  value: number;
  sends: number;
  state: AlertEventState;
  /** ISO time of the evaluation that saw the crossing (engine clock). */
  at: string;
}

/** What `createMetricAlert` asks for, before validation. */
export interface MetricAlertInput {
  triggerId?: string | null;
  metric: string;
  comparison: string;
  threshold: number;
  overLastSends: number;
  webhookUrl?: string | null;
}

/**
 * Checks the numbers of an alert definition (enums are checked by GraphQL). Pure. Throws
 * `InputProblem` at `threshold` or `overLastSends`; the caller re-roots it under `input`.
 */
export function checkAlertNumbers(input: Pick<MetricAlertInput, 'threshold' | 'overLastSends'>) {
  if (!Number.isFinite(input.threshold) || input.threshold < 0 || input.threshold > 1) {
    throw new InputProblem('threshold', 'a fraction from 0 to 1 (0.2 means 20 %)');
  }
  if (
    !Number.isInteger(input.overLastSends) ||
    input.overLastSends < 1 ||
    input.overLastSends > MAX_OVER_LAST_SENDS
  ) {
    throw new InputProblem('overLastSends', `an integer from 1 to ${MAX_OVER_LAST_SENDS}`);
  }
}

/**
 * The state a rate puts an alert in: FIRING when `value` is strictly below (BELOW) or
 * strictly above (ABOVE) the threshold, else OK. Null while fewer than `overLastSends` sends
 * exist: then no decision is taken and the alert keeps its state. Pure.
 */
export function stateFor(
  alert: Pick<MetricAlertView, 'comparison' | 'threshold' | 'overLastSends'>,
  value: number,
  sends: number,
): AlertState | null {
  if (sends < alert.overLastSends) return null;
  const breached = alert.comparison === 'BELOW' ? value < alert.threshold : value > alert.threshold;
  return breached ? 'FIRING' : 'OK';
}

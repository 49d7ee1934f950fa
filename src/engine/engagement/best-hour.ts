import { atLocalTime, localClock } from '../time/local-time';

const HOUR_MS = 3_600_000;

/** Engagement counts by local hour of day: index 0 is 00:00-00:59, 23 is 23:00-23:59. */
export type HourHistogram = number[];

/**
 * Pseudo-counts of the tenant's pattern added to a customer's own: with k = 4 a customer's
 * first few opens nudge the choice and from about k opens at one hour on their own habit wins
 * over the tenant's peak.
 */
export const TENANT_PRIOR_WEIGHT = 4;

export const emptyHistogram = (): HourHistogram => new Array<number>(24).fill(0);

/** The local hour of day (0-23) of instant `ms` in `zone`, DST-correct. */
export function localHour(zone: string, ms: number): number {
  return Math.floor(localClock(zone, ms).msOfDay / HOUR_MS);
}

/**
 * Scores per local hour: the customer's counts plus `k` pseudo-counts spread as the tenant's
 * histogram (additive, Dirichlet-style smoothing). A customer without history scores as the
 * tenant; a tenant without data adds nothing. Pure.
 */
export function smoothedScores(
  customer: HourHistogram,
  tenant: HourHistogram,
  k = TENANT_PRIOR_WEIGHT,
): number[] {
  const tenantTotal = tenant.reduce((sum, n) => sum + n, 0);
  return customer.map((n, hour) => n + (tenantTotal > 0 ? (k * tenant[hour]) / tenantTotal : 0));
}

/** What BEST_HOUR chose for a step and from what. */
export interface BestHourChoice {
  /** When the step is sent: `dueMs` itself when it already falls in the chosen hour. */
  atMs: number;
  /** The chosen local hour (0-23). */
  hour: number;
  /** The customer's own engagements and the tenant's, that the choice was learned from. */
  customerEngagements: number;
  tenantEngagements: number;
}

/**
 * The send time for a step due at `dueMs`: among the local hours whose next start (or the due
 * time itself, when it lies inside that hour) is at most `withinMs` after `dueMs`, the one with
 * the highest smoothed score; ties go to the earlier time. Null when there is nothing to learn
 * from (no engagement at all): the step keeps its due time. Hours are read in `zone` with the
 * DST rule of local-time.ts (a start inside a spring-forward gap moves to the gap's end).
 */
export function chooseBestHour(p: {
  dueMs: number;
  withinMs: number;
  zone: string;
  customer: HourHistogram;
  tenant: HourHistogram;
}): BestHourChoice | null {
  const customerEngagements = p.customer.reduce((sum, n) => sum + n, 0);
  const tenantEngagements = p.tenant.reduce((sum, n) => sum + n, 0);
  if (customerEngagements + tenantEngagements === 0) return null;

  const scores = smoothedScores(p.customer, p.tenant);
  const dueHour = localHour(p.zone, p.dueMs);
  let best: { atMs: number; hour: number; score: number } | null = null;
  for (let hour = 0; hour < 24; hour++) {
    const atMs =
      hour === dueHour
        ? p.dueMs
        : atLocalTime(p.dueMs, p.zone, { days: 0, time: '', minute: hour * 60 });
    if (atMs > p.dueMs + p.withinMs) continue;
    const score = scores[hour];
    if (!best || score > best.score || (score === best.score && atMs < best.atMs)) {
      best = { atMs, hour, score };
    }
  }
  if (!best) return null;
  return { atMs: best.atMs, hour: best.hour, customerEngagements, tenantEngagements };
}

import { IANAZone } from 'luxon';
import { Tx, rows } from '../../platform/database';
import { recordDecision } from '../decisions/decision-log';
import type { CustomerRow } from '../ingestion/customer.service';
import type { CompiledTrigger } from '../triggers/trigger-catalog';
import { putTimer } from '../timers/timer-store';
import { planBestHour } from './best-hour-plan';
import type { Effects } from './effects';
import { stepTime } from './step-schedule';
import { variantForRun } from '../experiments/experiment-assignment';

/**
 * The zone a customer's local times are read in: their own, else the tenant's, else UTC. A
 * stored zone the runtime does not know (legacy data, a zone dropped from the tz database)
 * is passed over rather than failing the step.
 */
export async function zoneOf(tx: Tx, tenantId: string, customer: CustomerRow): Promise<string> {
  if (customer.timezone && IANAZone.isValidZone(customer.timezone)) return customer.timezone;
  const [tenant] = await rows<{ timezone: string }>(
    tx,
    'SELECT timezone FROM tenants WHERE id = $1',
    [tenantId],
  );
  return usableZone(tenant?.timezone ?? null, 'UTC');
}

/** `zone` when the runtime knows it, else `fallback`. */
export function usableZone(zone: string | null, fallback: string): string {
  return zone && IANAZone.isValidZone(zone) ? zone : fallback;
}

/**
 * Schedules step `stepIndex` of a run, counting its delay (its variant's, if the run has one
 * with a delay; the variant is decided and stored here, see `variantForRun`) from the
 * sequence start or the previous step's due time as the step says, and records a deferral
 * by BEST_HOUR or the send window as a decision. Returns the due time.
 */
export async function scheduleStep(
  tx: Tx,
  effects: Effects,
  s: {
    tenantId: string;
    enrollmentId: string;
    trigger: CompiledTrigger;
    stepIndex: number;
    /** When the sequence started (the run's activation). */
    startMs: number;
    /** When the previous step was due (the start, for the first step). */
    previousDueMs: number;
    customer: CustomerRow;
    nowMs: number;
  },
): Promise<number> {
  const step = s.trigger.definition.steps[s.stepIndex];
  const needsZone =
    step.at !== null || step.sendTime !== null || s.trigger.definition.sendWindow !== null;
  const zone = needsZone ? await zoneOf(tx, s.tenantId, s.customer) : 'UTC';
  const variant = await variantForRun(tx, {
    tenantId: s.tenantId,
    enrollmentId: s.enrollmentId,
    customerId: s.customer.id,
    stepIndex: s.stepIndex,
    step,
    nowMs: s.nowMs,
  });
  const delayMs = variant?.delayMs ?? step.delayMs;
  const baseMs = step.after === 'ENTRY' ? s.startMs : s.previousDueMs;
  const chooseSendTime = step.sendTime
    ? await planBestHour(tx, {
        tenantId: s.tenantId,
        customer: s.customer,
        zone,
        withinMs: step.sendTime.withinMs,
        nowMs: s.nowMs,
      })
    : null;
  const time = stepTime(
    baseMs,
    { delayMs, at: step.at },
    s.trigger.definition,
    zone,
    chooseSendTime,
  );
  await putTimer(tx, effects, {
    tenantId: s.tenantId,
    kind: 'STEP',
    enrollmentId: s.enrollmentId,
    stepIndex: s.stepIndex,
    dueAtMs: time.dueMs,
    nowMs: s.nowMs,
  });
  if (time.bestHour) {
    const { fromMs, choice } = time.bestHour;
    await recordDecision(tx, s.tenantId, {
      customerId: s.customer.id,
      triggerId: s.trigger.id,
      triggerVersion: s.trigger.version,
      enrollmentId: s.enrollmentId,
      atMs: s.nowMs,
      outcome: 'DEFERRED',
      reason: 'BEST_HOUR',
      detail: {
        step: s.stepIndex,
        dueAt: new Date(fromMs).toISOString(),
        deferredTo: new Date(choice.atMs).toISOString(),
        zone,
        hour: choice.hour,
        customerEngagements: choice.customerEngagements,
        tenantEngagements: choice.tenantEngagements,
      },
    });
  }
  if (time.deferredFromMs !== null) {
    await recordDecision(tx, s.tenantId, {
      customerId: s.customer.id,
      triggerId: s.trigger.id,
      triggerVersion: s.trigger.version,
      enrollmentId: s.enrollmentId,
      atMs: s.nowMs,
      outcome: 'DEFERRED',
      reason: 'SEND_WINDOW',
      detail: {
        step: s.stepIndex,
        dueAt: new Date(time.deferredFromMs).toISOString(),
        deferredTo: new Date(time.dueMs).toISOString(),
        zone,
      },
    });
  }
  return time.dueMs;
}

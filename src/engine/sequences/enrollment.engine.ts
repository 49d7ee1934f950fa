import { Tx, rows } from '../../platform/database';
import { canonicalJson } from '../../json';
import type { CustomerRow } from '../ingestion/customer.service';
import type { EvaluationSubject } from '../rules/evaluate';
import type { CompiledTrigger, TriggerCatalog } from '../triggers/trigger-catalog';
import { DEADLINE_STEP, cancelTimers, putTimer } from '../timers/timer-store';
import type { Effects } from './effects';

/** A stored event as the engine sees it, with its customer row (locked by the caller). */
export interface StoredEvent {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  occurredAtMs: number;
  customer: CustomerRow;
}

export type EnrollmentState = 'WAITING' | 'ACTIVE' | 'COMPLETED' | 'CANCELLED';

export interface EnrollmentRow {
  id: string;
  tenant_id: string;
  trigger_id: string;
  trigger_version: number;
  customer_id: string;
  entry_key: string;
  entry_event_id: string;
  match_values: unknown[];
  first_entry_at: Date;
  last_entry_at: Date;
  deadline_at: Date | null;
  state: EnrollmentState;
  end_reason: string | null;
}

/** Why an enrollment ended without completing its sequence. */
export const END_REASONS = { absenceViolated: 'ABSENCE_VIOLATED' } as const;

export function subjectOf(
  event: Pick<StoredEvent, 'name' | 'properties'>,
  customer: CustomerRow,
): EvaluationSubject {
  return {
    event: { name: event.name, properties: event.properties },
    customer: {
      externalId: customer.external_id,
      email: customer.email,
      phone: customer.phone,
      timezone: customer.timezone,
      locale: customer.locale,
      traits: customer.traits,
    },
  };
}

/**
 * Entry, absence windows and their outcome. Every method runs inside the caller's tenant
 * transaction and records what must happen after commit in `effects`.
 *
 * Absence rule ("entry, unless U within W"): a run waits from its last entry `e` until the
 * deadline `e + W`. Any matching U with `e <= occurredAt <= e + W` (both ends inclusive)
 * cancels it — when U is ingested, and again when the deadline is processed, so a late U that
 * arrives before the deadline is processed still counts. A repeated entry with the same key
 * strictly before the deadline moves the run's last entry and deadline instead of starting a
 * second run.
 */
export class EnrollmentEngine {
  constructor(private readonly catalog: TriggerCatalog) {}

  /** Reacts to one newly stored event: cancels waiting runs it violates, then enters. */
  async onEvent(
    tx: Tx,
    tenantId: string,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const index = await this.catalog.forTenant(tx, tenantId);
    for (const trigger of index.byUnlessEvent.get(event.name) ?? []) {
      await this.cancelViolatedRuns(tx, tenantId, trigger, event, effects);
    }
    for (const trigger of index.byEntryEvent.get(event.name) ?? []) {
      await this.enter(tx, tenantId, trigger, event, nowMs, effects);
    }
  }

  private async enter(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const { definition } = trigger;
    if (!trigger.where(subjectOf(event, event.customer)).matched) return;

    const entryKey = definition.entryKey.length
      ? canonicalJson(definition.entryKey.map((p) => event.properties[p] ?? null))
      : '';
    const occurredAt = new Date(event.occurredAtMs);

    if (!definition.unless) {
      const enrollment = await this.insertEnrollment(
        tx,
        tenantId,
        trigger,
        event,
        entryKey,
        [],
        null,
        'ACTIVE',
        nowMs,
      );
      await this.startSequence(
        tx,
        enrollment,
        trigger,
        event.occurredAtMs,
        nowMs,
        event.customer,
        effects,
      );
      return;
    }

    const deadlineMs = event.occurredAtMs + definition.unless.withinMs;
    const matchValues = definition.unless.matchOn.map((p) => event.properties[p] ?? null);
    const [open] = await rows<EnrollmentRow>(
      tx,
      `SELECT * FROM enrollments
       WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND entry_key = $4
         AND state = 'WAITING' AND deadline_at > $5
       ORDER BY deadline_at DESC LIMIT 1 FOR UPDATE`,
      [tenantId, event.customer.id, trigger.id, entryKey, occurredAt],
    );
    if (open) {
      if (event.occurredAtMs <= open.last_entry_at.getTime()) return;
      const window = (await this.catalog.version(tx, tenantId, trigger.id, open.trigger_version))
        .definition.unless;
      const resetDeadlineMs = event.occurredAtMs + (window?.withinMs ?? definition.unless.withinMs);
      await rows(
        tx,
        `UPDATE enrollments SET last_entry_at = $3, deadline_at = $4, entry_event_id = $5,
           match_values = $6,
           updated_at = $7
         WHERE tenant_id = $1 AND id = $2`,
        [
          tenantId,
          open.id,
          occurredAt,
          new Date(resetDeadlineMs),
          event.id,
          JSON.stringify(matchValues),
          new Date(nowMs),
        ],
      );
      await putTimer(tx, effects, {
        tenantId,
        kind: 'DEADLINE',
        enrollmentId: open.id,
        stepIndex: DEADLINE_STEP,
        dueAtMs: resetDeadlineMs,
        nowMs,
      });
      return;
    }

    const enrollment = await this.insertEnrollment(
      tx,
      tenantId,
      trigger,
      event,
      entryKey,
      matchValues,
      new Date(deadlineMs),
      'WAITING',
      nowMs,
    );
    await putTimer(tx, effects, {
      tenantId,
      kind: 'DEADLINE',
      enrollmentId: enrollment.id,
      stepIndex: DEADLINE_STEP,
      dueAtMs: deadlineMs,
      nowMs,
    });
  }

  private async cancelViolatedRuns(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    effects: Effects,
  ): Promise<void> {
    const occurredAt = new Date(event.occurredAtMs);
    const waiting = await rows<EnrollmentRow>(
      tx,
      `SELECT * FROM enrollments
       WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND state = 'WAITING'
         AND last_entry_at <= $4 AND deadline_at >= $4
       FOR UPDATE`,
      [tenantId, event.customer.id, trigger.id, occurredAt],
    );
    for (const run of waiting) {
      const version = await this.catalog.version(tx, tenantId, trigger.id, run.trigger_version);
      if (!violates(version, run, event)) continue;
      await this.cancel(tx, tenantId, run.id, event.occurredAtMs, effects);
    }
  }

  /**
   * Processes a run's deadline: cancelled if a matching unless-event is stored inside its
   * window (whatever order it arrived in), otherwise it enters the sequence at the deadline.
   */
  async onDeadline(tx: Tx, run: EnrollmentRow, nowMs: number, effects: Effects): Promise<void> {
    if (run.state !== 'WAITING' || !run.deadline_at) return;
    const trigger = await this.catalog.version(
      tx,
      run.tenant_id,
      run.trigger_id,
      run.trigger_version,
    );
    const unless = trigger.definition.unless;
    const [customer] = await rows<CustomerRow>(
      tx,
      'SELECT * FROM customers WHERE tenant_id = $1 AND id = $2',
      [run.tenant_id, run.customer_id],
    );

    if (unless) {
      const candidates = await rows<{
        name: string;
        properties: Record<string, unknown>;
        occurred_at: Date;
      }>(
        tx,
        `SELECT name, properties, occurred_at FROM events
         WHERE tenant_id = $1 AND customer_id = $2 AND name = $3 AND occurred_at BETWEEN $4 AND $5
         ORDER BY occurred_at`,
        [run.tenant_id, run.customer_id, unless.event, run.last_entry_at, run.deadline_at],
      );
      const violation = candidates.find((e) =>
        violates(trigger, run, {
          id: '',
          name: e.name,
          properties: e.properties,
          occurredAtMs: e.occurred_at.getTime(),
          customer,
        }),
      );
      if (violation) {
        await this.cancel(tx, run.tenant_id, run.id, violation.occurred_at.getTime(), effects);
        return;
      }
    }

    await rows(
      tx,
      `UPDATE enrollments SET state = 'ACTIVE', updated_at = $3 WHERE tenant_id = $1 AND id = $2`,
      [run.tenant_id, run.id, new Date(nowMs)],
    );
    await this.startSequence(tx, run, trigger, run.deadline_at.getTime(), nowMs, customer, effects);
  }

  private async startSequence(
    tx: Tx,
    run: Pick<EnrollmentRow, 'id' | 'tenant_id'>,
    trigger: CompiledTrigger,
    startMs: number,
    nowMs: number,
    customer: CustomerRow,
    effects: Effects,
  ): Promise<void> {
    const [first] = trigger.definition.steps;
    await putTimer(tx, effects, {
      tenantId: run.tenant_id,
      kind: 'STEP',
      enrollmentId: run.id,
      stepIndex: 0,
      dueAtMs: startMs + first.delayMs,
      nowMs,
    });
    effects.enrollmentsStarted++;
    effects.firings.push({
      tenantId: run.tenant_id,
      triggerId: trigger.id,
      triggerName: trigger.name,
      customerExternalId: customer.external_id,
      enrollmentId: run.id,
      firedAt: new Date(nowMs).toISOString(),
    });
  }

  private async cancel(
    tx: Tx,
    tenantId: string,
    enrollmentId: string,
    atMs: number,
    effects: Effects,
  ): Promise<void> {
    await rows(
      tx,
      `UPDATE enrollments SET state = 'CANCELLED', end_reason = $3, updated_at = $4
       WHERE tenant_id = $1 AND id = $2`,
      [tenantId, enrollmentId, END_REASONS.absenceViolated, new Date(atMs)],
    );
    await cancelTimers(tx, effects, tenantId, enrollmentId);
    effects.enrollmentsCancelled++;
  }

  private async insertEnrollment(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    entryKey: string,
    matchValues: unknown[],
    deadline: Date | null,
    state: EnrollmentState,
    nowMs: number,
  ): Promise<EnrollmentRow> {
    const occurredAt = new Date(event.occurredAtMs);
    const [row] = await rows<EnrollmentRow>(
      tx,
      `INSERT INTO enrollments (tenant_id, trigger_id, trigger_version, customer_id, entry_key,
         entry_event_id,
         match_values, first_entry_at, last_entry_at, deadline_at, state, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $11) RETURNING *`,
      [
        tenantId,
        trigger.id,
        trigger.version,
        event.customer.id,
        entryKey,
        event.id,
        JSON.stringify(matchValues),
        occurredAt,
        deadline,
        state,
        new Date(nowMs),
      ],
    );
    return row;
  }
}

/** Does this unless-candidate violate the run's window under its trigger version? */
function violates(trigger: CompiledTrigger, run: EnrollmentRow, event: StoredEvent): boolean {
  const unless = trigger.definition.unless;
  if (!unless || event.name !== unless.event) return false;
  if (!trigger.unlessWhere(subjectOf(event, event.customer)).matched) return false;
  return unless.matchOn.every((property, i) => {
    const expected = run.match_values[i];
    const actual = event.properties[property];
    return (
      expected !== null &&
      expected !== undefined &&
      actual !== undefined &&
      isDeepStrictEqual(expected, actual)
    );
  });
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

import { Tx, rows } from '../../platform/database';
import { canonicalJson, ownProperty } from '../../json';
import { Decision, recordDecision } from '../decisions/decision-log';
import type { CustomerRow } from '../ingestion/customer.service';
import { loadBehaviourCounts } from '../rules/behaviour-counts';
import type { EvaluationSubject, Verdict } from '../rules/evaluate';
import type { CompiledTrigger, TriggerCatalog } from '../triggers/trigger-catalog';
import { DEADLINE_STEP, cancelTimers, putTimer } from '../timers/timer-store';
import type { Effects } from './effects';
import type { GoalEngine } from './goal.engine';
import { RunHistory, reentryBlock } from './reentry';
import { scheduleStep } from './step-scheduler';

/** A stored event as the engine sees it, with its customer row (locked by the caller). */
export interface StoredEvent {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  occurredAtMs: number;
  customer: CustomerRow;
}

/** HELD: the entry waits for customer data (`attributeWait`); it is not a run yet. */
export type EnrollmentState =
  | 'HELD'
  | 'WAITING'
  | 'ACTIVE'
  | 'COMPLETED'
  | 'CONVERTED'
  | 'CANCELLED';

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
  activated_at: Date | null;
  state: EnrollmentState;
  end_reason: string | null;
}

/** Why an enrollment ended without completing its sequence. */
export const END_REASONS = {
  absenceViolated: 'ABSENCE_VIOLATED',
  cooldown: 'COOLDOWN',
  /** A merge brought two waiting runs of one key together; the later entry's run stays. */
  mergedDuplicate: 'MERGED_DUPLICATE',
  /** A merge brought runs together that the re-entry policy or open-run cap forbids. */
  reentryNotAllowed: 'REENTRY_NOT_ALLOWED',
  activeLimit: 'ACTIVE_LIMIT',
} as const;

/** The timer that ends an entry's wait for customer data. */
export const HOLD_STEP = -2;

export function subjectOf(
  event: Pick<StoredEvent, 'name' | 'properties'>,
  customer: CustomerRow,
  behaviourCounts?: readonly number[],
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
    behaviourCounts,
  };
}

/**
 * Entry, absence windows and their outcome. Every method runs inside the caller's tenant
 * transaction (with the customer's row locked, so one customer's entries are decided one at
 * a time), records what must happen after commit in `effects`, and records each decision.
 *
 * Entry: the condition (with behaviour counts at the event's time) must hold; if it fails
 * only for want of customer data and the trigger has `attributeWait`, the entry is held until
 * an `identify` completes it or the wait ends. A repeated entry with the same key while a run
 * waits moves that run; otherwise re-entry policy, open-run cap and cooldown may refuse it.
 *
 * Absence rule ("entry, unless U within W"): a run waits from its last entry `e` until the
 * deadline `e + W`. Any matching U with `e <= occurredAt <= e + W` (both ends inclusive)
 * cancels it — when U is ingested, and again when the deadline is processed (`grace` after
 * it passes), so a late U that arrives before then still counts.
 */
export class EnrollmentEngine {
  constructor(
    private readonly catalog: TriggerCatalog,
    private readonly goals: GoalEngine,
  ) {}

  /**
   * Reacts to one newly stored event: cancels waiting runs it violates, converts runs whose
   * goal it is, then enters.
   */
  async onEvent(
    tx: Tx,
    tenantId: string,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const index = await this.catalog.forTenant(tx, tenantId);
    for (const trigger of index.byUnlessEvent.get(event.name) ?? []) {
      await this.cancelViolatedRuns(tx, tenantId, trigger, event, nowMs, effects);
    }
    const watchers = index.goalWatchers.get(event.name);
    if (watchers) await this.goals.onEvent(tx, tenantId, watchers, event, nowMs, effects);
    for (const trigger of index.byEntryEvent.get(event.name) ?? []) {
      await this.enter(tx, tenantId, trigger, event, nowMs, effects);
    }
  }

  /**
   * The customer's data changed (`identify`, or a merge of an anonymous history): held
   * entries whose condition now holds enter, at the time of this change.
   */
  async onCustomerChanged(
    tx: Tx,
    tenantId: string,
    customer: CustomerRow,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const held = await rows<EnrollmentRow & { name: string; properties: Record<string, unknown> }>(
      tx,
      `SELECT n.*, e.name, e.properties FROM enrollments n
       JOIN events e ON e.tenant_id = n.tenant_id AND e.id = n.entry_event_id
       WHERE n.tenant_id = $1 AND n.customer_id = $2 AND n.state = 'HELD'
       ORDER BY n.first_entry_at FOR UPDATE OF n`,
      [tenantId, customer.id],
    );
    if (held.length === 0) return;
    const index = await this.catalog.forTenant(tx, tenantId);
    const active = new Set([...index.byEntryEvent.values()].flat().map((t) => t.id));
    for (const hold of held) {
      // A paused or archived trigger lets nobody in; the hold simply runs out.
      if (!active.has(hold.trigger_id)) continue;
      const trigger = await this.catalog.version(
        tx,
        tenantId,
        hold.trigger_id,
        hold.trigger_version,
      );
      const event: StoredEvent = {
        id: hold.entry_event_id,
        name: hold.name,
        properties: hold.properties,
        occurredAtMs: hold.first_entry_at.getTime(),
        customer,
      };
      const verdict = await this.evaluate(tx, tenantId, trigger, event);
      if (!verdict.matched) continue;
      await this.dropHold(tx, tenantId, hold.id, effects);
      await this.admit(tx, tenantId, trigger, event, nowMs, effects, nowMs);
    }
  }

  /**
   * Two customers' histories were merged into `customer`: open runs that could not have
   * coexisted for one customer are cancelled — waiting runs of one key (the latest entry's
   * stays), runs a ONCE trigger or an open-run cap forbids (the earliest stay).
   */
  async onCustomersMerged(
    tx: Tx,
    tenantId: string,
    customer: CustomerRow,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const runs = await rows<EnrollmentRow>(
      tx,
      `SELECT * FROM enrollments WHERE tenant_id = $1 AND customer_id = $2 AND state <> 'HELD'
       ORDER BY first_entry_at, created_at FOR UPDATE`,
      [tenantId, customer.id],
    );
    const byTrigger = new Map<string, EnrollmentRow[]>();
    for (const run of runs)
      byTrigger.set(run.trigger_id, [...(byTrigger.get(run.trigger_id) ?? []), run]);
    for (const [triggerId, all] of byTrigger) {
      if (all.length < 2) continue;
      const isOpen = (r: EnrollmentRow) => r.state === 'WAITING' || r.state === 'ACTIVE';
      const ended = new Set<string>();
      const end = async (
        run: EnrollmentRow,
        reason: (typeof END_REASONS)[keyof typeof END_REASONS],
      ) => {
        ended.add(run.id);
        await this.cancel(tx, run, reason, nowMs, effects, { detail: { merged: true } });
      };
      const waitingByKey = new Map<string, EnrollmentRow[]>();
      for (const run of all.filter((r) => r.state === 'WAITING')) {
        waitingByKey.set(run.entry_key, [...(waitingByKey.get(run.entry_key) ?? []), run]);
      }
      for (const same of waitingByKey.values()) {
        const latest = same.reduce((a, r) => (r.last_entry_at > a.last_entry_at ? r : a));
        for (const run of same) if (run !== latest) await end(run, END_REASONS.mergedDuplicate);
      }
      const newest = await this.catalog.version(
        tx,
        tenantId,
        triggerId,
        all[all.length - 1].trigger_version,
      );
      const { reentry, maxActive } = newest.definition;
      if (reentry.policy === 'ONCE') {
        for (const run of all.slice(1)) {
          if (isOpen(run) && !ended.has(run.id)) await end(run, END_REASONS.reentryNotAllowed);
        }
      }
      if (maxActive !== null) {
        const open = all.filter((r) => isOpen(r) && !ended.has(r.id));
        for (const run of open.slice(maxActive)) await end(run, END_REASONS.activeLimit);
      }
    }
  }

  /** A held entry's wait ended without the data it needed: it does not enter. */
  async onHoldExpired(tx: Tx, hold: EnrollmentRow, nowMs: number, effects: Effects): Promise<void> {
    if (hold.state !== 'HELD') return;
    await this.dropHold(tx, hold.tenant_id, hold.id, effects);
    await recordDecision(tx, hold.tenant_id, {
      customerId: hold.customer_id,
      triggerId: hold.trigger_id,
      triggerVersion: hold.trigger_version,
      eventId: hold.entry_event_id,
      atMs: nowMs,
      outcome: 'NOT_MATCHED',
      reason: 'ATTRIBUTE_WAIT_EXPIRED',
    });
  }

  private async enter(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const verdict = await this.evaluate(tx, tenantId, trigger, event);
    if (verdict.matched) {
      await this.admit(tx, tenantId, trigger, event, nowMs, effects, null);
      return;
    }
    const decision = {
      customerId: event.customer.id,
      triggerId: trigger.id,
      triggerVersion: trigger.version,
      eventId: event.id,
      atMs: nowMs,
      detail: failureDetail(verdict),
    };
    const waitMs = trigger.definition.attributeWaitMs;
    const holdUntilMs = waitMs === null ? null : event.occurredAtMs + waitMs;
    if (!verdict.couldMatchLater || holdUntilMs === null || holdUntilMs <= nowMs) {
      await recordDecision(tx, tenantId, {
        ...decision,
        outcome: 'NOT_MATCHED',
        reason: 'CONDITION_FALSE',
      });
      return;
    }
    const hold = await this.insertEnrollment(tx, tenantId, trigger, event, '', [], null, 'HELD', {
      nowMs,
      activatedAtMs: null,
    });
    await putTimer(tx, effects, {
      tenantId,
      kind: 'HOLD',
      enrollmentId: hold.id,
      stepIndex: HOLD_STEP,
      dueAtMs: holdUntilMs,
      nowMs,
    });
    await recordDecision(tx, tenantId, {
      ...decision,
      outcome: 'HELD',
      reason: 'WAITING_FOR_ATTRIBUTES',
      detail: { ...decision.detail, until: new Date(holdUntilMs).toISOString() },
    });
  }

  /**
   * Admits a matching entry: moves the waiting run with the same key, or checks the
   * re-entry rules and starts a run. `releasedAtMs` is set when a held entry is let in: its
   * sequence then starts at the release rather than at the event.
   */
  private async admit(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
    releasedAtMs: number | null,
  ): Promise<void> {
    const { definition } = trigger;
    const entryKey = definition.entryKey.length
      ? canonicalJson(definition.entryKey.map((p) => ownProperty(event.properties, p) ?? null))
      : '';
    const decide = (d: Pick<Decision, 'outcome' | 'reason' | 'detail' | 'enrollmentId'>) =>
      recordDecision(tx, tenantId, {
        customerId: event.customer.id,
        triggerId: trigger.id,
        triggerVersion: trigger.version,
        eventId: event.id,
        atMs: nowMs,
        ...d,
      });

    if (
      definition.unless &&
      (await this.resetWaitingRun(tx, tenantId, trigger, event, entryKey, nowMs, effects, decide))
    ) {
      return;
    }

    if (!definition.unless && definition.entryKey.length) {
      const open = await this.openRunWithKey(tx, tenantId, event.customer.id, trigger.id, entryKey);
      if (open) {
        await decide({
          outcome: 'BLOCKED',
          reason: 'SAME_KEY_OPEN',
          enrollmentId: open,
          detail: { entryKey: JSON.parse(entryKey) as unknown },
        });
        return;
      }
    }

    const block = reentryBlock(
      definition,
      await this.history(tx, tenantId, event.customer.id, trigger.id),
      event.occurredAtMs,
    );
    if (block) {
      await decide({ outcome: 'BLOCKED', reason: block.reason, detail: block.detail });
      return;
    }

    if (!definition.unless) {
      const startMs = releasedAtMs ?? event.occurredAtMs;
      const run = await this.insertEnrollment(
        tx,
        tenantId,
        trigger,
        event,
        entryKey,
        [],
        null,
        'ACTIVE',
        {
          nowMs,
          activatedAtMs: startMs,
        },
      );
      await decide({ outcome: 'ENTERED', reason: 'CONDITION_MET', enrollmentId: run.id });
      await this.startSequence(tx, run, trigger, startMs, nowMs, event.customer, effects);
      return;
    }

    const deadlineMs = event.occurredAtMs + definition.unless.withinMs;
    const matchValues = definition.unless.matchOn.map(
      (p) => ownProperty(event.properties, p) ?? null,
    );
    const run = await this.insertEnrollment(
      tx,
      tenantId,
      trigger,
      event,
      entryKey,
      matchValues,
      new Date(deadlineMs),
      'WAITING',
      { nowMs, activatedAtMs: null },
    );
    await putTimer(tx, effects, {
      tenantId,
      kind: 'DEADLINE',
      enrollmentId: run.id,
      stepIndex: DEADLINE_STEP,
      // A held entry let in after its window passed is decided at its release, not before.
      dueAtMs: Math.max(deadlineMs + definition.unless.graceMs, releasedAtMs ?? 0),
      nowMs,
    });
    await decide({
      outcome: 'ENTERED',
      reason: 'CONDITION_MET',
      enrollmentId: run.id,
      detail: { deadline: new Date(deadlineMs).toISOString() },
    });
  }

  /**
   * A repeated entry with the same key strictly before a waiting run's deadline moves that
   * run (its last entry and deadline) instead of starting another. True when it did.
   */
  private async resetWaitingRun(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    entryKey: string,
    nowMs: number,
    effects: Effects,
    decide: (d: Pick<Decision, 'outcome' | 'reason' | 'detail' | 'enrollmentId'>) => Promise<void>,
  ): Promise<boolean> {
    const [open] = await rows<EnrollmentRow>(
      tx,
      `SELECT * FROM enrollments
       WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND entry_key = $4
         AND state = 'WAITING' AND deadline_at > $5
       ORDER BY deadline_at DESC LIMIT 1 FOR UPDATE`,
      [tenantId, event.customer.id, trigger.id, entryKey, new Date(event.occurredAtMs)],
    );
    if (!open) return false;
    if (event.occurredAtMs <= open.last_entry_at.getTime()) {
      await decide({
        outcome: 'RESET',
        reason: 'SAME_KEY_REENTRY',
        enrollmentId: open.id,
        detail: { moved: false, deadline: open.deadline_at!.toISOString() },
      });
      return true;
    }
    // The run keeps the window of the version it entered with.
    const unless = (await this.catalog.version(tx, tenantId, trigger.id, open.trigger_version))
      .definition.unless!;
    const deadlineMs = event.occurredAtMs + unless.withinMs;
    const matchValues = unless.matchOn.map((p) => ownProperty(event.properties, p) ?? null);
    await rows(
      tx,
      `UPDATE enrollments SET last_entry_at = $3, deadline_at = $4, entry_event_id = $5,
         match_values = $6, updated_at = $7
       WHERE tenant_id = $1 AND id = $2`,
      [
        tenantId,
        open.id,
        new Date(event.occurredAtMs),
        new Date(deadlineMs),
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
      dueAtMs: deadlineMs + unless.graceMs,
      nowMs,
    });
    await decide({
      outcome: 'RESET',
      reason: 'SAME_KEY_REENTRY',
      enrollmentId: open.id,
      detail: { moved: true, deadline: new Date(deadlineMs).toISOString() },
    });
    return true;
  }

  private async cancelViolatedRuns(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
    nowMs: number,
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
      await this.cancel(tx, run, END_REASONS.absenceViolated, nowMs, effects, {
        eventId: event.id,
        detail: { event: event.name, occurredAt: occurredAt.toISOString() },
      });
    }
  }

  /**
   * Processes a run's deadline: cancelled if a matching unless-event is stored inside its
   * window (whatever order it arrived in) or the trigger fired for the customer within its
   * cooldown meanwhile; otherwise the run's sequence starts now.
   */
  async onDeadline(
    tx: Tx,
    run: EnrollmentRow,
    dueAtMs: number,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
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
        id: string;
        name: string;
        properties: Record<string, unknown>;
        occurred_at: Date;
      }>(
        tx,
        `SELECT id::text AS id, name, properties, occurred_at FROM events
         WHERE tenant_id = $1 AND customer_id = $2 AND name = $3 AND occurred_at BETWEEN $4 AND $5
         ORDER BY occurred_at`,
        [run.tenant_id, run.customer_id, unless.event, run.last_entry_at, run.deadline_at],
      );
      const violation = candidates.find((e) =>
        violates(trigger, run, {
          name: e.name,
          properties: e.properties,
          customer,
        }),
      );
      if (violation) {
        await this.cancel(tx, run, END_REASONS.absenceViolated, nowMs, effects, {
          eventId: violation.id,
          detail: { event: violation.name, occurredAt: violation.occurred_at.toISOString() },
        });
        return;
      }
    }

    const cooldownMs = trigger.definition.cooldownMs;
    if (cooldownMs !== null) {
      const [recent] = await rows<{ activated_at: Date }>(
        tx,
        `SELECT activated_at FROM enrollments
         WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND id <> $4
           AND activated_at > $5 ORDER BY activated_at DESC LIMIT 1`,
        [run.tenant_id, run.customer_id, run.trigger_id, run.id, new Date(nowMs - cooldownMs)],
      );
      if (recent) {
        await this.cancel(tx, run, END_REASONS.cooldown, nowMs, effects, {
          detail: { lastFiredAt: recent.activated_at.toISOString() },
        });
        return;
      }
    }

    await rows(
      tx,
      `UPDATE enrollments SET state = 'ACTIVE', activated_at = $3, updated_at = $3
       WHERE tenant_id = $1 AND id = $2`,
      [run.tenant_id, run.id, new Date(nowMs)],
    );
    await recordDecision(tx, run.tenant_id, {
      customerId: run.customer_id,
      triggerId: run.trigger_id,
      triggerVersion: run.trigger_version,
      enrollmentId: run.id,
      eventId: run.entry_event_id,
      atMs: nowMs,
      outcome: 'FIRED',
      reason: 'DEADLINE_PASSED',
      detail: { deadline: run.deadline_at.toISOString() },
    });
    // Steps count from the deadline timer's due time: the deadline plus grace (or the release
    // of a held entry whose window had already passed).
    await this.startSequence(tx, run, trigger, dueAtMs, nowMs, customer, effects);
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
    await scheduleStep(tx, effects, {
      tenantId: run.tenant_id,
      enrollmentId: run.id,
      trigger,
      stepIndex: 0,
      startMs,
      previousDueMs: startMs,
      customer,
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

  private async evaluate(
    tx: Tx,
    tenantId: string,
    trigger: CompiledTrigger,
    event: StoredEvent,
  ): Promise<Verdict> {
    const { behaviours } = trigger.where;
    const counts = behaviours.length
      ? await loadBehaviourCounts(tx, tenantId, event.customer.id, event.occurredAtMs, behaviours)
      : undefined;
    return trigger.where(subjectOf(event, event.customer, counts));
  }

  /**
   * The run of this trigger and key that is still running its steps, if any: without
   * `unless`, a key has at most one such run (a second add-to-cart of the same item while
   * its reminders run is not a second sequence).
   */
  private async openRunWithKey(
    tx: Tx,
    tenantId: string,
    customerId: string,
    triggerId: string,
    entryKey: string,
  ): Promise<string | null> {
    const [open] = await rows<{ id: string }>(
      tx,
      `SELECT id FROM enrollments
       WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND entry_key = $4
         AND state = 'ACTIVE'
       LIMIT 1`,
      [tenantId, customerId, triggerId, entryKey],
    );
    return open?.id ?? null;
  }

  private async history(
    tx: Tx,
    tenantId: string,
    customerId: string,
    triggerId: string,
  ): Promise<RunHistory> {
    const [h] = await rows<{
      entered: number;
      open: number;
      last_entry: Date | null;
      last_activation: Date | null;
    }>(
      tx,
      `SELECT count(*)::int AS entered,
         count(*) FILTER (WHERE state IN ('WAITING', 'ACTIVE'))::int AS open,
         max(first_entry_at) AS last_entry, max(activated_at) AS last_activation
       FROM enrollments
       WHERE tenant_id = $1 AND customer_id = $2 AND trigger_id = $3 AND state <> 'HELD'`,
      [tenantId, customerId, triggerId],
    );
    return {
      entered: h.entered,
      open: h.open,
      lastEntryMs: h.last_entry?.getTime() ?? null,
      lastActivationMs: h.last_activation?.getTime() ?? null,
    };
  }

  private async cancel(
    tx: Tx,
    run: EnrollmentRow,
    reason: (typeof END_REASONS)[keyof typeof END_REASONS],
    atMs: number,
    effects: Effects,
    why: { eventId?: string; detail: Record<string, unknown> },
  ): Promise<void> {
    await rows(
      tx,
      `UPDATE enrollments SET state = 'CANCELLED', end_reason = $3, updated_at = $4
       WHERE tenant_id = $1 AND id = $2`,
      [run.tenant_id, run.id, reason, new Date(atMs)],
    );
    await cancelTimers(tx, effects, run.tenant_id, run.id);
    await recordDecision(tx, run.tenant_id, {
      customerId: run.customer_id,
      triggerId: run.trigger_id,
      triggerVersion: run.trigger_version,
      enrollmentId: run.id,
      eventId: why.eventId,
      atMs,
      outcome: 'CANCELLED',
      reason,
      detail: why.detail,
    });
    effects.enrollmentsCancelled++;
  }

  private async dropHold(
    tx: Tx,
    tenantId: string,
    holdId: string,
    effects: Effects,
  ): Promise<void> {
    await cancelTimers(tx, effects, tenantId, holdId);
    await rows(tx, 'DELETE FROM enrollments WHERE tenant_id = $1 AND id = $2', [tenantId, holdId]);
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
    at: { nowMs: number; activatedAtMs: number | null },
  ): Promise<EnrollmentRow> {
    const [row] = await rows<EnrollmentRow>(
      tx,
      `INSERT INTO enrollments (tenant_id, trigger_id, trigger_version, customer_id, entry_key,
         entry_event_id, match_values, first_entry_at, last_entry_at, deadline_at, state,
         activated_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $12) RETURNING *`,
      [
        tenantId,
        trigger.id,
        trigger.version,
        event.customer.id,
        entryKey,
        event.id,
        JSON.stringify(matchValues),
        new Date(event.occurredAtMs),
        deadline,
        state,
        at.activatedAtMs === null ? null : new Date(at.activatedAtMs),
        new Date(at.nowMs),
      ],
    );
    return row;
  }
}

/** What a non-matching verdict says about why, for the decision log (live and backtest). */
export function failureDetail(verdict: Verdict): Record<string, unknown> {
  return {
    failingNode: verdict.failingPath ?? '',
    ...(verdict.field ? { field: verdict.field } : {}),
    ...(verdict.reason ? { why: verdict.reason } : {}),
  };
}

/** Does this unless-candidate violate the run's window under its trigger version? */
export function violates(
  trigger: CompiledTrigger,
  run: Pick<EnrollmentRow, 'match_values'>,
  event: Pick<StoredEvent, 'name' | 'properties' | 'customer'>,
): boolean {
  const unless = trigger.definition.unless;
  if (!unless || event.name !== unless.event) return false;
  if (!trigger.unlessWhere(subjectOf(event, event.customer)).matched) return false;
  return unless.matchOn.every((property, i) => {
    const expected = run.match_values[i];
    const actual = ownProperty(event.properties, property);
    return (
      expected !== null &&
      expected !== undefined &&
      actual !== undefined &&
      canonicalJson(expected) === canonicalJson(actual)
    );
  });
}

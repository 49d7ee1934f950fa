import { Tx, rows } from '../../platform/database';
import { checkCaps } from '../caps/cap-check';
import { mayContact } from '../consent/consent-store';
import { SendPolicy, loadSendPolicy } from '../consent/send-policy';
import { DecisionReason, recordDecision } from '../decisions/decision-log';
import type { CustomerRow } from '../ingestion/customer.service';
import { quietUntil } from '../time/quiet-hours';
import type { CompiledTrigger, TriggerCatalog } from '../triggers/trigger-catalog';
import type { StepDefinition, StepVariant } from '../triggers/trigger-definition';
import { armDeliveryWatchdog } from '../messages/delivery-watchdog';
import type { Effects } from './effects';
import type { EnrollmentRow } from './enrollment.engine';
import { EntryEvent, renderStep } from './step-render';
import { resolveAddress } from './step-address';
import { previousStepHolds } from './step-conditions';
import { scheduleStep, zoneOf } from './step-scheduler';
import { variantForRun } from '../experiments/experiment-assignment';

export type MessageStatus =
  | 'QUEUED'
  | 'SENDING'
  | 'SENT'
  | 'DELIVERED'
  | 'OPENED'
  | 'CLICKED'
  | 'FAILED'
  | 'DEAD_LETTER'
  | 'SUPPRESSED';

/** A step that must wait: its timer moves to `deferToMs` instead of completing. */
export interface StepDeferral {
  deferToMs: number;
}

/** Everything one due step is decided on, read once at the start. */
interface DueStep {
  tx: Tx;
  run: EnrollmentRow;
  trigger: CompiledTrigger;
  step: StepDefinition;
  stepIndex: number;
  variant: StepVariant | null;
  customer: CustomerRow;
  entry: EntryEvent | null;
  policy: SendPolicy;
  dueAtMs: number;
  nowMs: number;
  effects: Effects;
}

/**
 * Runs one due step of an active run inside the caller's transaction (customer row locked).
 * In order: the run is still active (a goal ends it) → the step's condition → consent for
 * the channel and purpose → an address → frequency caps (marketing) → quiet hours
 * (marketing) → render → record the message (unique per run and step) → arm its delivery
 * watchdog → schedule the next step. A deferral returns the new due time and leaves the
 * rest for then; everything else ends in a message record or a decision saying why not.
 * Delivery happens after commit (`Effects.messagesToDeliver`), where consent is read again.
 */
export class StepEngine {
  constructor(private readonly catalog: TriggerCatalog) {}

  async onStepDue(
    tx: Tx,
    run: EnrollmentRow,
    stepIndex: number,
    dueAtMs: number,
    nowMs: number,
    effects: Effects,
  ): Promise<StepDeferral | null> {
    if (run.state !== 'ACTIVE') return null;
    const trigger = await this.catalog.version(
      tx,
      run.tenant_id,
      run.trigger_id,
      run.trigger_version,
    );
    const step = trigger.definition.steps[stepIndex];
    if (!step) return null;
    const [customer] = await rows<CustomerRow>(
      tx,
      'SELECT * FROM customers WHERE tenant_id = $1 AND id = $2',
      [run.tenant_id, run.customer_id],
    );
    const [entry] = await rows<EntryEvent>(
      tx,
      'SELECT name, properties, occurred_at FROM events WHERE tenant_id = $1 AND id = $2',
      [run.tenant_id, run.entry_event_id],
    );
    const due: DueStep = {
      tx,
      run,
      trigger,
      step,
      stepIndex,
      variant: await variantForRun(tx, {
        tenantId: run.tenant_id,
        enrollmentId: run.id,
        customerId: run.customer_id,
        stepIndex,
        step,
        nowMs,
      }),
      customer,
      entry: entry ?? null,
      policy: await loadSendPolicy(tx, run.tenant_id),
      dueAtMs,
      nowMs,
      effects,
    };

    const unmet = await this.unmetCondition(due);
    if (unmet) {
      await this.decide(due, 'SKIPPED', 'STEP_CONDITION', unmet);
      await this.next(due);
      return null;
    }
    if (due.variant?.isHoldout) {
      // Held out: nothing is sent for this step; the run's entry row counts it in the results.
      await this.decide(due, 'SKIPPED', 'HOLDOUT', { variant: due.variant.name });
      await this.next(due);
      return null;
    }
    const { channel, purpose } = step;
    const explicit = due.policy.explicitConsentChannels;
    if (!(await mayContact(tx, run.tenant_id, customer.id, channel, purpose, explicit))) {
      return this.suppress(due, 'NO_CONSENT');
    }
    const address = await resolveAddress(tx, channel, customer, due.policy);
    if (!address) return this.suppress(due, 'INVALID_ADDRESS');

    if (purpose === 'MARKETING') {
      const caps = due.policy.frequencyCaps;
      const verdict = await checkCaps(tx, run.tenant_id, customer.id, channel, caps, nowMs);
      if (!verdict.allowed) {
        const { cap, freesAtMs } = verdict;
        const capDetail = { cap: { channel: cap.channel, max: cap.max, within: cap.within } };
        if (trigger.definition.capPolicy === 'DEFER' && freesAtMs !== null) {
          return this.defer(due, 'FREQUENCY_CAP', freesAtMs, capDetail);
        }
        return this.suppress(due, 'FREQUENCY_CAP', capDetail);
      }
      const quiet = trigger.definition.ignoreQuietHours
        ? null
        : (trigger.definition.quietHours ?? due.policy.quietHours);
      if (quiet) {
        const zone = await zoneOf(tx, run.tenant_id, customer);
        const endsAtMs = quietUntil(quiet, zone, nowMs);
        if (endsAtMs !== null) {
          return this.defer(due, 'QUIET_HOURS', endsAtMs, {
            quietHours: { from: quiet.from, to: quiet.to },
            zone,
          });
        }
      }
    }

    const rendered = await renderStep(due);
    if (rendered.kind === 'missing') {
      return this.suppress(due, 'TEMPLATE_VARIABLE_MISSING', { variable: rendered.path });
    }
    const message = await this.record(due, {
      status: rendered.kind === 'ok' ? 'QUEUED' : 'FAILED',
      to: address.to,
      pushSubscriptionId: address.pushSubscriptionId,
      rendered: rendered.kind === 'ok' ? rendered.message : null,
      failure: rendered.kind === 'failed' ? rendered.failure : null,
    });
    if (message && rendered.kind === 'ok') {
      await armDeliveryWatchdog(tx, effects, run, stepIndex, nowMs);
      effects.messagesToDeliver.push({ tenantId: run.tenant_id, messageId: message.id });
    }
    await this.next(due);
    return null;
  }

  /** Why the step's condition does not hold, or null when it does (or it has none). */
  private async unmetCondition(due: DueStep): Promise<Record<string, unknown> | null> {
    const condition = due.step.condition;
    if (!condition) return null;
    if (condition.previousStep) {
      const holds = await previousStepHolds(
        due.tx,
        due.run,
        due.stepIndex - 1,
        condition.previousStep,
      );
      if (!holds) return { step: due.stepIndex, previousStep: condition.previousStep };
    }
    if (condition.where) {
      const subject = {
        event: { name: due.entry?.name ?? '', properties: due.entry?.properties ?? {} },
        customer: {
          externalId: due.customer.external_id,
          email: due.customer.email,
          phone: due.customer.phone,
          timezone: due.customer.timezone,
          locale: due.customer.locale,
          traits: due.customer.traits,
        },
      };
      const verdict = due.trigger.stepWhere[due.stepIndex](subject);
      if (!verdict.matched) {
        return { step: due.stepIndex, failingNode: verdict.failingPath ?? '', why: verdict.reason };
      }
    }
    return null;
  }

  private async suppress(
    due: DueStep,
    reason: DecisionReason,
    detail: Record<string, unknown> = {},
  ): Promise<null> {
    const suppressionReason =
      reason === 'TEMPLATE_VARIABLE_MISSING' ? `${reason}: ${String(detail.variable)}` : reason;
    await this.record(due, {
      status: 'SUPPRESSED',
      suppressionReason,
      to: null,
      pushSubscriptionId: null,
      rendered: null,
      failure: null,
    });
    await this.decide(due, 'SUPPRESSED', reason, detail);
    await this.next(due);
    return null;
  }

  private async defer(
    due: DueStep,
    reason: DecisionReason,
    toMs: number,
    detail: Record<string, unknown>,
  ): Promise<StepDeferral> {
    await this.decide(due, 'DEFERRED', reason, {
      ...detail,
      dueAt: new Date(due.dueAtMs).toISOString(),
      deferredTo: new Date(toMs).toISOString(),
    });
    return { deferToMs: Math.max(toMs, due.nowMs) };
  }

  private async decide(
    due: DueStep,
    outcome: 'SKIPPED' | 'SUPPRESSED' | 'DEFERRED',
    reason: DecisionReason,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await recordDecision(due.tx, due.run.tenant_id, {
      customerId: due.run.customer_id,
      triggerId: due.trigger.id,
      triggerVersion: due.trigger.version,
      enrollmentId: due.run.id,
      atMs: due.nowMs,
      outcome,
      reason,
      detail: { step: due.stepIndex, channel: due.step.channel, ...detail },
    });
  }

  /** Records the step's message; null when the step already has one (it ran before). */
  private async record(
    due: DueStep,
    m: {
      status: MessageStatus;
      suppressionReason?: string;
      to: string | null;
      pushSubscriptionId: string | null;
      rendered: { subject: string | null; body: string; html: string | null } | null;
      failure: string | null;
    },
  ): Promise<{ id: string } | null> {
    const [message] = await rows<{ id: string }>(
      due.tx,
      `INSERT INTO messages (tenant_id, enrollment_id, trigger_id, customer_id, step_index,
         channel, purpose, variant, status, suppression_reason, to_address, push_subscription_id,
         subject, body, html, scheduled_for, failure, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
         $18)
       ON CONFLICT (tenant_id, enrollment_id, step_index) DO NOTHING RETURNING id`,
      [
        due.run.tenant_id,
        due.run.id,
        due.run.trigger_id,
        due.run.customer_id,
        due.stepIndex,
        due.step.channel,
        due.step.purpose,
        due.variant?.name ?? null,
        m.status,
        m.suppressionReason ?? null,
        m.to,
        m.pushSubscriptionId,
        m.rendered?.subject ?? null,
        m.rendered?.body ?? null,
        m.rendered?.html ?? null,
        new Date(due.dueAtMs),
        m.failure,
        new Date(due.nowMs),
      ],
    );
    return message ?? null;
  }

  /** Schedules the following step, or completes the run after its last. */
  private async next(due: DueStep): Promise<void> {
    const { tx, run, trigger, stepIndex, nowMs } = due;
    if (trigger.definition.steps[stepIndex + 1]) {
      await scheduleStep(tx, due.effects, {
        tenantId: run.tenant_id,
        enrollmentId: run.id,
        trigger,
        stepIndex: stepIndex + 1,
        startMs: run.activated_at?.getTime() ?? due.dueAtMs,
        previousDueMs: due.dueAtMs,
        customer: due.customer,
        nowMs,
      });
      return;
    }
    await rows(
      tx,
      `UPDATE enrollments SET state = 'COMPLETED', updated_at = $3
       WHERE tenant_id = $1 AND id = $2`,
      [run.tenant_id, run.id, new Date(nowMs)],
    );
  }
}

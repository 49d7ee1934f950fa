import { Tx, rows } from '../../platform/database';
import { findUnstorableText } from '../../validation';
import { renderTemplate } from '../channels/templates';
import type { CustomerRow } from '../ingestion/customer.service';
import type { TriggerCatalog } from '../triggers/trigger-catalog';
import type { Effects } from './effects';
import type { EnrollmentRow } from './enrollment.engine';
import { scheduleStep } from './step-scheduler';

export type MessageStatus =
  | 'QUEUED'
  | 'SENT'
  | 'DELIVERED'
  | 'OPENED'
  | 'CLICKED'
  | 'FAILED'
  | 'SUPPRESSED';

/**
 * Runs one due step of an active enrollment inside the caller's transaction: resolves the
 * address, renders, records the message (unique per enrollment step, so a step that runs
 * twice records and delivers once), and schedules the next step or completes the run.
 * Delivery itself happens after commit (see `Effects.messagesToDeliver`).
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
  ): Promise<void> {
    if (run.state !== 'ACTIVE') return;
    const trigger = await this.catalog.version(
      tx,
      run.tenant_id,
      run.trigger_id,
      run.trigger_version,
    );
    const step = trigger.definition.steps[stepIndex];
    if (!step) return;

    const [customer] = await rows<CustomerRow>(
      tx,
      'SELECT * FROM customers WHERE tenant_id = $1 AND id = $2',
      [run.tenant_id, run.customer_id],
    );
    const [tenant] = await rows<{ webhook_url: string | null }>(
      tx,
      'SELECT webhook_url FROM tenants WHERE id = $1',
      [run.tenant_id],
    );
    const [entry] = await rows<{
      name: string;
      properties: Record<string, unknown>;
      occurred_at: Date;
    }>(tx, 'SELECT name, properties, occurred_at FROM events WHERE tenant_id = $1 AND id = $2', [
      run.tenant_id,
      run.entry_event_id,
    ]);

    const to =
      step.channel === 'EMAIL'
        ? customer.email
        : step.channel === 'WEBHOOK'
          ? tenant?.webhook_url
          : null;
    let status: MessageStatus = to ? 'QUEUED' : 'SUPPRESSED';
    let suppressionReason: string | null = to ? null : 'INVALID_ADDRESS';
    let failure: string | null = null;
    let rendered = {
      subject: null as string | null,
      body: null as string | null,
      html: null as string | null,
    };
    if (to) {
      try {
        rendered = await renderTemplate(step.template, {
          customer: {
            externalId: customer.external_id,
            email: customer.email,
            phone: customer.phone,
            timezone: customer.timezone,
            locale: customer.locale,
            traits: customer.traits,
          },
          event: entry
            ? {
                name: entry.name,
                properties: entry.properties,
                occurredAt: entry.occurred_at.toISOString(),
              }
            : {},
          trigger: { id: trigger.id, name: trigger.name, version: trigger.version },
        });
      } catch (err) {
        status = 'FAILED';
        suppressionReason = null;
        failure = `RENDER_ERROR: ${(err as Error).message}`.slice(0, 500);
      }
      const problem = renderProblem(rendered);
      if (status === 'QUEUED' && problem) {
        status = 'FAILED';
        failure = `RENDER_ERROR: ${problem}`;
        rendered = { subject: null, body: null, html: null };
      }
    }

    const [message] = await rows<{ id: string }>(
      tx,
      `INSERT INTO messages (tenant_id, enrollment_id, trigger_id, customer_id, step_index,
         channel, status,
         suppression_reason, to_address, subject, body, html, scheduled_for, failure, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (tenant_id, enrollment_id, step_index) DO NOTHING RETURNING id`,
      [
        run.tenant_id,
        run.id,
        run.trigger_id,
        run.customer_id,
        stepIndex,
        step.channel,
        status,
        suppressionReason,
        to ?? null,
        rendered.subject,
        rendered.body,
        rendered.html,
        new Date(dueAtMs),
        failure,
        new Date(nowMs),
      ],
    );
    if (message && status === 'QUEUED') {
      effects.messagesToDeliver.push({ tenantId: run.tenant_id, messageId: message.id });
    }

    if (trigger.definition.steps[stepIndex + 1]) {
      await scheduleStep(tx, effects, {
        tenantId: run.tenant_id,
        enrollmentId: run.id,
        trigger,
        stepIndex: stepIndex + 1,
        baseMs: dueAtMs,
        customer,
        nowMs,
      });
    } else {
      await rows(
        tx,
        `UPDATE enrollments SET state = 'COMPLETED',
           updated_at = $3 WHERE tenant_id = $1 AND id = $2`,
        [run.tenant_id, run.id, new Date(nowMs)],
      );
    }
  }
}

/** Largest rendered message (subject, body and HTML together) that is stored and sent. */
const MAX_RENDERED_BYTES = 1_000_000;

/** Why a rendered message cannot be stored or sent, or null. Filters can create any text. */
function renderProblem(rendered: {
  subject: string | null;
  body: string | null;
  html: string | null;
}): string | null {
  const found = findUnstorableText([rendered.subject, rendered.body, rendered.html]);
  if (found) return `the rendered message ${found.problem}`;
  const bytes = [rendered.subject, rendered.body, rendered.html].reduce(
    (sum, part) => sum + (part ? Buffer.byteLength(part) : 0),
    0,
  );
  return bytes > MAX_RENDERED_BYTES
    ? `the rendered message is larger than ${MAX_RENDERED_BYTES} bytes`
    : null;
}

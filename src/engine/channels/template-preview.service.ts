import type { Clock } from '../../clock';
import { BadInputError, InputProblem, NotFoundError, checkedAt } from '../../errors';
import { Database, rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { checkStorableText, findUnstorableText } from '../../validation';
import type { CustomerRow } from '../ingestion/customer.service';
import { checkJsonObject } from '../ingestion/validation';
import type { Channel } from '../triggers/trigger-definition';
import {
  TemplateRenderError,
  TemplateVariableMissing,
  renderTemplate,
  validateTemplate,
  type TemplateSource,
} from './templates';
import {
  buildTemplateContext,
  templateWarnings,
  type TemplateEventSource,
  type TemplateWarning,
} from './template-variables';

export interface PreviewCommand {
  template: TemplateSource;
  /** Render for this identified customer; without one, for a customer with nothing known. */
  customerExternalId?: string | null;
  /** A sample entry event, `{ name?, properties?, occurredAt? }` (JSON from the client). */
  event?: unknown;
  channel?: Channel | null;
}

export interface TemplatePreview {
  /** Null when `missingVariable` is set: that message would not be sent. */
  subject: string | null;
  body: string | null;
  html: string | null;
  warnings: TemplateWarning[];
  /** The first variable used without a `default` that has no value, or null. */
  missingVariable: string | null;
}

/** Same limits as a trigger step's template and a tracked event's properties. */
const MAX_PART_CHARS = 100_000;
const MAX_PROPERTIES_BYTES = 32_768;
const EVENT_FIELDS = ['name', 'properties', 'occurredAt'];

/**
 * Previews a template for a customer and a sample event. It renders exactly what a send
 * would: the same `renderTemplate`, over a context built by the same `buildTemplateContext`
 * (as step 0 of no trigger, so `trigger.*` renders as nothing). Reads only.
 */
export class TemplatePreviewService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Renders `command.template`. A required variable without a value is not an error here:
   * the result names it in `missingVariable`, with null parts, as the send would suppress
   * the message. Throws NOT_FOUND (`input.customerExternalId`) for a customer this tenant
   * does not have, and BAD_USER_INPUT at `input.template.<part>` or `input.event.<field>`.
   */
  async preview(ctx: TenantContext, command: PreviewCommand): Promise<TemplatePreview> {
    const template = checkedAt('input.template', () => checkTemplate(command.template));
    const event = checkedAt('input', () => parseSampleEvent(command.event));
    event.occurredAt ??= new Date(this.clock.nowMs());

    const customer =
      command.customerExternalId == null
        ? null
        : await this.findCustomer(ctx, command.customerExternalId);

    const context = buildTemplateContext({
      customer,
      event,
      trigger: null,
      step: { index: 0, channel: command.channel ?? null },
    });
    const warnings = templateWarnings(template);
    try {
      const rendered = await renderTemplate(template, context);
      return { ...rendered, warnings, missingVariable: null };
    } catch (err) {
      if (err instanceof TemplateVariableMissing) {
        return { subject: null, body: null, html: null, warnings, missingVariable: err.path };
      }
      if (err instanceof TemplateRenderError) {
        throw new BadInputError(`input.template.${err.part}`, err.message);
      }
      throw err;
    }
  }

  /** Another tenant's customer is not found, exactly like one that does not exist. */
  private async findCustomer(ctx: TenantContext, externalId: string): Promise<CustomerRow> {
    if (externalId.length > 255 || findUnstorableText(externalId)) {
      throw new NotFoundError('customer', 'input.customerExternalId');
    }
    const [customer] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<CustomerRow>(tx, 'SELECT * FROM customers WHERE tenant_id = $1 AND external_id = $2', [
        ctx.tenantId,
        externalId,
      ]),
    );
    if (!customer) throw new NotFoundError('customer', 'input.customerExternalId');
    return customer;
  }
}

function checkTemplate(template: TemplateSource): TemplateSource {
  for (const part of ['subject', 'body', 'html'] as const) {
    const source = template[part];
    if (source == null) continue;
    if (source.length > MAX_PART_CHARS) {
      throw new InputProblem(part, `longer than ${MAX_PART_CHARS.toLocaleString('en')} characters`);
    }
    checkStorableText(source, part);
  }
  validateTemplate(template);
  return { subject: template.subject ?? null, body: template.body, html: template.html ?? null };
}

/** The sample event as the context will show it; throws `InputProblem` under `event`. */
function parseSampleEvent(raw: unknown): TemplateEventSource {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InputProblem('event', 'expected a JSON object { name, properties, occurredAt }');
  }
  const fields = raw as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !EVENT_FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new InputProblem(
      `event.${unknown}`,
      'not an event field; an event has name, properties and occurredAt ' +
        '(custom data goes in properties)',
    );
  }

  const { name, properties, occurredAt } = fields;
  if (name != null && (typeof name !== 'string' || name.trim() === '' || name.length > 200)) {
    throw new InputProblem('event.name', 'expected an event name of 1 to 200 characters');
  }
  if (name != null) checkStorableText(name, 'event.name');
  const checkedProperties =
    properties == null ? {} : checkJsonObject(properties, 'event.properties', MAX_PROPERTIES_BYTES);
  return {
    name: (name as string | null | undefined) ?? null,
    properties: checkedProperties,
    occurredAt: occurredAt == null ? null : parseTime(occurredAt, 'event.occurredAt'),
  };
}

function parseTime(value: unknown, path: string): Date {
  const time = typeof value === 'string' ? new Date(value) : null;
  if (!time || Number.isNaN(time.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(value as string)) {
    throw new InputProblem(path, 'expected an ISO 8601 date-time such as 2025-05-06T10:00:00Z');
  }
  return time;
}

import type { Clock } from '../../clock';
import { InputProblem, NotFoundError, checkedAt } from '../../errors';
import { Database } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { checkStorableText } from '../../validation';
import type { CustomerRef } from '../ingestion/identity';
import { checkOccurredAt } from '../ingestion/validation';
import { CHANNELS, type Channel } from '../triggers/trigger-definition';
import {
  ConsentRecord,
  PURPOSES,
  type Purpose,
  currentConsents,
  recordConsent,
} from './consent-store';
import { CustomerRefInput, lockCustomer, parseCustomerRef, refField } from './customer-ref';

/** A grant or revocation as a client sends it. */
export interface ConsentCommand extends CustomerRefInput {
  channel: string;
  purpose: string;
  /** Where the customer said so: "checkout checkbox", "preference center", "import 2025-05". */
  source: string;
  /** When the customer said so; default: now on the service clock. */
  occurredAt?: Date | null;
}

const MAX_SOURCE_LENGTH = 100;

/**
 * Consent per customer, channel and purpose, as an append-only log whose latest record by
 * `occurredAt` is the current state (see `consent-store.ts` and docs/consent.md). Each grant or
 * revocation locks the customer row first, the engine's lock order, so it is serialised with
 * a step being processed for that customer: the step either sees it or finished before it.
 * Consent is read when a step is due and again right before the provider call, so nothing
 * here reschedules or cancels steps.
 */
export class ConsentService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly maxFutureSkewMs: number,
  ) {}

  /**
   * Records a grant and returns the record as stored. Not idempotent in storage (a retry adds
   * an equal record), but a retry never changes the resulting state. Throws NOT_FOUND for an
   * unknown customer (never creates one) and BAD_USER_INPUT with the field's path.
   */
  grant(ctx: TenantContext, input: ConsentCommand): Promise<ConsentRecord> {
    return this.record(ctx, input, true);
  }

  /** Records a revocation; otherwise as `grant`. */
  revoke(ctx: TenantContext, input: ConsentCommand): Promise<ConsentRecord> {
    return this.record(ctx, input, false);
  }

  /** The current state per channel and purpose; a pair never recorded is absent. */
  current(ctx: TenantContext, customerId: string): Promise<ConsentRecord[]> {
    return this.db.withTenant(ctx.tenantId, (tx) => currentConsents(tx, ctx.tenantId, customerId));
  }

  private async record(
    ctx: TenantContext,
    input: ConsentCommand,
    granted: boolean,
  ): Promise<ConsentRecord> {
    const nowMs = this.clock.nowMs();
    const { ref, ...given } = checkedAt('input', () =>
      parseConsentCommand(input, nowMs, this.maxFutureSkewMs),
    );
    const record: ConsentRecord = { ...given, granted, recordedAtMs: nowMs };

    const customerId = await this.db.withTenant(ctx.tenantId, async (tx) => {
      const customer = await lockCustomer(tx, ctx.tenantId, ref);
      if (!customer) throw new NotFoundError('customer', `input.${refField(ref)}`);
      await recordConsent(tx, ctx.tenantId, customer.id, record);
      return customer.id;
    });

    ctx.log.info(
      { customerId, channel: record.channel, purpose: record.purpose, granted },
      'consent recorded',
    );
    return record;
  }
}

interface ValidConsent {
  ref: CustomerRef;
  channel: Channel;
  purpose: Purpose;
  source: string;
  occurredAtMs: number;
}

/**
 * Validates a grant or revocation: a customer reference, a channel and purpose, a source of 1
 * to 100 characters (trimmed), and `occurredAt` as events take it. Throws `InputProblem`.
 */
function parseConsentCommand(
  input: ConsentCommand,
  nowMs: number,
  maxFutureSkewMs: number,
): ValidConsent {
  const ref = parseCustomerRef(input);
  if (!CHANNELS.includes(input.channel as Channel)) {
    throw new InputProblem('channel', `expected one of ${CHANNELS.join(', ')}`);
  }
  if (!PURPOSES.includes(input.purpose as Purpose)) {
    throw new InputProblem('purpose', `expected one of ${PURPOSES.join(', ')}`);
  }
  const source = typeof input.source === 'string' ? input.source.trim() : '';
  if (source.length === 0 || source.length > MAX_SOURCE_LENGTH) {
    throw new InputProblem(
      'source',
      `expected 1 to ${MAX_SOURCE_LENGTH} characters saying where consent was given or ` +
        'withdrawn (e.g. "checkout checkbox")',
    );
  }
  checkStorableText(source, 'source');
  const occurredAtMs =
    checkOccurredAt(input.occurredAt, nowMs, maxFutureSkewMs, 'occurredAt') ?? nowMs;
  return {
    ref,
    channel: input.channel as Channel,
    purpose: input.purpose as Purpose,
    source,
    occurredAtMs,
  };
}

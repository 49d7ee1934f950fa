import { createHash } from 'node:crypto';
import type { Clock } from '../../clock';
import { BadInputError, ConflictError, ErrorCode, InputProblem } from '../../errors';
import { Tx, rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { batchDecisions } from '../decisions/decision-log';
import { Effects } from '../sequences/effects';
import type { EnrollmentEngine } from '../sequences/enrollment.engine';
import type { ReactionRunner } from '../sequences/reaction-runner';
import { CustomerRef, IdentityResolver, refKey } from './identity';
import { CoalescingOptions, DEFAULT_COALESCING, IngestCoalescer } from './ingest-coalescer';
import { checkExternalId, checkJsonObject, checkOccurredAt } from './validation';
import { checkStorableText } from '../../validation';
import { canonicalJson } from '../../json';

export interface TrackCommand {
  /** The tenant's customer id; may be omitted when `anonymousId` is given. */
  customerExternalId?: string | null;
  anonymousId?: string | null;
  event: string;
  properties?: unknown;
  occurredAt?: Date | null;
  messageId?: string | null;
}

export type TrackItemResult =
  | { index: number; status: 'accepted'; eventId: string }
  | { index: number; status: 'duplicate'; eventId: string }
  | { index: number; status: 'rejected'; code: ErrorCode; message: string; field: string };

export const MAX_BATCH = 1_000;
const MAX_PROPERTIES_BYTES = 32_768;

interface ValidItem {
  index: number;
  ref: CustomerRef;
  name: string;
  properties: Record<string, unknown>;
  occurredAtMs: number;
  messageId: string | null;
  payloadHash: string;
}

/**
 * Ingestion: validate, resolve customers, store each event once, and react to the newly
 * stored ones — all in one transaction per call, so an accepted event is never stored
 * without its consequences, nor the reverse.
 *
 * Idempotency: an event with a `messageId` is stored once per tenant (unique index,
 * `ON CONFLICT DO NOTHING`). A retry with the same payload returns the original event id as
 * a duplicate; the same `messageId` with a different payload is a CONFLICT and stores nothing.
 * The payload compared is customer, event name, properties and an explicit `occurredAt`.
 */
export class IngestService {
  private readonly coalescer: IngestCoalescer<ValidItem, TrackItemResult>;

  constructor(
    private readonly clock: Clock,
    private readonly reactions: ReactionRunner,
    private readonly enrollments: EnrollmentEngine,
    private readonly identity: IdentityResolver,
    private readonly maxFutureSkewMs: number,
    coalescing: CoalescingOptions = DEFAULT_COALESCING,
  ) {
    this.coalescer = new IngestCoalescer(coalescing, (ctx, items) => this.storeCalls(ctx, items));
  }

  /** Validates and stores up to 1,000 events; per-item results in input order. */
  async trackBatch(ctx: TenantContext, commands: TrackCommand[]): Promise<TrackItemResult[]> {
    const nowMs = this.clock.nowMs();
    const results: TrackItemResult[] = new Array(commands.length);
    const valid: ValidItem[] = [];
    commands.forEach((command, index) => {
      try {
        valid.push(this.validate(command, index, nowMs));
      } catch (err) {
        if (!(err instanceof InputProblem)) throw err;
        const field = `events.${index}.${err.path}`;
        results[index] = {
          index,
          status: 'rejected',
          code: ErrorCode.BAD_USER_INPUT,
          message: `${field}: ${err.problem}`,
          field,
        };
      }
    });

    await this.storeValid(ctx, valid, nowMs, results, commands.length);
    return results;
  }

  /** Single `track` calls coalesced by `IngestCoalescer`: item k answers call k. */
  private async storeCalls(ctx: TenantContext, calls: ValidItem[]): Promise<TrackItemResult[]> {
    const results: TrackItemResult[] = new Array(calls.length);
    const items = calls.map((item, index) => ({ ...item, index }));
    await this.storeValid(ctx, items, this.clock.nowMs(), results, items.length);
    return results;
  }

  /** One transaction for validated items; their results land at `results[item.index]`. */
  private async storeValid(
    ctx: TenantContext,
    valid: ValidItem[],
    nowMs: number,
    results: TrackItemResult[],
    count: number,
  ): Promise<void> {
    let effects = new Effects();
    if (valid.length > 0) {
      ({ effects } = await this.reactions.run(ctx, 'ingest', (tx, fresh) =>
        this.store(tx, ctx.tenantId, valid, nowMs, results, fresh),
      ));
    }
    ctx.log.debug({ count, enrolled: effects.enrollmentsStarted }, 'events ingested');
  }

  /** One event; a CONFLICT or BAD_USER_INPUT is thrown rather than returned. */
  async track(
    ctx: TenantContext,
    command: TrackCommand,
  ): Promise<{ eventId: string; duplicate: boolean }> {
    let item: ValidItem;
    try {
      item = this.validate(command, 0, this.clock.nowMs());
    } catch (err) {
      if (err instanceof InputProblem) throw err.toError('input');
      throw err;
    }
    const result = await this.coalescer.submit(ctx, item);
    if (result.status === 'rejected') {
      // The shared transaction numbered this call by its place among the others.
      const message = result.message.replace(/^events\.\d+\./, 'input.');
      if (result.code === ErrorCode.CONFLICT) {
        throw new ConflictError(message, {
          field: 'input.messageId',
          reason: 'IDEMPOTENCY_KEY_REUSED',
        });
      }
      throw new BadInputError(result.field.replace(/^events\.\d+\./, 'input.'), message);
    }
    return { eventId: result.eventId, duplicate: result.status === 'duplicate' };
  }

  private validate(command: TrackCommand, index: number, nowMs: number): ValidItem {
    const ref = checkCustomerRef(command);
    if (
      typeof command.event !== 'string' ||
      command.event.trim().length === 0 ||
      command.event.length > 200
    ) {
      throw new InputProblem('event', 'expected an event name of 1 to 200 characters');
    }
    checkStorableText(command.event, 'event');
    const properties =
      command.properties == null
        ? {}
        : checkJsonObject(command.properties, 'properties', MAX_PROPERTIES_BYTES);
    const explicitMs = checkOccurredAt(
      command.occurredAt,
      nowMs,
      this.maxFutureSkewMs,
      'occurredAt',
    );
    const messageId = command.messageId ?? null;
    if (messageId !== null && (messageId.length === 0 || messageId.length > 255)) {
      throw new InputProblem('messageId', 'expected 1 to 255 characters');
    }
    if (messageId !== null) checkStorableText(messageId, 'messageId');
    const payloadHash = createHash('sha256')
      // An anonymous id joins the hash only when present: hashes stored before it existed hold.
      .update(
        canonicalJson([
          ref.externalId,
          command.event,
          properties,
          explicitMs,
          ...(ref.anonymousId === null ? [] : [ref.anonymousId]),
        ]),
      )
      .digest('base64url');
    return {
      index,
      ref,
      name: command.event,
      properties,
      occurredAtMs: explicitMs ?? nowMs,
      messageId,
      payloadHash,
    };
  }

  private async store(
    tx: Tx,
    tenantId: string,
    items: ValidItem[],
    nowMs: number,
    results: TrackItemResult[],
    effects: Effects,
  ): Promise<void> {
    const { customers, merged } = await this.identity.resolve(
      tx,
      tenantId,
      items.map((i) => i.ref),
      new Date(nowMs),
    );
    // Ids are drawn in input order; rows are inserted in messageId order, so two batches
    // sharing ids take their locks in the same order and cannot deadlock on them. One
    // statement: the ids, the insert, and which rows it stored.
    const order = items.map((_, k) => k).sort((a, b) => byMessageId(items[a], items[b]));
    const rank = new Array<number>(items.length);
    order.forEach((k, r) => (rank[k] = r));
    const ids = await rows<{ id: string; inserted: boolean }>(
      tx,
      `WITH x AS (
         SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id, u.*
         FROM (SELECT * FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::timestamptz[],
           $7::text[], $8::text[], $9::int[]) WITH ORDINALITY
           AS v(customer_id, name, properties, occurred_at, message_id, payload_hash, rank, n)
           ORDER BY n) u
       ), stored AS (
         INSERT INTO events (id, tenant_id, customer_id, name, properties, occurred_at,
           received_at, message_id, payload_hash)
         SELECT id, $1, customer_id, name, properties, occurred_at, $2, message_id, payload_hash
         FROM x ORDER BY rank
         ON CONFLICT (tenant_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
         RETURNING id
       )
       SELECT x.id::text AS id, stored.id IS NOT NULL AS inserted
       FROM x LEFT JOIN stored ON stored.id = x.id ORDER BY x.n`,
      [
        tenantId,
        new Date(nowMs),
        items.map((i) => customers.get(refKey(i.ref))!.id),
        items.map((i) => i.name),
        items.map((i) => JSON.stringify(i.properties)),
        items.map((i) => new Date(i.occurredAtMs)),
        items.map((i) => i.messageId),
        items.map((i) => i.payloadHash),
        rank,
      ],
    );
    const insertedIds = new Set(ids.filter((r) => r.inserted).map((r) => r.id));

    const skipped = items.filter((_, k) => !insertedIds.has(ids[k].id));
    const existing = new Map<string, { id: string; payload_hash: string }>();
    if (skipped.length > 0) {
      const found = await rows<{ id: string; message_id: string; payload_hash: string }>(
        tx,
        `SELECT id::text AS id, message_id,
           payload_hash FROM events WHERE tenant_id = $1 AND message_id = ANY($2::text[])`,
        [tenantId, skipped.map((i) => i.messageId)],
      );
      for (const row of found) existing.set(row.message_id, row);
    }

    // Every decision of the call goes into one statement, before the transaction commits.
    await batchDecisions(tx, tenantId, async () => {
      // A merge may have completed the data a held entry waited for.
      for (const customer of merged) {
        await this.enrollments.onCustomersMerged(tx, tenantId, customer, nowMs, effects);
        await this.enrollments.onCustomerChanged(tx, tenantId, customer, nowMs, effects);
      }
      for (let k = 0; k < items.length; k++) {
        const item = items[k];
        const eventId = ids[k].id;
        if (insertedIds.has(eventId)) {
          results[item.index] = { index: item.index, status: 'accepted', eventId };
          await this.enrollments.onEvent(
            tx,
            tenantId,
            {
              id: eventId,
              name: item.name,
              properties: item.properties,
              occurredAtMs: item.occurredAtMs,
              customer: customers.get(refKey(item.ref))!,
            },
            nowMs,
            effects,
          );
          continue;
        }
        const original = existing.get(item.messageId!)!;
        results[item.index] =
          original.payload_hash === item.payloadHash
            ? { index: item.index, status: 'duplicate', eventId: original.id }
            : {
                index: item.index,
                status: 'rejected',
                code: ErrorCode.CONFLICT,
                field: `events.${item.index}.messageId`,
                message:
                  `events.${item.index}.messageId: "${item.messageId}" was already used for a ` +
                  'different event; a retry must repeat the original payload',
              };
      }
    });
  }
}

/** An event names its customer by external id, anonymous id, or both (linking them). */
function checkCustomerRef(command: TrackCommand): CustomerRef {
  const hasExternal = command.customerExternalId != null;
  const anonymousId =
    command.anonymousId == null ? null : checkExternalId(command.anonymousId, 'anonymousId');
  if (!hasExternal && anonymousId === null) {
    throw new InputProblem('customerExternalId', 'expected customerExternalId or anonymousId');
  }
  const externalId = hasExternal
    ? checkExternalId(command.customerExternalId, 'customerExternalId')
    : null;
  return { externalId, anonymousId };
}

/** Items with a messageId first, by messageId; the rest keep their order. */
function byMessageId(a: ValidItem, b: ValidItem): number {
  if (a.messageId === null || b.messageId === null) {
    return (a.messageId === null ? 1 : 0) - (b.messageId === null ? 1 : 0) || a.index - b.index;
  }
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : a.index - b.index;
}

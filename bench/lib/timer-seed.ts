import { Client } from 'pg';
import { createClient } from 'redis';
import { shardOf } from '../../src/engine/timers/timer-index';
import { timerKeys } from '../../src/engine/timers/timer-keys';
import type { NudgeProcess } from './nudge-process';

/**
 * Pending STEP timers for the timer workloads (B4, B5, B6, B8), made in bulk the way the
 * product would have made them one by one.
 *
 * `prepareTimerTenant` goes through the API: a tenant whose webhook URL is the bench's
 * receiver, a customer, an ACTIVE trigger with one TRANSACTIONAL WEBHOOK step a day after
 * the entry event, and one tracked event, which makes one genuine enrollment and its STEP
 * timer. `seedStepTimers` then copies that enrollment row N times with SQL (fresh ids, the
 * same trigger version and entry event, customers spread over a pool) and inserts one
 * PENDING STEP timer per copy, due when the caller says; finally it ZADDs the new timer ids
 * into Nudge's Redis index with the same keys, members and scores `RedisTimerIndex.schedule`
 * uses, which is what the effects of the commits that made them would have done.
 *
 * Firing one of these timers is the product's full STEP work: lock, render, record the
 * message, arm its delivery watchdog, complete the run, then deliver the webhook after commit.
 */

export const TIMER_EVENT = 'bench_timer_armed';
/** Nudge's default `NUDGE_TIMER_SHARDS`. */
export const DEFAULT_TIMER_SHARDS = 4;

export interface TimerTenant {
  tenantId: string;
  secret: string;
  triggerId: string;
  /** The enrollment made through the API, copied by `seedStepTimers`. */
  templateEnrollmentId: string;
  /** The genuine STEP timer of that enrollment (due a day later). */
  templateTimerId: string;
  /** How many customers seeded runs are spread over. */
  customers: number;
  redisPrefix: string;
  shardCount: number;
}

export interface SeededTimers {
  /** Timer ids are an identity column: one seeding is one contiguous id range. */
  firstId: string;
  lastId: string;
  count: number;
  /** Earliest and latest due time seeded, epoch ms. */
  firstDueMs: number;
  lastDueMs: number;
  /** Timers whose index entry was written only after their due time (should be 0). */
  addedAfterDue: number;
  /** Wall time of the PostgreSQL inserts and of the Redis ZADDs, ms. */
  insertMs: number;
  indexMs: number;
  /** When the last index entry was written, epoch ms. */
  indexedAtMs: number;
}

export interface TimerSeedSpec {
  count: number;
  /** Due times are uniform at random in [windowStartMs, windowStartMs + windowMs). */
  windowStartMs: number;
  windowMs: number;
  /** Skip the Redis index (the engine's rebuild at start is then what indexes them). */
  skipIndex?: boolean;
}

const ROWS_PER_INSERT = 50_000;
const MEMBERS_PER_ZADD = 1_000;
const ZADDS_IN_FLIGHT = 16;

/** Creates the tenant, customers, trigger and one genuine enrollment through the API. */
export async function prepareTimerTenant(
  nudge: NudgeProcess,
  db: Client,
  options: { webhookUrl: string; customers: number; shardCount?: number },
): Promise<TimerTenant> {
  const { tenantId, secret } = await nudge.createTenant('bench timers');
  const call = <T>(operation: string, query: string, variables: Record<string, unknown>) =>
    nudge.client.request<T>(operation, secret, query, variables);

  await call(
    'updateTenantSettings',
    `mutation S($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { id } }`,
    { input: { webhookUrl: options.webhookUrl } },
  );
  const trigger = await call<{ createTrigger: { id: string } }>(
    'createTrigger',
    `mutation T($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`,
    {
      input: {
        name: 'Bench timer',
        event: TIMER_EVENT,
        steps: [
          {
            delay: 'P1D',
            channel: 'WEBHOOK',
            purpose: 'TRANSACTIONAL',
            template: { subject: 'Reminder', body: 'Hello {{ customer.externalId }}' },
          },
        ],
      },
    },
  );
  await call('identify', `mutation I($input: IdentifyInput!) { identify(input: $input) { id } }`, {
    input: { externalId: 'bench-customer-0', email: 'bench-0@bench.example' },
  });
  await call('track', `mutation K($input: TrackInput!) { track(input: $input) { eventId } }`, {
    input: { customerExternalId: 'bench-customer-0', event: TIMER_EVENT },
  });

  const template = await waitForTemplateTimer(db, tenantId);
  // More customers, copied from the genuine one (fresh ids and external ids).
  if (options.customers > 1) {
    const columns = await columnsOf(db, 'customers');
    const select = columns.map((c) =>
      c === 'id'
        ? 'gen_random_uuid()'
        : c === 'external_id'
          ? `'bench-customer-' || g`
          : c === 'email'
            ? `'bench-' || g || '@bench.example'`
            : `c.${c}`,
    );
    await db.query(
      `INSERT INTO customers (${columns.join(', ')})
       SELECT ${select.join(', ')} FROM customers c, generate_series(1, $2::int) g
       WHERE c.tenant_id = $1 AND c.external_id = 'bench-customer-0'`,
      [tenantId, options.customers - 1],
    );
  }
  return {
    tenantId,
    secret,
    triggerId: trigger.createTrigger.id,
    templateEnrollmentId: template.enrollmentId,
    templateTimerId: template.timerId,
    customers: options.customers,
    redisPrefix: nudge.redisPrefix,
    shardCount: options.shardCount ?? DEFAULT_TIMER_SHARDS,
  };
}

/** The tracked event's enrollment and STEP timer (ingestion commits them synchronously). */
async function waitForTemplateTimer(db: Client, tenantId: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { rows } = await db.query<{ enrollment_id: string; id: string }>(
      `SELECT t.enrollment_id, t.id::text FROM timers t JOIN enrollments e ON e.id = t.enrollment_id
       WHERE t.tenant_id = $1 AND t.kind = 'STEP' AND t.state = 'PENDING' AND e.state = 'ACTIVE'`,
      [tenantId],
    );
    if (rows.length === 1) return { enrollmentId: rows[0].enrollment_id, timerId: rows[0].id };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the tracked event made no ACTIVE enrollment with a pending STEP timer');
}

async function columnsOf(db: Client, table: string): Promise<string[]> {
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER'
       AND identity_generation IS NULL ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.column_name);
}

/**
 * Copies the template enrollment `spec.count` times, each with one PENDING STEP timer due
 * at random in the window, then indexes the new timers in Redis (unless `skipIndex`).
 */
export async function seedStepTimers(
  db: Client,
  redisUrl: string,
  tenant: TimerTenant,
  spec: TimerSeedSpec,
): Promise<SeededTimers> {
  const columns = await columnsOf(db, 'enrollments');
  const select = columns.map((c) =>
    c === 'id' ? 'gen_random_uuid()' : c === 'customer_id' ? 'pool.ids[1 + g % pool.n]' : `e.${c}`,
  );
  const insertStarted = Date.now();
  const ids: string[] = [];
  const dues: number[] = [];
  for (let done = 0; done < spec.count; done += ROWS_PER_INSERT) {
    const n = Math.min(ROWS_PER_INSERT, spec.count - done);
    const result = await db.query({
      text: `WITH pool AS (
               SELECT array_agg(id) AS ids, count(*)::int AS n FROM customers WHERE tenant_id = $1
             ), copies AS (
               INSERT INTO enrollments (${columns.join(', ')})
               SELECT ${select.join(', ')} FROM enrollments e, pool, generate_series(1, $3::int) g
               WHERE e.tenant_id = $1 AND e.id = $2
               RETURNING id, tenant_id
             ), fresh AS (
               INSERT INTO timers (tenant_id, kind, enrollment_id, step_index, due_at, state, created_at)
               SELECT tenant_id, 'STEP', id, 0,
                 to_timestamp(($4::bigint + floor(random() * $5::int)::bigint) / 1000.0),
                 'PENDING', now()
               FROM copies
               RETURNING id, due_at
             )
             SELECT id::text, round(extract(epoch FROM due_at) * 1000)::float8 FROM fresh`,
      values: [
        tenant.tenantId,
        tenant.templateEnrollmentId,
        n,
        Math.round(spec.windowStartMs),
        Math.round(spec.windowMs),
      ],
      rowMode: 'array',
    });
    for (const [id, dueMs] of result.rows as Array<[string, number]>) {
      ids.push(id);
      dues.push(dueMs);
    }
  }
  const insertMs = Date.now() - insertStarted;
  if (ids.length !== spec.count) throw new Error(`seeded ${ids.length} of ${spec.count} timers`);

  const indexStarted = Date.now();
  const addedAfterDue = spec.skipIndex ? 0 : await indexTimers(redisUrl, tenant, ids, dues);
  const indexedAtMs = Date.now();
  let firstId = ids[0];
  let lastId = ids[0];
  let firstDueMs = Infinity;
  let lastDueMs = -Infinity;
  for (let i = 0; i < ids.length; i++) {
    if (BigInt(ids[i]) < BigInt(firstId)) firstId = ids[i];
    if (BigInt(ids[i]) > BigInt(lastId)) lastId = ids[i];
    firstDueMs = Math.min(firstDueMs, dues[i]);
    lastDueMs = Math.max(lastDueMs, dues[i]);
  }
  return {
    firstId,
    lastId,
    count: ids.length,
    firstDueMs,
    lastDueMs,
    addedAfterDue,
    insertMs,
    indexMs: indexedAtMs - indexStarted,
    indexedAtMs,
  };
}

/**
 * ZADDs timer ids into the tenant's shard of Nudge's index (member = id, score = due ms),
 * 1,000 per command with a few commands in flight. Returns how many entries were written
 * after their due time had passed.
 */
async function indexTimers(
  redisUrl: string,
  tenant: TimerTenant,
  ids: string[],
  dues: number[],
): Promise<number> {
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  await redis.connect();
  const key = timerKeys(tenant.redisPrefix, shardOf(tenant.tenantId, tenant.shardCount)).due;
  let addedAfterDue = 0;
  try {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const start = next;
        next += MEMBERS_PER_ZADD;
        const members = [];
        for (let i = start; i < Math.min(start + MEMBERS_PER_ZADD, ids.length); i++) {
          members.push({ score: dues[i], value: ids[i] });
        }
        await redis.zAdd(key, members);
        const writtenAt = Date.now();
        for (const m of members) if (m.score < writtenAt) addedAfterDue++;
      }
    };
    await Promise.all(Array.from({ length: ZADDS_IN_FLIGHT }, worker));
  } finally {
    redis.destroy();
  }
  return addedAfterDue;
}

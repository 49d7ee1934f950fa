import { Client } from 'pg';
import type { NudgeProcess } from './nudge-process';
import { BUCKETS, CUSTOMER_POOL, INGEST_EVENT_NAME } from './ingest-events';

/**
 * Set-up shared by the ingest workloads (B1, B2, B8): the tenant's customers and stored
 * events written straight into PostgreSQL (fast, before measuring), and the tenant's active
 * triggers created over GraphQL like an integrator would.
 */

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Inserts the pool's customers `cust-0 … cust-<n−1>` for the tenant (Nudge's schema). */
export function seedCustomers(databaseUrl: string, tenantId: string, count = CUSTOMER_POOL) {
  return withClient(databaseUrl, async (client) => {
    await client.query(
      `INSERT INTO customers (tenant_id, external_id, created_at, updated_at)
       SELECT $1, 'cust-' || g, now(), now() FROM generate_series(0, $2::int - 1) g`,
      [tenantId, count],
    );
  });
}

/**
 * Inserts stored events number `from` … `from + count − 1` for the tenant's customers with
 * `INSERT … SELECT generate_series` (a million rows per statement), spread over the last 30
 * days, then ANALYZEs the table. They look like the benchmark's own events (same name and
 * property shape, message ids `seed-<n>`), so the indexes grow as with real traffic. Foreign
 * key triggers are skipped for this session (`session_replication_role = replica`, as a
 * restore does): every customer id comes from the customers table. Returns elapsed ms.
 */
export function seedStoredEvents(
  databaseUrl: string,
  tenantId: string,
  from: number,
  count: number,
) {
  return withClient(databaseUrl, async (client) => {
    const started = Date.now();
    await client.query(`SET session_replication_role = replica`);
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM customers WHERE tenant_id = $1',
      [tenantId],
    );
    const customers = rows[0].n;
    if (customers === 0) throw new Error('seed the customers first');
    const chunk = 1_000_000;
    for (let first = from; first < from + count; first += chunk) {
      const last = Math.min(from + count, first + chunk) - 1;
      await client.query(
        `WITH c AS (
           SELECT id, (row_number() OVER (ORDER BY external_id) - 1)::int AS k
           FROM customers WHERE tenant_id = $1)
         INSERT INTO events (tenant_id, customer_id, name, properties, occurred_at, received_at,
           message_id, payload_hash)
         SELECT $1, c.id, $2,
           jsonb_build_object('path', '/products/' || g % 5000, 'bucket', g % $5::int,
             'value', g % 97),
           now() - (g % 2592000) * interval '1 second', now(), 'seed-' || g,
           md5(g::text) || 'seedseedse'
         FROM generate_series($3::int, $4::int) g
         JOIN c ON c.k = (g::bigint * 7919) % $6::int`,
        [tenantId, INGEST_EVENT_NAME, first, last, BUCKETS, customers],
      );
    }
    await client.query('ANALYZE events');
    return Date.now() - started;
  });
}

/**
 * Creates `count` ACTIVE triggers on the bench event. Trigger i enters a run only when
 * `event.properties.bucket` equals i, so each matches 1 event in 1,000 and all of them
 * together 1 % of events; a run schedules one EMAIL step an hour later (a timer in
 * PostgreSQL and Redis; nothing is sent during the run).
 */
export async function createBenchTriggers(nudge: NudgeProcess, secret: string, count: number) {
  for (let i = 0; i < count; i++) {
    await nudge.client.request(
      'createTrigger',
      secret,
      `mutation CreateTrigger($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`,
      {
        input: {
          name: `bench trigger ${i}`,
          event: INGEST_EVENT_NAME,
          where: { field: 'event.properties.bucket', op: 'eq', value: i },
          steps: [
            {
              delay: 'PT1H',
              channel: 'EMAIL',
              template: {
                subject: 'Hello {{ customer.externalId }}',
                body: 'Seen {{ event.name }}',
              },
            },
          ],
        },
      },
    );
  }
}

/** Rows per table for the tenant, e.g. `{ events: 120000, decisions: 1188000 }`. */
export function countTenantRows<T extends string>(
  databaseUrl: string,
  tenantId: string,
  tables: readonly T[],
): Promise<Record<T, number>> {
  return withClient(databaseUrl, async (client) => {
    const counts = {} as Record<T, number>;
    for (const table of tables) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${table} WHERE tenant_id = $1`,
        [tenantId],
      );
      counts[table] = Number(rows[0].n);
    }
    return counts;
  });
}

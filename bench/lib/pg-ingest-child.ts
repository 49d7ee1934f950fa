import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { benchEvent, customerExternalId } from './ingest-events';
import { emitJson } from './pinned-child';
import { quantile } from './workload';

/**
 * Child script (pinned by the parent): the raw PostgreSQL baselines of B2. It writes the same
 * rows the product stores for B2's events — `tenant_id, customer_id, name, properties,
 * occurred_at, received_at, message_id, payload_hash` — into an `events` table created by
 * Nudge's own migrations (same columns, keys, indexes and foreign keys), either
 *  - `insert`: a pool of 4 connections, each sending parameterised 100-row
 *    `INSERT … VALUES` statements (one autocommit transaction each), or
 *  - `copy`: one connection streaming 1,000-row text chunks into `COPY … FROM STDIN`.
 * Rows are prepared before the clock starts; the table is emptied before each run.
 *
 * argv[2]: JSON `PgIngestSpec`. Prints one JSON line, a `PgIngestResult`.
 */

export interface PgIngestSpec {
  databaseUrl: string;
  mode: 'insert' | 'copy';
  tenantId: string;
  runTag: string;
  rows: number;
  /** Rows per INSERT statement (100). */
  batchSize: number;
  /** Connections for `insert` (4). */
  poolSize: number;
}

export interface PgIngestResult {
  rowsPerSec: number;
  rows: number;
  elapsedMs: number;
  /** Per statement (`insert`) or for the one COPY (`copy`). */
  statementP50Ms: number;
  statementP99Ms: number;
}

const COLUMNS =
  'tenant_id, customer_id, name, properties, occurred_at, received_at, message_id, payload_hash';

interface Row {
  customerId: string;
  name: string;
  properties: string;
  occurredAt: Date;
  messageId: string;
  payloadHash: string;
}

async function customerIds(url: string, tenantId: string): Promise<Map<string, string>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; external_id: string }>(
      'SELECT id, external_id FROM customers WHERE tenant_id = $1',
      [tenantId],
    );
    await client.query('TRUNCATE events');
    return new Map(rows.map((r) => [r.external_id, r.id]));
  } finally {
    await client.end();
  }
}

function prepareRows(spec: PgIngestSpec, customers: Map<string, string>): Row[] {
  const now = new Date();
  const rows: Row[] = new Array(spec.rows);
  for (let seq = 0; seq < spec.rows; seq++) {
    const event = benchEvent(spec.runTag, seq);
    const properties = JSON.stringify(event.properties);
    rows[seq] = {
      customerId: customers.get(customerExternalId(event.customerIndex))!,
      name: event.event,
      properties,
      occurredAt: now,
      messageId: event.messageId,
      payloadHash: createHash('sha256').update(properties).digest('base64url'),
    };
  }
  return rows;
}

async function insertRows(spec: PgIngestSpec, rows: Row[], now: Date): Promise<PgIngestResult> {
  const pool = new Pool({ connectionString: spec.databaseUrl, max: spec.poolSize });
  const statements: Array<{ text: string; values: unknown[] }> = [];
  for (let start = 0; start < rows.length; start += spec.batchSize) {
    const slice = rows.slice(start, start + spec.batchSize);
    const values: unknown[] = [];
    const tuples = slice.map((row) => {
      const base = values.length;
      values.push(spec.tenantId, row.customerId, row.name, row.properties, row.occurredAt, now);
      values.push(row.messageId, row.payloadHash);
      return `(${Array.from({ length: 8 }, (_, k) => `$${base + k + 1}`).join(', ')})`;
    });
    statements.push({
      text: `INSERT INTO events (${COLUMNS}) VALUES ${tuples.join(', ')}`,
      values,
    });
  }
  // Open every connection before the clock starts.
  await Promise.all(
    Array.from({ length: spec.poolSize }, () => pool.connect().then((c) => c.release())),
  );
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: spec.poolSize }, async () => {
      while (next < statements.length) {
        const statement = statements[next++];
        const t0 = performance.now();
        await pool.query(statement.text, statement.values);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  await pool.end();
  return summary(rows.length, elapsedMs, latencies);
}

function copyText(value: string): string {
  return value.replace(
    /[\\\t\n\r]/g,
    (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!,
  );
}

async function copyRows(spec: PgIngestSpec, rows: Row[], now: Date): Promise<PgIngestResult> {
  const received = now.toISOString();
  const chunks: string[] = [];
  for (let start = 0; start < rows.length; start += 1000) {
    chunks.push(
      rows
        .slice(start, start + 1000)
        .map(
          (row) =>
            [
              spec.tenantId,
              row.customerId,
              copyText(row.name),
              copyText(row.properties),
              row.occurredAt.toISOString(),
              received,
              copyText(row.messageId),
              row.payloadHash,
            ].join('\t') + '\n',
        )
        .join(''),
    );
  }
  const client = new Client({ connectionString: spec.databaseUrl });
  await client.connect();
  const started = performance.now();
  await pipeline(
    Readable.from(chunks),
    client.query(copyFrom(`COPY events (${COLUMNS}) FROM STDIN`)),
  );
  const elapsedMs = performance.now() - started;
  await client.end();
  return summary(rows.length, elapsedMs, [elapsedMs]);
}

function summary(rows: number, elapsedMs: number, latencies: number[]): PgIngestResult {
  return {
    rowsPerSec: (rows / elapsedMs) * 1000,
    rows,
    elapsedMs,
    statementP50Ms: quantile(latencies, 0.5),
    statementP99Ms: quantile(latencies, 0.99),
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as PgIngestSpec;
  const customers = await customerIds(spec.databaseUrl, spec.tenantId);
  const rows = prepareRows(spec, customers);
  const now = new Date();
  emitJson(
    spec.mode === 'insert' ? await insertRows(spec, rows, now) : await copyRows(spec, rows, now),
  );
}

main().catch((err: Error) => {
  process.stderr.write(`pg ingest baseline failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

import { Client } from 'pg';
import { emitJson } from '../lib/pinned-child';
import { summarizeLatencies } from '../lib/latency-summary';
import { wallClockMs } from '../lib/wall-clock';

/**
 * Child script: floor (b) of B3 — one single-row INSERT committed from Node, timed per
 * statement. One `pg` client, autocommit (each INSERT is its own transaction, committed with
 * the server's default `synchronous_commit=on`), one statement at a time, into a scratch
 * table shaped like a small event row that is dropped afterwards.
 *
 * argv[2]: database URL; argv[3]: how many commits. Prints `{ commit: LatencySummary }`.
 */
async function main(): Promise<void> {
  const [url, countText] = process.argv.slice(2);
  const count = Number(countText);
  const client = new Client({ connectionString: url });
  await client.connect();
  const table = `bench_commit_floor_${process.pid}`;
  try {
    await client.query(
      `CREATE TABLE ${table} (id bigserial PRIMARY KEY, customer_id text NOT NULL,
         name text NOT NULL, properties jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    const insert = {
      name: 'commit-floor-insert',
      text: `INSERT INTO ${table} (customer_id, name, properties) VALUES ($1, $2, $3)`,
    };
    const latencies = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const started = wallClockMs();
      await client.query({ ...insert, values: [`customer-${i}`, 'b3_now', '{"n":1}'] });
      latencies[i] = wallClockMs() - started;
    }
    emitJson({ commit: summarizeLatencies(latencies) });
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await client.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`commit floor failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

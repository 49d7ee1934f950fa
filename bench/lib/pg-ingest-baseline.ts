import path from 'node:path';
import { Client } from 'pg';
import { runPinnedScript } from './pinned-child';
import { seedCustomers } from './ingest-setup';
import { createScratchDatabase, migrateDatabase, type ScratchDatabase } from './scratch-database';
import type { PgIngestResult, PgIngestSpec } from './pg-ingest-child';

/**
 * The raw PostgreSQL side of B2: a scratch database migrated with Nudge's own migrations
 * (so `events` has exactly the product's columns, keys, indexes and foreign keys), one
 * tenant and the bench customers, and runs of `pg-ingest-child.ts` pinned to core 0.
 */
export interface PgIngestBaseline {
  database: ScratchDatabase;
  tenantId: string;
  run(spec: Pick<PgIngestSpec, 'mode' | 'runTag' | 'rows'>): Promise<PgIngestResult>;
  drop(): Promise<void>;
}

export async function preparePgIngestBaseline(options: {
  postgresUrl: string;
  workDir: string;
  label: string;
}): Promise<PgIngestBaseline> {
  const database = await createScratchDatabase(options.postgresUrl, options.label);
  try {
    await migrateDatabase(database.url);
    const client = new Client({ connectionString: database.url });
    await client.connect();
    const tenantId = await client
      .query<{ id: string }>(`INSERT INTO tenants (name) VALUES ('bench baseline') RETURNING id`)
      .then((result) => result.rows[0].id)
      .finally(() => client.end());
    await seedCustomers(database.url, tenantId);
    return {
      database,
      tenantId,
      run: (spec) =>
        runPinnedScript<PgIngestResult>({
          core: 0,
          script: path.join('bench', 'lib', 'pg-ingest-child.ts'),
          args: [
            JSON.stringify({
              ...spec,
              databaseUrl: database.url,
              tenantId,
              batchSize: 100,
              poolSize: 4,
            } satisfies PgIngestSpec),
          ],
          logFile: path.join(options.workDir, 'pg-ingest.log'),
          timeoutMs: 300_000,
        }),
      drop: () => database.drop(),
    };
  } catch (err) {
    await database.drop().catch(() => undefined);
    throw err;
  }
}

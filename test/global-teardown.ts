import { Client } from 'pg';
import type { EmbeddedPostgres } from '../src/platform/embedded-postgres';

/** Drops the run's database (or stops the embedded server). */
export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as Record<string, unknown>).__nudgeEmbeddedPg as
    | EmbeddedPostgres
    | undefined;
  if (embedded) {
    await embedded.stop();
    return;
  }
  const dbName = process.env.NUDGE_TEST_DB_NAME;
  const adminUrl = process.env.NUDGE_TEST_PG_ADMIN_URL;
  if (!dbName || !adminUrl || process.env.NUDGE_KEEP_TEST_DB === '1') return;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}

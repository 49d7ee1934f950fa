import { Client } from 'pg';
import { databaseUrl } from './scratch-database';
import { cpuSecondsOf } from './pinned-child';

/**
 * CPU seconds used so far by the PostgreSQL backends connected to one database (read from
 * /proc, so PostgreSQL must run on this machine and /proc be readable). A pool's connections
 * live for the whole run, so the difference over a run is PostgreSQL's work for it; a
 * backend that exits in between takes its share with it.
 */
export async function backendCpuSeconds(postgresUrl: string, database: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl(postgresUrl, 'postgres') });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return rows.reduce((sum, row) => sum + (cpuSecondsOf(row.pid) || 0), 0);
  } finally {
    await client.end();
  }
}

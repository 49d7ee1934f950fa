import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client } from 'pg';

/**
 * A PostgreSQL database that exists for one workload run: created empty, optionally migrated
 * to Nudge's schema (with `scripts/migrate.ts`, exactly as a deploy does), and dropped
 * `WITH (FORCE)` at the end, also when the run failed.
 */
export interface ScratchDatabase {
  name: string;
  /** Connection URL of this database. */
  url: string;
  drop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '../..');
const run = promisify(execFile);

/** `postgresUrl` is the server URL without a database (`postgres://postgres@127.0.0.1:5432`). */
export function databaseUrl(postgresUrl: string, database: string): string {
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs one statement on the server's `postgres` maintenance database. */
async function onMaintenanceDb(postgresUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl(postgresUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

let created = 0;

/**
 * Creates `nudge_bench_<label>_<pid>_<n>` (label lower-cased, letters, digits and `_` only).
 * The counter keeps two databases of the same workload in one process apart.
 */
export async function createScratchDatabase(
  postgresUrl: string,
  label: string,
): Promise<ScratchDatabase> {
  const safeLabel = label.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const name = `nudge_bench_${safeLabel}_${process.pid}_${++created}`;
  await onMaintenanceDb(postgresUrl, `CREATE DATABASE ${name}`);
  return {
    name,
    url: databaseUrl(postgresUrl, name),
    drop: () => onMaintenanceDb(postgresUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Applies Nudge's migrations to `url` with `scripts/migrate.ts` in a child process. */
export async function migrateDatabase(url: string): Promise<void> {
  await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/migrate.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: url },
  });
}

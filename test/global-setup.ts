import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createClient } from 'redis';
import { startEmbeddedPostgres } from '../src/platform/embedded-postgres';

/**
 * Prepares the servers the suites use. Real PostgreSQL and Redis at their default local
 * addresses are preferred; each run gets its own database. Without them, PostgreSQL falls
 * back to the embedded server and Redis to the in-process stand-ins, and suites that need
 * the real thing say that they did not run. With CI=true or NUDGE_REQUIRE_SERVERS=1 a
 * missing server fails the run instead.
 */
export default async function globalSetup(): Promise<void> {
  const mustHaveServers = process.env.CI === 'true' || process.env.NUDGE_REQUIRE_SERVERS === '1';
  const adminUrl =
    process.env.NUDGE_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.NUDGE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

  const dbName = `nudge_test_${process.pid}_${Date.now()}`;
  let pgKind: string;
  if (await canReachPostgres(adminUrl)) {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${dbName}`;
    process.env.NUDGE_TEST_DATABASE_URL = url.toString();
    process.env.NUDGE_TEST_DB_NAME = dbName;
    process.env.NUDGE_TEST_PG_ADMIN_URL = adminUrl;
    pgKind = `real PostgreSQL (${dbName})`;
  } else if (mustHaveServers) {
    throw new Error(
      `PostgreSQL is required (CI / NUDGE_REQUIRE_SERVERS) but ${adminUrl} does not answer`,
    );
  } else {
    const embedded = await startEmbeddedPostgres(
      mkdtempSync(path.join(os.tmpdir(), 'nudge-test-pg-')),
    );
    (globalThis as Record<string, unknown>).__nudgeEmbeddedPg = embedded;
    process.env.NUDGE_TEST_DATABASE_URL = embedded.url;
    // One connection per instance: the embedded server takes few, and not concurrently.
    process.env.NUDGE_TEST_DB_POOL_SIZE = '1';
    pgKind = 'embedded PostgreSQL (PGlite) — real server not reachable';
  }

  let redisKind: string;
  if (await canReachRedis(redisUrl)) {
    process.env.NUDGE_TEST_REDIS_URL = redisUrl;
    redisKind = 'real Redis';
  } else if (mustHaveServers) {
    throw new Error(
      `Redis is required (CI / NUDGE_REQUIRE_SERVERS) but ${redisUrl} does not answer`,
    );
  } else {
    delete process.env.NUDGE_TEST_REDIS_URL;
    redisKind = 'in-process stand-ins — suites that need real Redis are skipped and say so';
  }
  process.stdout.write(`\ntest servers: ${pgKind}; ${redisKind}\n`);
}

async function canReachPostgres(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function canReachRedis(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/logger';
import { loadConfig } from '../../src/config';
import { startNudge, type Nudge, type StartOptions } from '../../src/app';
import { SmtpSink } from '../../scripts/lib/smtp-sink';

export const OPERATOR_TOKEN = 'test-operator-token-0001';

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestNudge {
  nudge: Nudge;
  smtp: SmtpSink;
  /** Redis key prefix of this instance (unique per test file unless given). */
  prefix: string;
  /** Sends a GraphQL request with the given bearer secret (or none). */
  request<T = Record<string, any>>(
    secret: string | null,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T>>;
  /** Like `request`, but fails the test on any error and returns `data`. */
  ok<T = Record<string, any>>(
    secret: string | null,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<T>;
  createTenant(name?: string, timezone?: string): Promise<{ tenantId: string; secret: string }>;
  setClock(iso: string): Promise<{ now: string; timersFired: number }>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Reuse a Redis prefix (to restart "the same" deployment). */
  prefix?: string;
  /** Reuse an SMTP sink across restarts. */
  smtp?: SmtpSink;
  env?: Record<string, string>;
  /** Passed to `startNudge` (e.g. a test DNS for tenant-controlled targets). */
  start?: Omit<StartOptions, 'log'>;
}

/** True when the run has a real Redis (see test/global-setup.ts). */
export const hasRealRedis = (): boolean => Boolean(process.env.NUDGE_TEST_REDIS_URL);

/**
 * `describe` that runs only with a real Redis, and says so plainly when it is skipped.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (hasRealRedis()) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it.skip(`needs a real Redis at redis://127.0.0.1:6379 — not reachable, suite did not run`, () =>
      undefined);
  });
}

/** Starts a whole Nudge (HTTP, engine, manual clock) against the test servers. */
export async function startTestNudge(options: HarnessOptions = {}): Promise<TestNudge> {
  const databaseUrl = process.env.NUDGE_TEST_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('NUDGE_TEST_DATABASE_URL is not set; run through jest (global-setup)');
  const prefix = options.prefix ?? `t${randomBytes(4).toString('hex')}`;
  const smtp = options.smtp ?? new SmtpSink();
  const smtpUrl = smtp.port ? `smtp://127.0.0.1:${smtp.port}` : await smtp.start();

  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    NUDGE_OPERATOR_TOKEN: OPERATOR_TOKEN,
    NUDGE_CLOCK: 'manual',
    PORT: '0',
    LOG_LEVEL: process.env.NUDGE_TEST_LOG_LEVEL ?? 'silent',
    SMTP_URL: smtpUrl,
    NUDGE_REDIS_PREFIX: prefix,
    NUDGE_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'nudge-test-')),
    NUDGE_KEY_PEPPER: 'test-pepper-0123456789',
    ...(process.env.NUDGE_TEST_REDIS_URL ? { REDIS_URL: process.env.NUDGE_TEST_REDIS_URL } : {}),
    ...(process.env.NUDGE_TEST_DB_POOL_SIZE
      ? { NUDGE_DB_POOL_SIZE: process.env.NUDGE_TEST_DB_POOL_SIZE }
      : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const nudge = await startNudge(config, {
    ...options.start,
    log: createLogger(config.logLevel),
  });

  const request: TestNudge['request'] = async (secret, query, variables) => {
    const response = await fetch(nudge.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<any>;
  };
  const ok: TestNudge['ok'] = async (secret, query, variables) => {
    const result = await request(secret, query, variables);
    if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data as any;
  };

  return {
    nudge,
    smtp,
    prefix,
    request,
    ok,
    async createTenant(name = 'shop', timezone = 'UTC') {
      const data = await ok<any>(
        OPERATOR_TOKEN,
        `mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } secret } }`,
        { input: { name, timezone } },
      );
      return { tenantId: data.createTenant.tenant.id, secret: data.createTenant.secret };
    },
    async setClock(iso) {
      const data = await ok<any>(
        OPERATOR_TOKEN,
        `mutation($to: DateTime!) { setClock(to: $to) { now timersFired } }`,
        {
          to: iso,
        },
      );
      return data.setClock;
    },
    async stop() {
      await nudge.stop();
      if (!options.smtp) await smtp.stop();
    },
  };
}

import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GraphQLClient } from '../../scripts/lib/graphql-client';
import { createTenant } from '../../scripts/lib/nudge-operations';
import { freePort } from './free-port';
import { spawnPinned, type PinnedChild } from './pinned-child';
import { deleteRedisKeys } from './redis-cleanup';
import { createScratchDatabase, migrateDatabase, type ScratchDatabase } from './scratch-database';
import { benchNudgeSettings } from './nudge-settings';

/**
 * Nudge as the system under test: `src/main.ts` in a child process pinned to one core
 * (default 0), in production mode, on its own freshly created and migrated PostgreSQL
 * database and its own Redis key prefix. `stop()` ends the process and removes both.
 *
 * Opt-in profiling: with `NUDGE_BENCH_CPU_PROF=<dir>` in the runner's environment the child
 * runs with `--cpu-prof --cpu-prof-dir=<dir>` and writes a `.cpuprofile` when it stops
 * (summarise it with `bench/lib/cpu-profile-summary.ts`).
 */

export interface NudgeProcessOptions {
  postgresUrl: string;
  redisUrl: string;
  /** Scratch directory: the child's log and data directory (outbox) go under it. */
  workDir: string;
  /** Names the database, the Redis prefix and the log file (letters, digits, `_`). */
  label: string;
  /** CPU core for the Nudge process (default 0). */
  core?: number;
  /** Extra environment for Nudge, e.g. `{ NUDGE_TIMER_POLL_MS: '5' }`. */
  env?: NodeJS.ProcessEnv;
  /** Called with the migrated database before Nudge starts (e.g. to pre-seed rows). */
  beforeStart?: (database: ScratchDatabase) => Promise<void>;
  /** How long start-up may take, in ms (default 60 s). */
  startTimeoutMs?: number;
}

export interface NudgeProcess {
  /** `http://127.0.0.1:<port>/graphql` */
  graphqlUrl: string;
  port: number;
  pid: number;
  child: PinnedChild;
  database: ScratchDatabase;
  redisPrefix: string;
  operatorToken: string;
  /** A client for setup calls (not for load): counts and times its calls. */
  client: GraphQLClient;
  /** Creates a tenant over GraphQL with the operator token; returns its ADMIN secret. */
  createTenant(name: string): Promise<{ tenantId: string; secret: string }>;
  /** Resident set size of the Nudge process now, in bytes. */
  rssBytes(): number;
  /** Stops Nudge (SIGTERM, graceful), drops its database and deletes its Redis keys. */
  stop(): Promise<void>;
}

export async function startNudgeProcess(options: NudgeProcessOptions): Promise<NudgeProcess> {
  const label = options.label.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const redisPrefix = `nbench:${label.slice(0, 16)}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const operatorToken = randomBytes(18).toString('base64url');
  const database = await createScratchDatabase(options.postgresUrl, label);
  let child: PinnedChild | null = null;
  const cleanUp = async () => {
    const problems: unknown[] = [];
    await child?.stop().catch((err) => problems.push(err));
    await database.drop().catch((err) => problems.push(err));
    await deleteRedisKeys(options.redisUrl, redisPrefix).catch((err) => problems.push(err));
    if (problems.length > 0) throw problems[0];
  };

  try {
    await migrateDatabase(database.url);
    await options.beforeStart?.(database);
    const port = await freePort();
    const profileDir = process.env.NUDGE_BENCH_CPU_PROF;
    child = spawnPinned({
      core: options.core ?? 0,
      script: 'src/main.ts',
      nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [],
      logFile: path.join(options.workDir, `nudge-${label}.log`),
      env: {
        NODE_ENV: 'production',
        DATABASE_URL: database.url,
        REDIS_URL: options.redisUrl,
        NUDGE_REDIS_PREFIX: redisPrefix,
        NUDGE_OPERATOR_TOKEN: operatorToken,
        NUDGE_KEY_PEPPER: randomBytes(18).toString('base64url'),
        NUDGE_DATA_DIR: path.join(options.workDir, `nudge-data-${label}`),
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        ...options.env,
        ...benchNudgeSettings(),
      },
    });
    await waitUntilHealthy(child, port, options.startTimeoutMs ?? 60_000);

    const graphqlUrl = `http://127.0.0.1:${port}/graphql`;
    const client = new GraphQLClient(graphqlUrl);
    const running = child;
    return {
      graphqlUrl,
      port,
      pid: running.pid,
      child: running,
      database,
      redisPrefix,
      operatorToken,
      client,
      createTenant: (name) => createTenant(client, operatorToken, name),
      rssBytes: () => running.rssBytes(),
      stop: cleanUp,
    };
  } catch (err) {
    await cleanUp().catch(() => undefined);
    throw err;
  }
}

/**
 * Polls `GET /healthz` every `pollMs` until it answers 200; fails if the child exits or time
 * runs out. Also used by `startTimerEngine`, which polls more often to time start-up.
 */
export async function waitUntilHealthy(
  child: PinnedChild,
  port: number,
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`Nudge exited during start-up: ${child.stderrTail()}`);
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((response) => response.ok)
      .catch(() => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(`Nudge was not healthy within ${timeoutMs} ms: ${child.stderrTail()}`);
}

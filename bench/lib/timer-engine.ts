import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from './free-port';
import { waitUntilHealthy, type NudgeProcess } from './nudge-process';
import { spawnPinned, type PinnedChild } from './pinned-child';
import { benchNudgeSettings } from './nudge-settings';

/**
 * Another Nudge engine process on the database and Redis prefix of a running
 * `NudgeProcess`, for the timer workloads that must restart the engine: to let it rebuild
 * its timer index from PostgreSQL at start (B6, timed), to measure its memory with and
 * without pending timers (B6), or to run it with another `NUDGE_TIMER_POLL_MS` (B4). Stop
 * the previous engine first (`nudge.child.stop()`); `nudge.stop()` still drops the database
 * and the Redis keys at the end. Same pinning and production settings as `startNudgeProcess`.
 */

export interface TimerEngine {
  child: PinnedChild;
  /** From spawn until `/healthz` answered, ms (includes the index rebuild). */
  startMs: number;
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startTimerEngine(
  nudge: NudgeProcess,
  options: {
    redisUrl: string;
    workDir: string;
    label: string;
    env?: NodeJS.ProcessEnv;
    core?: number;
  },
): Promise<TimerEngine> {
  const port = await freePort();
  const started = Date.now();
  const profileDir = process.env.NUDGE_BENCH_CPU_PROF;
  const child = spawnPinned({
    core: options.core ?? 0,
    script: 'src/main.ts',
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : [],
    logFile: path.join(options.workDir, `nudge-${options.label}.log`),
    env: {
      NODE_ENV: 'production',
      DATABASE_URL: nudge.database.url,
      REDIS_URL: options.redisUrl,
      NUDGE_REDIS_PREFIX: nudge.redisPrefix,
      NUDGE_OPERATOR_TOKEN: nudge.operatorToken,
      NUDGE_KEY_PEPPER: randomBytes(18).toString('base64url'),
      NUDGE_DATA_DIR: path.join(options.workDir, `nudge-data-${options.label}`),
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...options.env,
      ...benchNudgeSettings(),
    },
  });
  try {
    await waitUntilHealthy(child, port, 600_000, 50);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    child,
    startMs: Date.now() - started,
    rssBytes: () => child.rssBytes(),
    stop: () => child.stop(),
  };
}

import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Logger } from '../../src/logger';

/**
 * The replay's settings on top of the caller's environment: manual clock, an ephemeral
 * loopback port, the sink as SMTP server, and (unless given) a random operator token, a
 * fresh data folder, a random Redis key prefix, and LOG_LEVEL=warn. `channels` adds the
 * settings of further channel peers (SMS provider, push service, public URL); they win over
 * the caller's.
 */
export function replayEnvironment(
  base: NodeJS.ProcessEnv,
  smtpUrl: string,
  channels: Record<string, string> = {},
): { env: NodeJS.ProcessEnv; temporaryDataDir: string | null } {
  const dataDir = base.NUDGE_DATA_DIR || mkdtempSync(path.join(os.tmpdir(), 'nudge-replay-'));
  return {
    temporaryDataDir: base.NUDGE_DATA_DIR ? null : dataDir,
    env: {
      ...base,
      NUDGE_CLOCK: 'manual',
      HOST: '127.0.0.1',
      PORT: '0',
      SMTP_URL: smtpUrl,
      LOG_LEVEL: base.LOG_LEVEL || 'warn',
      NUDGE_OPERATOR_TOKEN: base.NUDGE_OPERATOR_TOKEN || randomBytes(16).toString('hex'),
      NUDGE_DATA_DIR: dataDir,
      // The manual clock fires every due timer in its index; a prefix of its own keeps the
      // replay away from the timers of a deployment that shares the Redis.
      NUDGE_REDIS_PREFIX: base.NUDGE_REDIS_PREFIX || `replay-${randomBytes(4).toString('hex')}`,
      ...channels,
    },
  };
}

/** Nudge's own logs go to stderr, so stdout carries only the summary (`--json` pipes). */
export function stderrLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'nudge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['email', '*.email', 'secret', '*.secret'], censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

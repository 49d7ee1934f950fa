import 'reflect-metadata';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { startNudge } from './app';

/** `npm start`: validates the environment, starts Nudge, stops cleanly on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nudge: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const nudge = await startNudge(config, { log });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A stuck dependency must not keep the process alive forever.
    setTimeout(() => process.exit(1), 15_000).unref();
    await nudge.stop();
    log.info({ signal }, 'stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  // A failed start is usually configuration (an unreachable DATABASE_URL, a taken PORT):
  // say what failed; the stack only helps with LOG_LEVEL=debug.
  const detail = process.env.LOG_LEVEL === 'debug' ? (err as Error).stack : (err as Error).message;
  process.stderr.write(`nudge: failed to start: ${detail ?? String(err)}\n`);
  process.exit(1);
});

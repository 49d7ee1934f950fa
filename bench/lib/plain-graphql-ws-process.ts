import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from './free-port';
import { spawnPinned, type PinnedChild } from './pinned-child';

/**
 * Starts `plain-graphql-ws-server.ts` (the fan-out baseline) as a child pinned to `core`
 * (default 0), fed by its own Redis pub/sub channel, and waits until it listens.
 */
export interface PlainGraphqlWsProcess {
  /** `ws://127.0.0.1:<port>/graphql` */
  wsUrl: string;
  /** The Redis channel its firings arrive on (publish `Firing` JSON there). */
  channel: string;
  child: PinnedChild;
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startPlainGraphqlWsProcess(options: {
  redisUrl: string;
  workDir: string;
  core?: number;
}): Promise<PlainGraphqlWsProcess> {
  const port = await freePort();
  const channel = `nbench:plainws:${process.pid}:${randomBytes(3).toString('hex')}:firings`;
  const child = spawnPinned({
    core: options.core ?? 0,
    script: path.join('bench', 'lib', 'plain-graphql-ws-server.ts'),
    args: [String(port), options.redisUrl, channel],
    env: { NODE_ENV: 'production' },
    logFile: path.join(options.workDir, 'plain-graphql-ws-server.log'),
  });
  try {
    await child.nextJson(60_000, (line) => line?.ready === true);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    channel,
    child,
    rssBytes: () => child.rssBytes(),
    stop: () => child.stop(),
  };
}

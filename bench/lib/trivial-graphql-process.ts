import path from 'node:path';
import { freePort } from './free-port';
import { spawnPinned, type PinnedChild } from './pinned-child';

/**
 * Starts `trivial-graphql-server.ts` (the product's HTTP integration with a schema that only
 * counts) as a child pinned to `core` (default 0), and waits until it listens.
 */
export interface TrivialGraphqlProcess {
  graphqlUrl: string;
  child: PinnedChild;
  rssBytes(): number;
  stop(): Promise<void>;
}

export async function startTrivialGraphqlProcess(options: {
  workDir: string;
  core?: number;
}): Promise<TrivialGraphqlProcess> {
  const port = await freePort();
  const child = spawnPinned({
    core: options.core ?? 0,
    script: path.join('bench', 'lib', 'trivial-graphql-server.ts'),
    args: [String(port)],
    env: { NODE_ENV: 'production' },
    logFile: path.join(options.workDir, 'trivial-graphql-server.log'),
  });
  try {
    await child.nextJson(60_000, (line) => line?.ready === true);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    graphqlUrl: `http://127.0.0.1:${port}/graphql`,
    child,
    rssBytes: () => child.rssBytes(),
    stop: () => child.stop(),
  };
}

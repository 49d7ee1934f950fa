import path from 'node:path';
import { describeFailures, loadIsClean, runHttpLoad, type HttpLoadResult } from './http-load';
import { TRACK_OK, trackBatchOk } from './ingest-events';

/**
 * One closed-loop ingest run against a GraphQL endpoint (Nudge or a baseline server), from
 * a load child pinned to core 1: `track` with one event per request, or `trackBatch` with
 * `batchSize` events. Every answer must be a 2xx carrying the expected result (no GraphQL
 * error, every event accepted), or the run is invalid and this throws.
 */
export interface IngestLoadOptions {
  url: string;
  /** Bearer secret sent with every request. */
  secret: string;
  connections: number;
  /** Run length; with `amount`, the time limit. */
  durationSec: number;
  /** Stop after this many requests (quick mode: proves the path, whatever the machine). */
  amount?: number;
  /** Makes this run's message ids unique: `<runTag>-<seq>`. */
  runTag: string;
  /** Absent: `track`; given: `trackBatch` of this many events. */
  batchSize?: number;
  workDir: string;
  /** CPU seconds used so far by the server process (`PinnedChild.cpuSeconds`). */
  serverCpuSeconds: () => number;
  /** CPU seconds used so far by the server's PostgreSQL backends (`backendCpuSeconds`). */
  databaseCpuSeconds?: () => Promise<number>;
}

export interface IngestLoadResult extends HttpLoadResult {
  /** The server process's CPU time during the run ÷ the run's duration (100 = one core). */
  serverCpuPercent: number;
  /** The same for its PostgreSQL backends (NaN without `databaseCpuSeconds`). */
  databaseCpuPercent: number;
}

export async function ingestLoad(options: IngestLoadOptions): Promise<IngestLoadResult> {
  const batch = options.batchSize !== undefined;
  const cpuBefore = options.serverCpuSeconds();
  const databaseCpuBefore = (await options.databaseCpuSeconds?.()) ?? NaN;
  const result = await runHttpLoad(
    {
      url: options.url,
      connections: options.connections,
      durationSec: options.durationSec,
      amount: options.amount,
      headers: { authorization: `Bearer ${options.secret}` },
      body: {
        module: 'bench/lib/ingest-events.ts',
        factory: batch ? 'trackBatchBodies' : 'trackBodies',
        params: { runTag: options.runTag, batchSize: options.batchSize },
      },
      expectInBody: batch ? trackBatchOk(options.batchSize!) : TRACK_OK,
    },
    { logFile: path.join(options.workDir, 'load.log') },
  );
  if (result.requests === 0) {
    throw new Error(`invalid run ${options.runTag} against ${options.url}: no request completed`);
  }
  if (!loadIsClean(result)) {
    throw new Error(
      `invalid run ${options.runTag} against ${options.url}: ${describeFailures(result)}`,
    );
  }
  const cpuUsed = options.serverCpuSeconds() - cpuBefore;
  const databaseCpuUsed = ((await options.databaseCpuSeconds?.()) ?? NaN) - databaseCpuBefore;
  return {
    ...result,
    serverCpuPercent: (cpuUsed / result.durationSec) * 100,
    databaseCpuPercent: (databaseCpuUsed / result.durationSec) * 100,
  };
}

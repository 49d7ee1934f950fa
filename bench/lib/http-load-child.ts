import path from 'node:path';
import autocannon from 'autocannon';
import { emitJson, REPO_ROOT } from './pinned-child';
import type { HttpLoadResult, HttpLoadSpec } from './http-load';

/**
 * Child script of `http-load.ts` (run pinned to a core): one autocannon run as described by
 * the JSON spec in argv[2]; prints one JSON line, an `HttpLoadResult`.
 */
async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as HttpLoadSpec;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bodies = require(path.resolve(REPO_ROOT, spec.body.module))[spec.body.factory](
    spec.body.params,
  ) as (seq: number) => string;
  const url = new URL(spec.url);
  let seq = 0;
  let badBodies = 0;
  let firstBadBody: string | null = null;
  const expected = spec.expectInBody;

  const result = await autocannon({
    url: spec.url,
    // autocannon refuses more connections than requests.
    connections: spec.amount ? Math.min(spec.connections, spec.amount) : spec.connections,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSec }),
    requests: [
      {
        method: 'POST',
        path: url.pathname,
        headers: { 'content-type': 'application/json', ...spec.headers },
        setupRequest: (request) => ({ ...request, body: bodies(seq++) }),
        onResponse: (status, body) => {
          if (status < 200 || status >= 300 || !expected || body.includes(expected)) return;
          badBodies++;
          firstBadBody ??= body.slice(0, 300);
        },
      },
    ],
  });

  const summary: HttpLoadResult = {
    rps: result.requests.total / result.duration,
    requests: result.requests.total,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    badBodies,
    firstBadBody,
    durationSec: result.duration,
  };
  emitJson(summary);
}

main().catch((err: Error) => {
  process.stderr.write(`http load failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

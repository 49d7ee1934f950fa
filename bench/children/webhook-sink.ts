import http from 'node:http';
import { emitJson } from '../lib/pinned-child';

/**
 * The tenant's webhook receiver for the timer workloads: answers every POST with 204 at
 * once and counts deliveries, and duplicates by `webhook-id` (Nudge's idempotency key, one
 * per run and step), so a run can prove each fired step was delivered exactly once.
 *
 * Prints `{"port": N}` when listening. `GET /stats` answers `{ received, duplicates }`;
 * `POST /reset` zeroes the counts. Run pinned to the load generator's core.
 */

const seen = new Set<string>();
let received = 0;
let duplicates = 0;

const server = http.createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ received, duplicates }));
    return;
  }
  if (request.method === 'POST' && request.url === '/reset') {
    seen.clear();
    received = 0;
    duplicates = 0;
    response.writeHead(204).end();
    return;
  }
  // Any other POST is a delivery; the body is drained, not parsed.
  request.resume();
  request.on('end', () => {
    const id = String(request.headers['webhook-id'] ?? '');
    received++;
    if (seen.has(id)) duplicates++;
    else seen.add(id);
    response.writeHead(204).end();
  });
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  emitJson({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

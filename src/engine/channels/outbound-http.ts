import http from 'node:http';
import https from 'node:https';
import { OutboundGuard, OutboundRefusedError } from './outbound-guard';

/**
 * How long an idle pooled connection is kept, as fetch's pool does when the server gives no
 * `Keep-Alive: timeout` hint (Node's agent honours the hint when there is one).
 */
const IDLE_CONNECTION_MS = 4_000;

/** What came back: the status line and headers; the body is read and dropped. */
export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
}

export interface OutboundRequest {
  headers: Record<string, string>;
  body: string | Buffer;
  /** How long the whole exchange may take, connecting included. */
  timeoutMs: number;
}

/**
 * HTTP(S) POSTs to tenant-controlled URLs (webhook URLs, push endpoints), connected only to
 * addresses its `OutboundGuard` allows: IP literals are checked before the request, names
 * by the guard's `lookup` on the agents, which resolve once and connect to what they checked.
 * Redirects are not followed (a 3xx is an answer like any other), so a receiver cannot send
 * the request on to an internal address.
 *
 * Errors: rejects with `OutboundRefusedError` for a refused target, with a `TimeoutError`
 * (by name, as `AbortSignal.timeout` gives) when no answer came within `timeoutMs`, and with
 * the socket's system error (`ECONNREFUSED`, …) otherwise — the shapes `failureFromNetworkError`
 * classifies.
 */
export class OutboundHttpClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly guard: OutboundGuard) {
    const options = { keepAlive: true, timeout: IDLE_CONNECTION_MS, lookup: guard.lookup };
    this.httpAgent = new http.Agent(options);
    this.httpsAgent = new https.Agent(options);
  }

  /** POSTs `request.body` to `url` (http or https). */
  post(url: string, request: OutboundRequest): Promise<OutboundResponse> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw new OutboundRefusedError(`${target.protocol} is not http or https`);
      }
      this.guard.checkLiteralHost(target.hostname);

      const isHttps = target.protocol === 'https:';
      const req = (isHttps ? https : http).request(target, {
        method: 'POST',
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      });
      const timer = setTimeout(
        () => req.destroy(new DOMException('no answer within the timeout', 'TimeoutError')),
        request.timeoutMs,
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.once('response', (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
        // Drained so the connection can be reused; a body that never ends meets the timer,
        // and the error that cutting it off raises here is of no interest: we have the answer.
        res.once('close', () => clearTimeout(timer));
        res.on('error', () => undefined);
        res.resume();
      });
      req.end(request.body);
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

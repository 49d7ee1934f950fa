import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type {
  HttpRoute,
  OperationType,
  OperatorMetrics,
  RequestOutcome,
} from '../platform/operator-metrics';
import type { RequestContext } from '../resolvers/context';
import { isEngagementPath } from './engagement-routes';

/** Path of the Prometheus exposition. */
export const METRICS_PATH = '/metrics';

interface GraphQLStats {
  operation: OperationType;
  hasErrors: boolean;
}

function routeOf(pathname: string): HttpRoute {
  if (pathname === '/graphql') return 'graphql';
  if (pathname === '/healthz') return 'healthz';
  if (pathname === METRICS_PATH) return 'metrics';
  if (pathname === '/dashboard' || pathname.startsWith('/dashboard/')) return 'dashboard';
  if (isEngagementPath(pathname)) return 'engagement';
  return 'other';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * HTTP side of the operator metrics: times every request (route, GraphQL operation type,
 * outcome — never a tenant or an operation name), and serves `GET /metrics` to callers that
 * present `Authorization: Bearer <token>` (NUDGE_METRICS_TOKEN, else the operator token).
 */
export class HttpMetrics {
  /**
   * By request id: Apollo hands plugins a copy of the context object, so its identity cannot
   * be the key. Entries leave when their response finishes.
   */
  private readonly byRequestId = new Map<string, GraphQLStats>();
  private readonly tokenDigest: Buffer;

  constructor(
    private readonly metrics: OperatorMetrics,
    token: string,
  ) {
    this.tokenDigest = digest(token);
  }

  /** Apollo plugin that notes each operation's type and whether it answered with errors. */
  readonly plugin: ApolloServerPlugin<RequestContext> = {
    requestDidStart: async () => ({
      didResolveOperation: async ({ operation, contextValue }) => {
        this.byRequestId.set(contextValue.requestId, {
          operation: operation?.operation ?? 'none',
          hasErrors: false,
        });
      },
      willSendResponse: async ({ response, contextValue }) => {
        const stats = this.byRequestId.get(contextValue.requestId) ?? {
          operation: 'none',
          hasErrors: false,
        };
        stats.hasErrors =
          response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
        this.byRequestId.set(contextValue.requestId, stats);
      },
    }),
  };

  /**
   * Starts timing request `requestId`; the observation is made when its response has been
   * sent (or the connection closed first).
   */
  time(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      const stats = this.byRequestId.get(requestId);
      this.byRequestId.delete(requestId);
      const outcome: RequestOutcome = res.statusCode >= 400 || stats?.hasErrors ? 'error' : 'ok';
      this.metrics.httpRequestSeconds.observe(
        { route: routeOf(pathname), operation: stats?.operation ?? 'none', outcome },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
  }

  /** True when this request is for the metrics path (any method). */
  isMetricsPath(pathname: string): boolean {
    return pathname === METRICS_PATH;
  }

  /** Answers `GET /metrics`: 401 without the bearer token, 405 for other methods. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!timingSafeEqual(digest(given), this.tokenDigest)) {
      res
        .writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' })
        .end('send Authorization: Bearer <NUDGE_METRICS_TOKEN>\n');
      return;
    }
    const { contentType, body } = await this.metrics.scrape();
    res.writeHead(200, { 'content-type': contentType }).end(body);
  }
}

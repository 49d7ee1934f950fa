import { randomUUID } from 'node:crypto';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import { WebSocket, WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from '../logger';
import type { RequestContext } from '../resolvers/context';
import { formatError, formatWsErrors, type WsErrorStage } from './format-error';
import {
  PARSE_OPTIONS,
  limitValidationRules,
  oneTrackBatchPlugin,
  prepareWsOperation,
} from './request-limits';
import type { Authenticator } from './authenticator';
import {
  handleEngagementRequest,
  isEngagementPath,
  type EngagementRoutesOptions,
} from './engagement-routes';
import { hasScope } from '../tenancy/scopes';
import type { HttpMetrics } from './metrics-route';
import { createDashboardRoutes, isDashboardPath } from './dashboard-routes';

const MAX_BODY_BYTES = 5 * 1024 * 1024;

export interface HttpServerOptions {
  schema: GraphQLSchema;
  authenticator: Authenticator;
  log: Logger;
  isProduction: boolean;
  health: () => Promise<boolean>;
  /** Tracking links, one-click unsubscribe and SMS provider callbacks. */
  engagement: EngagementRoutesOptions;
  /** Request timing and `GET /metrics` (see `metrics-route.ts`); null: neither. */
  metrics?: HttpMetrics | null;
  makeContext: (
    requestId: string,
    log: Logger,
    principal: RequestContext['principal'],
  ) => RequestContext;
}

export interface RunningServer {
  server: http.Server;
  /** Closes the subscriptions opened with a key that has just been revoked (code 4403). */
  closeConnectionsOfKey(apiKeyId: string): void;
  stop(): Promise<void>;
}

/**
 * One port for everything: `POST /graphql` (Apollo over node:http), `graphql-ws` on the same
 * path, `GET /healthz`, the dashboard page under `/dashboard` (see `dashboard-routes.ts`), and
 * the engagement endpoints under `/t/` and `/hooks/sms/` (see `engagement-routes.ts`). Every
 * request gets a request id (`x-request-id`, echoed back).
 */
export async function startHttpServer(
  options: HttpServerOptions,
  host: string,
  port: number,
): Promise<RunningServer> {
  const { schema, authenticator, log } = options;
  const server = http.createServer();
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const socketsByKey = new Map<string, Set<WebSocket>>();
  const dashboard = createDashboardRoutes(log);
  const wsServer = useServer<Record<string, unknown>, { context?: RequestContext }>(
    {
      schema,
      // A hook that throws closes the socket; outside production graphql-ws would put the
      // error's own message (driver or SQL text) in the close reason.
      isProd: true,
      async onConnect(ctx) {
        const auth = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const principal = await authenticator
          .fromHeader(typeof auth === 'string' ? auth : undefined)
          .catch((err: unknown) => {
            log.error({ err }, 'websocket authentication failed');
            // graphql-ws closes the socket with 4500 and a generic reason (isProd above).
            throw new Error('websocket authentication failed', { cause: err });
          });
        // Subscriptions deliver tenant data: a key that may not read gets no connection.
        if (principal?.kind !== 'tenant' || !hasScope(principal.tenant.scopes, 'READ'))
          return false;
        const requestId = randomUUID();
        const child = log.child({ requestId, tenantId: principal.tenant.tenantId });
        ctx.extra.context = options.makeContext(requestId, child, {
          kind: 'tenant',
          tenant: { ...principal.tenant, requestId, log: child },
        });
        const keyId = principal.tenant.apiKeyId;
        if (keyId) {
          const sockets = socketsByKey.get(keyId) ?? new Set<WebSocket>();
          sockets.add(ctx.extra.socket);
          socketsByKey.set(keyId, sockets);
          ctx.extra.socket.once('close', () => {
            sockets.delete(ctx.extra.socket);
            if (sockets.size === 0) socketsByKey.delete(keyId);
          });
        }
        return true;
      },
      context: (ctx) => ctx.extra.context as unknown as Record<string, unknown>,
      // Same parse, validation and request limits as HTTP; bad input answers with coded
      // errors instead of closing the socket.
      onSubscribe: (_ctx, _id, payload) => prepareWsOperation(schema, payload),
      // Apollo's formatError does not see graphql-ws traffic: mask here too.
      onNext(ctx, _id, _payload, _args, result) {
        if (!result.errors?.length) return;
        return { ...result, errors: formatForSocket(ctx.extra.context, result.errors, 'next') };
      },
      onError: (ctx, _id, _payload, errors) =>
        formatForSocket(ctx.extra.context, errors, 'subscribe'),
    },
    wss,
  );

  function formatForSocket(
    context: RequestContext | undefined,
    errors: readonly GraphQLError[],
    stage: WsErrorStage,
  ) {
    return formatWsErrors(errors, stage, context?.log ?? log, context?.requestId);
  }

  const apollo = new ApolloServer<RequestContext>({
    schema,
    introspection: !options.isProduction,
    includeStacktraceInErrorResponses: false,
    // main.ts owns shutdown (timers, pools, embedded PostgreSQL); a second stop() never returns.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => formatError(formatted, error, log),
    parseOptions: PARSE_OPTIONS,
    validationRules: [...limitValidationRules],
    plugins: [
      oneTrackBatchPlugin,
      ...(options.metrics ? [options.metrics.plugin] : []),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsServer.dispose();
            },
          };
        },
      },
      {
        // An internal error's only clue for the client is the request id of the log line.
        async requestDidStart() {
          return {
            async willSendResponse({ response, contextValue }) {
              if (response.body.kind !== 'single') return;
              for (const error of response.body.singleResult.errors ?? []) {
                if (error.extensions?.code === 'INTERNAL_SERVER_ERROR') {
                  (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
                }
              }
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  server.on('request', (req, res) => {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    options.metrics?.time(req, res, requestId);
    handle(req, res, requestId).catch((err) => {
      log.error({ requestId, err }, 'request failed');
      if (!res.headersSent)
        send(res, 500, {
          errors: [
            { message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } },
          ],
        });
    });
  });

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
  ): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz' && req.method === 'GET') {
      const ok = await options.health().catch(() => false);
      send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable' });
      return;
    }
    if (isDashboardPath(url.pathname)) {
      await dashboard.handle(req, res, url);
      return;
    }
    if (options.metrics?.isMetricsPath(url.pathname)) {
      await options.metrics.handle(req, res);
      return;
    }
    if (isEngagementPath(url.pathname)) {
      await handleEngagementRequest(options.engagement, req, res, url, log.child({ requestId }));
      return;
    }
    if (url.pathname !== '/graphql') {
      send(res, 404, { error: 'not found; GraphQL is served at /graphql' });
      return;
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (body instanceof Error) {
      send(res, 400, { errors: [{ message: body.message, extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const started = Date.now();
    const reqLog = log.child({ requestId });
    const principal = await authenticator.fromHeader(req.headers.authorization);
    const context = options.makeContext(
      requestId,
      reqLog,
      principal?.kind === 'tenant'
        ? {
            kind: 'tenant',
            tenant: {
              ...principal.tenant,
              requestId,
              // Tenant work logs carry the tenant once, bound here (STYLE.md field names).
              log: reqLog.child({ tenantId: principal.tenant.tenantId }),
            },
          }
        : principal,
    );
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: async () => context,
    });
    for (const [key, value] of result.headers) res.setHeader(key, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
    } else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
    reqLog.debug(
      {
        tenantId: principal?.kind === 'tenant' ? principal.tenant.tenantId : undefined,
        durationMs: Date.now() - started,
      },
      'graphql request',
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

  return {
    server,
    closeConnectionsOfKey(apiKeyId) {
      for (const socket of socketsByKey.get(apiKeyId) ?? []) socket.close(4403, 'Forbidden');
    },
    async stop() {
      await apollo.stop();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(payload));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return new Error(`request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return new Error('request body is not valid JSON');
  }
}

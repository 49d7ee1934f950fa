import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { createLogger } from '../../src/logger';
import { startHttpServer } from '../../src/server/http-server';
import type { Authenticator } from '../../src/server/authenticator';
import type { EngagementRoutesOptions } from '../../src/server/engagement-routes';
import type { RequestContext } from '../../src/resolvers/context';
import type { Services } from '../../src/services';
import { emitJson } from './pinned-child';

/**
 * Child script: the "trivial mutation on the same HTTP integration" baseline of B1 (and a
 * trivial `trackBatch` for anyone who wants it). It serves a minimal schema through Nudge's
 * own `startHttpServer` (Apollo's `executeHTTPGraphQLRequest` on node:http, the same request
 * limits, plugins and error formatting), so the HTTP and GraphQL layers are the product's.
 * `track` and `trackBatch` take the product's input types and only count; the authenticator
 * accepts any bearer secret as a tenant without a database lookup.
 *
 * argv[2]: port. Prints `{"ready":true,"port":…}` once listening; stops on SIGTERM.
 */

const SDL = `
  scalar JSON
  scalar DateTime
  input TrackInput {
    customerExternalId: String
    anonymousId: String
    event: String!
    properties: JSON
    occurredAt: DateTime
    messageId: String
  }
  type TrackResult { eventId: ID! duplicate: Boolean! }
  type TrackBatchResult { accepted: Int! duplicates: Int! }
  type Query { ok: Boolean! }
  type Mutation {
    track(input: TrackInput!): TrackResult!
    trackBatch(events: [TrackInput!]!): TrackBatchResult!
  }
`;

function trivialSchema(): GraphQLSchema {
  const schema = buildSchema(SDL);
  Object.assign(schema.getType('JSON')!, {
    serialize: GraphQLJSON.serialize,
    parseValue: GraphQLJSON.parseValue,
    parseLiteral: GraphQLJSON.parseLiteral,
  });
  Object.assign(schema.getType('DateTime')!, {
    serialize: GraphQLDateTime.serialize,
    parseValue: GraphQLDateTime.parseValue,
    parseLiteral: GraphQLDateTime.parseLiteral,
  });
  let counted = 0;
  const mutations = schema.getMutationType()!.getFields();
  mutations.track.resolve = () => ({ eventId: String(++counted), duplicate: false });
  mutations.trackBatch.resolve = (_root, args: { events: unknown[] }) => {
    counted += args.events.length;
    return { accepted: args.events.length, duplicates: 0 };
  };
  schema.getQueryType()!.getFields().ok.resolve = () => true;
  return schema;
}

async function main(): Promise<void> {
  const port = Number(process.argv[2]);
  const log = createLogger('warn');
  const tenant = { tenantId: randomUUID(), scopes: ['ADMIN'], apiKeyId: null };
  const authenticator = {
    fromHeader: async (header: string | undefined) =>
      header ? { kind: 'tenant', tenant: { ...tenant, requestId: null, log } } : null,
  } as unknown as Authenticator;
  const server = await startHttpServer(
    {
      schema: trivialSchema(),
      authenticator,
      log,
      isProduction: true,
      health: async () => true,
      // Only `/t/` and `/hooks/sms/` use these; the benchmark never calls them.
      engagement: {} as EngagementRoutesOptions,
      makeContext: (requestId, reqLog, principal): RequestContext => ({
        requestId,
        log: reqLog,
        principal,
        services: {} as Services,
      }),
    },
    '127.0.0.1',
    port,
  );
  emitJson({ ready: true, port });
  const stop = () => {
    void server.stop().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`trivial server failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

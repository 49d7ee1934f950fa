import http from 'node:http';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { createClient } from 'redis';
import { emitJson } from './pinned-child';

/**
 * Child script: the plain `graphql-ws` fan-out baseline of B7 (and of B3's delivery floor),
 * rebuilt from BASELINES.md §1d/§7: `ws` + graphql-ws `useServer` + graphql-js, no framework.
 * Its `triggerFired` subscription has the same selection types as Nudge's; each subscriber
 * gets its own in-process push queue, and graphql-js executes the selection for every
 * subscriber and every firing (what graphql-ws does). Firings arrive on a Redis pub/sub
 * channel in Nudge's bus format (`Firing` JSON, parsed once, pushed to every queue), so the
 * publisher and the Redis hop are the same as Nudge's; only the server differs. Connections
 * are not authenticated.
 *
 * argv: port, redisUrl, channel. Prints `{"ready":true,"port":…}` when listening and
 * subscribed to the channel; stops on SIGTERM.
 */

interface Firing {
  tenantId: string;
  triggerId: string;
  triggerName: string;
  customerExternalId: string | null;
  enrollmentId: string;
  firedAt: string;
}

const SDL = `
  scalar DateTime
  type Query { ok: Boolean! }
  type TriggerFiringTrigger { id: ID! name: String! }
  type TriggerFiringCustomer { externalId: String }
  type TriggerFiring {
    trigger: TriggerFiringTrigger!
    customer: TriggerFiringCustomer!
    firedAt: DateTime!
    enrollmentId: ID!
  }
  type Subscription { triggerFired: TriggerFiring! }
`;

/** An async iterator fed by `push`; what is pushed while nobody waits is buffered. */
class PushQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private done = false;

  constructor(private readonly onReturn: () => void) {}

  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake({ value, done: false });
    } else this.buffered.push(value);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffered.length > 0)
      return Promise.resolve({ value: this.buffered.shift()!, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.done = true;
    this.buffered.length = 0;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

function plainSchema(queues: Set<PushQueue<Firing>>): GraphQLSchema {
  const schema = buildSchema(SDL);
  Object.assign(schema.getType('DateTime')!, {
    serialize: GraphQLDateTime.serialize,
    parseValue: GraphQLDateTime.parseValue,
    parseLiteral: GraphQLDateTime.parseLiteral,
  });
  const field = schema.getSubscriptionType()!.getFields().triggerFired;
  field.subscribe = () => {
    const queue: PushQueue<Firing> = new PushQueue(() => queues.delete(queue));
    queues.add(queue);
    return queue;
  };
  field.resolve = (firing: Firing) => ({
    trigger: { id: firing.triggerId, name: firing.triggerName },
    customer: { externalId: firing.customerExternalId },
    firedAt: new Date(firing.firedAt),
    enrollmentId: firing.enrollmentId,
  });
  schema.getQueryType()!.getFields().ok.resolve = () => true;
  return schema;
}

async function main(): Promise<void> {
  const [portArg, redisUrl, channel] = process.argv.slice(2);
  const queues = new Set<PushQueue<Firing>>();
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const wsServer = useServer({ schema: plainSchema(queues) }, wss);

  const redis = createClient({ url: redisUrl });
  redis.on('error', (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
  await redis.connect();
  await redis.subscribe(channel, (message) => {
    const firing = JSON.parse(message) as Firing;
    for (const queue of queues) queue.push(firing);
  });

  await new Promise<void>((resolve) => server.listen(Number(portArg), '127.0.0.1', resolve));
  emitJson({ ready: true, port: Number(portArg) });

  const stop = () => {
    setTimeout(() => process.exit(0), 3000).unref();
    void Promise.allSettled([wsServer.dispose(), redis.quit()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`plain graphql-ws server failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

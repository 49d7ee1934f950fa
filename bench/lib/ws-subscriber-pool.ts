import WebSocket from 'ws';
import { wallClockMs } from './wall-clock';

/**
 * Many `graphql-ws` subscribers in one process, spoken in raw `graphql-transport-ws` over
 * `ws` (no client library, so the client side costs little per message): each socket sends
 * `connection_init` with the given connection params, waits for `connection_ack`, then sends
 * one `subscribe`. Sockets are opened in batches (default 200 at a time) so the server is not
 * hit by thousands of handshakes at once. Every `next` message is handed to `onNext` with the
 * wall-clock time it was read (`wallClockMs`), before anything else is done with it.
 *
 * Note that `graphql-ws` does not acknowledge a `subscribe`: a caller that needs to know the
 * subscriptions are live must publish probes until every subscriber has seen one.
 */

export interface SubscriberPoolOptions {
  /** `ws://host:port/graphql` */
  url: string;
  count: number;
  /** `connection_init` payload of subscriber `index` (e.g. its tenant's authorization). */
  connectionParams: (index: number) => Record<string, unknown>;
  query: string;
  /** Sockets opened concurrently (default 200). */
  openBatch?: number;
  /** Called for every `next` message: subscriber index, `payload.data`, receive time. */
  onNext: (index: number, data: unknown, receivedAtMs: number) => void;
}

export interface SubscriberPool {
  size: number;
  /** Ms from the first socket opened to the last subscription sent. */
  openMs: number;
  /** `error` messages and unexpected closes, as text (first 20 kept). */
  problems: string[];
  /** Sockets that closed while the pool was open. */
  closedEarly(): number;
  close(): Promise<void>;
}

const PROTOCOL = 'graphql-transport-ws';

export async function openSubscriberPool(options: SubscriberPoolOptions): Promise<SubscriberPool> {
  const sockets: WebSocket[] = [];
  const problems: string[] = [];
  let closedEarly = 0;
  let closing = false;
  const note = (text: string) => {
    if (problems.length < 20) problems.push(text);
  };
  const subscribeMessage = JSON.stringify({
    id: '1',
    type: 'subscribe',
    payload: { query: options.query },
  });

  const openOne = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(options.url, PROTOCOL, { perMessageDeflate: false });
      sockets.push(socket);
      let subscribed = false;
      socket.on('open', () => {
        socket.send(
          JSON.stringify({ type: 'connection_init', payload: options.connectionParams(index) }),
        );
      });
      socket.on('message', (raw: Buffer) => {
        const receivedAtMs = wallClockMs();
        const message = JSON.parse(raw.toString()) as {
          type: string;
          payload?: { data?: unknown } | unknown[];
        };
        switch (message.type) {
          case 'next':
            options.onNext(index, (message.payload as { data?: unknown }).data, receivedAtMs);
            break;
          case 'connection_ack':
            socket.send(subscribeMessage);
            subscribed = true;
            resolve();
            break;
          case 'ping':
            socket.send('{"type":"pong"}');
            break;
          case 'error':
            note(`subscriber ${index}: error ${JSON.stringify(message.payload).slice(0, 300)}`);
            break;
          case 'complete':
            note(`subscriber ${index}: subscription completed by the server`);
            break;
        }
      });
      socket.on('error', (err) => {
        if (!subscribed) reject(new Error(`subscriber ${index}: ${err.message}`));
        else note(`subscriber ${index}: ${err.message}`);
      });
      socket.on('close', (code, reason) => {
        if (!subscribed) {
          reject(new Error(`subscriber ${index} closed before ack: ${code} ${reason.toString()}`));
        } else if (!closing) {
          closedEarly++;
          note(`subscriber ${index} closed: ${code} ${reason.toString()}`);
        }
      });
    });

  const batch = options.openBatch ?? 200;
  const started = wallClockMs();
  try {
    for (let from = 0; from < options.count; from += batch) {
      const opening: Promise<void>[] = [];
      for (let i = from; i < Math.min(options.count, from + batch); i++) opening.push(openOne(i));
      await Promise.all(opening);
    }
  } catch (err) {
    closing = true;
    for (const socket of sockets) socket.terminate();
    throw err;
  }
  const openMs = wallClockMs() - started;

  return {
    size: sockets.length,
    openMs,
    problems,
    closedEarly: () => closedEarly,
    async close() {
      closing = true;
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) return resolve();
              const timer = setTimeout(() => {
                socket.terminate();
                resolve();
              }, 2000);
              socket.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              socket.close(1000);
            }),
        ),
      );
    },
  };
}

import { createClient } from 'redis';

function newClient(url: string) {
  return createClient({ url });
}

/** One alias for the node-redis client type (its generics are strict; STACK.md #17). */
export type Redis = ReturnType<typeof newClient>;

/** Connects a node-redis client; errors after connect go to `onError`. */
export async function connectRedis(url: string, onError: (err: Error) => void): Promise<Redis> {
  const client = newClient(url);
  client.on('error', onError);
  await client.connect();
  return client;
}

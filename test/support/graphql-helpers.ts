import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { OPERATOR_TOKEN, type GraphQLResponse, type TestNudge } from './harness';

/** A fresh tenant with its first (ADMIN) key, including the key's id. */
export interface TestTenant {
  tenantId: string;
  secret: string;
  apiKeyId: string;
}

/** A short random suffix so names and addresses never collide across tests. */
export const uniq = (): string => randomBytes(4).toString('hex');

export async function createTenantWithKey(
  t: TestNudge,
  name: string,
  timezone = 'UTC',
): Promise<TestTenant> {
  const data = await t.ok<any>(
    OPERATOR_TOKEN,
    `mutation($input: CreateTenantInput!) {
       createTenant(input: $input) { tenant { id } apiKey { id } secret }
     }`,
    { input: { name, timezone } },
  );
  return {
    tenantId: data.createTenant.tenant.id,
    secret: data.createTenant.secret,
    apiKeyId: data.createTenant.apiKey.id,
  };
}

export async function createApiKey(
  t: TestNudge,
  adminSecret: string,
  scopes: string[],
  name = 'test key',
): Promise<{ id: string; secret: string }> {
  const data = await t.ok<any>(
    adminSecret,
    `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }`,
    { input: { name, scopes } },
  );
  return { id: data.createApiKey.apiKey.id, secret: data.createApiKey.secret };
}

/**
 * Asserts that the response failed as a whole with one GraphQL error of `code` (and, when
 * given, `extensions.field`), and that nothing internal leaked into it.
 */
export function expectGraphQLError(response: GraphQLResponse, code: string, field?: string): void {
  expect(response.errors?.length ?? 0).toBeGreaterThan(0);
  const [error] = response.errors!;
  expect(error.extensions?.code).toBe(code);
  if (field !== undefined) expect(error.extensions?.field).toBe(field);
  expect(error.extensions).not.toHaveProperty('stacktrace');
  expect(error.extensions).not.toHaveProperty('exception');
}

/** The graphql-ws address of a running Nudge (same path and port as HTTP). */
export const wsUrlOf = (t: TestNudge): string => t.nudge.url.replace(/^http/, 'ws');

/** A graphql-ws client that authenticates with `secret` and never retries. */
export function wsClient(t: TestNudge, secret: string | null): Client {
  return createClient({
    url: wsUrlOf(t),
    webSocketImpl: WebSocket,
    connectionParams: secret === null ? {} : { authorization: `Bearer ${secret}` },
    retryAttempts: 0,
    shouldRetry: () => false,
  });
}

/** Everything one subscription received, with a way to wait for a particular item. */
export interface Collected<T> {
  items: T[];
  errors: unknown[];
  /** Resolves with the first item (already received or arriving) that satisfies `predicate`. */
  waitFor(predicate: (item: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves with the first error the subscription reports (e.g. a close event). */
  waitForError(timeoutMs?: number): Promise<unknown>;
  dispose(): void;
}

export function collect<T = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Collected<T> {
  const items: T[] = [];
  const errors: unknown[] = [];
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) errors.push(result.errors);
        if (result.data) items.push(result.data as T);
        notify();
      },
      error: (err) => {
        errors.push(err);
        notify();
      },
      complete: () => notify(),
    },
  );

  const waitUntil = <R>(check: () => R | undefined, timeoutMs: number, what: string): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const attempt = () => {
        const found = check();
        if (found === undefined) return false;
        listeners.delete(attempt);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(attempt);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(items)}`,
          ),
        );
      }, timeoutMs);
      if (!attempt()) listeners.add(attempt);
    });

  return {
    items,
    errors,
    waitFor: (predicate, timeoutMs = 5000) =>
      waitUntil(() => items.find(predicate), timeoutMs, 'a matching item'),
    waitForError: (timeoutMs = 5000) => waitUntil(() => errors[0], timeoutMs, 'an error'),
    dispose,
  };
}

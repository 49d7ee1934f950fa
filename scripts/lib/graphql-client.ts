import { performance } from 'node:perf_hooks';

/** One GraphQL error as the server reports it. */
export interface GraphQLErrorEntry {
  message: string;
  path?: Array<string | number>;
  extensions?: Record<string, unknown>;
}

/** A request that came back with GraphQL errors, or with a non-JSON or failed HTTP answer. */
export class GraphQLRequestError extends Error {
  constructor(
    readonly operation: string,
    readonly errors: GraphQLErrorEntry[],
    readonly httpStatus: number,
    options?: { cause?: unknown },
  ) {
    const codes = errors.map((e) => `${String(e.extensions?.code ?? 'NO_CODE')}: ${e.message}`);
    super(`${operation} failed (HTTP ${httpStatus}): ${codes.join('; ')}`, options);
  }
}

/**
 * A minimal GraphQL-over-HTTP client: one POST per call, bearer secret per call, and a count
 * of the HTTP calls made per operation name, so a run can report what it cost.
 */
export class GraphQLClient {
  /** HTTP calls made, by the name passed to `request`. */
  readonly callsByOperation = new Map<string, number>();
  /** Wall time spent waiting for answers, in ms, by the name passed to `request`. */
  readonly msByOperation = new Map<string, number>();

  constructor(private readonly url: string) {}

  /** Total HTTP calls made so far. */
  get calls(): number {
    let total = 0;
    for (const count of this.callsByOperation.values()) total += count;
    return total;
  }

  /**
   * Sends `query` and returns its `data`. `operation` names the call in counts and errors.
   * Throws `GraphQLRequestError` if the answer carries any error; nothing is retried.
   */
  async request<T>(
    operation: string,
    secret: string,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<T> {
    this.callsByOperation.set(operation, (this.callsByOperation.get(operation) ?? 0) + 1);
    const startedMs = performance.now();
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    const elapsedMs = performance.now() - startedMs;
    this.msByOperation.set(operation, (this.msByOperation.get(operation) ?? 0) + elapsedMs);

    let body: { data?: T | null; errors?: GraphQLErrorEntry[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new GraphQLRequestError(
        operation,
        [{ message: `not JSON: ${text.slice(0, 200)}` }],
        response.status,
        { cause: err },
      );
    }
    if (body.errors?.length || !body.data) {
      throw new GraphQLRequestError(
        operation,
        body.errors ?? [{ message: 'no data' }],
        response.status,
      );
    }
    return body.data;
  }
}

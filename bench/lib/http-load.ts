import path from 'node:path';
import { runPinnedScript } from './pinned-child';

/**
 * Closed-loop HTTP load with autocannon, from a child process pinned to core 1 (the system
 * under test has core 0). Request bodies are built per request by a body factory the child
 * imports, so each request can carry new events.
 */

export interface BodyFactoryRef {
  /** Module path relative to the repository root, e.g. `bench/lib/ingest-events.ts`. */
  module: string;
  /** Name of the exported `(params) => (seq: number) => string`. */
  factory: string;
  params: unknown;
}

export interface HttpLoadSpec {
  url: string;
  connections: number;
  /** How long the run lasts; with `amount`, only the time limit (the child is killed after). */
  durationSec: number;
  /** Stop after this many requests instead of after `durationSec` (quick mode). */
  amount?: number;
  headers: Record<string, string>;
  body: BodyFactoryRef;
  /** A 2xx answer counts as an error unless its body contains this text. */
  expectInBody?: string;
}

export interface HttpLoadResult {
  /** Completed requests per second over the run. */
  rps: number;
  requests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  non2xx: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** 2xx answers without `expectInBody` (GraphQL errors). */
  badBodies: number;
  /** The first bad answer, shortened, for the notes. */
  firstBadBody: string | null;
  durationSec: number;
}

export interface HttpLoadOptions {
  core?: number;
  /** Log file of the load child (stderr). */
  logFile?: string;
}

export function runHttpLoad(spec: HttpLoadSpec, options: HttpLoadOptions = {}) {
  return runPinnedScript<HttpLoadResult>({
    core: options.core ?? 1,
    script: path.join('bench', 'lib', 'http-load-child.ts'),
    args: [JSON.stringify(spec)],
    logFile: options.logFile,
    timeoutMs: (spec.durationSec + 60) * 1000,
  });
}

/** True when every request got a good answer; otherwise the figures mean nothing. */
export function loadIsClean(result: HttpLoadResult): boolean {
  return result.non2xx === 0 && result.errors === 0 && result.badBodies === 0;
}

/** One line describing a failed load run, for an error or a note. */
export function describeFailures(result: HttpLoadResult): string {
  return (
    `non-2xx ${result.non2xx}, socket errors ${result.errors}, bad bodies ${result.badBodies}` +
    (result.firstBadBody ? `; first bad answer: ${result.firstBadBody}` : '')
  );
}

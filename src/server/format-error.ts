import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError, Kind } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ErrorCode, NudgeError } from '../errors';
import type { Logger } from '../logger';

/** Codes produced by GraphQL/Apollo themselves for malformed requests: safe to pass on. */
const PROTOCOL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * The one error policy of both transports (Apollo's `formatError` hook and graphql-ws via
 * `formatWsErrors`). Passes Nudge's own errors and GraphQL's request errors through; masks
 * everything else as INTERNAL_SERVER_ERROR (no stack, no SQL) and logs the real error. For
 * variable coercion errors it adds `extensions.field` (e.g. `input.steps.0.delay`).
 *
 * `formatted.extensions.code` is the code the transport assigned (Apollo's error classes, or
 * `requestErrorCode` for graphql-ws); `error` is what was thrown.
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: Logger,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const nudgeError = nudgeErrorOf(original);
  if (nudgeError) {
    return {
      message: nudgeError.message,
      path: formatted.path,
      extensions: { ...nudgeError.extensions },
    };
  }
  const code = formatted.extensions?.code;
  const isGraphQLOwn = !(original instanceof Error) || original instanceof GraphQLError;
  if (typeof code === 'string' && PROTOCOL_CODES.has(code) && isGraphQLOwn) {
    const field = fieldOf(formatted.message);
    return {
      message: formatted.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code, ...(field ? { field } : {}) },
    };
  }
  log.error({ err: causeOf(original), path: formatted.path }, 'internal error');
  return {
    message: 'internal error; the service logged the details',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}

/**
 * Where a graphql-ws error comes from, since graphql-ws (unlike Apollo) assigns no codes:
 * `subscribe` errors arrive before execution (parse, validation, limits, or a stream that
 * failed), `next` errors come with an execution result.
 */
export type WsErrorStage = 'subscribe' | 'next';

/**
 * graphql-ws counterpart of Apollo's error pipeline: gives graphql-js's own request errors
 * the code Apollo would give them, then applies `formatError`. Internal errors carry the
 * connection's `requestId`, as they do over HTTP.
 */
export function formatWsErrors(
  errors: readonly GraphQLError[],
  stage: WsErrorStage,
  log: Logger,
  requestId: string | undefined,
): GraphQLFormattedError[] {
  return errors.map((error) => {
    const json = error.toJSON();
    const code = json.extensions?.code ?? requestErrorCode(error, stage);
    const formatted = formatError(
      code === undefined ? json : { ...json, extensions: { ...json.extensions, code } },
      error,
      log,
    );
    if (formatted.extensions?.code !== ErrorCode.INTERNAL_SERVER_ERROR || !requestId)
      return formatted;
    return { ...formatted, extensions: { ...formatted.extensions, requestId } };
  });
}

/**
 * The code of an uncoded error that graphql-js raised about the request itself, or
 * undefined when the error is not one (it is then masked). Mirrors Apollo: a variable that
 * does not coerce is `BAD_USER_INPUT`; a validation error before execution is
 * `GRAPHQL_VALIDATION_FAILED`. An error wrapping a thrown value (`originalError`) is never a
 * request error, which also covers a subscription stream that failed mid-way.
 */
function requestErrorCode(error: GraphQLError, stage: WsErrorStage): string | undefined {
  if (!error.path && error.nodes?.[0]?.kind === Kind.VARIABLE_DEFINITION) return 'BAD_USER_INPUT';
  if (error.path || error.originalError) return undefined;
  return stage === 'subscribe' ? 'GRAPHQL_VALIDATION_FAILED' : undefined;
}

/** A NudgeError thrown by a resolver, or wrapped once more by graphql-ws's stream handling. */
function nudgeErrorOf(original: unknown): NudgeError | null {
  if (original instanceof NudgeError) return original;
  if (original instanceof GraphQLError && original.originalError instanceof NudgeError)
    return original.originalError;
  return null;
}

/** The thrown value behind wrappers, so the log line shows the real stack. */
function causeOf(original: unknown): unknown {
  return original instanceof GraphQLError && original.originalError
    ? original.originalError
    : original;
}

/**
 * The input path of a variable coercion error: `Variable "$input" got invalid value … at
 * "input.steps[0]"; Field "channel" of required type "Channel!" was not provided.` →
 * `input.steps.0.channel`.
 */
function fieldOf(message: string): string | null {
  const variable = /^Variable "\$([^"]+)"/.exec(message)?.[1] ?? null;
  const at = /at "([^"]+)"/.exec(message)?.[1]?.replace(/\[(\d+)\]/g, '.$1') ?? variable;
  if (!at) return null;
  const field = /Field "([^"]+)" (?:of required type|is not defined)/.exec(message)?.[1];
  return field ? `${at}.${field}` : at;
}

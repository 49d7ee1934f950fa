import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
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
 * Passes Nudge's own errors and GraphQL's request errors through; masks everything else as
 * INTERNAL_SERVER_ERROR (no stack, no SQL) and logs the real error. For variable coercion
 * errors it adds `extensions.field` (e.g. `input.steps.0.delay`).
 */
export function formatError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: Logger,
): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof NudgeError) {
    return {
      message: original.message,
      path: formatted.path,
      extensions: { ...original.extensions },
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
  log.error({ err: original, path: formatted.path }, 'internal error');
  return {
    message: 'internal error; the service logged the details',
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
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

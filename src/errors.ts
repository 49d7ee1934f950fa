import { GraphQLError } from 'graphql';

/** The stable error codes of API.md. Once shipped, a code is never renamed. */
export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  QUOTA_EXCEEDED = 'QUOTA_EXCEEDED',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export interface SafeDetails {
  /** Path of the offending input, e.g. `input.steps.1.delay`. */
  field?: string;
  /** A narrower, stable reason within the code, e.g. `IDEMPOTENCY_KEY_REUSED`. */
  reason?: string;
}

/**
 * Base of every error a client may see. Only `code` and the safe details reach
 * `extensions`; anything else is masked by the server's error formatter.
 */
export class NudgeError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, details: SafeDetails = {}) {
    super(message, { extensions: { code, ...details } });
    this.code = code;
  }
}

export class UnauthenticatedError extends NudgeError {
  constructor(message = 'missing or invalid credentials: send Authorization: Bearer <secret>') {
    super(ErrorCode.UNAUTHENTICATED, message);
  }
}

export class ForbiddenError extends NudgeError {
  constructor(message: string) {
    super(ErrorCode.FORBIDDEN, message);
  }
}

/** Also used for another tenant's objects: existence is never confirmed across tenants. */
export class NotFoundError extends NudgeError {
  constructor(kind: string, field?: string) {
    super(ErrorCode.NOT_FOUND, `${kind} not found`, field ? { field } : {});
  }
}

export class BadInputError extends NudgeError {
  constructor(field: string, message: string) {
    super(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
  }
}

export class ConflictError extends NudgeError {
  constructor(message: string, details: SafeDetails = {}) {
    super(ErrorCode.CONFLICT, message, details);
  }
}

export class UnavailableError extends NudgeError {
  constructor(message: string) {
    super(ErrorCode.UNAVAILABLE, message);
  }
}

/**
 * An input problem found by a validator that does not know where in the request its value
 * sits. Callers re-root it with `at(prefix)`.
 */
export class InputProblem extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }

  /** The same problem, seen from an enclosing object whose key `prefix` holds the value. */
  under(prefix: string): InputProblem {
    return new InputProblem([prefix, this.path].filter(Boolean).join('.'), this.problem);
  }

  toError(prefix: string): BadInputError {
    const field = [prefix, this.path].filter(Boolean).join('.');
    return new BadInputError(field, this.problem);
  }
}

/**
 * Runs a validator and re-roots any `InputProblem` it throws under `prefix` (e.g. `input`),
 * turning it into the client-facing BAD_USER_INPUT error.
 */
export function checkedAt<T>(prefix: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InputProblem) throw err.toError(prefix);
    throw err;
  }
}

/** Runs a validator of a nested value and re-roots its `InputProblem` under `prefix`. */
export function nestedAt<T>(prefix: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InputProblem) throw err.under(prefix);
    throw err;
  }
}

import type { DeliveryResult } from './channel';

/** The failed branch of `DeliveryResult`. */
export type DeliveryFailure = Extract<DeliveryResult, { ok: false }>;

const MAX_REASON_LENGTH = 300;

/**
 * Network error codes that prove the request never reached the provider (no connection, no
 * TLS session), so sending again cannot produce a second message.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A failure with the reason cut to what the `messages.failure` column keeps. */
export function failure(
  reason: string,
  flags: { permanent: boolean; outcomeUnknown?: boolean; subscriptionGone?: boolean },
): DeliveryFailure {
  return { ok: false, reason: reason.slice(0, MAX_REASON_LENGTH), ...flags };
}

/**
 * Classifies a provider's HTTP error status. 408 (the provider timed out reading our request)
 * and 429 (rate limited) and every 5xx are transient; any other 4xx is permanent: the same
 * request would be refused again.
 */
export function failureFromStatus(provider: string, status: number, detail = ''): DeliveryFailure {
  const isTransient = status === 408 || status === 429 || status >= 500;
  return failure(`${provider} HTTP ${status}${detail ? `: ${detail}` : ''}`, {
    permanent: !isTransient,
  });
}

/**
 * Classifies an HTTP client error that came without a response (fetch/undici or axios).
 * Always transient. The outcome is unknown unless the error proves that nothing was sent:
 * a timeout or a connection reset may come after the provider accepted the message. A
 * timeout that fires while still connecting is also reported as unknown; the clients do not
 * tell the two apart, and "unknown" is the side that cannot cause a duplicate.
 */
export function failureFromNetworkError(provider: string, err: unknown): DeliveryFailure {
  const code = networkErrorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (isTimeout(err, code)) {
    return failure(`${provider}: no answer within the timeout`, {
      permanent: false,
      outcomeUnknown: true,
    });
  }
  if (code !== undefined && NOT_SENT_CODES.has(code)) {
    return failure(`${provider}: ${code}`, { permanent: false });
  }
  return failure(`${provider}: ${code ?? message}`, { permanent: false, outcomeUnknown: true });
}

/** The system or undici code, which fetch hides in `cause`. */
function networkErrorCode(err: unknown): string | undefined {
  const own = (err as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

function isTimeout(err: unknown, code: string | undefined): boolean {
  // AbortSignal.timeout() rejects fetch with a DOMException named TimeoutError; axios reports
  // its own timeout as ECONNABORTED (ETIMEDOUT with `clarifyTimeoutError`).
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || code === 'ECONNABORTED' || code === 'ETIMEDOUT';
}

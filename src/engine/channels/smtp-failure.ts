import { DeliveryFailure, failure } from './delivery-failure';

/** The fields nodemailer puts on its errors (see nodemailer's `errors.js`). */
interface NodemailerError extends Error {
  code?: string;
  /** The SMTP command in flight; `CONN` for connection-level events at any stage. */
  command?: string;
  responseCode?: number;
  /** Set by nodemailer from `responseCode`: 5xx except 503. */
  permanent?: boolean;
  /** For `ETIMEDOUT`: CONNECT_TIMEOUT, GREETING_TIMEOUT, UPGRADE_TIMEOUT or SOCKET_TIMEOUT. */
  timeoutType?: string;
  /** The system code (ECONNREFUSED, …) behind `ESOCKET`. */
  originalCode?: string;
}

/** Failures during connection setup: no message byte has been sent yet. */
const SETUP_CODES: ReadonlySet<string> = new Set([
  'EDNS',
  'ETLS',
  'EREQUIRETLS',
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'EPROXY',
]);
const SETUP_TIMEOUTS: ReadonlySet<string> = new Set([
  'CONNECT_TIMEOUT',
  'GREETING_TIMEOUT',
  'UPGRADE_TIMEOUT',
]);
const CONNECT_FAILURES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Classifies a nodemailer SMTP error. In order:
 * 1. Connection setup failures (DNS, refused connection, connect/greeting/TLS timeouts, TLS,
 *    authentication) → transient: nothing was sent, and a bad login is the operator's to fix,
 *    not a reason to drop this message.
 * 2. An SMTP reply → permanent for 5xx (except 503, a session-state error, as nodemailer
 *    decides), transient for 4xx.
 * 3. An envelope or message error without a reply (rejected before sending, e.g. an invalid
 *    address) → permanent.
 * 4. A pool that gave up requeueing after closed connections reports ECONNECTION with no
 *    command; the pool requeues only messages it had not started to send → transient.
 * 5. Anything else — a socket timeout, reset or close in the middle of a session — →
 *    transient with `outcomeUnknown`. nodemailer reports these as `CONN` at every stage, so
 *    one after the message body was sent (the server may have queued it) cannot be told
 *    from one before; SMTP has no idempotency key, so "unknown" is the only safe answer.
 */
export function failureFromSmtpError(err: unknown): DeliveryFailure {
  const e = err as NodemailerError;
  const reason = `SMTP ${e.code ?? 'error'}${e.command ? ` (${e.command})` : ''}: ${e.message}`;

  const isSetupFailure =
    (e.code !== undefined && SETUP_CODES.has(e.code)) ||
    (e.code === 'ETIMEDOUT' && e.timeoutType !== undefined && SETUP_TIMEOUTS.has(e.timeoutType)) ||
    (e.originalCode !== undefined && CONNECT_FAILURES.has(e.originalCode));
  if (isSetupFailure) return failure(reason, { permanent: false });

  if (typeof e.responseCode === 'number') {
    return failure(reason, { permanent: e.permanent ?? e.responseCode >= 500 });
  }
  if (e.code === 'EENVELOPE' || e.code === 'EMESSAGE') return failure(reason, { permanent: true });
  if (e.code === 'ECONNECTION' && e.command === undefined) {
    return failure(reason, { permanent: false });
  }
  return failure(reason, { permanent: false, outcomeUnknown: true });
}

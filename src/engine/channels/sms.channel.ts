import { AsyncLocalStorage } from 'node:async_hooks';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';
import { failure, failureFromNetworkError, failureFromStatus } from './delivery-failure';

export const DEFAULT_SMS_API_URL = 'https://api.twilio.com';
const DEFAULT_TIMEOUT_MS = 10_000;

/** The header a Twilio-style provider deduplicates retried requests on. */
export const SMS_IDEMPOTENCY_HEADER = 'I-Twilio-Idempotency-Token';

export interface SmsChannelOptions {
  /** Base URL of the Messages API; a local peer in tests. Default `https://api.twilio.com`. */
  apiUrl?: string;
  accountSid: string;
  authToken: string;
  /** The sender: an E.164 number, short code or alphanumeric sender ID. */
  from: string;
  /** How long to wait for the provider's answer. Default 10 000 ms. */
  timeoutMs?: number;
}

/**
 * The idempotency token of the send in progress. twilio's `messages.create` takes no extra
 * headers, so the token travels with the async call into `ProviderRequestClient` instead of
 * being stored on the shared client, where concurrent sends would overwrite each other's.
 */
const currentIdempotencyToken = new AsyncLocalStorage<string>();

/**
 * twilio's HTTP client, sending to `apiUrl` instead of twilio.com (path and query are kept)
 * and adding the idempotency header of the send in progress. Automatic retries are off:
 * the delivery service decides about retries.
 */
class ProviderRequestClient extends twilio.RequestClient {
  private readonly apiBase: string;

  constructor(apiUrl: string, timeoutMs: number) {
    super({ timeout: timeoutMs, autoRetry: false, keepAlive: true });
    this.apiBase = apiUrl.replace(/\/+$/, '');
  }

  request<TData>(opts: RequestClient.RequestOptions<TData>) {
    const target = new URL(opts.uri);
    const token = currentIdempotencyToken.getStore();
    return super.request({
      ...opts,
      uri: `${this.apiBase}${target.pathname}${target.search}`,
      headers: { ...opts.headers, ...(token ? { [SMS_IDEMPOTENCY_HEADER]: token } : {}) },
    });
  }
}

/**
 * SMS through a Twilio-style Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`).
 * Each send carries `I-Twilio-Idempotency-Token: <idempotencyKey>`, so a retry after an
 * unknown outcome is deduplicated by the provider (`retriesAreIdempotent`).
 *
 * Results: 2xx → ok with the provider's message SID; 4xx except 401/408/429 → permanent (e.g.
 * an invalid number); 401 (bad credentials), 408, 429, 5xx and refused connections →
 * transient; a timeout or reset after the request went out → transient with
 * `outcomeUnknown`.
 */
export class SmsChannel implements ChannelAdapter {
  readonly channel = 'SMS' as const;
  readonly retriesAreIdempotent = true;
  private readonly client: twilio.Twilio;

  constructor(private readonly options: SmsChannelOptions) {
    const httpClient = new ProviderRequestClient(
      options.apiUrl ?? DEFAULT_SMS_API_URL,
      options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    this.client = twilio(options.accountSid, options.authToken, {
      httpClient,
      autoRetry: false,
      // Explicit, so TWILIO_LOG_LEVEL=debug in the environment cannot make the library print
      // requests to stdout. (TWILIO_EDGE/REGION cannot reroute: httpClient sets the origin.)
      logLevel: 'info',
    });
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    try {
      const sent = await currentIdempotencyToken.run(message.idempotencyKey, () =>
        this.client.messages.create({
          to: message.to,
          from: this.options.from,
          body: message.body,
          ...(message.statusCallbackUrl ? { statusCallback: message.statusCallbackUrl } : {}),
        }),
      );
      return { ok: true, providerMessageId: sent.sid };
    } catch (err) {
      return classifySmsError(err);
    }
  }
}

/** A RestException (the provider answered with an error status) or a network error. */
function classifySmsError(err: unknown) {
  if (err instanceof twilio.RestException) {
    const detail = `error ${err.code ?? 'unknown'}: ${err.message}`;
    // Our credentials were refused: the operator must fix them, and the message is not at
    // fault, so it stays retryable (unlike other 4xx answers about the message itself).
    if (err.status === 401)
      return failure(`SMS provider HTTP 401: ${detail}`, { permanent: false });
    return failureFromStatus('SMS provider', err.status, detail);
  }
  if ((err as { isAxiosError?: boolean }).isAxiosError) {
    return failureFromNetworkError('SMS provider', err);
  }
  // Anything else was thrown before a request was made (e.g. a parameter the client refuses).
  return failure(`SMS: ${(err as Error).message}`, { permanent: true });
}

/**
 * Checks the `X-Twilio-Signature` of a status callback or inbound message: HMAC-SHA1 with the
 * auth token over the full URL as the provider called it plus the sorted form parameters.
 * `fullUrl` must be exactly that URL (scheme, host, path and query, as seen from outside any
 * proxy). Constant-time; false for a missing header.
 */
export function verifySmsSignature(
  authToken: string,
  fullUrl: string,
  params: Record<string, string>,
  signatureHeader: string | null | undefined,
): boolean {
  if (!signatureHeader) return false;
  return twilio.validateRequest(authToken, signatureHeader, fullUrl, params);
}

import { BadInputError } from '../../errors';
import type { OutboundGuard } from './outbound-guard';

/** Longest webhook URL a tenant may store. */
export const MAX_WEBHOOK_URL_CHARS = 2048;

/**
 * Validates a tenant-controlled webhook URL on save and returns its normalised form: an
 * absolute http(s) URL without credentials whose host the `outbound` guard does not refuse
 * (IP literals and `localhost` are judged now; names are resolved and checked again on every
 * send, since DNS may change in between). Throws `BadInputError` (BAD_USER_INPUT) at `field`.
 */
export function checkWebhookUrl(url: string, outbound: OutboundGuard, field: string): string {
  if (url.length > MAX_WEBHOOK_URL_CHARS)
    throw new BadInputError(field, 'longer than 2,048 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadInputError(field, 'expected an absolute http(s) URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new BadInputError(field, 'expected an http or https URL');
  }
  if (parsed.username || parsed.password) {
    throw new BadInputError(field, 'must not contain credentials; requests are signed instead');
  }
  const refusal = outbound.refusalForHost(parsed.hostname);
  if (refusal) {
    throw new BadInputError(field, `${refusal}; webhooks go to public addresses only`);
  }
  return parsed.toString();
}

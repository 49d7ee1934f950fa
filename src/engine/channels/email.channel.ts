import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer, { Transporter } from 'nodemailer';
import type { ChannelAdapter, DeliveryResult, EmailLinks, OutboundMessage } from './channel';
import { addEmailTracking } from './email-tracking';
import { failureFromSmtpError } from './smtp-failure';

export interface EmailChannelOptions {
  /** `smtp://` or `smtps://` URL; null writes each message as an .eml file to `outboxDir`. */
  smtpUrl: string | null;
  outboxDir: string;
  from: string;
  /**
   * SMTP connection and greeting timeout in ms; socket inactivity (e.g. waiting for the reply
   * after the message body) gets one second more. Default: nodemailer's own (up to 10
   * minutes of inactivity before a send is given up).
   */
  timeoutMs?: number;
}

/**
 * EMAIL over SMTP with nodemailer. Without an SMTP server (trial mode) messages are written
 * as .eml files, so nothing is silently dropped and the trial needs no mail server.
 *
 * With `message.links`, the HTML part is tracked (links through the click redirect, an open
 * pixel; see `addEmailTracking`) and the message offers RFC 8058 one-click unsubscribe.
 * Failures are classified by `failureFromSmtpError`. SMTP cannot deduplicate a resent
 * message, so retries are not idempotent.
 */
export class EmailChannel implements ChannelAdapter {
  readonly channel = 'EMAIL' as const;
  readonly retriesAreIdempotent = false;
  private readonly transport: Transporter;
  private readonly isFileOutbox: boolean;
  private readonly fromDomain: string;

  constructor(private readonly options: EmailChannelOptions) {
    this.isFileOutbox = options.smtpUrl === null;
    this.fromDomain = /@([^>\s]+)/.exec(options.from)?.[1] ?? 'localhost';
    const timeouts =
      options.timeoutMs === undefined
        ? {}
        : {
            connectionTimeout: options.timeoutMs,
            greetingTimeout: options.timeoutMs,
            // The inactivity timer also runs while waiting for the greeting; a little longer,
            // so a silent server is reported as a greeting timeout (nothing sent) and not as
            // a socket timeout (outcome unknown).
            socketTimeout: options.timeoutMs + 1_000,
          };
    this.transport = this.isFileOutbox
      ? nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
      : // A pool reuses SMTP connections across messages instead of one handshake each.
        nodemailer.createTransport({
          pool: true,
          maxConnections: 4,
          url: options.smtpUrl!,
          ...timeouts,
        });
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    // Unsubscribing revokes marketing email only, so only marketing email offers it.
    const marketing = message.purpose === 'MARKETING';
    try {
      const info = await this.transport.sendMail({
        from: this.options.from,
        to: message.to,
        subject: message.subject ?? '',
        text: message.body,
        html: await this.trackedHtml(message),
        messageId: `<${message.id}@${this.fromDomain}>`,
        ...(marketing
          ? // An array inside the array: nodemailer joins its entries into one header.
            { list: { unsubscribe: [this.unsubscribeTargets(message)] } }
          : {}),
        headers: {
          'X-Nudge-Idempotency-Key': message.idempotencyKey,
          ...(marketing && isOneClickCapable(message.links)
            ? { 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }
            : {}),
        },
      });
      if (this.isFileOutbox) {
        mkdirSync(this.options.outboxDir, { recursive: true });
        writeFileSync(
          path.join(this.options.outboxDir, `${message.id}.eml`),
          info.message as Buffer,
        );
      }
      return { ok: true, providerMessageId: info.messageId ?? null };
    } catch (err) {
      return failureFromSmtpError(err);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }

  private async trackedHtml(message: OutboundMessage): Promise<string | undefined> {
    if (message.html === null) return undefined;
    return message.links ? addEmailTracking(message.html, message.links) : message.html;
  }

  /**
   * `List-Unsubscribe` targets: the one-click HTTPS URL first when there is one, then a mailto
   * that names the message (for clients without one-click support).
   */
  private unsubscribeTargets(message: OutboundMessage): string[] {
    const mailto = `mailto:unsubscribe@${this.fromDomain}?subject=unsubscribe-${message.id}`;
    return message.links ? [message.links.unsubscribeUrl, mailto] : [mailto];
  }
}

/**
 * RFC 8058 requires the one-click URI to be HTTPS; with a plain-http public URL (local
 * development) the URL is still listed, but one-click is not claimed.
 */
function isOneClickCapable(links: EmailLinks | null): boolean {
  return links !== null && links.unsubscribeUrl.startsWith('https://');
}

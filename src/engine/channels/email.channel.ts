import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer, { Transporter } from 'nodemailer';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';

export interface EmailChannelOptions {
  /** `smtp://` or `smtps://` URL; null writes each message as an .eml file to `outboxDir`. */
  smtpUrl: string | null;
  outboxDir: string;
  from: string;
}

/**
 * EMAIL over SMTP with nodemailer. Without an SMTP server (trial mode) messages are written
 * as .eml files, so nothing is silently dropped and the trial needs no mail server.
 */
export class EmailChannel implements ChannelAdapter {
  readonly channel = 'EMAIL' as const;
  private readonly transport: Transporter;
  private readonly isFileOutbox: boolean;

  constructor(private readonly options: EmailChannelOptions) {
    this.isFileOutbox = options.smtpUrl === null;
    this.transport = this.isFileOutbox
      ? nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
      : // A pool reuses SMTP connections across messages instead of one handshake each.
        nodemailer.createTransport({ pool: true, maxConnections: 4, url: options.smtpUrl! });
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    const fromDomain = /@([^>\s]+)/.exec(this.options.from)?.[1] ?? 'localhost';
    try {
      const info = await this.transport.sendMail({
        from: this.options.from,
        to: message.to,
        subject: message.subject ?? '',
        text: message.body,
        html: message.html ?? undefined,
        messageId: `<${message.id}@${fromDomain}>`,
        // TODO(#4): one-click List-Unsubscribe over HTTPS once the unsubscribe endpoint exists.
        list: { unsubscribe: `mailto:unsubscribe@${fromDomain}?subject=unsubscribe-${message.id}` },
        headers: { 'X-Nudge-Idempotency-Key': message.idempotencyKey },
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
      const code = (err as { responseCode?: number }).responseCode;
      return {
        ok: false,
        permanent: code !== undefined && code >= 500 && code < 600,
        reason: `SMTP: ${(err as Error).message}`.slice(0, 300),
      };
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

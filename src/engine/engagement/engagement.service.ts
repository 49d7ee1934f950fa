import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { Database, Tx, rows } from '../../platform/database';
import { smsKeyword } from '../channels/sms-keywords';
import { PURPOSES, recordConsent } from '../consent/consent-store';
import { isHttpUrl, parseToken, verifyToken, type LinkKind } from './link-tokens';
import { isMachineOpen } from './machine-opens';

/** What `message_events.kind` records for engagement and provider callbacks. */
export type MessageEventKind =
  | 'OPENED'
  | 'CLICKED'
  | 'UNSUBSCRIBED'
  | 'DELIVERED'
  | 'FAILED'
  | 'PROVIDER_STATUS';

/** How an SMS status callback was applied (for callers and tests). */
export type SmsStatusOutcome = 'DELIVERED' | 'FAILED' | 'RECORDED' | 'UNKNOWN_MESSAGE';

/** What an inbound SMS did: the keyword it matched and the customers whose consent changed. */
export interface SmsInboundOutcome {
  keyword: 'OPT_OUT' | 'OPT_IN' | null;
  customerIds: string[];
}

/** A Twilio-style form post, one value per field. */
export type ProviderParams = Readonly<Record<string, string>>;

interface TokenMessage {
  id: string;
  customer_id: string;
  sent_at: Date | null;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** Provider ids are short printable tokens (Twilio: `SM` + 32 hex); anything else is noise. */
const PROVIDER_MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_USER_AGENT_CHARS = 256;

/**
 * Engagement that arrives from outside: opens and clicks on tracked email links, one-click
 * unsubscribes, and SMS provider callbacks (delivery status and inbound keywords).
 *
 * Tokens name their tenant; every read and write happens in that tenant's transaction, and a
 * token counts only after its signature verified with that tenant's `link_secret`. An invalid
 * token changes nothing. Status moves forward only (QUEUED < SENT < DELIVERED < OPENED <
 * CLICKED) and never leaves FAILED, SUPPRESSED or DEAD_LETTER; machine opens and clicks (see
 * `isMachineOpen`) are logged as events but change neither the engagement times nor the
 * status, so "if not opened" conditions see only people.
 */
export class EngagementService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /**
   * Records an open from the tracking pixel. A person's first open sets `opened_at`, and a
   * SENT or DELIVERED message becomes OPENED; every open (a machine's too) appends an OPENED
   * event. An invalid token does nothing. Not idempotent by design: each fetch is an event.
   */
  async recordOpen(token: string, userAgent: string | undefined): Promise<void> {
    await this.withVerifiedToken(token, 'open', undefined, async (tx, tenantId, message) => {
      if (!message) return;
      const nowMs = this.clock.nowMs();
      const machine = isMachineOpen(userAgent, msSince(message.sent_at, nowMs));
      await appendEvent(tx, tenantId, message.id, 'OPENED', machine, agentDetail(userAgent), nowMs);
      if (machine) return;
      await rows(
        tx,
        `UPDATE messages
         SET opened_at = COALESCE(opened_at, $3),
             status = CASE WHEN status IN ('SENT', 'DELIVERED') THEN 'OPENED' ELSE status END,
             updated_at = $3
         WHERE tenant_id = $1 AND id = $2
           AND (opened_at IS NULL OR status IN ('SENT', 'DELIVERED'))`,
        [tenantId, message.id, new Date(nowMs)],
      );
    });
  }

  /**
   * Records a click and returns the destination to redirect to, or null when the token does
   * not verify for exactly this destination or the destination is not an http(s) URL. A
   * person's click sets `clicked_at` (and `opened_at` when still unset: a click implies the
   * open the pixel may have missed) and moves SENT, DELIVERED or OPENED to CLICKED. Machine
   * clicks still redirect (a scanner must see where the link goes) and are only logged; so
   * does a verified link whose message has since been deleted (an erased customer's old email).
   */
  async recordClick(
    token: string,
    destination: string,
    userAgent: string | undefined,
  ): Promise<string | null> {
    if (!isHttpUrl(destination)) return null;
    return this.withVerifiedToken(token, 'click', destination, async (tx, tenantId, message) => {
      if (!message) return destination;
      const nowMs = this.clock.nowMs();
      const machine = isMachineOpen(userAgent, msSince(message.sent_at, nowMs));
      const detail = { ...agentDetail(userAgent), link: withoutQuery(destination) };
      await appendEvent(tx, tenantId, message.id, 'CLICKED', machine, detail, nowMs);
      if (machine) return destination;
      await rows(
        tx,
        `UPDATE messages
         SET clicked_at = COALESCE(clicked_at, $3),
             opened_at = COALESCE(opened_at, $3),
             status = CASE WHEN status IN ('SENT', 'DELIVERED', 'OPENED') THEN 'CLICKED'
                           ELSE status END,
             updated_at = $3
         WHERE tenant_id = $1 AND id = $2
           AND (clicked_at IS NULL OR status IN ('SENT', 'DELIVERED', 'OPENED'))`,
        [tenantId, message.id, new Date(nowMs)],
      );
      return destination;
    });
  }

  /**
   * RFC 8058 one-click unsubscribe: revokes the message's customer's EMAIL MARKETING consent
   * (source `list-unsubscribe`, occurred now) and appends an UNSUBSCRIBED event. Returns false
   * when the token does not verify. Repeating it records another revocation, which changes
   * nothing about the customer's consent.
   */
  async unsubscribe(token: string): Promise<boolean> {
    const done = await this.withVerifiedToken(
      token,
      'unsubscribe',
      undefined,
      async (tx, tenantId, message) => {
        if (!message) return false;
        const nowMs = this.clock.nowMs();
        await lockCustomer(tx, tenantId, message.customer_id);
        await recordConsent(tx, tenantId, message.customer_id, {
          channel: 'EMAIL',
          purpose: 'MARKETING',
          granted: false,
          source: 'list-unsubscribe',
          occurredAtMs: nowMs,
          recordedAtMs: nowMs,
        });
        await appendEvent(tx, tenantId, message.id, 'UNSUBSCRIBED', false, {}, nowMs);
        this.log.info(
          { tenantId, customerId: message.customer_id, channel: 'EMAIL' },
          'email marketing unsubscribed',
        );
        return true;
      },
    );
    return done ?? false;
  }

  /**
   * Applies an SMS status callback (`MessageSid`, `MessageStatus`, `ErrorCode`) to the
   * tenant's SMS message with that provider id. `delivered` sets `delivered_at` and moves SENT
   * to DELIVERED; `failed`/`undelivered` turn a SENT message FAILED with failure
   * `SMS_<ErrorCode>` (a DELIVERED one stays: a carrier does not take back a delivery); any
   * other status is only logged as an event. Unknown ids are ignored. The caller has verified
   * the provider's signature.
   */
  async smsStatus(tenantId: string, params: ProviderParams): Promise<SmsStatusOutcome> {
    const providerId = params.MessageSid ?? '';
    const providerStatus = (params.MessageStatus ?? '').toLowerCase();
    if (!PROVIDER_MESSAGE_ID.test(providerId)) return 'UNKNOWN_MESSAGE';
    const errorCode = /^\d{1,10}$/.test(params.ErrorCode ?? '') ? params.ErrorCode : null;

    return this.db.withTenant(tenantId, async (tx) => {
      const [message] = await rows<{ id: string }>(
        tx,
        `SELECT id FROM messages
         WHERE tenant_id = $1 AND provider_message_id = $2 AND channel = 'SMS'
         LIMIT 1`,
        [tenantId, providerId],
      );
      if (!message) {
        this.log.debug({ tenantId }, 'sms status for an unknown message ignored');
        return 'UNKNOWN_MESSAGE';
      }
      const nowMs = this.clock.nowMs();
      const detail = { providerStatus: providerStatus.slice(0, 32), errorCode };

      if (providerStatus === 'delivered') {
        await appendEvent(tx, tenantId, message.id, 'DELIVERED', false, detail, nowMs);
        await rows(
          tx,
          `UPDATE messages
           SET delivered_at = COALESCE(delivered_at, $3),
               status = CASE WHEN status = 'SENT' THEN 'DELIVERED' ELSE status END,
               updated_at = $3
           WHERE tenant_id = $1 AND id = $2`,
          [tenantId, message.id, new Date(nowMs)],
        );
        return 'DELIVERED';
      }

      if (providerStatus === 'failed' || providerStatus === 'undelivered') {
        const failure = `SMS_${errorCode ?? providerStatus.toUpperCase()}`;
        await appendEvent(tx, tenantId, message.id, 'FAILED', false, detail, nowMs);
        await rows(
          tx,
          `UPDATE messages SET status = 'FAILED', failure = $3, updated_at = $4
           WHERE tenant_id = $1 AND id = $2 AND status = 'SENT'`,
          [tenantId, message.id, failure, new Date(nowMs)],
        );
        this.log.info(
          { tenantId, messageId: message.id, channel: 'SMS', code: failure },
          'sms not delivered',
        );
        return 'FAILED';
      }

      await appendEvent(tx, tenantId, message.id, 'PROVIDER_STATUS', false, detail, nowMs);
      return 'RECORDED';
    });
  }

  /**
   * Applies an inbound SMS (`From`, `Body`). A whole-message opt-out keyword (`smsKeyword`)
   * revokes SMS MARKETING and SMS TRANSACTIONAL for every customer of the tenant with that
   * phone number; an opt-in keyword grants both back (a carrier-level START re-allows every
   * message from the sender, so only restoring marketing would leave receipts blocked).
   * Source `sms-keyword`, occurred now. Anything else changes nothing. The caller has verified
   * the provider's signature.
   */
  async smsInbound(tenantId: string, params: ProviderParams): Promise<SmsInboundOutcome> {
    const keyword = smsKeyword(params.Body ?? '');
    const from = params.From ?? '';
    if (keyword === null || !E164.test(from)) {
      // The inbound log: that a message arrived, never who sent it or what it said.
      this.log.info({ tenantId, channel: 'SMS' }, 'sms inbound without a keyword');
      return { keyword: null, customerIds: [] };
    }

    const customerIds = await this.db.withTenant(tenantId, async (tx) => {
      // The engine's lock order starts with the customer row; several customers sharing a
      // number are locked in id order so two inbound messages cannot deadlock each other.
      const customers = await rows<{ id: string }>(
        tx,
        `SELECT id FROM customers WHERE tenant_id = $1 AND phone = $2 ORDER BY id FOR UPDATE`,
        [tenantId, from],
      );
      const nowMs = this.clock.nowMs();
      for (const customer of customers) {
        for (const purpose of PURPOSES) {
          await recordConsent(tx, tenantId, customer.id, {
            channel: 'SMS',
            purpose,
            granted: keyword === 'OPT_IN',
            source: 'sms-keyword',
            occurredAtMs: nowMs,
            recordedAtMs: nowMs,
          });
        }
      }
      return customers.map((c) => c.id);
    });

    for (const customerId of customerIds) {
      this.log.info(
        { tenantId, customerId, channel: 'SMS', code: keyword },
        'sms consent changed by keyword',
      );
    }
    return { keyword, customerIds };
  }

  /**
   * Runs `work` in the token's tenant transaction once the token verified with that tenant's
   * secret (`message` is null when the message no longer exists); returns null without
   * calling it when the token does not verify.
   */
  private async withVerifiedToken<T>(
    token: string,
    kind: LinkKind,
    destination: string | undefined,
    work: (tx: Tx, tenantId: string, message: TokenMessage | null) => Promise<T>,
  ): Promise<T | null> {
    const parsed = parseToken(token);
    if (!parsed) return null;
    const { tenantId, messageId } = parsed;

    return this.db.withTenant(tenantId, async (tx) => {
      // Row-level security shows only this tenant's own row: a token naming another tenant
      // finds no secret here, or the wrong one.
      const [tenant] = await rows<{ link_secret: string }>(
        tx,
        `SELECT link_secret FROM tenants WHERE id = $1`,
        [tenantId],
      );
      if (!tenant || !verifyToken(parsed, kind, tenant.link_secret, destination)) return null;

      const [message] = await rows<TokenMessage>(
        tx,
        `SELECT id, customer_id, sent_at FROM messages WHERE tenant_id = $1 AND id = $2`,
        [tenantId, messageId],
      );
      return work(tx, tenantId, message ?? null);
    });
  }
}

async function appendEvent(
  tx: Tx,
  tenantId: string,
  messageId: string,
  kind: MessageEventKind,
  machine: boolean,
  detail: Record<string, unknown>,
  occurredAtMs: number,
): Promise<void> {
  await rows(
    tx,
    `INSERT INTO message_events (tenant_id, message_id, kind, machine, detail, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [tenantId, messageId, kind, machine, JSON.stringify(detail), new Date(occurredAtMs)],
  );
}

async function lockCustomer(tx: Tx, tenantId: string, customerId: string): Promise<void> {
  await rows(tx, `SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [
    tenantId,
    customerId,
  ]);
}

function msSince(sentAt: Date | null, nowMs: number): number | null {
  return sentAt ? nowMs - sentAt.getTime() : null;
}

/** The user agent, kept so the machine-open rule can be checked against what arrived. */
function agentDetail(userAgent: string | undefined): Record<string, unknown> {
  return userAgent ? { userAgent: userAgent.slice(0, MAX_USER_AGENT_CHARS) } : {};
}

/** Which link was clicked, without the query string and fragment (they can carry tokens). */
function withoutQuery(destination: string): string {
  const url = new URL(destination);
  return `${url.origin}${url.pathname}`;
}

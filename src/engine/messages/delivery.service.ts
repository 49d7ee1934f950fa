import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { Database, Tx, rows } from '../../platform/database';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from '../channels/channel';
import { mayContact } from '../consent/consent-store';
import { prunePushSubscription } from '../consent/push-subscriptions';
import { recordDecision } from '../decisions/decision-log';
import { emailLinks } from '../engagement/link-tokens';
import { Effects } from '../sequences/effects';
import type { TimerIndex } from '../timers/timer-index';
import type { Channel, Purpose } from '../triggers/trigger-definition';
import { armDeliveryWatchdog } from './delivery-watchdog';

interface PendingMessageRow {
  id: string;
  tenant_id: string;
  enrollment_id: string;
  trigger_id: string;
  trigger_name: string;
  customer_id: string;
  external_id: string | null;
  step_index: number;
  channel: Channel;
  purpose: Purpose;
  status: string;
  attempts: number;
  to_address: string;
  subject: string | null;
  body: string;
  html: string | null;
  scheduled_for: Date;
  push_subscription_id: string | null;
  webhook_secret: string | null;
  link_secret: string;
  explicit_consent_channels: Channel[];
  run_state: string;
  trigger_version: number;
  push_endpoint: string | null;
  push_p256dh: string | null;
  push_auth: string | null;
  push_pruned_at: Date | null;
}

/** Attempts per message before it is parked as DEAD_LETTER. */
export const MAX_DELIVERY_ATTEMPTS = 5;

/** Wait before attempt n + 1 after n failed attempts: 30 s, 2 min, 10 min, 1 h. */
export function retryDelayMs(failedAttempts: number): number {
  const steps = [30_000, 120_000, 600_000, 3_600_000];
  return steps[Math.min(failedAttempts, steps.length) - 1] ?? steps[0];
}

export interface DeliveryOptions {
  /** Base URL for tracking links and provider callbacks; null: no tracking, no callbacks. */
  publicUrl: string | null;
  /** Longest a provider call may take (the adapters' timeout); sets the SENDING lease. */
  providerTimeoutMs: number;
}

/**
 * Hands recorded messages to their channel and records the outcome, at most once per step.
 *
 * A message is claimed QUEUED → SENDING in a transaction that first re-reads, with the
 * customer's row locked, everything that may have changed since the step was recorded:
 * consent for the channel and purpose (a revocation that landed meanwhile suppresses it,
 * NO_CONSENT), whether the run reached its goal (GOAL_REACHED), and whether the push
 * subscription still exists. Only then the provider is called, with an idempotency key
 * derived from tenant, run and step.
 *
 * Failures: permanent ones are FAILED and never retried. Transient ones go back to QUEUED
 * with the next attempt on the message's DELIVERY timer (durable: a restart keeps the
 * schedule), and after `MAX_DELIVERY_ATTEMPTS` the message is DEAD_LETTER. A timeout after
 * the request left (outcome unknown) is retried only where the provider deduplicates on the
 * key; elsewhere it is FAILED, since a retry could send a second message.
 */
export class DeliveryService {
  private readonly adapters: Map<Channel, ChannelAdapter>;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    adapters: ChannelAdapter[],
    private readonly index: TimerIndex,
    private readonly options: DeliveryOptions,
    private readonly log: Logger,
  ) {
    this.adapters = new Map(adapters.map((a) => [a.channel, a]));
  }

  /** Channels whose provider deduplicates retries on the idempotency key. */
  idempotentChannels(): Set<Channel> {
    return new Set(
      [...this.adapters.values()].filter((a) => a.retriesAreIdempotent).map((a) => a.channel),
    );
  }

  async deliver(tenantId: string, messageId: string, log: Logger = this.log): Promise<void> {
    const message = await this.claim(tenantId, messageId);
    if (!message) return;
    const adapter = this.adapters.get(message.channel);
    // tenantId is bound on `log` by the caller (request or timer).
    const fields = {
      triggerId: message.trigger_id,
      enrollmentId: message.enrollment_id,
      stepId: message.step_index,
      channel: message.channel,
      attempt: message.attempts,
    };
    const started = Date.now();
    const result: DeliveryResult = adapter
      ? await adapter.deliver(this.outbound(message))
      : { ok: false, permanent: true, reason: `no adapter for ${message.channel}` };
    const durationMs = Date.now() - started;
    const outcome = await this.settle(message, result, adapter?.retriesAreIdempotent ?? false);
    if (result.ok) log.info({ ...fields, durationMs }, 'step delivered');
    else {
      log.warn(
        { ...fields, durationMs, code: outcome, reason: result.reason },
        'step delivery failed',
      );
    }
  }

  async close(): Promise<void> {
    for (const adapter of this.adapters.values()) await adapter.close?.();
  }

  /** QUEUED → SENDING after the last checks; null when there is nothing to send. */
  private async claim(tenantId: string, messageId: string): Promise<PendingMessageRow | null> {
    const effects = new Effects();
    const claimed = await this.db.withTenant(tenantId, async (tx) => {
      const [owner] = await rows<{ customer_id: string }>(
        tx,
        `SELECT customer_id FROM messages WHERE tenant_id = $1 AND id = $2 AND status = 'QUEUED'`,
        [tenantId, messageId],
      );
      if (!owner) return null;
      // Lock order shared with the engine: the customer row first.
      await rows(tx, 'SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
        tenantId,
        owner.customer_id,
      ]);
      const [m] = await rows<PendingMessageRow>(
        tx,
        `SELECT m.*, t.name AS trigger_name, c.external_id, tn.webhook_secret, tn.link_secret,
           tn.explicit_consent_channels, e.state AS run_state, e.trigger_version,
           p.endpoint AS push_endpoint,
           p.p256dh AS push_p256dh, p.auth AS push_auth, p.pruned_at AS push_pruned_at
         FROM messages m
         JOIN triggers t ON t.id = m.trigger_id
         JOIN customers c ON c.id = m.customer_id
         JOIN tenants tn ON tn.id = m.tenant_id
         JOIN enrollments e ON e.id = m.enrollment_id
         LEFT JOIN push_subscriptions p ON p.id = m.push_subscription_id
         WHERE m.tenant_id = $1 AND m.id = $2 AND m.status = 'QUEUED'
         FOR UPDATE OF m`,
        [tenantId, messageId],
      );
      if (!m) return null;
      const nowMs = this.clock.nowMs();
      const reason = await this.lastCheck(tx, m);
      if (reason) {
        await this.finish(tx, effects, m, {
          status: 'SUPPRESSED',
          suppressionReason: reason,
          nowMs,
        });
        await recordDecision(tx, tenantId, {
          customerId: m.customer_id,
          triggerId: m.trigger_id,
          triggerVersion: m.trigger_version,
          enrollmentId: m.enrollment_id,
          atMs: nowMs,
          outcome: 'SUPPRESSED',
          reason,
          detail: { step: m.step_index, channel: m.channel, at: 'delivery' },
        });
        return null;
      }
      await rows(
        tx,
        `UPDATE messages SET status = 'SENDING', attempts = attempts + 1, sending_until = $3,
           updated_at = $4
         WHERE tenant_id = $1 AND id = $2`,
        [
          tenantId,
          messageId,
          // Wall time: the lease says when this provider call has certainly ended.
          new Date(Date.now() + 2 * this.options.providerTimeoutMs + 5_000),
          new Date(nowMs),
        ],
      );
      return { ...m, attempts: m.attempts + 1 };
    });
    await this.applyIndex(effects);
    return claimed;
  }

  /** The reason a recorded message must not go out after all, or null. */
  private async lastCheck(
    tx: Tx,
    m: PendingMessageRow,
  ): Promise<'GOAL_REACHED' | 'NO_CONSENT' | 'INVALID_ADDRESS' | null> {
    if (m.run_state === 'CONVERTED') return 'GOAL_REACHED';
    const allowed = await mayContact(
      tx,
      m.tenant_id,
      m.customer_id,
      m.channel,
      m.purpose,
      m.explicit_consent_channels,
    );
    if (!allowed) return 'NO_CONSENT';
    if (m.channel === 'PUSH' && (m.push_endpoint === null || m.push_pruned_at !== null)) {
      return 'INVALID_ADDRESS';
    }
    return null;
  }

  /** Records what the provider said; returns a code for the log line. */
  private async settle(
    m: PendingMessageRow,
    result: DeliveryResult,
    retriesAreIdempotent: boolean,
  ): Promise<string> {
    const effects = new Effects();
    const code = await this.db.withTenant(m.tenant_id, async (tx) => {
      const nowMs = this.clock.nowMs();
      if (result.ok) {
        await this.finish(tx, effects, m, {
          status: 'SENT',
          nowMs,
          providerMessageId: result.providerMessageId,
        });
        return 'SENT';
      }
      if (result.subscriptionGone && m.push_subscription_id) {
        await prunePushSubscription(tx, m.tenant_id, m.push_subscription_id, nowMs);
      }
      const unsafeToRetry = result.outcomeUnknown === true && !retriesAreIdempotent;
      if (result.permanent || unsafeToRetry) {
        const failure = `${unsafeToRetry ? 'OUTCOME_UNKNOWN' : 'PERMANENT'}: ${result.reason}`;
        await this.finish(tx, effects, m, { status: 'FAILED', failure, nowMs });
        return unsafeToRetry ? 'OUTCOME_UNKNOWN' : 'PERMANENT';
      }
      if (m.attempts >= MAX_DELIVERY_ATTEMPTS) {
        const failure = `RETRIES_EXHAUSTED after ${m.attempts} attempts: ${result.reason}`;
        await this.finish(tx, effects, m, { status: 'DEAD_LETTER', failure, nowMs });
        return 'DEAD_LETTER';
      }
      const nextMs = nowMs + retryDelayMs(m.attempts);
      await rows(
        tx,
        `UPDATE messages SET status = 'QUEUED', failure = $3, next_attempt_at = $4,
           sending_until = NULL, updated_at = $5
         WHERE tenant_id = $1 AND id = $2 AND status = 'SENDING'`,
        [m.tenant_id, m.id, `TRANSIENT: ${result.reason}`, new Date(nextMs), new Date(nowMs)],
      );
      await armDeliveryWatchdog(
        tx,
        effects,
        { tenant_id: m.tenant_id, id: m.enrollment_id },
        m.step_index,
        nowMs,
        nextMs,
      );
      return 'RETRY_SCHEDULED';
    });
    await this.applyIndex(effects);
    return code;
  }

  /**
   * Puts the message in a final state and stands its watchdog down (its DELIVERY timer DONE,
   * as `cancelTimers` does for step timers), in one statement: one round trip per delivery fewer.
   */
  private async finish(
    tx: Tx,
    effects: Effects,
    m: PendingMessageRow,
    outcome: {
      status: 'SENT' | 'FAILED' | 'DEAD_LETTER' | 'SUPPRESSED';
      nowMs: number;
      failure?: string;
      suppressionReason?: string;
      providerMessageId?: string | null;
    },
  ): Promise<void> {
    const settled = await rows<{ id: string }>(
      tx,
      `WITH finished AS (
         UPDATE messages SET status = $3,
           failure = CASE WHEN $3 = 'SENT' THEN NULL ELSE COALESCE($4, failure) END,
           suppression_reason = $5, provider_message_id = $6,
           sent_at = CASE WHEN $3 = 'SENT' THEN $7 ELSE sent_at END,
           sending_until = NULL, next_attempt_at = NULL, updated_at = $7
         WHERE tenant_id = $1 AND id = $2
       )
       UPDATE timers SET state = 'DONE' WHERE tenant_id = $1 AND enrollment_id = $8
         AND kind = 'DELIVERY' AND step_index = $9 AND state = 'PENDING'
       RETURNING id`,
      [
        m.tenant_id,
        m.id,
        outcome.status,
        outcome.failure ?? null,
        outcome.suppressionReason ?? null,
        outcome.providerMessageId ?? null,
        new Date(outcome.nowMs),
        m.enrollment_id,
        m.step_index,
      ],
    );
    for (const { id } of settled)
      effects.timersToUnschedule.push({ timerId: id, tenantId: m.tenant_id });
  }

  private async applyIndex(effects: Effects): Promise<void> {
    try {
      await this.index.unschedule(effects.timersToUnschedule);
      await this.index.schedule(effects.timersToSchedule);
    } catch (err) {
      // PostgreSQL holds the timers; the sweeper re-indexes what this missed.
      this.log.warn({ err }, 'delivery timer index update failed');
    }
  }

  private outbound(m: PendingMessageRow): OutboundMessage {
    const base = this.options.publicUrl;
    return {
      id: m.id,
      tenantId: m.tenant_id,
      channel: m.channel,
      purpose: m.purpose,
      to: m.to_address,
      subject: m.subject,
      body: m.body,
      html: m.html,
      triggerId: m.trigger_id,
      triggerName: m.trigger_name,
      customerExternalId: m.external_id,
      stepIndex: m.step_index,
      scheduledFor: m.scheduled_for,
      signingSecret: m.webhook_secret,
      idempotencyKey: `${m.tenant_id}:${m.enrollment_id}:${m.step_index}`,
      links:
        m.channel === 'EMAIL' && base ? emailLinks(base, m.tenant_id, m.id, m.link_secret) : null,
      push:
        m.channel === 'PUSH' && m.push_endpoint
          ? { endpoint: m.push_endpoint, keys: { p256dh: m.push_p256dh!, auth: m.push_auth! } }
          : null,
      statusCallbackUrl:
        m.channel === 'SMS' && base ? `${base}/hooks/sms/${m.tenant_id}/status` : null,
    };
  }
}

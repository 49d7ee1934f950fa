import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import type { Bus } from '../../platform/bus';
import { Database, rows } from '../../platform/database';
import { windowRate } from './alert-rate';
import type { AlertWebhookSender } from './alert-webhook';
import { stateFor, type MetricAlertEvent } from './metric-alert';
import { toAlertView, type MetricAlertRow } from './metric-alert.service';

/** Bus channel of metric alert events; every instance forwards them to its subscribers. */
export const METRIC_ALERT = 'metric-alert';

/** A transition committed by one evaluation, with what its webhook needs. */
interface Crossing {
  event: MetricAlertEvent;
  webhookUrl: string | null;
  signingSecret: string | null;
}

/**
 * Evaluates metric alerts against `messages` and raises each crossing exactly once.
 *
 * Each alert is evaluated in its own transaction that first locks the alert's row, then
 * reads the rate: evaluators on several instances queue on that lock, and each one reads the
 * messages as committed when it got the lock, so a later evaluation never works from older
 * data than the one before it. The state moves only through `UPDATE … WHERE state = <the
 * state read under the lock>`; a transition is raised (bus event, then webhook) only by the
 * evaluation whose UPDATE changed the state, after its commit.
 */
export class AlertEvaluator {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly bus: Bus,
    private readonly webhooks: AlertWebhookSender,
    private readonly log: Logger,
  ) {}

  /**
   * Evaluates the tenant's alerts that watch `triggerId` (those on that trigger and the
   * tenant-wide ones), or every alert of the tenant when `triggerId` is null. Returns how
   * many transitions it raised. Safe to call any number of times, from any instance.
   */
  async evaluate(tenantId: string, triggerId: string | null): Promise<number> {
    const ids = await this.db.withTenant(tenantId, (tx) =>
      rows<{ id: string }>(
        tx,
        `SELECT id FROM metric_alerts
         WHERE tenant_id = $1
           AND ($2::uuid IS NULL OR trigger_id = $2::uuid OR trigger_id IS NULL)`,
        [tenantId, triggerId],
      ),
    );
    let raised = 0;
    for (const { id } of ids) {
      const crossing = await this.evaluateOne(tenantId, id);
      if (!crossing) continue;
      raised++;
      await this.raise(crossing);
    }
    return raised;
  }

  private async evaluateOne(tenantId: string, alertId: string): Promise<Crossing | null> {
    return this.db.withTenant(tenantId, async (tx) => {
      const [alert] = await rows<MetricAlertRow>(
        tx,
        'SELECT * FROM metric_alerts WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
        [tenantId, alertId],
      );
      if (!alert) return null;
      const rate = await windowRate(
        tx,
        tenantId,
        alert.trigger_id,
        alert.metric,
        alert.over_last_sends,
      );
      const view = toAlertView(alert);
      const next = stateFor(view, rate.value, rate.sends);
      const nowMs = this.clock.nowMs();
      const isCrossing = next !== null && next !== alert.state;

      const [updated] = await rows<MetricAlertRow>(
        tx,
        `UPDATE metric_alerts
         SET last_value = $4, last_sends = $5, last_evaluated_at = $6,
             state = $7,
             transitions = transitions + CASE WHEN $8 THEN 1 ELSE 0 END,
             state_changed_at = CASE WHEN $8 THEN $6 ELSE state_changed_at END
         WHERE tenant_id = $1 AND id = $2 AND state = $3
         RETURNING *`,
        [
          tenantId,
          alertId,
          alert.state,
          rate.value,
          rate.sends,
          new Date(nowMs),
          isCrossing ? next : alert.state,
          isCrossing,
        ],
      );
      if (!updated || !isCrossing) return null;

      const [tenant] = await rows<{ webhook_secret: string | null }>(
        tx,
        'SELECT webhook_secret FROM tenants WHERE id = $1',
        [tenantId],
      );
      const current = toAlertView(updated);
      return {
        event: {
          eventId: `${alertId}:${updated.transitions}`,
          tenantId,
          triggerId: updated.trigger_id,
          alert: {
            id: current.id,
            triggerId: current.triggerId,
            metric: current.metric,
            comparison: current.comparison,
            threshold: current.threshold,
            overLastSends: current.overLastSends,
            webhookUrl: current.webhookUrl,
            state: current.state,
            lastValue: current.lastValue,
            lastSends: current.lastSends,
            createdAt: current.createdAt.toISOString(),
          },
          value: rate.value,
          sends: rate.sends,
          state: next === 'FIRING' ? 'FIRING' : 'RESOLVED',
          at: new Date(nowMs).toISOString(),
        },
        webhookUrl: updated.webhook_url,
        signingSecret: tenant?.webhook_secret ?? null,
      };
    });
  }

  /** After commit: the subscription first (via the bus), then the webhook in the background. */
  private async raise(crossing: Crossing): Promise<void> {
    const { event } = crossing;
    this.log.info(
      {
        tenantId: event.tenantId,
        triggerId: event.triggerId,
        alertId: event.alert.id,
        metric: event.alert.metric,
        state: event.state,
        value: event.value,
        sends: event.sends,
      },
      'metric alert crossed',
    );
    try {
      await this.bus.publish(METRIC_ALERT, event);
    } catch (err) {
      this.log.error(
        { err, tenantId: event.tenantId, alertId: event.alert.id },
        'metric alert publish failed',
      );
    }
    if (crossing.webhookUrl) {
      this.webhooks.send(crossing.webhookUrl, crossing.signingSecret, event);
    }
  }
}

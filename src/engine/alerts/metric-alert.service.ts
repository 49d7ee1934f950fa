import type { Clock } from '../../clock';
import { checkedAt, ConflictError, NotFoundError } from '../../errors';
import { Database, rows, type Tx } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import type { OutboundGuard } from '../channels/outbound-guard';
import { checkWebhookUrl } from '../channels/webhook-url';
import {
  checkAlertNumbers,
  MAX_ALERTS_PER_TENANT,
  type AlertComparison,
  type AlertMetric,
  type AlertState,
  type MetricAlertEvent,
  type MetricAlertInput,
  type MetricAlertView,
} from './metric-alert';

/** The tenant's stream of alert events on this instance (fed from the bus by the app). */
export type AlertEventSource = (tenantId: string) => AsyncIterable<MetricAlertEvent>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A `metric_alerts` row. */
export interface MetricAlertRow {
  id: string;
  tenant_id: string;
  trigger_id: string | null;
  metric: AlertMetric;
  comparison: AlertComparison;
  threshold: number;
  over_last_sends: number;
  webhook_url: string | null;
  state: AlertState;
  transitions: number;
  last_value: number | null;
  last_sends: number | null;
  last_evaluated_at: Date | null;
  state_changed_at: Date | null;
  created_at: Date;
}

/** The API's view of a row. */
export function toAlertView(row: MetricAlertRow): MetricAlertView {
  return {
    id: row.id,
    triggerId: row.trigger_id,
    metric: row.metric,
    comparison: row.comparison,
    threshold: Number(row.threshold),
    overLastSends: row.over_last_sends,
    webhookUrl: row.webhook_url,
    state: row.state,
    lastValue: row.last_value === null ? null : Number(row.last_value),
    lastSends: row.last_sends,
    lastEvaluatedAt: row.last_evaluated_at,
    stateChangedAt: row.state_changed_at,
    createdAt: row.created_at,
  };
}

/**
 * Tenants' metric alerts: create, list, delete. Evaluation lives in `AlertEvaluator`; this
 * service only stores definitions, each checked on save (threshold, window, the trigger
 * belongs to the caller's tenant, the webhook URL passes the outbound guard like a WEBHOOK
 * target).
 */
export class MetricAlertService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly outbound: OutboundGuard,
    private readonly events: AlertEventSource,
    private readonly onCreated: (tenantId: string, triggerId: string | null) => void = () =>
      undefined,
  ) {}

  /**
   * The tenant's alert events from now on, only those of `triggerId`'s alerts when given.
   * NOT_FOUND (`triggerId`) when it is not the tenant's trigger; checked once, up front.
   */
  async subscribe(
    ctx: TenantContext,
    triggerId: string | null,
  ): Promise<AsyncIterable<MetricAlertEvent>> {
    if (triggerId !== null) {
      await this.db.withTenant(ctx.tenantId, (tx) =>
        this.requireTrigger(tx, ctx.tenantId, triggerId, 'triggerId'),
      );
    }
    const source = this.events(ctx.tenantId);
    return (async function* () {
      for await (const event of source) {
        if (triggerId === null || event.triggerId === triggerId) yield event;
      }
    })();
  }

  /**
   * Stores a new alert in state OK. Throws BAD_USER_INPUT (`input.threshold`,
   * `input.overLastSends`, `input.webhookUrl`), NOT_FOUND (`input.triggerId`: no such trigger
   * in this tenant) and CONFLICT when the tenant already holds `MAX_ALERTS_PER_TENANT`.
   * The first evaluation follows at once, so an already-breached trigger fires without
   * waiting for its next message.
   */
  async create(ctx: TenantContext, input: MetricAlertInput): Promise<MetricAlertView> {
    checkedAt('input', () => checkAlertNumbers(input));
    const webhookUrl =
      input.webhookUrl == null || input.webhookUrl === ''
        ? null
        : checkWebhookUrl(input.webhookUrl, this.outbound, 'input.webhookUrl');
    const triggerId = input.triggerId ?? null;

    const row = await this.db.withTenant(ctx.tenantId, async (tx) => {
      if (triggerId !== null) await this.requireTrigger(tx, ctx.tenantId, triggerId);
      // One tenant's creations are serialised on its row, so the limit cannot be raced past.
      await rows(tx, 'SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [ctx.tenantId]);
      const [{ n }] = await rows<{ n: number }>(
        tx,
        'SELECT count(*)::int AS n FROM metric_alerts WHERE tenant_id = $1',
        [ctx.tenantId],
      );
      if (n >= MAX_ALERTS_PER_TENANT) {
        throw new ConflictError(
          `a tenant may hold at most ${MAX_ALERTS_PER_TENANT} metric alerts; delete one first`,
          { reason: 'ALERT_LIMIT_REACHED' },
        );
      }
      const [created] = await rows<MetricAlertRow>(
        tx,
        `INSERT INTO metric_alerts
           (tenant_id, trigger_id, metric, comparison, threshold, over_last_sends, webhook_url,
            created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING *`,
        [
          ctx.tenantId,
          triggerId,
          input.metric,
          input.comparison,
          input.threshold,
          input.overLastSends,
          webhookUrl,
          new Date(this.clock.nowMs()),
        ],
      );
      return created;
    });
    ctx.log.info(
      { triggerId, alertId: row.id, metric: row.metric, comparison: row.comparison },
      'metric alert created',
    );
    this.onCreated(ctx.tenantId, triggerId);
    return toAlertView(row);
  }

  /**
   * The tenant's alerts, oldest first; only those of `triggerId` when given (NOT_FOUND
   * `triggerId` when it is not the tenant's trigger).
   */
  async list(ctx: TenantContext, triggerId: string | null): Promise<MetricAlertView[]> {
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      if (triggerId !== null) await this.requireTrigger(tx, ctx.tenantId, triggerId, 'triggerId');
      const found = await rows<MetricAlertRow>(
        tx,
        `SELECT * FROM metric_alerts
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR trigger_id = $2::uuid)
         ORDER BY created_at, id`,
        [ctx.tenantId, triggerId],
      );
      return found.map(toAlertView);
    });
  }

  /** Deletes one alert. NOT_FOUND (`id`) for an unknown id or another tenant's alert. */
  async delete(ctx: TenantContext, id: string): Promise<void> {
    if (!UUID.test(id)) throw new NotFoundError('metric alert', 'id');
    const deleted = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows(tx, 'DELETE FROM metric_alerts WHERE tenant_id = $1 AND id = $2 RETURNING id', [
        ctx.tenantId,
        id,
      ]),
    );
    if (deleted.length === 0) throw new NotFoundError('metric alert', 'id');
    ctx.log.info({ alertId: id }, 'metric alert deleted');
  }

  private async requireTrigger(
    tx: Tx,
    tenantId: string,
    triggerId: string,
    field = 'input.triggerId',
  ): Promise<void> {
    if (!UUID.test(triggerId)) throw new NotFoundError('trigger', field);
    const [found] = await rows(tx, 'SELECT 1 FROM triggers WHERE tenant_id = $1 AND id = $2', [
      tenantId,
      triggerId,
    ]);
    if (!found) throw new NotFoundError('trigger', field);
  }
}

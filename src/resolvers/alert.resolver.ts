import {
  Arg,
  Authorized,
  Ctx,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { MetricAlertEvent as AlertEventPayload } from '../engine/alerts/metric-alert';
import {
  CreateMetricAlertInput,
  MetricAlert,
  MetricAlertComparison,
  MetricAlertEvent,
  MetricAlertEventState,
  MetricAlertMetric,
  MetricAlertState,
} from '../schema/alert.types';
import type { MetricAlertView } from '../engine/alerts/metric-alert';
import { tenantOf, type RequestContext } from './context';

/** The pub/sub topic of metric alert events; routed per tenant by topic id. */
export const METRIC_ALERT_TOPIC = 'METRIC_ALERT';

function toMetricAlert(view: MetricAlertView): MetricAlert {
  return {
    ...view,
    metric: view.metric as MetricAlertMetric,
    comparison: view.comparison as MetricAlertComparison,
    state: view.state as MetricAlertState,
  };
}

@Resolver(() => MetricAlert)
export class AlertResolver {
  @Authorized('WRITE')
  @Mutation(() => MetricAlert, {
    description: 'Starts watching a rate; the alert is evaluated at once and on every send.',
  })
  async createMetricAlert(
    @Arg('input') input: CreateMetricAlertInput,
    @Ctx() ctx: RequestContext,
  ): Promise<MetricAlert> {
    return toMetricAlert(await ctx.services.alerts.create(tenantOf(ctx), input));
  }

  @Authorized('READ')
  @Query(() => [MetricAlert], { description: 'The tenant’s metric alerts, oldest first.' })
  async metricAlerts(
    @Ctx() ctx: RequestContext,
    @Arg('triggerId', () => ID, { nullable: true }) triggerId?: string | null,
  ): Promise<MetricAlert[]> {
    const views = await ctx.services.alerts.list(tenantOf(ctx), triggerId ?? null);
    return views.map(toMetricAlert);
  }

  @Authorized('WRITE')
  @Mutation(() => Boolean, { description: 'True once deleted; NOT_FOUND for an unknown id.' })
  async deleteMetricAlert(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<boolean> {
    await ctx.services.alerts.delete(tenantOf(ctx), id);
    return true;
  }

  @Subscription(() => MetricAlertEvent, {
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      const { triggerId } = args as { triggerId?: string | null };
      return ctx.services.alerts.subscribe(tenantOf(ctx), triggerId ?? null);
    },
    description:
      'Crossings of the caller’s tenant’s metric alerts, optionally of one trigger’s alerts ' +
      '(another tenant’s trigger is NOT_FOUND).',
  })
  metricAlert(
    @Root() event: AlertEventPayload,
    @Arg('triggerId', () => ID, { nullable: true }) _triggerId?: string,
  ): MetricAlertEvent {
    return {
      alert: toMetricAlert({
        ...event.alert,
        createdAt: new Date(event.alert.createdAt),
        lastEvaluatedAt: new Date(event.at),
        stateChangedAt: new Date(event.at),
      }),
      triggerId: event.triggerId,
      value: event.value,
      sends: event.sends,
      state: event.state as MetricAlertEventState,
      at: new Date(event.at),
    };
  }
}

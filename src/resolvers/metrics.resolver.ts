import { Arg, Authorized, Ctx, ID, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { MetricCounts as CountsView } from '../engine/metrics/metric-counts';
import type { MetricsUpdateView } from '../engine/metrics/metrics-feed';
import type { BucketUnit } from '../engine/metrics/metrics-store';
import type { TriggerMetricsView } from '../engine/metrics/metrics.service';
import { Channel } from '../schema/enums';
import {
  MetricBucket,
  MetricCounts,
  MetricsOverview,
  MetricsUpdate,
  TriggerMetrics,
} from '../schema/metrics.types';
import { ForbiddenError } from '../errors';
import { hasScope } from '../tenancy/scopes';
import { tenantOf } from './context';
import type { RequestContext } from './context';

const UNITS: Record<MetricBucket, BucketUnit> = { HOUR: 'hour', DAY: 'day' };

@Resolver()
export class MetricsResolver {
  @Authorized('READ')
  @Query(() => TriggerMetrics, {
    description:
      'A trigger’s counters over [from, to), widened to whole UTC buckets: totals, every ' +
      'bucket, and per step, channel and variant. Another tenant’s trigger is NOT_FOUND.',
  })
  async triggerMetrics(
    @Arg('triggerId', () => ID) triggerId: string,
    @Arg('from') from: Date,
    @Arg('to') to: Date,
    @Arg('bucket', () => MetricBucket, { defaultValue: MetricBucket.DAY, nullable: true })
    bucket: MetricBucket,
    @Ctx() ctx: RequestContext,
  ): Promise<TriggerMetrics> {
    const view = await ctx.services.metrics.triggerMetrics(
      tenantOf(ctx),
      triggerId,
      from,
      to,
      UNITS[bucket],
    );
    return toTriggerMetrics(view, bucket);
  }

  @Authorized('READ')
  @Query(() => MetricsOverview, {
    description: 'The tenant’s counters over [from, to) (whole UTC hours), and each trigger’s.',
  })
  async metricsOverview(
    @Arg('from') from: Date,
    @Arg('to') to: Date,
    @Ctx() ctx: RequestContext,
  ): Promise<MetricsOverview> {
    return ctx.services.metrics.overview(tenantOf(ctx), from, to);
  }

  @Authorized('READ')
  @Subscription(() => MetricsUpdate, {
    subscribe: async ({ args, context }) => {
      const ctx = context as RequestContext;
      // Checked here too: @Authorized guards each message, this guards the subscription.
      requireScope(ctx, 'READ');
      const triggerId = (args as { triggerId: string }).triggerId;
      return ctx.services.metricsFeed.subscribe(tenantOf(ctx), triggerId);
    },
    description:
      'A trigger’s all-time totals: first the current snapshot (change = zeros), then at most ' +
      'one message per second while counts move, with the change since the previous one.',
  })
  metricsUpdated(
    @Root() update: MetricsUpdateView,
    @Arg('triggerId', () => ID) _triggerId: string,
  ): MetricsUpdate {
    return { ...update, totals: toCounts(update.totals), change: toCounts(update.change) };
  }
}

/** The subscription's own scope check (UNAUTHENTICATED without a tenant key, else FORBIDDEN). */
function requireScope(ctx: RequestContext, scope: 'READ'): void {
  if (!hasScope(tenantOf(ctx).scopes, scope)) {
    throw new ForbiddenError(`this operation needs an API key with scope ${scope}`);
  }
}

function toCounts(counts: CountsView): MetricCounts {
  return counts;
}

function toTriggerMetrics(view: TriggerMetricsView, bucket: MetricBucket): TriggerMetrics {
  return {
    ...view,
    bucket,
    steps: view.steps.map((s) => ({ ...s, channel: s.channel as Channel })),
  };
}

import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Channel } from './enums';

export enum MetricBucket {
  HOUR = 'HOUR',
  DAY = 'DAY',
}

registerEnumType(MetricBucket, {
  name: 'MetricBucket',
  description: 'Bucket size of a metrics series: whole UTC hours or whole UTC days.',
});

@ObjectType()
export class ReasonCount {
  @Field()
  reason: string;

  @Field(() => Int)
  count: number;
}

@ObjectType({
  description: 'Counters of a trigger, step or range; definitions in docs/metrics.md.',
})
export class MetricCounts {
  @Field(() => Int, {
    description: "Stored entry events of the trigger's event name that were evaluated.",
  })
  eligible: number;

  @Field(() => Int, { description: 'Runs started (enrollments activated).' })
  entries: number;

  @Field(() => Float, {
    nullable: true,
    description: 'entries / eligible; null when eligible = 0.',
  })
  activationRate: number | null;

  @Field(() => Int, { description: 'Messages that left: SENT, DELIVERED, OPENED, CLICKED.' })
  sent: number;

  @Field(() => Int, { description: 'Sent messages the provider confirmed delivered.' })
  delivered: number;

  @Field(() => Int, { description: 'Sent messages a person opened (machine opens excluded).' })
  opened: number;

  @Field(() => Int, { description: 'Sent messages a person clicked.' })
  clicked: number;

  @Field(() => Int, { description: 'Messages FAILED or DEAD_LETTER.' })
  failed: number;

  @Field(() => Int, { description: 'Messages SUPPRESSED (not sent).' })
  suppressed: number;

  @Field(() => [ReasonCount], { description: 'Suppressed messages by reason code.' })
  suppressedByReason: ReasonCount[];

  @Field(() => Int, { description: 'Runs that reached their goal.' })
  conversions: number;

  @Field(() => Float, {
    nullable: true,
    description: 'conversions / entries; null when entries = 0.',
  })
  conversionRate: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Median seconds from run start to goal event; null without conversions.',
  })
  timeToConvertMedianSeconds: number | null;

  @Field(() => Float, {
    nullable: true,
    description: '90th percentile seconds from run start to goal event.',
  })
  timeToConvertP90Seconds: number | null;

  @Field(() => Float, {
    description: "Sum of the goal events' numeric `value` property.",
  })
  attributedValue: number;
}

@ObjectType()
export class MetricsBucketRow {
  @Field()
  start: Date;

  @Field(() => MetricCounts)
  counts: MetricCounts;
}

@ObjectType()
export class StepMetrics {
  @Field(() => Int)
  step: number;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => String, { nullable: true, description: 'The message’s variant name, if any.' })
  variant: string | null;

  @Field(() => MetricCounts, {
    description:
      'Message counters of this step and variant; conversions credited to its messages; ' +
      'eligible and entries are 0 (they belong to the run, see totals).',
  })
  counts: MetricCounts;
}

@ObjectType()
export class TriggerMetrics {
  @Field(() => ID)
  triggerId: string;

  @Field({ description: 'Start of the counted range (the request widened to a whole bucket).' })
  from: Date;

  @Field({ description: 'End of the counted range, exclusive (widened to a whole bucket).' })
  to: Date;

  @Field(() => MetricBucket)
  bucket: MetricBucket;

  @Field(() => MetricCounts)
  totals: MetricCounts;

  @Field(() => [MetricsBucketRow], { description: 'Every bucket of the range, empty ones too.' })
  buckets: MetricsBucketRow[];

  @Field(() => [StepMetrics])
  steps: StepMetrics[];
}

@ObjectType()
export class TriggerMetricsSummary {
  @Field(() => ID)
  triggerId: string;

  @Field()
  name: string;

  @Field(() => MetricCounts)
  totals: MetricCounts;
}

@ObjectType()
export class MetricsOverview {
  @Field()
  from: Date;

  @Field()
  to: Date;

  @Field(() => MetricCounts)
  totals: MetricCounts;

  @Field(() => [TriggerMetricsSummary])
  triggers: TriggerMetricsSummary[];
}

@ObjectType()
export class MetricsUpdate {
  @Field(() => ID)
  triggerId: string;

  @Field()
  at: Date;

  @Field(() => MetricCounts, { description: "The trigger's all-time totals." })
  totals: MetricCounts;

  @Field(() => MetricCounts, {
    description:
      'Counter differences since this subscriber’s previous message (zeros in the first); ' +
      'rates and percentiles are null here.',
  })
  change: MetricCounts;
}

import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

/** Values equal the engine's literals (`engine/alerts/metric-alert.ts`). */
export enum MetricAlertMetric {
  OPEN_RATE = 'OPEN_RATE',
  CLICK_RATE = 'CLICK_RATE',
  DELIVERY_RATE = 'DELIVERY_RATE',
  FAILURE_RATE = 'FAILURE_RATE',
  CONVERSION_RATE = 'CONVERSION_RATE',
}

export enum MetricAlertComparison {
  BELOW = 'BELOW',
  ABOVE = 'ABOVE',
}

export enum MetricAlertState {
  OK = 'OK',
  FIRING = 'FIRING',
}

export enum MetricAlertEventState {
  FIRING = 'FIRING',
  RESOLVED = 'RESOLVED',
}

registerEnumType(MetricAlertMetric, {
  name: 'MetricAlertMetric',
  description:
    'A rate over the alert’s last N concluded sends (SENT, DELIVERED, OPENED, CLICKED, ' +
    'FAILED, DEAD_LETTER; suppressed messages never went out and do not count).',
  valuesConfig: {
    OPEN_RATE: { description: 'Sends a person opened (or clicked), over sends.' },
    CLICK_RATE: { description: 'Sends a person clicked, over sends.' },
    DELIVERY_RATE: { description: 'Sends confirmed delivered (or opened or clicked), over sends.' },
    FAILURE_RATE: { description: 'Sends that FAILED or ended DEAD_LETTER, over sends.' },
    CONVERSION_RATE: { description: 'Sends credited with their run’s conversion, over sends.' },
  },
});
registerEnumType(MetricAlertComparison, {
  name: 'MetricAlertComparison',
  description: 'BELOW fires when the rate is strictly below the threshold; ABOVE, strictly above.',
});
registerEnumType(MetricAlertState, {
  name: 'MetricAlertState',
  description: 'FIRING while the condition holds; OK otherwise and until N sends exist.',
});
registerEnumType(MetricAlertEventState, {
  name: 'MetricAlertEventState',
  description: 'FIRING: the condition started to hold; RESOLVED: it stopped holding.',
});

@ObjectType({
  description:
    'A threshold on a rate over the last N concluded sends of one trigger (or of all the ' +
    'tenant’s triggers), raised once per crossing as `metricAlert` and as a signed webhook.',
})
export class MetricAlert {
  @Field(() => ID)
  id: string;

  @Field(() => ID, { nullable: true, description: 'Null: all triggers of the tenant together.' })
  triggerId: string | null;

  @Field(() => MetricAlertMetric)
  metric: MetricAlertMetric;

  @Field(() => MetricAlertComparison)
  comparison: MetricAlertComparison;

  @Field(() => Float, { description: 'A fraction from 0 to 1 (0.2 = 20 %).' })
  threshold: number;

  @Field(() => Int, { description: 'Window size; the alert decides nothing before N sends.' })
  overLastSends: number;

  @Field(() => String, { nullable: true, description: 'Where crossings are POSTed, signed.' })
  webhookUrl: string | null;

  @Field(() => MetricAlertState)
  state: MetricAlertState;

  @Field(() => Float, { nullable: true, description: 'The rate at the last evaluation.' })
  lastValue: number | null;

  @Field(() => Int, { nullable: true, description: 'Sends in the window at the last evaluation.' })
  lastSends: number | null;

  @Field(() => Date, { nullable: true })
  lastEvaluatedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the state last changed.' })
  stateChangedAt: Date | null;

  @Field()
  createdAt: Date;
}

@ObjectType({
  description: 'A metric alert crossed its threshold (FIRING) or came back (RESOLVED).',
})
export class MetricAlertEvent {
  @Field(() => MetricAlert, { description: 'The alert as it stood right after the crossing.' })
  alert: MetricAlert;

  @Field(() => ID, { nullable: true })
  triggerId: string | null;

  @Field(() => Float, { description: 'The rate that crossed, from 0 to 1.' })
  value: number;

  @Field(() => Int, { description: 'Sends in the window (equals overLastSends).' })
  sends: number;

  @Field(() => MetricAlertEventState)
  state: MetricAlertEventState;

  @Field()
  at: Date;
}

@InputType()
export class CreateMetricAlertInput {
  @Field(() => ID, { nullable: true, description: 'Omit for all the tenant’s triggers.' })
  triggerId?: string | null;

  @Field(() => MetricAlertMetric)
  metric: MetricAlertMetric;

  @Field(() => MetricAlertComparison)
  comparison: MetricAlertComparison;

  @Field(() => Float, { description: 'A fraction from 0 to 1 (0.2 = 20 %).' })
  threshold: number;

  @Field(() => Int, { description: 'From 1 to 10,000.' })
  overLastSends: number;

  @Field(() => String, {
    nullable: true,
    description:
      'An http(s) URL; crossings are POSTed there signed with the tenant’s webhook secret ' +
      '(Standard Webhooks). Checked like WEBHOOK targets. Omit for the subscription only.',
  })
  webhookUrl?: string | null;
}

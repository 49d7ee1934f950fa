import { Field, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { DurationScalar } from './scalars';

export enum SendTimeMode {
  BEST_HOUR = 'BEST_HOUR',
}
registerEnumType(SendTimeMode, {
  name: 'SendTimeMode',
  valuesConfig: {
    BEST_HOUR: {
      description:
        "The customer's best local hour, learned from their opens and clicks and smoothed " +
        "toward the tenant's pattern.",
    },
  },
});

@InputType()
export class SendTimeInput {
  @Field(() => SendTimeMode)
  mode: SendTimeMode;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'How long after the due time the step may wait, PT1H to P7D; default PT24H.',
  })
  within?: string | null;
}

@ObjectType({
  description:
    'When a due step is sent: BEST_HOUR waits up to `within` for the customer’s best local ' +
    'hour; quiet hours and the send window still apply after it.',
})
export class SendTime {
  @Field(() => SendTimeMode)
  mode: SendTimeMode;

  @Field(() => DurationScalar)
  within: string;
}

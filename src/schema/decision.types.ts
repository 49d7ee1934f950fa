import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DecisionOutcome } from './enums';
import { JSONScalar } from './scalars';

@ObjectType({ description: 'The event a decision was about.' })
export class DecisionEvent {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field()
  occurredAt: Date;
}

@ObjectType({
  description:
    'What the engine decided about an entry event or a run, and why. `reason` is a stable ' +
    'code; `detail` carries the specifics (failing node, cancelling event, deferral).',
})
export class Decision {
  @Field({ description: 'When the engine decided (service clock).' })
  at: Date;

  @Field(() => DecisionEvent, { nullable: true })
  event: DecisionEvent | null;

  @Field(() => ID)
  triggerId: string;

  @Field(() => Int)
  triggerVersion: number;

  @Field(() => ID, { nullable: true })
  enrollmentId: string | null;

  @Field(() => DecisionOutcome)
  outcome: DecisionOutcome;

  @Field()
  reason: string;

  @Field(() => JSONScalar)
  detail: Record<string, unknown>;
}

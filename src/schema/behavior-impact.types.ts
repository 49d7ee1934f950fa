import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';
import { DurationScalar, JSONScalar } from './scalars';

@InputType({ description: 'The customer did `event` at least `atLeast` times within `within`.' })
export class BehaviorRequirementInput {
  @Field()
  event: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'Condition on the counted events (event.name, event.properties.*).',
  })
  where?: unknown;

  @Field(() => Int, { nullable: true, description: 'Default 1.' })
  atLeast?: number | null;

  @Field(() => DurationScalar, { description: 'Counted over (t − within, t].' })
  within: string;
}

@InputType({ description: 'Requirements that must all hold at one instant (1 to 5).' })
export class BehaviorPatternInput {
  @Field(() => [BehaviorRequirementInput])
  all: BehaviorRequirementInput[];
}

@InputType()
export class BehaviorOutcomeInput {
  @Field()
  event: string;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'Condition on the outcome event (event.name, event.properties.*).',
  })
  where?: unknown;
}

@InputType()
export class BehaviorImpactInput {
  @Field(() => BehaviorPatternInput)
  pattern: BehaviorPatternInput;

  @Field(() => BehaviorOutcomeInput)
  outcome: BehaviorOutcomeInput;

  @Field(() => DurationScalar, { description: 'How long after the anchor an outcome counts.' })
  window: string;

  @Field(() => Date, {
    nullable: true,
    description: 'Anchors from this instant on; default 90 days before to.',
  })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Anchors before this instant; default now.' })
  to?: Date | null;
}

@ObjectType({ description: 'One group of the cohort and how many of it converted.' })
export class BehaviorGroup {
  @Field(() => Int)
  customers: number;

  @Field(() => Int)
  converted: number;

  @Field(() => Float, { nullable: true, description: 'converted / customers; null when empty.' })
  rate: number | null;
}

@ObjectType({
  description:
    'Conversion of customers whose behaviour completed the pattern against the rest of the ' +
    'cohort, over stored history. A correlation, not a causal effect (docs/behavior-impact.md).',
})
export class BehaviorImpact {
  @Field(() => BehaviorGroup)
  withPattern: BehaviorGroup;

  @Field(() => BehaviorGroup)
  withoutPattern: BehaviorGroup;

  @Field(() => Float, {
    nullable: true,
    description: 'Rate ratio withPattern.rate / withoutPattern.rate; null when undefined.',
  })
  lift: number | null;

  @Field(() => Float, { nullable: true, description: '95 % interval of lift, lower end.' })
  liftLow: number | null;

  @Field(() => Float, { nullable: true, description: '95 % interval of lift, upper end.' })
  liftHigh: number | null;

  @Field(() => Float, { nullable: true, description: 'Two-sided p of equal rates (z-test).' })
  pValue: number | null;

  @Field(() => Int, {
    description: 'Cohort customers in no group: their window had not ended by now.',
  })
  incomplete: number;

  @Field({ description: 'The range of anchors used: from (inclusive).' })
  from: Date;

  @Field({ description: 'The range of anchors used: to (exclusive).' })
  to: Date;

  @Field(() => Float)
  durationMs: number;
}

import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One variant of a step experiment, measured against the control.' })
export class VariantResult {
  @Field()
  name: string;

  @Field(() => Int, { description: 'Its weight in the latest version that carried the test.' })
  weight: number;

  @Field({ description: 'A holdout receives nothing for the step; it is still counted.' })
  isHoldout: boolean;

  @Field(() => Int, { description: 'Runs assigned to this variant when the step was scheduled.' })
  entries: number;

  @Field(() => Int, { description: 'Of those, runs whose step message went out.' })
  sent: number;

  @Field(() => Int, { description: 'Of those, runs that reached the goal (each counted once).' })
  conversions: number;

  @Field(() => Float, {
    nullable: true,
    description: 'conversions / entries; null without entries.',
  })
  conversionRate: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Absolute difference of conversion rates, this minus control; null for control.',
  })
  uplift: number | null;

  @Field(() => Float, { nullable: true, description: 'Lower end of the 95 % interval of uplift.' })
  upliftLow: number | null;

  @Field(() => Float, { nullable: true, description: 'Upper end of the 95 % interval of uplift.' })
  upliftHigh: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'uplift relative to the control rate (0.2 = 20 % better); null for control.',
  })
  relativeUplift: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Two-sided p-value of the two-proportion z-test against control.',
  })
  pValue: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'P(rate > control rate) under Beta(1 + conversions, 1 + misses) posteriors.',
  })
  probabilityToBeatControl: number | null;

  @Field(() => Float, { nullable: true, description: 'Median time from run start to goal.' })
  medianTimeToConvertSeconds: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Two-sided Mann–Whitney p-value: do times to convert differ from the control’s? ' +
      'Null for control or without conversions on either side.',
  })
  timeToConvertPValue: number | null;
}

@ObjectType({ description: 'The experiment on one step of a trigger and its results.' })
export class ExperimentResults {
  @Field(() => ID)
  triggerId: string;

  @Field(() => Int)
  step: number;

  @Field(() => ID, { nullable: true, description: 'Null when the step never had variants.' })
  experimentId: string | null;

  @Field(() => String, { nullable: true, description: 'The name the test was given.' })
  name: string | null;

  @Field({ description: 'RUNNING | WINNER_DECLARED | ENDED | NONE' })
  status: string;

  @Field(() => String, { nullable: true })
  control: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'WINNER_DECLARED: the stopping rule’s winner; ENDED: the promoted variant.',
  })
  winner: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Runs per variant the test needs (baseline rate, MDE, α 0.05, power 0.8).',
  })
  requiredSamplePerVariant: number | null;

  @Field(() => [VariantResult])
  variants: VariantResult[];
}

@InputType({ description: 'Makes a step with variants a named experiment with a stopping rule.' })
export class StepExperimentInput {
  @Field(() => String, {
    nullable: true,
    description: 'A new name on an edit starts a new test (new id, fresh assignments).',
  })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'The variant others are compared with.' })
  control?: string | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Expected control conversion rate, 0 < rate < 1; default 0.10.',
  })
  baselineRate?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Smallest absolute rate difference worth finding (0.02 = 2 points); default 0.02.',
  })
  minimumDetectableEffect?: number | null;
}

@ObjectType()
export class StepExperiment {
  @Field(() => ID, { nullable: true, description: 'The running test this step belongs to.' })
  id: string | null;

  @Field(() => String, { nullable: true })
  name: string | null;

  @Field(() => String, { nullable: true, description: 'Null: the first variant.' })
  control: string | null;

  @Field(() => Float)
  baselineRate: number;

  @Field(() => Float)
  minimumDetectableEffect: number;
}

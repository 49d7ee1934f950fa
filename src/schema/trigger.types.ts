import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Connection } from './connection';
import { Channel, TriggerStatus } from './enums';
import { DurationScalar, JSONScalar } from './scalars';

@ObjectType()
export class Template {
  @Field(() => String, { nullable: true })
  subject: string | null;

  @Field()
  body: string;

  @Field(() => String, { nullable: true })
  html: string | null;
}

@ObjectType()
export class Step {
  @Field(() => DurationScalar, {
    description: 'Wait after the previous step (the first: after entry).',
  })
  delay: string;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => Template)
  template: Template;
}

@ObjectType()
export class Unless {
  @Field()
  event: string;

  @Field(() => DurationScalar)
  within: string;

  @Field(() => JSONScalar, { nullable: true })
  where: unknown;

  @Field(() => [String])
  matchOn: string[];
}

@ObjectType()
export class Trigger {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field({ description: 'The entry event’s name.' })
  event: string;

  @Field(() => JSONScalar, { nullable: true })
  where: unknown;

  @Field(() => [String])
  entryKey: string[];

  @Field(() => Unless, { nullable: true })
  unless: Unless | null;

  @Field(() => [Step])
  steps: Step[];

  @Field(() => TriggerStatus)
  status: TriggerStatus;

  @Field(() => Int)
  version: number;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;
}

export const TriggerConnection = Connection(Trigger, 'Trigger');

@ObjectType()
export class TriggerFiringTrigger {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;
}

@ObjectType()
export class TriggerFiringCustomer {
  @Field()
  externalId: string;
}

@ObjectType({ description: 'A trigger fired: a customer entered its sequence.' })
export class TriggerFiring {
  @Field(() => TriggerFiringTrigger)
  trigger: TriggerFiringTrigger;

  @Field(() => TriggerFiringCustomer)
  customer: TriggerFiringCustomer;

  @Field()
  firedAt: Date;

  @Field(() => ID)
  enrollmentId: string;
}

@InputType()
export class TemplateInput {
  @Field(() => String, { nullable: true })
  subject?: string | null;

  @Field()
  body: string;

  @Field(() => String, { nullable: true })
  html?: string | null;
}

@InputType()
export class StepInput {
  @Field(() => DurationScalar, { nullable: true, description: 'Default PT0S.' })
  delay?: string | null;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => TemplateInput)
  template: TemplateInput;
}

@InputType()
export class UnlessInput {
  @Field()
  event: string;

  @Field(() => DurationScalar)
  within: string;

  @Field(() => JSONScalar, { nullable: true })
  where?: unknown;

  @Field(() => [String], {
    nullable: true,
    description: 'Properties equal on entry and unless-event.',
  })
  matchOn?: string[] | null;
}

@InputType()
export class CreateTriggerInput {
  @Field()
  name: string;

  @Field()
  event: string;

  @Field(() => JSONScalar, { nullable: true })
  where?: unknown;

  @Field(() => [String], {
    nullable: true,
    description: 'Entry-event properties that identify one run.',
  })
  entryKey?: string[] | null;

  @Field(() => UnlessInput, { nullable: true })
  unless?: UnlessInput | null;

  @Field(() => [StepInput])
  steps: StepInput[];

  @Field(() => TriggerStatus, { nullable: true, description: 'Default ACTIVE.' })
  status?: TriggerStatus | null;
}

@InputType()
export class UpdateTriggerInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  event?: string;

  @Field(() => JSONScalar, { nullable: true })
  where?: unknown;

  @Field(() => [String], { nullable: true })
  entryKey?: string[] | null;

  @Field(() => UnlessInput, { nullable: true })
  unless?: UnlessInput | null;

  @Field(() => [StepInput], { nullable: true })
  steps?: StepInput[];

  @Field(() => TriggerStatus, { nullable: true })
  status?: TriggerStatus | null;
}

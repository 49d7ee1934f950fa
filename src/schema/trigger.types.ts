import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { Connection } from './connection';
import {
  CapPolicy,
  Channel,
  PreviousStepCondition,
  Purpose,
  ReentryPolicy,
  StepAnchor,
  TriggerStatus,
  Weekday,
} from './enums';
import { DurationScalar, JSONScalar } from './scalars';
import { StepExperiment, StepExperimentInput } from './experiment.types';
import { SendTime, SendTimeInput } from './send-time.types';

@ObjectType()
export class Template {
  @Field(() => String, { nullable: true })
  subject: string | null;

  @Field()
  body: string;

  @Field(() => String, { nullable: true })
  html: string | null;
}

@ObjectType({ description: 'A wall-clock time some calendar days later, in the customer’s zone.' })
export class LocalTime {
  @Field(() => Int, { description: 'Calendar days after the date the delay ends on.' })
  days: number;

  @Field({ description: 'HH:MM local time.' })
  time: string;
}

@ObjectType()
export class Step {
  @Field(() => DurationScalar, {
    description: 'Wait after the previous step (the first: after entry).',
  })
  delay: string;

  @Field(() => LocalTime, {
    nullable: true,
    description: 'After the delay, move to this local time (e.g. next day at 09:00).',
  })
  at: LocalTime | null;

  @Field(() => StepAnchor, { description: 'What the delay counts from.' })
  after: StepAnchor;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => Purpose)
  purpose: Purpose;

  @Field(() => Template)
  template: Template;

  @Field(() => StepCondition, { nullable: true })
  condition: StepCondition | null;

  @Field(() => [StepVariant])
  variants: StepVariant[];

  @Field(() => StepExperiment, {
    nullable: true,
    description: 'How the variants are tested; null when the step has no variants.',
  })
  experiment: StepExperiment | null;

  @Field(() => SendTime, {
    nullable: true,
    description: 'After the delay, wait for the customer’s best hour; null: send when due.',
  })
  sendTime: SendTime | null;
}

@ObjectType({ description: 'When a step runs at all; checked when it is due.' })
export class StepCondition {
  @Field(() => PreviousStepCondition, { nullable: true })
  previousStep: PreviousStepCondition | null;

  @Field(() => JSONScalar, { nullable: true, description: 'On the customer as they are then.' })
  where: unknown;
}

@ObjectType({ description: 'An alternative for a step, assigned per run by weight.' })
export class StepVariant {
  @Field()
  name: string;

  @Field(() => Int)
  weight: number;

  @Field(() => DurationScalar, { nullable: true, description: 'Replaces the step’s delay.' })
  delay: string | null;

  @Field(() => Template, { nullable: true, description: 'Replaces the step’s template.' })
  template: Template | null;

  @Field({ description: 'A holdout receives nothing for the step (and is counted in results).' })
  isHoldout: boolean;
}

@ObjectType({ description: 'The event that counts as success for a run.' })
export class Goal {
  @Field()
  event: string;

  @Field(() => DurationScalar, { description: 'Counted from the sequence start.' })
  within: string;

  @Field(() => JSONScalar, { nullable: true })
  where: unknown;

  @Field(() => [String], { description: 'Properties equal on entry and goal event.' })
  matchOn: string[];
}

@ObjectType({ description: 'Local hours in which marketing messages wait (may cross midnight).' })
export class QuietHours {
  @Field({ description: 'HH:MM, inclusive.' })
  from: string;

  @Field({ description: 'HH:MM, exclusive.' })
  to: string;
}

@ObjectType({ description: 'A template variable that no customer, event or step field has.' })
export class DefinitionWarning {
  @Field({ description: 'Where in the input, e.g. steps.0.template.subject.' })
  field: string;

  @Field({ description: 'The variable as written, e.g. customer.first_name.' })
  path: string;

  @Field()
  message: string;
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

  @Field(() => DurationScalar, {
    description: 'The deadline is decided this long after it passes, so late events count.',
  })
  grace: string;
}

@ObjectType()
export class Reentry {
  @Field(() => ReentryPolicy)
  policy: ReentryPolicy;

  @Field(() => DurationScalar, { nullable: true })
  period: string | null;
}

@ObjectType({ description: 'Allowed days and hours, in the customer’s time zone.' })
export class SendWindow {
  @Field(() => [Weekday])
  days: Weekday[];

  @Field({ description: 'HH:MM, inclusive.' })
  from: string;

  @Field({ description: 'HH:MM, exclusive.' })
  to: string;
}

@ObjectType()
export class TriggerVersion {
  @Field(() => Int)
  version: number;

  @Field()
  createdAt: Date;

  @Field(() => Int, { description: 'Runs of this version still waiting or active.' })
  openRuns: number;

  @Field(() => JSONScalar, { description: 'The version’s behaviour, as stored.' })
  definition: unknown;
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

  @Field(() => Reentry)
  reentry: Reentry;

  @Field(() => DurationScalar, { nullable: true })
  cooldown: string | null;

  @Field(() => Int, { nullable: true })
  maxActive: number | null;

  @Field(() => SendWindow, { nullable: true })
  sendWindow: SendWindow | null;

  @Field(() => DurationScalar, { nullable: true })
  attributeWait: string | null;

  @Field(() => Goal, { nullable: true })
  goal: Goal | null;

  @Field(() => CapPolicy)
  capPolicy: CapPolicy;

  @Field(() => QuietHours, {
    nullable: true,
    description: 'This trigger’s own quiet hours; null: the tenant’s apply.',
  })
  quietHours: QuietHours | null;

  @Field()
  ignoreQuietHours: boolean;

  @Field(() => [DefinitionWarning], {
    description: 'Template variables no known field has (the save still succeeds).',
  })
  templateWarnings: DefinitionWarning[];

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
  @Field(() => String, { nullable: true })
  externalId: string | null;
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
export class LocalTimeInput {
  @Field(() => Int, { nullable: true, description: 'Calendar days later; default 0.' })
  days?: number | null;

  @Field({ description: 'HH:MM local time.' })
  time: string;
}

@InputType()
export class StepInput {
  @Field(() => DurationScalar, { nullable: true, description: 'Default PT0S.' })
  delay?: string | null;

  @Field(() => LocalTimeInput, { nullable: true })
  at?: LocalTimeInput | null;

  @Field(() => StepAnchor, { nullable: true, description: 'Default PREVIOUS_STEP.' })
  after?: StepAnchor | null;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => Purpose, { nullable: true, description: 'Default MARKETING.' })
  purpose?: Purpose | null;

  @Field(() => TemplateInput)
  template: TemplateInput;

  @Field(() => StepConditionInput, { nullable: true })
  condition?: StepConditionInput | null;

  @Field(() => [StepVariantInput], { nullable: true })
  variants?: StepVariantInput[] | null;

  @Field(() => StepExperimentInput, {
    nullable: true,
    description:
      'Names the variants’ test and sizes it; default: unnamed, baseline 0.10, MDE 0.02.',
  })
  experiment?: StepExperimentInput | null;

  @Field(() => SendTimeInput, {
    nullable: true,
    description: 'After the delay, wait for the customer’s best hour (not with at).',
  })
  sendTime?: SendTimeInput | null;
}

@InputType()
export class StepConditionInput {
  @Field(() => PreviousStepCondition, { nullable: true })
  previousStep?: PreviousStepCondition | null;

  @Field(() => JSONScalar, { nullable: true, description: 'Condition tree on customer fields.' })
  where?: unknown;
}

@InputType()
export class StepVariantInput {
  @Field()
  name: string;

  @Field(() => Int, { description: '0 to 10000; share = weight / sum of weights.' })
  weight: number;

  @Field(() => DurationScalar, { nullable: true })
  delay?: string | null;

  @Field(() => TemplateInput, { nullable: true })
  template?: TemplateInput | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'A holdout: its share receives nothing for the step. At most one per step.',
  })
  holdout?: boolean | null;
}

@InputType()
export class GoalInput {
  @Field()
  event: string;

  @Field(() => DurationScalar, { description: 'Counted from the sequence start; ≤ P366D.' })
  within: string;

  @Field(() => JSONScalar, { nullable: true })
  where?: unknown;

  @Field(() => [String], { nullable: true })
  matchOn?: string[] | null;
}

@InputType()
export class QuietHoursInput {
  @Field({ description: 'HH:MM, inclusive.' })
  from: string;

  @Field({ description: 'HH:MM, exclusive; may be earlier than from (crosses midnight).' })
  to: string;
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

  @Field(() => DurationScalar, { nullable: true, description: 'Default PT0S; at most PT24H.' })
  grace?: string | null;
}

@InputType()
export class ReentryInput {
  @Field(() => ReentryPolicy)
  policy: ReentryPolicy;

  @Field(() => DurationScalar, { nullable: true, description: 'ONCE_PER only.' })
  period?: string | null;
}

@InputType()
export class SendWindowInput {
  @Field(() => [Weekday], { nullable: true, description: 'Default: every day.' })
  days?: Weekday[] | null;

  @Field({ description: 'HH:MM, inclusive.' })
  from: string;

  @Field({ description: 'HH:MM, exclusive; 24:00 for the end of the day.' })
  to: string;
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

  @Field(() => ReentryInput, { nullable: true, description: 'Default EVERY_TIME.' })
  reentry?: ReentryInput | null;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'No entry while this trigger fired for the customer within this long.',
  })
  cooldown?: string | null;

  @Field(() => Int, { nullable: true, description: 'At most this many open runs per customer.' })
  maxActive?: number | null;

  @Field(() => SendWindowInput, { nullable: true })
  sendWindow?: SendWindowInput | null;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'How long an entry lacking customer data waits for identify (at most PT24H).',
  })
  attributeWait?: string | null;

  @Field(() => GoalInput, { nullable: true })
  goal?: GoalInput | null;

  @Field(() => CapPolicy, { nullable: true, description: 'Default SUPPRESS.' })
  capPolicy?: CapPolicy | null;

  @Field(() => QuietHoursInput, {
    nullable: true,
    description: 'Replaces the tenant’s quiet hours for this trigger.',
  })
  quietHours?: QuietHoursInput | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false.' })
  ignoreQuietHours?: boolean | null;

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

  @Field(() => ReentryInput, { nullable: true, description: 'Default EVERY_TIME.' })
  reentry?: ReentryInput | null;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'No entry while this trigger fired for the customer within this long.',
  })
  cooldown?: string | null;

  @Field(() => Int, { nullable: true, description: 'At most this many open runs per customer.' })
  maxActive?: number | null;

  @Field(() => SendWindowInput, { nullable: true })
  sendWindow?: SendWindowInput | null;

  @Field(() => DurationScalar, {
    nullable: true,
    description: 'How long an entry lacking customer data waits for identify (at most PT24H).',
  })
  attributeWait?: string | null;

  @Field(() => GoalInput, { nullable: true })
  goal?: GoalInput | null;

  @Field(() => CapPolicy, { nullable: true, description: 'Default SUPPRESS.' })
  capPolicy?: CapPolicy | null;

  @Field(() => QuietHoursInput, {
    nullable: true,
    description: 'Replaces the tenant’s quiet hours for this trigger.',
  })
  quietHours?: QuietHoursInput | null;

  @Field(() => Boolean, { nullable: true, description: 'Default false.' })
  ignoreQuietHours?: boolean | null;

  @Field(() => TriggerStatus, { nullable: true })
  status?: TriggerStatus | null;
}

import { Field, Float, InputType, Int, ObjectType } from 'type-graphql';
import { JSONScalar } from './scalars';
import { CreateTriggerInput } from './trigger.types';

@InputType()
export class SimulateTriggerInput {
  @Field(() => CreateTriggerInput, { description: 'The definition to try; nothing is saved.' })
  definition: CreateTriggerInput;

  @Field({ description: 'Entry events from this instant on are replayed.' })
  from: Date;

  @Field({ description: 'Up to this instant (at most P366D after from).' })
  to: Date;

  @Field(() => Int, { nullable: true, description: 'Sample decisions to return; default 20.' })
  sampleSize?: number | null;
}

@ObjectType()
export class SimulationSample {
  @Field(() => String, { nullable: true })
  customerExternalId: string | null;

  @Field({ description: 'The instant of the decision on the virtual clock.' })
  at: Date;

  @Field({ description: 'As Decision.outcome, or SUPPRESSED for a message without address.' })
  outcome: string;

  @Field()
  reason: string;

  @Field(() => JSONScalar)
  detail: Record<string, unknown>;
}

@ObjectType({
  description:
    'A backtest: what the definition would have done over stored history, decided as the live ' +
    'engine decides, with nothing written or sent.',
})
export class Simulation {
  @Field(() => Int, { description: 'Runs started (entries admitted).' })
  entered: number;

  @Field(() => Int, { description: 'Entries that moved a waiting run with the same key.' })
  reset: number;

  @Field(() => Int, { description: 'Entry events whose condition was false.' })
  notMatched: number;

  @Field(() => Int, { description: 'Entries refused by re-entry, open-run cap or cooldown.' })
  blocked: number;

  @Field(() => Int)
  cancelled: number;

  @Field(() => Int, { description: 'Runs that started their steps.' })
  fired: number;

  @Field(() => Int, { description: 'Runs still waiting for their deadline at `to`.' })
  pending: number;

  @Field(() => Int, { description: 'Messages that would have been sent by `to`.' })
  messages: number;

  @Field(() => Int, { description: 'Messages moved by the send window.' })
  deferred: number;

  @Field(() => Int, { description: 'Messages without an address.' })
  suppressed: number;

  @Field(() => Int, { description: 'Distinct customers that entered.' })
  customers: number;

  @Field(() => Int)
  eventsScanned: number;

  @Field(() => JSONScalar, { description: 'Decisions counted by reason.' })
  byReason: Record<string, number>;

  @Field(() => [SimulationSample])
  samples: SimulationSample[];

  @Field(() => Float)
  durationMs: number;
}

import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description: 'The virtual clock after a move, and how many timers fired on the way.',
})
export class ClockPayload {
  @Field()
  now: Date;

  @Field(() => Int)
  timersFired: number;
}

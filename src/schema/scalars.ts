import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { parseDuration } from '../engine/time/duration';

/** ISO 8601 duration (`PT30M`, `PT2H`, `P7D`); reaches resolvers as its canonical text. */
export const DurationScalar = new GraphQLScalarType<string, string>({
  name: 'Duration',
  description:
    'ISO 8601 duration such as PT30M, PT2H or P7D (weeks, days, hours, minutes, seconds).',
  serialize: (value) => String(value),
  parseValue(value) {
    if (typeof value !== 'string')
      throw new GraphQLError('expected an ISO 8601 duration string such as PT2H');
    try {
      return parseDuration(value).iso;
    } catch (err) {
      throw new GraphQLError((err as Error).message);
    }
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING)
      throw new GraphQLError('expected an ISO 8601 duration string such as PT2H');
    try {
      return parseDuration(ast.value).iso;
    } catch (err) {
      throw new GraphQLError((err as Error).message);
    }
  },
});

export { GraphQLDateTime as DateTimeScalar, GraphQLJSON as JSONScalar };

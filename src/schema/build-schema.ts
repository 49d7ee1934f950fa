import { buildSchema } from 'type-graphql';
import type { GraphQLSchema } from 'graphql';
import type { PubSub } from 'type-graphql';
import { AlertResolver } from '../resolvers/alert.resolver';
import { authChecker } from '../resolvers/auth-checker';
import { BehaviorImpactResolver } from '../resolvers/behavior-impact.resolver';
import { ConsentResolver } from '../resolvers/consent.resolver';
import { CustomerResolver } from '../resolvers/customer.resolver';
import { ExperimentResolver } from '../resolvers/experiment.resolver';
import { MessageResolver } from '../resolvers/message.resolver';
import { MetricsResolver } from '../resolvers/metrics.resolver';
import { OperatorResolver } from '../resolvers/operator.resolver';
import { TemplateResolver } from '../resolvers/template.resolver';
import { TenantResolver } from '../resolvers/tenant.resolver';
import { TriggerResolver } from '../resolvers/trigger.resolver';
import { DateTimeScalar } from './scalars';
import './enums';

/** Builds the executable schema from the type-graphql classes. */
export function buildNudgeSchema(pubSub: PubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      OperatorResolver,
      TenantResolver,
      CustomerResolver,
      TriggerResolver,
      MessageResolver,
      TemplateResolver,
      ConsentResolver,
      AlertResolver,
      MetricsResolver,
      BehaviorImpactResolver,
      ExperimentResolver,
    ],
    authChecker,
    authMode: 'error',
    pubSub,
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    emitSchemaFile: false,
  });
}

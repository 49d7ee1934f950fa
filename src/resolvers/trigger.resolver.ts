import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { TriggerView } from '../engine/triggers/trigger.service';
import type { Firing } from '../engine/sequences/effects';
import { pageRequest } from '../engine/pagination';
import { NotFoundError } from '../errors';
import { toConnection } from '../schema/connection';
import {
  CreateTriggerInput,
  Trigger,
  TriggerConnection,
  TriggerFiring,
  TriggerVersion,
  UpdateTriggerInput,
} from '../schema/trigger.types';
import type { TemplateSource } from '../engine/channels/templates';
import type { StepDefinition } from '../engine/triggers/trigger-definition';
import { effectiveSettings } from '../engine/experiments/experiment-settings';
import type { StepExperiment } from '../schema/experiment.types';
import type { SendTimeMode } from '../schema/send-time.types';
import { definitionWarnings } from '../engine/triggers/trigger-warnings';
import {
  CapPolicy,
  Channel,
  PreviousStepCondition,
  Purpose,
  ReentryPolicy,
  StepAnchor,
  TriggerStatus,
  Weekday,
} from '../schema/enums';
import { SimulateTriggerInput, Simulation } from '../schema/simulation.types';
import { tenantOf } from './context';
import type { RequestContext } from './context';

/** The pub/sub topic of firings; routed per tenant by topic id. */
export const TRIGGER_FIRED_TOPIC = 'TRIGGER_FIRED';

/** Maps the engine's view to the GraphQL shape. */
export function toTrigger(view: TriggerView): Trigger {
  const d = view.definition;
  return {
    id: view.id,
    name: view.name,
    event: d.event,
    where: d.where,
    entryKey: d.entryKey,
    unless: d.unless && {
      event: d.unless.event,
      within: d.unless.within,
      where: d.unless.where,
      matchOn: d.unless.matchOn,
      grace: d.unless.grace,
    },
    steps: d.steps.map((s) => ({
      delay: s.delay,
      at: s.at && { days: s.at.days, time: s.at.time },
      after: s.after as StepAnchor,
      channel: s.channel as Channel,
      purpose: s.purpose as Purpose,
      template: toTemplate(s.template),
      condition: s.condition && {
        previousStep: s.condition.previousStep as PreviousStepCondition | null,
        where: s.condition.where,
      },
      variants: s.variants.map((v) => ({
        name: v.name,
        weight: v.weight,
        delay: v.delay,
        template: v.template && toTemplate(v.template),
        isHoldout: v.isHoldout,
      })),
      experiment: toStepExperiment(s),
      sendTime: s.sendTime && {
        mode: s.sendTime.mode as SendTimeMode,
        within: s.sendTime.within,
      },
    })),
    reentry: { policy: d.reentry.policy as ReentryPolicy, period: d.reentry.period },
    cooldown: d.cooldown,
    maxActive: d.maxActive,
    sendWindow: d.sendWindow && {
      days: d.sendWindow.days as Weekday[],
      from: d.sendWindow.from,
      to: d.sendWindow.to,
    },
    attributeWait: d.attributeWait,
    goal: d.goal && {
      event: d.goal.event,
      within: d.goal.within,
      where: d.goal.where,
      matchOn: d.goal.matchOn,
    },
    capPolicy: d.capPolicy as CapPolicy,
    quietHours: d.quietHours && { from: d.quietHours.from, to: d.quietHours.to },
    ignoreQuietHours: d.ignoreQuietHours,
    templateWarnings: definitionWarnings(d),
    status: view.status as TriggerStatus,
    version: view.version,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  };
}

function toStepExperiment(step: StepDefinition): StepExperiment | null {
  if (step.variants.length === 0) return null;
  return { id: step.experimentId, ...effectiveSettings(step.experiment) };
}

function toTemplate(t: TemplateSource) {
  return { subject: t.subject ?? null, body: t.body, html: t.html ?? null };
}

@Resolver(() => Trigger)
export class TriggerResolver {
  @Authorized('WRITE')
  @Mutation(() => Trigger)
  async createTrigger(
    @Arg('input') input: CreateTriggerInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Trigger> {
    return toTrigger(await ctx.services.triggers.create(tenantOf(ctx), input));
  }

  @Authorized('WRITE')
  @Mutation(() => Trigger, {
    description: 'A definition change creates a new version; running enrollments keep theirs.',
  })
  async updateTrigger(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: UpdateTriggerInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Trigger> {
    return toTrigger(await ctx.services.triggers.update(tenantOf(ctx), id, input));
  }

  @Authorized('READ')
  @Query(() => Trigger, { nullable: true })
  async trigger(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Trigger | null> {
    const view = await ctx.services.triggers.get(tenantOf(ctx), id);
    return view && toTrigger(view);
  }

  @Authorized('READ')
  @Query(() => TriggerConnection)
  async triggers(
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    const page = pageRequest(first, after);
    const found = await ctx.services.triggers.list(tenantOf(ctx), page);
    return toConnection(
      {
        nodes: found.nodes.map((n) => ({ cursor: n.cursor, node: toTrigger(n.node) })),
        hasNextPage: found.hasNextPage,
      },
      page.afterSeq !== '0',
    );
  }

  @Authorized('READ')
  @Query(() => Simulation, {
    description: 'Backtests a definition over stored events; writes and sends nothing.',
  })
  async simulateTrigger(
    @Arg('input') input: SimulateTriggerInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Simulation> {
    const result = await ctx.services.simulations.simulate(tenantOf(ctx), input);
    return {
      ...result,
      samples: result.samples.map((s) => ({ ...s, at: new Date(s.at) })),
    };
  }

  @Authorized('READ')
  @FieldResolver(() => [TriggerVersion], { description: 'Every version, newest first.' })
  async versions(@Root() trigger: Trigger, @Ctx() ctx: RequestContext): Promise<TriggerVersion[]> {
    return ctx.services.triggers.versions(tenantOf(ctx), trigger.id);
  }

  @Authorized('READ')
  @Subscription(() => TriggerFiring, {
    topics: TRIGGER_FIRED_TOPIC,
    topicId: ({ context }: { context: RequestContext }) => tenantOf(context).tenantId,
    filter: ({ payload, args }: { payload: Firing; args: { triggerId?: string | null } }) =>
      !args.triggerId || payload.triggerId === args.triggerId,
    description: 'Firings of the caller’s tenant, optionally of one trigger.',
  })
  triggerFired(
    @Root() firing: Firing,
    @Arg('triggerId', () => ID, { nullable: true }) _triggerId?: string,
  ): TriggerFiring {
    return {
      trigger: { id: firing.triggerId, name: firing.triggerName },
      customer: { externalId: firing.customerExternalId },
      firedAt: new Date(firing.firedAt),
      enrollmentId: firing.enrollmentId,
    };
  }
}

/** Resolves `Message.trigger` to the full trigger (tenant-scoped, so never a foreign one). */
export async function triggerForMessage(ctx: RequestContext, triggerId: string): Promise<Trigger> {
  const view = await ctx.services.triggers.get(tenantOf(ctx), triggerId);
  if (!view) throw new NotFoundError('trigger');
  return toTrigger(view);
}

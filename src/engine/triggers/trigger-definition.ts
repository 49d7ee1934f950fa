import { InputProblem, nestedAt } from '../../errors';
import { checkStorableText } from '../../validation';
import { Condition, ParseConditionOptions, parseCondition } from '../rules/condition';
import { TemplateSource, validateTemplate } from '../channels/templates';
import { parseDuration } from '../time/duration';
import { LocalTime, LocalTimeInput, parseLocalTime } from '../time/local-time';
import { SendWindow, SendWindowInput, parseSendWindow } from '../time/send-window';
import { QuietHours, parseQuietHours } from '../time/quiet-hours';
import { SendTime, SendTimeInput, parseSendTime } from '../time/send-time';
import {
  StepExperimentInput,
  StepExperimentSettings,
  checkHoldouts,
  parseExperimentSettings,
} from '../experiments/experiment-settings';

export const CHANNELS = ['EMAIL', 'SMS', 'PUSH', 'WEBHOOK'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PURPOSES = ['MARKETING', 'TRANSACTIONAL'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** What a step's delay counts from: the sequence's start, or the previous step's due time. */
export const STEP_ANCHORS = ['ENTRY', 'PREVIOUS_STEP'] as const;
export type StepAnchor = (typeof STEP_ANCHORS)[number];

/** How the previous step's message must have fared for this step to run. */
export const PREVIOUS_STEP_CONDITIONS = [
  'DELIVERED',
  'NOT_DELIVERED',
  'OPENED',
  'NOT_OPENED',
  'CLICKED',
  'NOT_CLICKED',
] as const;
export type PreviousStepCondition = (typeof PREVIOUS_STEP_CONDITIONS)[number];

/** What happens to a marketing step that a frequency cap blocks. */
export const CAP_POLICIES = ['SUPPRESS', 'DEFER'] as const;
export type CapPolicy = (typeof CAP_POLICIES)[number];

export const TRIGGER_STATUSES = ['ACTIVE', 'DRAFT', 'PAUSED', 'ARCHIVED'] as const;
export type TriggerStatus = (typeof TRIGGER_STATUSES)[number];

/** A trigger version's behaviour, as stored (JSON) and as compiled. Immutable per version. */
export interface TriggerDefinition {
  event: string;
  where: Condition | null;
  /** Properties of the entry event that identify one run (e.g. `cartId`). Empty: per customer. */
  entryKey: string[];
  unless: UnlessClause | null;
  steps: StepDefinition[];
  /** Whether and when a customer may enter again. */
  reentry: ReentryRule;
  /** No entry while a run of this trigger started its sequence within this long. */
  cooldown: string | null;
  cooldownMs: number | null;
  /** At most this many open (waiting or active) runs per customer; null: no limit. */
  maxActive: number | null;
  /** Steps due outside this window (customer's zone) move to its next opening. */
  sendWindow: SendWindow | null;
  /** How long an entry whose condition lacks customer data waits for an `identify`. */
  attributeWait: string | null;
  attributeWaitMs: number | null;
  /** The event that counts as success; reaching it ends the run and records a conversion. */
  goal: GoalClause | null;
  /** A marketing step over a frequency cap is suppressed, or deferred until a slot frees. */
  capPolicy: CapPolicy;
  /** Replaces the tenant's quiet hours for this trigger; null: the tenant's apply. */
  quietHours: QuietHours | null;
  /** Send even inside quiet hours (for time-critical messages such as a one-time code). */
  ignoreQuietHours: boolean;
}

export interface GoalClause {
  event: string;
  /** How long after the sequence starts a goal event still counts. */
  within: string;
  withinMs: number;
  where: Condition | null;
  /** Properties that must be equal on the entry event and the goal event (the same cart). */
  matchOn: string[];
}

export const REENTRY_POLICIES = ['EVERY_TIME', 'ONCE', 'ONCE_PER'] as const;
export type ReentryPolicy = (typeof REENTRY_POLICIES)[number];

export interface ReentryRule {
  policy: ReentryPolicy;
  /** ONCE_PER only: the least time between two entries. */
  period: string | null;
  periodMs: number | null;
}

export interface UnlessClause {
  event: string;
  within: string;
  withinMs: number;
  where: Condition | null;
  /** Properties that must be equal on the entry event and the unless-event. */
  matchOn: string[];
  /** The deadline is processed this long after it passes, so late events still count. */
  grace: string;
  graceMs: number;
}

export interface StepDefinition {
  delay: string;
  delayMs: number;
  /** Optional: after the delay, move to this local time ("next day at 09:00"). */
  at: LocalTime | null;
  /** What the delay counts from. */
  after: StepAnchor;
  channel: Channel;
  purpose: Purpose;
  template: TemplateSource;
  /** When the step runs at all: on the previous step's message, and on fresh customer data. */
  condition: StepCondition | null;
  /**
   * Alternatives assigned by weight, per customer and experiment (sticky; see
   * engine/experiments); empty: the step's own template and delay.
   */
  variants: StepVariant[];
  /** How the variants are tested; null with variants: an unnamed test with defaults. */
  experiment: StepExperimentSettings | null;
  /** BEST_HOUR: after the delay, wait for the customer's best local hour (null: no wait). */
  sendTime: SendTime | null;
  /**
   * The experiment this version's variants belong to. Set by the trigger service when the
   * version is saved (never from input), so a new version keeps a running test.
   */
  experimentId: string | null;
}

export interface StepCondition {
  previousStep: PreviousStepCondition | null;
  /** Evaluated when the step is due, on the customer as they are then and the entry event. */
  where: Condition | null;
}

export interface StepVariant {
  name: string;
  weight: number;
  /** Replaces the step's delay for runs assigned to this variant. */
  delay: string | null;
  delayMs: number | null;
  /** Replaces the step's template for runs assigned to this variant. */
  template: TemplateSource | null;
  /** A holdout receives nothing for this step; its runs are counted in the results. */
  isHoldout: boolean;
}

/** The untrusted shape that arrives from the API (durations still text). */
export interface TriggerDefinitionInput {
  event: string;
  where?: unknown;
  entryKey?: string[] | null;
  unless?: {
    event: string;
    within: string;
    where?: unknown;
    matchOn?: string[] | null;
    grace?: string | null;
  } | null;
  steps: Array<{
    delay?: string | null;
    at?: LocalTimeInput | null;
    after?: string | null;
    channel: string;
    purpose?: string | null;
    template: TemplateInputShape;
    condition?: { previousStep?: string | null; where?: unknown } | null;
    variants?: Array<{
      name: string;
      weight: number;
      delay?: string | null;
      template?: TemplateInputShape | null;
      holdout?: boolean | null;
    }> | null;
    experiment?: StepExperimentInput | null;
    sendTime?: SendTimeInput | null;
  }>;
  reentry?: { policy: string; period?: string | null } | null;
  cooldown?: string | null;
  maxActive?: number | null;
  sendWindow?: SendWindowInput | null;
  attributeWait?: string | null;
  goal?: { event: string; within: string; where?: unknown; matchOn?: string[] | null } | null;
  capPolicy?: string | null;
  quietHours?: { from: string; to: string } | null;
  ignoreQuietHours?: boolean | null;
}

type TemplateInputShape = { subject?: string | null; body: string; html?: string | null };

const EVENT_NAME = /^[^\s].{0,199}$/s;
const PROPERTY_NAME = /^[A-Za-z0-9_$-][A-Za-z0-9_$.-]{0,99}$/;
const MAX_STEPS = 20;
const MAX_GRACE_MS = 24 * 3_600_000;
const MAX_GOAL_MS = 366 * 24 * 3_600_000;
const MAX_VARIANTS = 10;

/**
 * Validates a definition and normalises it for storage. Throws `InputProblem` whose path is
 * relative to the input object (`steps.1.delay`, `where.all.2.value`).
 */
export function parseTriggerDefinition(input: TriggerDefinitionInput): TriggerDefinition {
  checkStorableText(input, '');
  const event = checkEventName(input.event, 'event');
  const where = parseOptionalCondition(input.where, 'where');
  const entryKey = checkPropertyList(input.entryKey, 'entryKey');

  let unless: UnlessClause | null = null;
  if (input.unless) {
    const within = parseDurationAt(input.unless.within, 'unless.within');
    if (within.ms <= 0) throw new InputProblem('unless.within', 'must be longer than zero');
    if (input.unless.event === input.event) {
      throw new InputProblem(
        'unless.event',
        'must differ from the entry event (a repeated entry already moves the deadline: see ' +
          'entryKey)',
      );
    }
    const grace = parseDurationAt(input.unless.grace ?? 'PT0S', 'unless.grace');
    if (grace.ms > MAX_GRACE_MS) throw new InputProblem('unless.grace', 'at most PT24H');
    unless = {
      event: checkEventName(input.unless.event, 'unless.event'),
      within: within.iso,
      withinMs: within.ms,
      // Behaviour counts are read at entry only; an unless-event is matched on its own data.
      where: parseOptionalCondition(input.unless.where, 'unless.where', { behaviours: false }),
      matchOn: checkPropertyList(input.unless.matchOn, 'unless.matchOn'),
      grace: grace.iso,
      graceMs: grace.ms,
    };
  }

  if (!Array.isArray(input.steps) || input.steps.length === 0 || input.steps.length > MAX_STEPS) {
    throw new InputProblem('steps', `expected 1 to ${MAX_STEPS} steps`);
  }
  const steps = input.steps.map((step, i) => parseStep(step, `steps.${i}`));
  const cooldown = parseOptionalPositiveDuration(input.cooldown, 'cooldown');
  const attributeWait = parseOptionalPositiveDuration(input.attributeWait, 'attributeWait');
  if (attributeWait && attributeWait.ms > MAX_GRACE_MS) {
    throw new InputProblem('attributeWait', 'at most PT24H');
  }
  const maxActive = input.maxActive ?? null;
  if (maxActive !== null && (!Number.isInteger(maxActive) || maxActive < 1 || maxActive > 100)) {
    throw new InputProblem('maxActive', 'expected an integer from 1 to 100 (or null: no limit)');
  }
  const capPolicy = (input.capPolicy ?? 'SUPPRESS') as CapPolicy;
  if (!CAP_POLICIES.includes(capPolicy)) {
    throw new InputProblem('capPolicy', `expected one of ${CAP_POLICIES.join(', ')}`);
  }
  return {
    event,
    where,
    entryKey,
    unless,
    steps,
    reentry: parseReentry(input.reentry),
    cooldown: cooldown?.iso ?? null,
    cooldownMs: cooldown?.ms ?? null,
    maxActive,
    sendWindow: input.sendWindow
      ? nestedAt('sendWindow', () => parseSendWindow(input.sendWindow!))
      : null,
    attributeWait: attributeWait?.iso ?? null,
    attributeWaitMs: attributeWait?.ms ?? null,
    goal: parseGoal(input),
    capPolicy,
    quietHours: input.quietHours
      ? nestedAt('quietHours', () => parseQuietHours(input.quietHours!))
      : null,
    ignoreQuietHours: input.ignoreQuietHours ?? false,
  };
}

/** The goal may name the unless-event too: it cancels waiting runs and converts active ones. */
function parseGoal(input: TriggerDefinitionInput): GoalClause | null {
  if (!input.goal) return null;
  const event = checkEventName(input.goal.event, 'goal.event');
  if (event === input.event) {
    throw new InputProblem('goal.event', 'must differ from the entry event');
  }
  const within = parseOptionalPositiveDuration(input.goal.within, 'goal.within')!;
  if (within.ms > MAX_GOAL_MS) throw new InputProblem('goal.within', 'at most P366D');
  return {
    event,
    within: within.iso,
    withinMs: within.ms,
    where: parseOptionalCondition(input.goal.where, 'goal.where', { behaviours: false }),
    matchOn: checkPropertyList(input.goal.matchOn, 'goal.matchOn'),
  };
}

/**
 * Fills the fields later versions of Nudge added, so definitions stored before them read as
 * they behaved: every entry allowed, no window, no grace.
 */
export function withDefaults(stored: TriggerDefinition): TriggerDefinition {
  return {
    ...stored,
    unless: stored.unless && {
      ...stored.unless,
      grace: stored.unless.grace ?? 'PT0S',
      graceMs: stored.unless.graceMs ?? 0,
    },
    steps: stored.steps.map((step) => ({
      ...step,
      at: step.at ?? null,
      after: step.after ?? 'PREVIOUS_STEP',
      purpose: step.purpose ?? 'MARKETING',
      condition: step.condition ?? null,
      variants: (step.variants ?? []).map((v) => ({ ...v, isHoldout: v.isHoldout ?? false })),
      experiment: step.experiment ?? null,
      experimentId: step.experimentId ?? null,
      sendTime: step.sendTime ?? null,
    })),
    reentry: stored.reentry ?? { policy: 'EVERY_TIME', period: null, periodMs: null },
    cooldown: stored.cooldown ?? null,
    cooldownMs: stored.cooldownMs ?? null,
    maxActive: stored.maxActive ?? null,
    sendWindow: stored.sendWindow ?? null,
    attributeWait: stored.attributeWait ?? null,
    attributeWaitMs: stored.attributeWaitMs ?? null,
    goal: stored.goal ?? null,
    capPolicy: stored.capPolicy ?? 'SUPPRESS',
    quietHours: stored.quietHours ?? null,
    ignoreQuietHours: stored.ignoreQuietHours ?? false,
  };
}

/**
 * The definition in the shape `createTrigger` accepts (durations as text, no derived
 * milliseconds), so a stored version can be sent back: to `simulateTrigger`, or to restore it.
 * `parseTriggerDefinition(toDefinitionInput(d))` gives `d` again, apart from the step's
 * `experimentId`, which only the trigger service sets.
 */
export function toDefinitionInput(stored: TriggerDefinition): TriggerDefinitionInput {
  const d = withDefaults(stored);
  return {
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
    steps: d.steps.map((step) => ({
      delay: step.delay,
      at: step.at && { days: step.at.days, time: step.at.time },
      after: step.after,
      channel: step.channel,
      purpose: step.purpose,
      template: { ...step.template },
      condition: step.condition && { ...step.condition },
      variants: step.variants.map((v) => ({
        name: v.name,
        weight: v.weight,
        delay: v.delay,
        template: v.template && { ...v.template },
        holdout: v.isHoldout,
      })),
      experiment: step.experiment && { ...step.experiment },
      sendTime: step.sendTime && { mode: step.sendTime.mode, within: step.sendTime.within },
    })),
    reentry: { policy: d.reentry.policy, period: d.reentry.period },
    cooldown: d.cooldown,
    maxActive: d.maxActive,
    sendWindow: d.sendWindow && {
      days: d.sendWindow.days,
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
    capPolicy: d.capPolicy,
    quietHours: d.quietHours && { from: d.quietHours.from, to: d.quietHours.to },
    ignoreQuietHours: d.ignoreQuietHours,
  };
}

function parseReentry(input: TriggerDefinitionInput['reentry']): ReentryRule {
  if (!input) return { policy: 'EVERY_TIME', period: null, periodMs: null };
  const policy = input.policy as ReentryPolicy;
  if (!REENTRY_POLICIES.includes(policy)) {
    throw new InputProblem('reentry.policy', `expected one of ${REENTRY_POLICIES.join(', ')}`);
  }
  if (policy !== 'ONCE_PER') {
    if (input.period != null) {
      throw new InputProblem('reentry.period', `only ONCE_PER takes a period, not ${policy}`);
    }
    return { policy, period: null, periodMs: null };
  }
  if (input.period == null) {
    throw new InputProblem('reentry.period', 'ONCE_PER needs a period such as P7D');
  }
  const period = parseOptionalPositiveDuration(input.period, 'reentry.period')!;
  return { policy, period: period.iso, periodMs: period.ms };
}

function parseOptionalPositiveDuration(text: string | null | undefined, path: string) {
  if (text == null) return null;
  const parsed = parseDurationAt(text, path);
  if (parsed.ms <= 0) throw new InputProblem(path, 'must be longer than zero');
  return parsed;
}

function parseStep(step: TriggerDefinitionInput['steps'][number], path: string): StepDefinition {
  const channel = oneOf(step.channel, CHANNELS, `${path}.channel`);
  const delay = parseDurationAt(step.delay ?? 'PT0S', `${path}.delay`);
  const at = step.at ? nestedAt(`${path}.at`, () => parseLocalTime(step.at!)) : null;
  const sendTime = step.sendTime
    ? nestedAt(`${path}.sendTime`, () => parseSendTime(step.sendTime!))
    : null;
  if (sendTime && at) {
    throw new InputProblem(`${path}.sendTime`, 'a step has either at or sendTime, not both');
  }
  const template = parseTemplate(step.template, channel, `${path}.template`);
  const variants = (step.variants ?? []).map((v, i) =>
    parseVariant(v, channel, `${path}.variants.${i}`),
  );
  if (variants.length > MAX_VARIANTS) {
    throw new InputProblem(`${path}.variants`, `at most ${MAX_VARIANTS} variants`);
  }
  const names = new Set<string>();
  variants.forEach((v, i) => {
    if (names.has(v.name)) throw new InputProblem(`${path}.variants.${i}.name`, 'already used');
    names.add(v.name);
  });
  if (variants.length > 0 && variants.every((v) => v.weight === 0)) {
    throw new InputProblem(`${path}.variants`, 'at least one variant needs a weight above 0');
  }
  checkHoldouts(variants, `${path}.variants`);
  return {
    delay: delay.iso,
    delayMs: delay.ms,
    at,
    after: oneOf(step.after ?? 'PREVIOUS_STEP', STEP_ANCHORS, `${path}.after`),
    channel,
    purpose: oneOf(step.purpose ?? 'MARKETING', PURPOSES, `${path}.purpose`),
    template,
    condition: parseStepCondition(step.condition, path),
    variants,
    experiment: parseExperimentSettings(step.experiment, variants, `${path}.experiment`),
    experimentId: null,
    sendTime,
  };
}

function parseStepCondition(
  input: TriggerDefinitionInput['steps'][number]['condition'],
  stepPath: string,
): StepCondition | null {
  if (!input) return null;
  const path = `${stepPath}.condition`;
  if (input.previousStep != null && stepPath.endsWith('.0')) {
    throw new InputProblem(`${path}.previousStep`, 'the first step has no previous step');
  }
  const previousStep =
    input.previousStep == null
      ? null
      : oneOf(input.previousStep, PREVIOUS_STEP_CONDITIONS, `${path}.previousStep`);
  // Behaviour counts are read at entry only; a step condition looks at the customer as they are.
  const where = parseOptionalCondition(input.where, `${path}.where`, { behaviours: false });
  return previousStep === null && where === null ? null : { previousStep, where };
}

function parseVariant(
  input: NonNullable<TriggerDefinitionInput['steps'][number]['variants']>[number],
  channel: Channel,
  path: string,
): StepVariant {
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(input.name)) {
    throw new InputProblem(`${path}.name`, 'expected 1 to 40 letters, digits, _ or -');
  }
  if (!Number.isInteger(input.weight) || input.weight < 0 || input.weight > 10_000) {
    throw new InputProblem(`${path}.weight`, 'expected an integer from 0 to 10000');
  }
  const delay = input.delay == null ? null : parseDurationAt(input.delay, `${path}.delay`);
  return {
    name: input.name,
    weight: input.weight,
    delay: delay?.iso ?? null,
    delayMs: delay?.ms ?? null,
    template: input.template ? parseTemplate(input.template, channel, `${path}.template`) : null,
    isHoldout: input.holdout ?? false,
  };
}

function parseTemplate(
  template: TemplateInputShape | null | undefined,
  channel: Channel,
  path: string,
): TemplateSource {
  if (!template || typeof template.body !== 'string' || template.body.length === 0) {
    throw new InputProblem(`${path}.body`, 'expected a non-empty Liquid template');
  }
  if ((channel === 'EMAIL' || channel === 'PUSH') && !template.subject) {
    const meaning = channel === 'PUSH' ? 'the title' : 'the subject line';
    throw new InputProblem(`${path}.subject`, `an ${channel} step needs a subject (${meaning})`);
  }
  for (const part of ['subject', 'body', 'html'] as const) {
    if ((template[part]?.length ?? 0) > 100_000) {
      throw new InputProblem(`${path}.${part}`, 'longer than 100,000 characters');
    }
  }
  nestedAt(path, () => validateTemplate(template));
  return { subject: template.subject ?? null, body: template.body, html: template.html ?? null };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], path: string): T {
  if (!allowed.includes(value as T)) {
    throw new InputProblem(path, `expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function parseOptionalCondition(
  raw: unknown,
  path: string,
  options?: ParseConditionOptions,
): Condition | null {
  if (raw === undefined || raw === null) return null;
  return nestedAt(path, () => parseCondition(raw, options));
}

function parseDurationAt(text: string, path: string) {
  if (typeof text !== 'string') throw new InputProblem(path, 'expected an ISO 8601 duration');
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InputProblem(path, (err as Error).message);
  }
}

function checkEventName(name: string, path: string): string {
  if (typeof name !== 'string' || !EVENT_NAME.test(name) || name !== name.trim()) {
    throw new InputProblem(path, 'expected an event name of 1 to 200 characters, no outer spaces');
  }
  return name;
}

function checkPropertyList(list: string[] | null | undefined, path: string): string[] {
  if (!list) return [];
  if (list.length > 5) throw new InputProblem(path, 'at most 5 properties');
  list.forEach((name, i) => {
    if (!PROPERTY_NAME.test(name)) {
      throw new InputProblem(`${path}.${i}`, 'expected a property name such as cartId');
    }
  });
  return [...list];
}

import { InputProblem } from '../../errors';
import { checkStorableText } from '../../validation';
import { Condition, parseCondition } from '../rules/condition';
import { TemplateSource, validateTemplate } from '../channels/templates';
import { parseDuration } from '../time/duration';

export const CHANNELS = ['EMAIL', 'SMS', 'PUSH', 'WEBHOOK'] as const;
export type Channel = (typeof CHANNELS)[number];
/** Channels the engine can deliver today; SMS and PUSH arrive with #4. */
export const DELIVERABLE_CHANNELS: readonly Channel[] = ['EMAIL', 'WEBHOOK'];

export const TRIGGER_STATUSES = ['ACTIVE', 'DRAFT', 'PAUSED'] as const;
export type TriggerStatus = (typeof TRIGGER_STATUSES)[number];

/** A trigger version's behaviour, as stored (JSON) and as compiled. Immutable per version. */
export interface TriggerDefinition {
  event: string;
  where: Condition | null;
  /** Properties of the entry event that identify one run (e.g. `cartId`). Empty: per customer. */
  entryKey: string[];
  unless: UnlessClause | null;
  steps: StepDefinition[];
}

export interface UnlessClause {
  event: string;
  within: string;
  withinMs: number;
  where: Condition | null;
  /** Properties that must be equal on the entry event and the unless-event. */
  matchOn: string[];
}

export interface StepDefinition {
  delay: string;
  delayMs: number;
  channel: Channel;
  template: TemplateSource;
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
  } | null;
  steps: Array<{
    delay?: string | null;
    channel: string;
    template: { subject?: string | null; body: string; html?: string | null };
  }>;
}

const EVENT_NAME = /^[^\s].{0,199}$/s;
const PROPERTY_NAME = /^[A-Za-z0-9_$-][A-Za-z0-9_$.-]{0,99}$/;
const MAX_STEPS = 20;

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
    unless = {
      event: checkEventName(input.unless.event, 'unless.event'),
      within: within.iso,
      withinMs: within.ms,
      where: parseOptionalCondition(input.unless.where, 'unless.where'),
      matchOn: checkPropertyList(input.unless.matchOn, 'unless.matchOn'),
    };
  }

  if (!Array.isArray(input.steps) || input.steps.length === 0 || input.steps.length > MAX_STEPS) {
    throw new InputProblem('steps', `expected 1 to ${MAX_STEPS} steps`);
  }
  const steps = input.steps.map((step, i) => parseStep(step, `steps.${i}`));
  return { event, where, entryKey, unless, steps };
}

function parseStep(step: TriggerDefinitionInput['steps'][number], path: string): StepDefinition {
  const channel = step.channel as Channel;
  if (!CHANNELS.includes(channel)) {
    throw new InputProblem(`${path}.channel`, `expected one of ${CHANNELS.join(', ')}`);
  }
  if (!DELIVERABLE_CHANNELS.includes(channel)) {
    throw new InputProblem(
      `${path}.channel`,
      `${channel} delivery is not available yet (see issue #4); use EMAIL or WEBHOOK`,
    );
  }
  const delay = parseDurationAt(step.delay ?? 'PT0S', `${path}.delay`);
  const template = step.template;
  if (!template || typeof template.body !== 'string' || template.body.length === 0) {
    throw new InputProblem(`${path}.template.body`, 'expected a non-empty Liquid template');
  }
  if (channel === 'EMAIL' && !template.subject) {
    throw new InputProblem(`${path}.template.subject`, 'an EMAIL step needs a subject');
  }
  for (const part of ['subject', 'body', 'html'] as const) {
    if ((template[part]?.length ?? 0) > 100_000) {
      throw new InputProblem(`${path}.template.${part}`, 'longer than 100,000 characters');
    }
  }
  try {
    validateTemplate(template);
  } catch (err) {
    if (err instanceof InputProblem)
      throw new InputProblem(`${path}.template.${err.path}`, err.problem);
    throw err;
  }
  return {
    delay: delay.iso,
    delayMs: delay.ms,
    channel,
    template: {
      subject: template.subject ?? null,
      body: template.body,
      html: template.html ?? null,
    },
  };
}

function parseOptionalCondition(raw: unknown, path: string): Condition | null {
  if (raw === undefined || raw === null) return null;
  try {
    return parseCondition(raw);
  } catch (err) {
    if (err instanceof InputProblem) {
      throw new InputProblem([path, err.path].filter(Boolean).join('.'), err.problem);
    }
    throw err;
  }
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

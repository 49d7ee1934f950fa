import type { Variable } from 'liquidjs';
import type { CustomerRow } from '../ingestion/customer.service';
import type { Channel } from '../triggers/trigger-definition';
import {
  engineFor,
  parseTemplatePart,
  partsOf,
  type TemplateContext,
  type TemplatePart,
  type TemplateSource,
} from './templates';

/** A variable path a template uses that no context provides. */
export interface TemplateWarning {
  part: TemplatePart;
  /** As written, normalised by Liquid: `customer.first_name`, `event.properties.items[0]`. */
  path: string;
  message: string;
}

/** What the entry event contributes; a missing name or time stays missing in the context. */
export interface TemplateEventSource {
  name?: string | null;
  properties?: Record<string, unknown> | null;
  occurredAt?: Date | null;
}

export interface TemplateContextSource {
  /** Null renders as a customer with nothing known (a preview without a customer). */
  customer: CustomerRow | null;
  event: TemplateEventSource | null;
  /** Null in a preview, which belongs to no trigger: its fields render as nothing. */
  trigger: { id: string; name: string; version: number } | null;
  step: { index: number; channel: Channel | null };
}

/**
 * The one place that shapes the template context, so a send and a preview render the same
 * variables. Custom data is only under `customer.traits` and `event.properties`, which are
 * always objects; fields the service knows but lacks are null (rendering as nothing), while
 * an unknown trait or property is undefined and so required unless it has a `default`.
 */
export function buildTemplateContext(source: TemplateContextSource): TemplateContext {
  const customer = source.customer;
  const event = source.event ?? {};
  return {
    customer: {
      id: customer?.id ?? null,
      externalId: customer?.external_id ?? null,
      email: customer?.email ?? null,
      phone: customer?.phone ?? null,
      timezone: customer?.timezone ?? null,
      locale: customer?.locale ?? null,
      traits: customer?.traits ?? {},
    },
    event: {
      ...(event.name != null ? { name: event.name } : {}),
      properties: event.properties ?? {},
      ...(event.occurredAt != null ? { occurredAt: event.occurredAt.toISOString() } : {}),
    },
    trigger: {
      id: source.trigger?.id ?? null,
      name: source.trigger?.name ?? null,
      version: source.trigger?.version ?? null,
    },
    step: { index: source.step.index, channel: source.step.channel },
  };
}

/** `value`: a single value; `open`: tenant data, any path below is fine. */
type FieldKind = 'value' | 'open';

interface RootSchema {
  /** With its article, for messages: `an event`. */
  noun: string;
  fields: Record<string, FieldKind>;
  /** Where custom data of this root lives, if anywhere. */
  openField?: string;
}

/** Every variable the context provides (see `buildTemplateContext`). */
const KNOWN_VARIABLES: Record<string, RootSchema> = {
  customer: {
    noun: 'a customer',
    fields: {
      id: 'value',
      externalId: 'value',
      email: 'value',
      phone: 'value',
      timezone: 'value',
      locale: 'value',
      traits: 'open',
    },
    openField: 'traits',
  },
  event: {
    noun: 'an event',
    fields: { name: 'value', occurredAt: 'value', properties: 'open' },
    openField: 'properties',
  },
  trigger: { noun: 'a trigger', fields: { id: 'value', name: 'value', version: 'value' } },
  step: { noun: 'a step', fields: { index: 'value', channel: 'value' } },
};

/** Liquid's own properties of text and lists (`{{ event.name.size }}`). */
const VALUE_PROPERTIES = new Set(['size', 'first', 'last']);

/**
 * Variable paths in the template that no context provides, such as `{{ customer.first_name }}`
 * (custom data lives under `customer.traits`). Uses Liquid's static analysis, so variables
 * made by `for`, `assign`, `capture` and `increment` are not reported. Parts that do not
 * parse are skipped (`validateTemplate` reports them). One warning per part and path.
 */
export function templateWarnings(template: TemplateSource): TemplateWarning[] {
  const warnings: TemplateWarning[] = [];
  for (const [part, source] of partsOf(template)) {
    let globals: Variable[];
    try {
      const parsed = parseTemplatePart(part, source);
      const analysis = engineFor(part).analyzeSync(parsed, { partials: false });
      globals = Object.values(analysis.globals).flat();
    } catch {
      continue; // a syntax error: validateTemplate reports it with its line and column
    }
    const seen = new Set<string>();
    for (const variable of globals) {
      const path = variable.toString();
      if (seen.has(path)) continue;
      seen.add(path);
      const message = unknownPathProblem(variable.segments, path);
      if (message) warnings.push({ part, path, message });
    }
  }
  return warnings;
}

function unknownPathProblem(segments: Variable['segments'], path: string): string | null {
  const [root, field, below] = segments;
  if (typeof root !== 'string') return null;
  const schema = KNOWN_VARIABLES[root];
  if (!schema) {
    const similar = Object.keys(KNOWN_VARIABLES).find(
      (known) => looseName(known) === looseName(root),
    );
    return similar
      ? `${root} is not a template variable; did you mean ${similar}?`
      : `${root} is not a template variable; templates can use customer, event, trigger and step`;
  }
  if (segments.length === 1 || typeof field !== 'string') return null;

  const kind = schema.fields[field];
  if (kind === 'open') return null;
  if (kind === 'value') {
    if (segments.length === 2 || (typeof below === 'string' && VALUE_PROPERTIES.has(below))) {
      return null;
    }
    return `${root}.${field} is a single value; ${path} does not exist`;
  }

  const written = IDENTIFIER.test(field) ? `${root}.${field}` : `${root}['${field}']`;
  const similar = Object.keys(schema.fields).find((known) => looseName(known) === looseName(field));
  if (similar) {
    return `${written} is not ${schema.noun} field; did you mean ${root}.${similar}?`;
  }
  const known = Object.keys(schema.fields).join(', ');
  if (!schema.openField) {
    return `${written} is not ${schema.noun} field; ${root} has ${known}`;
  }
  const suggestion = `${root}.${schema.openField}${path.slice(root.length)}`;
  return (
    `${written} is not ${schema.noun} field; custom data lives under ` +
    `${root}.${schema.openField} (${suggestion})`
  );
}

const IDENTIFIER = /^[A-Za-z_][\w-]*$/;

/** `external_id`, `ExternalID` and `externalId` look alike. */
const looseName = (name: string): string => name.replace(/[_-]/g, '').toLowerCase();

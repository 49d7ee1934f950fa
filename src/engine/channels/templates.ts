import { Liquid, Template, toValue } from 'liquidjs';
import { InputProblem } from '../../errors';
import { isBlank } from './template-blank';

/** A message template as stored with a trigger step. Liquid syntax in every part. */
export interface TemplateSource {
  subject?: string | null;
  body: string;
  html?: string | null;
}

/** The parts of a template, named as in `TemplateInput`. */
export type TemplatePart = 'subject' | 'body' | 'html';

export interface RenderedMessage {
  subject: string | null;
  body: string;
  html: string | null;
}

/**
 * What templates can refer to: `customer`, `event` (the entry event), `trigger` and `step`
 * (`{ index, channel }`). Build it with `buildTemplateContext` so a send and a preview see
 * the same shape; docs/templates.md lists every variable.
 */
export interface TemplateContext {
  customer: Record<string, unknown>;
  event: Record<string, unknown>;
  trigger: Record<string, unknown>;
  // Optional only until every caller builds its context with `buildTemplateContext`; without
  // it, `{{ step.index }}` is a missing variable.
  step?: Record<string, unknown>;
}

/** The suppression reason prefix a send records when a required variable has no value. */
export const TEMPLATE_VARIABLE_MISSING = 'TEMPLATE_VARIABLE_MISSING';

/**
 * A variable used without a `default` has no value (it is undefined: absent from the
 * customer, the event or the context). The message must not be sent; the step engine records
 * it as suppressed with `reason` (`TEMPLATE_VARIABLE_MISSING: event.properties.productName`).
 * `path` is the reference up to its first missing segment, e.g. `event.properties.cart`
 * for `{{ event.properties.cart.total }}` when there is no `cart`.
 */
export class TemplateVariableMissing extends Error {
  readonly reason: string;

  constructor(
    readonly path: string,
    readonly part: TemplatePart,
  ) {
    super(`${part}: ${path} has no value and is used without a default`);
    this.name = 'TemplateVariableMissing';
    this.reason = `${TEMPLATE_VARIABLE_MISSING}: ${path}`;
  }
}

/**
 * Any other failure while rendering one part: a resource limit, a filter given bad input,
 * a template that no longer parses. The message names the part and Liquid's line and column.
 */
export class TemplateRenderError extends Error {
  constructor(
    readonly part: TemplatePart,
    message: string,
    options?: { cause: unknown },
  ) {
    super(`${part}: ${message}`, options);
    this.name = 'TemplateRenderError';
  }
}

const LIMITS = {
  ownPropertyOnly: true,
  strictFilters: true,
  // An undefined variable fails the render (TemplateVariableMissing), except where Liquid's
  // `lenientIf` allows it: inside `if`/`elsif`/`unless`/`case` conditions and when `default`
  // is the first filter of an output. null is a value (it renders as nothing).
  strictVariables: true,
  lenientIf: true,
  parseLimit: 100_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
};

/** Tags that read other templates from disk: tenant templates never may. */
const FILE_TAGS = ['include', 'render', 'layout'];

/** A file system that has no files: the second wall behind the refused tags. */
const NO_FILES = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async () => {
    throw new Error('templates cannot read files');
  },
  readFileSync: () => {
    throw new Error('templates cannot read files');
  },
  resolve: (_dir: string, file: string) => file,
};

/**
 * Liquid's `default`, except that a whitespace-only string is blank too, so
 * `Hi {{ customer.traits.firstName | default: "there" }}` never renders `Hi    ,` (C19).
 * `allow_false: true` keeps `false`, as in Liquid.
 */
function defaultFilter(value: unknown, fallback: unknown, ...options: Array<[string, unknown]>) {
  const resolved = toValue(value);
  if (resolved === false && new Map(options).get('allow_false')) return false;
  return isBlank(resolved) ? fallback : resolved;
}

function tenantSafeEngine(options: ConstructorParameters<typeof Liquid>[0]): Liquid {
  const engine = new Liquid({
    ...LIMITS,
    ...options,
    fs: NO_FILES,
    relativeReference: false,
    root: [],
    partials: [],
    layouts: [],
  });
  for (const tag of FILE_TAGS) {
    engine.registerTag(tag, {
      parse() {
        throw new Error(`the ${tag} tag is not available: templates cannot read other files`);
      },
      render() {
        return '';
      },
    });
  }
  // Keeps the name `default`: `lenientIf` recognises the filter by name.
  engine.registerFilter('default', defaultFilter);
  return engine;
}

/** Text parts render data as written; the HTML part escapes every output. */
const textEngine = tenantSafeEngine({});
const htmlEngine = tenantSafeEngine({ outputEscape: 'escape' });

/** The engine a part renders with. */
export function engineFor(part: TemplatePart): Liquid {
  return part === 'html' ? htmlEngine : textEngine;
}

/** Parsed templates, keyed by engine and source; bounded by the total source length. */
const parsedCache = new Map<string, Template[]>();
const MAX_CACHED_CHARS = 10_000_000;
let cachedChars = 0;

/** Parses one part (cached). Throws Liquid's own error, with line and column. */
export function parseTemplatePart(part: TemplatePart, source: string): Template[] {
  const key = `${part === 'html' ? 'h' : 't'}\u0000${source}`;
  let parsed = parsedCache.get(key);
  if (!parsed) {
    parsed = engineFor(part).parse(source);
    if (cachedChars + key.length > MAX_CACHED_CHARS) {
      parsedCache.clear();
      cachedChars = 0;
    }
    parsedCache.set(key, parsed);
    cachedChars += key.length;
  }
  return parsed;
}

/** The parts a template has, in render order, skipping absent ones. */
export function partsOf(template: TemplateSource): Array<[TemplatePart, string]> {
  const parts: Array<[TemplatePart, string]> = [];
  for (const part of ['subject', 'body', 'html'] as const) {
    const source = template[part];
    if (source !== undefined && source !== null) parts.push([part, source]);
  }
  return parts;
}

/**
 * Checks that every part parses. Throws `InputProblem` at `subject`, `body` or `html`
 * with the line and column of the first syntax error (Liquid appends `, line:L, col:C`).
 */
export function validateTemplate(template: TemplateSource): void {
  for (const [part, source] of partsOf(template)) {
    try {
      engineFor(part).parse(source);
    } catch (err) {
      throw new InputProblem(part, `template syntax error: ${(err as Error).message}`);
    }
  }
}

/**
 * Renders a template against a context (see `buildTemplateContext`). Data is never
 * evaluated as a template; the HTML part escapes every output; the subject is trimmed.
 * Throws `TemplateVariableMissing` for the first variable (subject, then body, then html)
 * that is used without a `default` and has no value, and `TemplateRenderError` for any other
 * failure. Pure: the same template and context always render the same text.
 */
export async function renderTemplate(
  template: TemplateSource,
  context: TemplateContext,
): Promise<RenderedMessage> {
  const scope: Record<string, unknown> = {
    customer: context.customer,
    event: context.event,
    trigger: context.trigger,
    step: context.step ?? {},
  };
  const subject =
    template.subject == null ? null : (await renderPart('subject', template.subject, scope)).trim();
  const body = await renderPart('body', template.body, scope);
  const html = template.html == null ? null : await renderPart('html', template.html, scope);
  return { subject, body, html };
}

async function renderPart(
  part: TemplatePart,
  source: string,
  scope: Record<string, unknown>,
): Promise<string> {
  try {
    return String(await engineFor(part).render(parseTemplatePart(part, source), scope));
  } catch (err) {
    const missing = undefinedVariableOf(err);
    if (missing !== null) throw new TemplateVariableMissing(missing, part);
    throw new TemplateRenderError(part, (err as Error).message, { cause: err });
  }
}

/**
 * The variable path of Liquid's `UndefinedVariableError`, or null for other errors. Liquid
 * keeps the path, up to the first undefined segment, as `variableName` on the wrapped
 * `InternalUndefinedVariableError` (liquidjs 10.x); the message (`undefined variable: PATH,
 * line:L, col:C`) is the fallback.
 */
function undefinedVariableOf(err: unknown): string | null {
  if (!(err instanceof Error) || err.name !== 'UndefinedVariableError') return null;
  const original = (err as { originalError?: { variableName?: unknown } }).originalError;
  if (typeof original?.variableName === 'string') return original.variableName;
  const match = /^undefined variable: (.*), line:\d+, col:\d+$/.exec(err.message);
  return match ? match[1] : null;
}

import { Liquid, Template } from 'liquidjs';
import { InputProblem } from '../../errors';

/** A message template as stored with a trigger step. Liquid syntax in every part. */
export interface TemplateSource {
  subject?: string | null;
  body: string;
  html?: string | null;
}

export interface RenderedMessage {
  subject: string | null;
  body: string;
  html: string | null;
}

/** What templates can refer to: `customer`, `event` (the entry event), `trigger`. */
export interface TemplateContext {
  customer: Record<string, unknown>;
  event: Record<string, unknown>;
  trigger: Record<string, unknown>;
}

const LIMITS = {
  ownPropertyOnly: true,
  strictFilters: true,
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
  return engine;
}

/** Text parts render data as written; the HTML part escapes every output. */
const textEngine = tenantSafeEngine({});
const htmlEngine = tenantSafeEngine({ outputEscape: 'escape' });

const parsedCache = new Map<string, Template[]>();

function parse(engine: Liquid, source: string, cacheTag: string): Template[] {
  const key = `${cacheTag}\u0000${source}`;
  let parsed = parsedCache.get(key);
  if (!parsed) {
    parsed = engine.parse(source);
    if (parsedCache.size > 5_000) parsedCache.clear();
    parsedCache.set(key, parsed);
  }
  return parsed;
}

/**
 * Checks that every part parses. Throws `InputProblem` at `subject`, `body` or `html`
 * with the line and column of the first syntax error.
 */
export function validateTemplate(template: TemplateSource): void {
  const parts: Array<[keyof TemplateSource, Liquid]> = [
    ['subject', textEngine],
    ['body', textEngine],
    ['html', htmlEngine],
  ];
  for (const [part, engine] of parts) {
    const source = template[part];
    if (source === undefined || source === null) continue;
    try {
      engine.parse(source);
    } catch (err) {
      throw new InputProblem(part, `template syntax error: ${(err as Error).message}`);
    }
  }
}

/** Renders a stored template. Data is never evaluated as a template. */
export async function renderTemplate(
  template: TemplateSource,
  context: TemplateContext,
): Promise<RenderedMessage> {
  const scope = context as unknown as Record<string, unknown>;
  const subject =
    template.subject == null
      ? null
      : (await textEngine.render(parse(textEngine, template.subject, 't'), scope)).trim();
  const body = await textEngine.render(parse(textEngine, template.body, 't'), scope);
  const html =
    template.html == null
      ? null
      : await htmlEngine.render(parse(htmlEngine, template.html, 'h'), scope);
  return { subject, body, html };
}

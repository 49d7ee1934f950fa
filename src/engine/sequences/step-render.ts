import { findUnstorableText } from '../../validation';
import { RenderedMessage, TemplateVariableMissing, renderTemplate } from '../channels/templates';
import { buildTemplateContext } from '../channels/template-variables';
import type { CustomerRow } from '../ingestion/customer.service';
import type { CompiledTrigger } from '../triggers/trigger-catalog';
import type { StepDefinition, StepVariant } from '../triggers/trigger-definition';

/** The run's entry event as stored. */
export interface EntryEvent {
  name: string;
  properties: Record<string, unknown>;
  occurred_at: Date;
}

export type StepRendering =
  | { kind: 'ok'; message: RenderedMessage }
  /** A variable the template needs (no `default`) has no value: the step is not sent. */
  | { kind: 'missing'; path: string }
  | { kind: 'failed'; failure: string };

/** Largest rendered message (subject, body and HTML together) that is stored and sent. */
const MAX_RENDERED_BYTES = 1_000_000;

/**
 * Renders a due step's template (its variant's, if the run has one with a template) over the
 * customer as they are now, the entry event, the trigger and the step. A failure stays with
 * this one message: it is recorded and the run goes on.
 */
export async function renderStep(due: {
  trigger: CompiledTrigger;
  step: StepDefinition;
  stepIndex: number;
  variant: StepVariant | null;
  customer: CustomerRow;
  entry: EntryEvent | null;
}): Promise<StepRendering> {
  const { customer, entry } = due;
  let message: RenderedMessage;
  try {
    message = await renderTemplate(
      due.variant?.template ?? due.step.template,
      buildTemplateContext({
        customer,
        event: entry && {
          name: entry.name,
          properties: entry.properties,
          occurredAt: entry.occurred_at,
        },
        trigger: due.trigger,
        step: { index: due.stepIndex, channel: due.step.channel },
      }),
    );
  } catch (err) {
    if (err instanceof TemplateVariableMissing) return { kind: 'missing', path: err.path };
    return { kind: 'failed', failure: `RENDER_ERROR: ${(err as Error).message}`.slice(0, 500) };
  }
  const problem = renderProblem(message);
  return problem
    ? { kind: 'failed', failure: `RENDER_ERROR: ${problem}` }
    : { kind: 'ok', message };
}

/** Why a rendered message cannot be stored or sent, or null. Filters can create any text. */
function renderProblem(rendered: RenderedMessage): string | null {
  const found = findUnstorableText([rendered.subject, rendered.body, rendered.html]);
  if (found) return `the rendered message ${found.problem}`;
  const bytes = [rendered.subject, rendered.body, rendered.html].reduce(
    (sum, part) => sum + (part ? Buffer.byteLength(part) : 0),
    0,
  );
  return bytes > MAX_RENDERED_BYTES
    ? `the rendered message is larger than ${MAX_RENDERED_BYTES} bytes`
    : null;
}

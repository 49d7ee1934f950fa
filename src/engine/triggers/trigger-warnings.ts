import { templateWarnings } from '../channels/template-variables';
import type { TriggerDefinition } from './trigger-definition';

/** A template variable a trigger uses that no customer, event, trigger or step field has. */
export interface DefinitionWarning {
  /** Where in the input: `steps.0.template.subject`, `steps.1.variants.0.template.body`. */
  field: string;
  path: string;
  message: string;
}

/**
 * Save-time warnings for every template of a definition (C19: `customer.first_name` where the
 * data lives under `customer.traits`). Warnings never block a save: a trait may be sent
 * later; a missing value without a `default` then stops that one message, with its reason.
 */
export function definitionWarnings(definition: TriggerDefinition): DefinitionWarning[] {
  return definition.steps.flatMap((step, i) => [
    ...templateWarnings(step.template).map((w) => ({
      field: `steps.${i}.template.${w.part}`,
      path: w.path,
      message: w.message,
    })),
    ...(step.variants ?? []).flatMap((variant, j) =>
      variant.template
        ? templateWarnings(variant.template).map((w) => ({
            field: `steps.${i}.variants.${j}.template.${w.part}`,
            path: w.path,
            message: w.message,
          }))
        : [],
    ),
  ]);
}

import { createHash } from 'node:crypto';
import type { StepVariant } from '../triggers/trigger-definition';

/**
 * The variant a run gets for a step: a weighted pick from a hash of the run and step, so the
 * same run always gets the same variant (when the step is scheduled and again when it is
 * due, on any worker) and runs spread over variants in proportion to their weights.
 */
export function assignVariant(
  enrollmentId: string,
  stepIndex: number,
  variants: readonly StepVariant[],
): StepVariant | null {
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (total === 0) return null;
  const digest = createHash('sha256').update(`${enrollmentId}:${stepIndex}`).digest();
  let ticket = digest.readUInt32BE(0) % total;
  for (const variant of variants) {
    if (ticket < variant.weight) return variant;
    ticket -= variant.weight;
  }
  return null;
}

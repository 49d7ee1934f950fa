import { InputProblem } from '../../errors';
import { type Behaviour, type Condition, parseCondition } from '../rules/condition';
import { parseDuration } from '../time/duration';

/** The untrusted `behaviorImpact` input as it arrives from the API (durations still text). */
export interface BehaviorImpactInput {
  pattern: {
    all: Array<{ event: string; where?: unknown; atLeast?: number | null; within: string }>;
  };
  outcome: { event: string; where?: unknown };
  window: string;
  from?: Date | null;
  to?: Date | null;
}

/** A validated question: every part a `performed` node the rule compiler understands. */
export interface BehaviorImpactQuestion {
  /** All must hold at one instant: `performed` nodes with `atLeast` and `within` set. */
  pattern: Behaviour[];
  outcome: { event: string; where: Condition | null };
  windowMs: number;
  fromMs: number;
  toMs: number;
}

/** At most this many requirements in a pattern: each is a count per candidate instant. */
export const MAX_PATTERN_PARTS = 5;
/** The longest outcome window. */
export const MAX_WINDOW_MS = 365 * 24 * 3_600_000;
/** The widest range of anchors. */
export const MAX_RANGE_MS = 366 * 24 * 3_600_000;
/** The range when `from` is not given: this long before `to`. */
export const DEFAULT_RANGE_MS = 90 * 24 * 3_600_000;

/**
 * Validates a `behaviorImpact` input. `to` defaults to `nowMs`, `from` to 90 days before
 * `to`. Each pattern part and the outcome are validated as a `performed` node of the rule
 * language (docs/conditions.md), so `where` names only `event.name` and
 * `event.properties.<name>`. Throws `InputProblem` with a path relative to the input
 * (`pattern.all.1.within`, `outcome.where.field`, `window`).
 */
export function parseBehaviorImpactInput(
  input: BehaviorImpactInput,
  nowMs: number,
): BehaviorImpactQuestion {
  const parts = input.pattern?.all;
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PATTERN_PARTS) {
    throw new InputProblem('pattern.all', `expected 1 to ${MAX_PATTERN_PARTS} requirements`);
  }
  const pattern = parts.map((part, i) =>
    parseBehaviourAt(
      {
        event: part.event,
        within: part.within,
        atLeast: part.atLeast ?? 1,
        ...(part.where == null ? {} : { where: part.where }),
      },
      `pattern.all.${i}`,
    ),
  );

  const window = parseWindow(input.window);
  const outcomeRaw = input.outcome ?? ({} as BehaviorImpactInput['outcome']);
  // Validated as a behaviour so that `where` is held to event fields, like pattern parts.
  const outcome = parseBehaviourAt(
    {
      event: outcomeRaw.event,
      within: window.iso,
      ...(outcomeRaw.where == null ? {} : { where: outcomeRaw.where }),
    },
    'outcome',
  );

  const toMs = input.to ? input.to.getTime() : nowMs;
  const fromMs = input.from ? input.from.getTime() : toMs - DEFAULT_RANGE_MS;
  if (!(toMs > fromMs)) throw new InputProblem('to', 'must be later than from');
  if (toMs - fromMs > MAX_RANGE_MS) {
    throw new InputProblem('to', 'the range covers at most P366D; narrow it');
  }
  return {
    pattern,
    outcome: { event: outcome.event, where: outcome.where ?? null },
    windowMs: window.ms,
    fromMs,
    toMs,
  };
}

function parseWindow(text: string): { iso: string; ms: number } {
  if (typeof text !== 'string') throw new InputProblem('window', 'expected a duration such as P7D');
  let parsed;
  try {
    parsed = parseDuration(text);
  } catch (err) {
    throw new InputProblem('window', (err as Error).message);
  }
  if (parsed.ms <= 0) throw new InputProblem('window', 'must be longer than zero');
  if (parsed.ms > MAX_WINDOW_MS) throw new InputProblem('window', 'at most P365D');
  return parsed;
}

/** Parses `{ performed: raw }` and re-roots its problems from `performed.x` to `path.x`. */
function parseBehaviourAt(raw: Record<string, unknown>, path: string): Behaviour {
  try {
    const node = parseCondition({ performed: raw }) as { performed: Behaviour };
    return node.performed;
  } catch (err) {
    if (!(err instanceof InputProblem)) throw err;
    const inner = err.path.replace(/^performed\.?/, '');
    throw new InputProblem([path, inner].filter(Boolean).join('.'), err.problem);
  }
}

import type { Clock } from '../../clock';
import { BadInputError, checkedAt } from '../../errors';
import { Database, rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { BehaviorImpactInput, parseBehaviorImpactInput } from './impact-input';
import { ImpactGroupRow, behaviorImpactQuery } from './impact-sql';
import { GroupRate, RateComparison, compareRates, groupRate } from './impact-statistics';

/** The answer to one behaviour-impact question (docs/behavior-impact.md). */
export interface BehaviorImpactView extends RateComparison {
  withPattern: GroupRate;
  withoutPattern: GroupRate;
  /** Customers of the cohort whose outcome window had not ended at the service's now. */
  incomplete: number;
  from: Date;
  to: Date;
  durationMs: number;
}

/** The longest a question may run before it is refused (narrow the range instead). */
export const IMPACT_TIMEOUT_MS = 30_000;
const QUERY_CANCELED = '57014';

/**
 * Answers "do customers who did X convert to Y more often within W?" over the tenant's stored
 * events: one SQL statement under the tenant's row-level security, with a statement timeout.
 * Reads only. Throws BAD_USER_INPUT for invalid input (field `input.…`) and for a question
 * that runs longer than `IMPACT_TIMEOUT_MS` (field `input.from`).
 */
export class BehaviorImpactService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async behaviorImpact(
    ctx: TenantContext,
    input: BehaviorImpactInput,
  ): Promise<BehaviorImpactView> {
    const startedMs = performance.now();
    const nowMs = this.clock.nowMs();
    const question = checkedAt('input', () => parseBehaviorImpactInput(input, nowMs));
    const { text, params } = behaviorImpactQuery(ctx.tenantId, question, nowMs);

    let groups: ImpactGroupRow[];
    try {
      groups = await this.db.withTenant(ctx.tenantId, async (tx) => {
        await rows(tx, "SELECT set_config('statement_timeout', $1, true)", [
          `${IMPACT_TIMEOUT_MS}ms`,
        ]);
        return rows<ImpactGroupRow>(tx, text, params);
      });
    } catch (err) {
      if (sqlState(err) === QUERY_CANCELED) {
        throw new BadInputError(
          'input.from',
          `the question took longer than ${IMPACT_TIMEOUT_MS / 1000} s; narrow the range`,
        );
      }
      throw err;
    }

    const group = (hasPattern: boolean) => {
      const row = groups.find((g) => g.has_pattern === hasPattern);
      return groupRate(row?.customers ?? 0, row?.converted ?? 0);
    };
    const withPattern = group(true);
    const withoutPattern = group(false);
    const incomplete = groups.reduce((sum, g) => sum + g.incomplete, 0);
    const durationMs = performance.now() - startedMs;
    ctx.log.info(
      {
        customers: withPattern.customers + withoutPattern.customers,
        incomplete,
        durationMs: Math.round(durationMs),
      },
      'behaviour impact computed',
    );
    return {
      withPattern,
      withoutPattern,
      ...compareRates(withPattern, withoutPattern),
      incomplete,
      from: new Date(question.fromMs),
      to: new Date(question.toMs),
      durationMs,
    };
  }
}

function sqlState(err: unknown): string | undefined {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e.driverError?.code ?? e.code;
}

import { BadInputError, checkedAt } from '../../errors';
import { Database, rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import type { CustomerRow } from '../ingestion/customer.service';
import { compileTrigger } from '../triggers/trigger-catalog';
import { TriggerDefinitionInput, parseTriggerDefinition } from '../triggers/trigger-definition';
import { parseDuration } from '../time/duration';
import { HistoryEvent, SimulationResult, simulate } from './simulator';

export interface SimulateCommand {
  definition: TriggerDefinitionInput & { name: string };
  from: Date;
  to: Date;
  sampleSize?: number | null;
}

export interface SimulationView extends SimulationResult {
  durationMs: number;
}

const MAX_RANGE_MS = 366 * 24 * 3_600_000;
/** Beyond this many events a backtest is refused: narrow the range instead. */
export const MAX_SIMULATED_EVENTS = 2_000_000;

/**
 * Backtests: reads the stored events a definition concerns and runs it over them with the
 * simulator. Reads only; nothing is written, scheduled or sent.
 */
export class SimulationService {
  constructor(private readonly db: Database) {}

  async simulate(ctx: TenantContext, command: SimulateCommand): Promise<SimulationView> {
    const startedMs = performance.now();
    const definition = checkedAt('input.definition', () =>
      parseTriggerDefinition(command.definition),
    );
    const fromMs = command.from.getTime();
    const toMs = command.to.getTime();
    if (!(toMs > fromMs)) throw new BadInputError('input.to', 'must be later than input.from');
    if (toMs - fromMs > MAX_RANGE_MS) {
      throw new BadInputError('input.to', 'a backtest covers at most P366D; narrow the range');
    }
    const sampleSize = command.sampleSize ?? 20;
    if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > 200) {
      throw new BadInputError('input.sampleSize', 'expected an integer from 0 to 200');
    }
    const trigger = compileTrigger('simulation', command.definition.name, 0, definition);
    const names = new Set([definition.event]);
    if (definition.unless) names.add(definition.unless.event);
    let lookbackMs = 0;
    for (const { performed } of trigger.where.behaviours) {
      names.add(performed.event);
      lookbackMs = Math.max(lookbackMs, parseDuration(performed.within).ms);
    }

    // One snapshot for all reads: a merge committing between them cannot remove a customer
    // whose events were already read.
    const loaded = await this.db.withTenant(
      ctx.tenantId,
      async (tx) => {
        const events = await rows<{
          id: string;
          customer_id: string;
          name: string;
          properties: Record<string, unknown>;
          occurred_at: Date;
        }>(
          tx,
          `SELECT id::text AS id, customer_id, name, properties, occurred_at FROM events
         WHERE tenant_id = $1 AND name = ANY($2::text[]) AND occurred_at >= $3
           AND occurred_at <= $4
         ORDER BY occurred_at, id LIMIT $5`,
          [
            ctx.tenantId,
            [...names],
            new Date(fromMs - lookbackMs),
            new Date(toMs),
            MAX_SIMULATED_EVENTS + 1,
          ],
        );
        if (events.length > MAX_SIMULATED_EVENTS) {
          throw new BadInputError(
            'input.to',
            `the range holds more than ${MAX_SIMULATED_EVENTS} relevant events; narrow it`,
          );
        }
        const customerIds = [...new Set(events.map((e) => e.customer_id))];
        const customers = await rows<CustomerRow>(
          tx,
          'SELECT * FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
          [ctx.tenantId, customerIds],
        );
        const [tenant] = await rows<{ timezone: string; webhook_url: string | null }>(
          tx,
          'SELECT timezone, webhook_url FROM tenants WHERE id = $1',
          [ctx.tenantId],
        );
        return { events, customers, tenant };
      },
      { isolation: 'REPEATABLE READ' },
    );

    const events: HistoryEvent[] = loaded.events.map((e) => ({
      id: e.id,
      customerId: e.customer_id,
      name: e.name,
      properties: e.properties,
      occurredAtMs: e.occurred_at.getTime(),
    }));
    const result = simulate({
      trigger,
      events,
      customers: new Map(loaded.customers.map((c) => [c.id, c])),
      tenantZone: loaded.tenant.timezone,
      tenantHasWebhook: Boolean(loaded.tenant.webhook_url),
      fromMs,
      toMs,
      sampleSize,
    });
    const durationMs = performance.now() - startedMs;
    ctx.log.info(
      {
        events: events.length,
        entered: result.entered,
        durationMs: Math.round(durationMs),
      },
      'trigger simulated',
    );
    return { ...result, durationMs };
  }
}

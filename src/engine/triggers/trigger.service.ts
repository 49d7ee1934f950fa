import { BadInputError, ConflictError, NotFoundError, checkedAt } from '../../errors';
import { Database, Tx, rows } from '../../platform/database';
import type { Bus } from '../../platform/bus';
import type { Clock } from '../../clock';
import type { TenantContext } from '../../tenancy/tenant-context';
import {
  TRIGGER_STATUSES,
  TriggerDefinition,
  TriggerDefinitionInput,
  TriggerStatus,
  parseTriggerDefinition,
  toDefinitionInput,
  withDefaults,
} from './trigger-definition';
import type { TriggerCatalog } from './trigger-catalog';
import { Page, PageRequest, pageOf } from '../pagination';
import { canonicalJson } from '../../json';
import { findUnstorableText, isUuid } from '../../validation';
import { attachExperiments, endTriggerExperiments } from '../experiments/experiment-lifecycle';

export interface TriggerView {
  id: string;
  name: string;
  status: TriggerStatus;
  version: number;
  definition: TriggerDefinition;
  createdAt: Date;
  updatedAt: Date;
}

export interface TriggerVersionView {
  version: number;
  /** In the shape createTrigger and simulateTrigger accept. */
  definition: TriggerDefinitionInput;
  createdAt: Date;
  /** Runs of this version still waiting or active. */
  openRuns: number;
}

export interface TriggerRow {
  id: string;
  seq: string;
  tenant_id: string;
  name: string;
  event_name: string;
  status: TriggerStatus;
  version: number;
  definition: TriggerDefinition;
  created_at: Date;
  updated_at: Date;
}

export type CreateTriggerCommand = TriggerDefinitionInput & {
  name: string;
  status?: string | null;
};
export type UpdateTriggerCommand = {
  [K in keyof CreateTriggerCommand]?: CreateTriggerCommand[K] | null;
};

export const toTriggerView = (r: TriggerRow): TriggerView => ({
  id: r.id,
  name: r.name,
  status: r.status,
  version: r.version,
  definition: withDefaults(r.definition),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The channel on which trigger changes are announced, so every instance drops its cache. */
export const TRIGGERS_CHANGED = 'triggers-changed';

/**
 * Trigger definitions and their versions. Every change that alters behaviour creates a new
 * version; running enrollments keep the version they entered with.
 */
export class TriggerService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly bus: Bus,
    private readonly catalog: TriggerCatalog,
  ) {}

  /** Validates and stores a trigger (version 1). Throws BAD_USER_INPUT with the input path. */
  async create(ctx: TenantContext, input: CreateTriggerCommand): Promise<TriggerView> {
    const name = checkName(input.name);
    const status = checkStatus(input.status ?? 'ACTIVE');
    const definition = checkedAt('input', () => parseTriggerDefinition(input));
    const now = new Date(this.clock.nowMs());

    const row = await this.db.withTenant(ctx.tenantId, async (tx) => {
      const [inserted] = await rows<TriggerRow>(
        tx,
        `INSERT INTO triggers (tenant_id, name, event_name, status, version, definition,
           created_at, updated_at)
         VALUES ($1, $2, $3, $4, 1, $5, $6, $6) RETURNING *`,
        [ctx.tenantId, name, definition.event, status, JSON.stringify(definition), now],
      );
      // Experiments reference the trigger, so they are attached once it exists.
      const stamped = await attachExperiments(tx, {
        tenantId: ctx.tenantId,
        triggerId: inserted.id,
        previous: null,
        next: definition,
        nowMs: now.getTime(),
        log: ctx.log,
      });
      const [withExperiments] = await rows<TriggerRow>(
        tx,
        'UPDATE triggers SET definition = $3 WHERE tenant_id = $1 AND id = $2 RETURNING *',
        [ctx.tenantId, inserted.id, JSON.stringify(stamped)],
      );
      await insertVersion(tx, withExperiments);
      return withExperiments;
    });
    await this.announce(ctx.tenantId);
    ctx.log.info({ triggerId: row.id, triggerVersion: 1 }, 'trigger created');
    return toTriggerView(row);
  }

  /**
   * Applies a partial update. A change to the definition creates version n+1; a change of
   * name or status alone keeps the version. Another tenant's id is NOT_FOUND.
   */
  async update(ctx: TenantContext, id: string, input: UpdateTriggerCommand): Promise<TriggerView> {
    const now = new Date(this.clock.nowMs());
    const row = await this.db.withTenant(ctx.tenantId, async (tx) => {
      const current = await this.lockOne(tx, ctx, id);
      if (current.status === 'ARCHIVED') {
        throw new ConflictError('the trigger is archived; create a new trigger instead', {
          field: 'id',
          reason: 'TRIGGER_ARCHIVED',
        });
      }
      const name =
        input.name === undefined || input.name === null ? current.name : checkName(input.name);
      const status = input.status ? checkStatus(input.status) : current.status;
      const merged = mergeDefinitionInput(withDefaults(current.definition), input);
      const parsed = checkedAt('input', () => parseTriggerDefinition(merged));
      // Keeps a step's running experiment (and its assignments) across the new version.
      const definition = await attachExperiments(tx, {
        tenantId: ctx.tenantId,
        triggerId: id,
        previous: withDefaults(current.definition),
        next: parsed,
        nowMs: now.getTime(),
        log: ctx.log,
      });
      if (status === 'ARCHIVED') {
        for (const experimentId of await endTriggerExperiments(
          tx,
          ctx.tenantId,
          id,
          now.getTime(),
        )) {
          ctx.log.info({ triggerId: id, experimentId }, 'experiment ended');
        }
      }
      // jsonb does not keep key order: compare canonical forms, or every save looks like a change.
      const changed = canonicalJson(definition) !== canonicalJson(withDefaults(current.definition));
      const version = changed ? current.version + 1 : current.version;

      const [updated] = await rows<TriggerRow>(
        tx,
        `UPDATE triggers SET name = $3, status = $4, version = $5, definition = $6, event_name = $7,
           updated_at = $8
         WHERE tenant_id = $1 AND id = $2 RETURNING *`,
        [
          ctx.tenantId,
          id,
          name,
          status,
          version,
          JSON.stringify(definition),
          definition.event,
          now,
        ],
      );
      if (changed) await insertVersion(tx, updated);
      return updated;
    });
    await this.announce(ctx.tenantId, row.id);
    ctx.log.info({ triggerId: row.id, triggerVersion: row.version }, 'trigger updated');
    return toTriggerView(row);
  }

  async get(ctx: TenantContext, id: string): Promise<TriggerView | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<TriggerRow>(tx, 'SELECT * FROM triggers WHERE tenant_id = $1 AND id = $2', [
        ctx.tenantId,
        id,
      ]),
    );
    return row ? toTriggerView(row) : null;
  }

  async list(ctx: TenantContext, page: PageRequest): Promise<Page<TriggerView>> {
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<TriggerRow>(
        tx,
        `SELECT * FROM triggers WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [ctx.tenantId, page.afterSeq, page.first + 1],
      ),
    );
    return pageOf(found, page, (r) => r.seq, toTriggerView);
  }

  /** Every version of a trigger, newest first. */
  async versions(ctx: TenantContext, triggerId: string): Promise<TriggerVersionView[]> {
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<{ version: number; definition: TriggerDefinition; created_at: Date; runs: number }>(
        tx,
        `SELECT v.version, v.definition, v.created_at,
           (SELECT count(*)::int FROM enrollments e WHERE e.tenant_id = v.tenant_id
              AND e.trigger_id = v.trigger_id AND e.trigger_version = v.version
              AND e.state IN ('WAITING', 'ACTIVE')) AS runs
         FROM trigger_versions v WHERE v.tenant_id = $1 AND v.trigger_id = $2
         ORDER BY v.version DESC`,
        [ctx.tenantId, triggerId],
      ),
    );
    return found.map((v) => ({
      version: v.version,
      definition: toDefinitionInput(v.definition),
      createdAt: v.created_at,
      openRuns: v.runs,
    }));
  }

  private async lockOne(tx: Tx, ctx: TenantContext, id: string): Promise<TriggerRow> {
    if (!isUuid(id)) throw new NotFoundError('trigger', 'id');
    const [row] = await rows<TriggerRow>(
      tx,
      'SELECT * FROM triggers WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
      [ctx.tenantId, id],
    );
    if (!row) throw new NotFoundError('trigger', 'id');
    return row;
  }

  private async announce(tenantId: string, triggerId?: string): Promise<void> {
    this.catalog.invalidate(tenantId, triggerId);
    await this.bus.publish(TRIGGERS_CHANGED, { tenantId, triggerId });
  }
}

async function insertVersion(tx: Tx, row: TriggerRow): Promise<void> {
  await rows(
    tx,
    `INSERT INTO trigger_versions (tenant_id, trigger_id, version, definition, created_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [row.tenant_id, row.id, row.version, JSON.stringify(row.definition), row.updated_at],
  );
}

/** Rebuilds an input from a stored definition, overlaid with the fields the update sets. */
function mergeDefinitionInput(
  current: TriggerDefinition,
  input: UpdateTriggerCommand,
): TriggerDefinitionInput {
  const merged: Record<string, unknown> = { ...toDefinitionInput(current) };
  for (const key of DEFINITION_KEYS) {
    if (input[key] !== undefined) merged[key] = input[key];
  }
  return merged as unknown as TriggerDefinitionInput;
}

/** The fields of an update that belong to the definition (not name or status). */
const DEFINITION_KEYS = [
  'event',
  'where',
  'entryKey',
  'unless',
  'steps',
  'reentry',
  'cooldown',
  'maxActive',
  'sendWindow',
  'attributeWait',
  'goal',
  'capPolicy',
  'quietHours',
  'ignoreQuietHours',
] as const satisfies ReadonlyArray<keyof TriggerDefinitionInput>;

function checkName(name: string): string {
  const trimmed = (name ?? '').trim();
  if (trimmed.length === 0 || trimmed.length > 200 || findUnstorableText(trimmed)) {
    throw new BadInputError('input.name', 'expected 1 to 200 characters');
  }
  return trimmed;
}

function checkStatus(status: string): TriggerStatus {
  if (!(TRIGGER_STATUSES as readonly string[]).includes(status)) {
    throw new BadInputError('input.status', `expected one of ${TRIGGER_STATUSES.join(', ')}`);
  }
  return status as TriggerStatus;
}

import { Tx, rows } from '../../platform/database';
import { CompiledCondition, compileCondition } from '../rules/evaluate';
import { TriggerDefinition, withDefaults } from './trigger-definition';

/** One trigger version, compiled for evaluation. Immutable: cached by (trigger, version). */
export interface CompiledTrigger {
  id: string;
  name: string;
  version: number;
  definition: TriggerDefinition;
  where: CompiledCondition;
  unlessWhere: CompiledCondition;
  goalWhere: CompiledCondition;
  /** Per step: its condition on customer data (always true without one). */
  stepWhere: CompiledCondition[];
}

/** The triggers of one tenant, indexed by the event names they react to. */
export interface TenantTriggerIndex {
  /** Active triggers (current version) that this event enters. */
  byEntryEvent: Map<string, CompiledTrigger[]>;
  /** Active triggers whose waiting runs this event may cancel. */
  byUnlessEvent: Map<string, CompiledTrigger[]>;
  /**
   * Ids of triggers with a version whose goal is this event, whatever the trigger's status:
   * runs finish on their own version after a pause, an archive or an edit of the goal.
   */
  goalWatchers: Map<string, string[]>;
}

const MAX_CACHED_VERSIONS = 10_000;

/**
 * Caches, per tenant, which active triggers an event name concerns, and compiled trigger
 * versions. Invalidated locally on change and, across instances, through the bus.
 */
export class TriggerCatalog {
  private readonly tenants = new Map<string, TenantTriggerIndex>();
  private readonly versions = new Map<string, CompiledTrigger>();
  /**
   * Bumped by every `invalidate`: an index whose load began before a change was announced
   * serves its own transaction but is not cached, or it would outlive the change.
   */
  private generation = 0;

  /** The tenant's index, loaded inside the caller's tenant transaction on a miss. */
  async forTenant(tx: Tx, tenantId: string): Promise<TenantTriggerIndex> {
    const cached = this.tenants.get(tenantId);
    if (cached) return cached;
    const generation = this.generation;

    const active = await rows<{
      id: string;
      name: string;
      version: number;
      definition: TriggerDefinition;
    }>(
      tx,
      `SELECT id, name, version,
         definition FROM triggers WHERE tenant_id = $1 AND status = 'ACTIVE'`,
      [tenantId],
    );
    const index: TenantTriggerIndex = {
      byEntryEvent: new Map(),
      byUnlessEvent: new Map(),
      goalWatchers: new Map(),
    };
    for (const row of active) {
      const compiled = this.compiled(row.id, row.name, row.version, row.definition);
      push(index.byEntryEvent, row.definition.event, compiled);
      if (row.definition.unless) push(index.byUnlessEvent, row.definition.unless.event, compiled);
    }
    const goals = await rows<{ trigger_id: string; event: string }>(
      tx,
      `SELECT DISTINCT trigger_id, definition->'goal'->>'event' AS event FROM trigger_versions
       WHERE tenant_id = $1 AND definition->'goal'->>'event' IS NOT NULL`,
      [tenantId],
    );
    for (const goal of goals) push(index.goalWatchers, goal.event, goal.trigger_id);
    if (generation === this.generation) this.tenants.set(tenantId, index);
    return index;
  }

  /** A specific version (the one an enrollment entered with), loaded on a miss. */
  async version(
    tx: Tx,
    tenantId: string,
    triggerId: string,
    version: number,
  ): Promise<CompiledTrigger> {
    const cached = this.versions.get(`${triggerId}:${version}`);
    if (cached) return cached;
    const [row] = await rows<{ name: string; definition: TriggerDefinition }>(
      tx,
      `SELECT t.name, v.definition FROM trigger_versions v JOIN triggers t ON t.id = v.trigger_id
       WHERE v.tenant_id = $1 AND v.trigger_id = $2 AND v.version = $3`,
      [tenantId, triggerId, version],
    );
    if (!row) throw new Error(`trigger version ${triggerId}@${version} is missing`);
    return this.compiled(triggerId, row.name, version, row.definition);
  }

  /**
   * Drops the tenant's index, and the compiled versions of `triggerId` (they carry its name,
   * which a rename changes without a new version).
   */
  invalidate(tenantId: string, triggerId?: string): void {
    this.generation++;
    this.tenants.delete(tenantId);
    if (!triggerId) return;
    for (const key of this.versions.keys()) {
      if (key.startsWith(`${triggerId}:`)) this.versions.delete(key);
    }
  }

  private compiled(
    id: string,
    name: string,
    version: number,
    definition: TriggerDefinition,
  ): CompiledTrigger {
    const key = `${id}:${version}`;
    let compiled = this.versions.get(key);
    if (!compiled) {
      compiled = compileTrigger(id, name, version, definition);
      if (this.versions.size >= MAX_CACHED_VERSIONS) this.versions.clear();
      this.versions.set(key, compiled);
    }
    return { ...compiled, name };
  }
}

/** Compiles one trigger version (its conditions once, for every evaluation to come). */
export function compileTrigger(
  id: string,
  name: string,
  version: number,
  stored: TriggerDefinition,
): CompiledTrigger {
  const definition = withDefaults(stored);
  return {
    id,
    name,
    version,
    definition,
    where: compileCondition(definition.where),
    unlessWhere: compileCondition(definition.unless?.where ?? null),
    goalWhere: compileCondition(definition.goal?.where ?? null),
    stepWhere: definition.steps.map((step) => compileCondition(step.condition?.where ?? null)),
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

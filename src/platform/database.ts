import { DataSource, EntityManager } from 'typeorm';
import { migrations } from '../../migrations';
import { BadInputError } from '../errors';
import { isUuid } from '../validation';

/** Sets the tenant for row-level security and the restricted role, for this transaction. */
const TENANT_CONTEXT =
  "SELECT set_config('nudge.tenant_id', $1, true), set_config('role', 'nudge_app', true)";

/** A transaction-bound query runner. Engine code takes this, never the DataSource. */
export type Tx = EntityManager;

export interface DatabaseOptions {
  url: string;
  poolSize: number;
}

/**
 * The PostgreSQL system of record. Queries that touch tenant rows go through
 * `withTenant`, which runs them in a transaction as the restricted `nudge_app` role with
 * `nudge.tenant_id` set, so row-level security filters every statement even where the
 * application's own `tenant_id = $1` filter is missing.
 */
export class Database {
  private constructor(readonly dataSource: DataSource) {}

  static async connect(options: DatabaseOptions): Promise<Database> {
    const dataSource = new DataSource({
      type: 'postgres',
      url: options.url,
      synchronize: false,
      migrationsRun: false,
      migrations,
      migrationsTableName: 'nudge_migrations',
      installExtensions: false,
      uuidExtension: 'pgcrypto',
      logging: false,
      extra: { max: options.poolSize },
    });
    await dataSource.initialize();
    return new Database(dataSource);
  }

  /** Applies pending migrations; safe to call from several processes (advisory-locked). */
  async migrate(): Promise<string[]> {
    await this.dataSource.query('SELECT pg_advisory_lock(4242001)');
    try {
      const applied = await this.dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await this.dataSource.query('SELECT pg_advisory_unlock(4242001)');
    }
  }

  /**
   * Runs `work` in one transaction scoped to `tenantId`. Everything in it commits or
   * nothing does. Row-level security applies to every statement inside.
   */
  async withTenant<T>(
    tenantId: string,
    work: (tx: Tx) => Promise<T>,
    options: { isolation?: 'READ COMMITTED' | 'REPEATABLE READ' } = {},
  ): Promise<T> {
    const isolation = options.isolation ?? 'READ COMMITTED';
    try {
      if (!isUuid(tenantId)) {
        return await this.dataSource.transaction(isolation, async (tx) => {
          await tx.query(TENANT_CONTEXT, [tenantId]);
          return work(tx);
        });
      }
      return await this.inTenantTransaction(tenantId, isolation, work);
    } catch (err) {
      throw translateDatabaseError(err);
    }
  }

  /**
   * What TypeORM's `transaction` does, with the begin, the isolation level and the tenant
   * context sent as one simple-protocol message instead of three round trips. The tenant id
   * is inlined, so it must be a UUID (checked by the caller).
   */
  private async inTenantTransaction<T>(
    tenantId: string,
    isolation: 'READ COMMITTED' | 'REPEATABLE READ',
    work: (tx: Tx) => Promise<T>,
  ): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.query(
        `START TRANSACTION ISOLATION LEVEL ${isolation}; ` +
          TENANT_CONTEXT.replace('$1', `'${tenantId}'`),
      );
      // TypeORM's own bookkeeping, as `startTransaction` would leave it, so that its commit,
      // rollback and anything that nests a transaction behave as usual.
      Object.assign(runner, { isTransactionActive: true, transactionDepth: 1 });
      try {
        const value = await work(runner.manager);
        await runner.commitTransaction();
        return value;
      } catch (err) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw err;
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Runs `work` in a transaction as the service itself, across tenants. Only for the few
   * operations that must find the tenant first: key lookup, tenant creation, timer claims.
   */
  async asSystem<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * Runs one statement in the transaction and returns its rows, whatever the command
 * (TypeORM's plain `query` returns `[rows, count]` for UPDATE and DELETE).
 */
export async function rows<T>(tx: Tx, text: string, params: unknown[] = []): Promise<T[]> {
  const runner = tx.queryRunner;
  if (!runner) throw new Error('rows() needs a transaction-bound manager');
  const result = await runner.query(text, params, true);
  return (result.records ?? []) as T[];
}

/** SQLSTATEs for text PostgreSQL cannot store (U+0000, invalid encodings). */
const UNSTORABLE_TEXT = new Set(['22P05', '22021']);

/**
 * The last wall behind input validation: text the database refuses becomes a client error
 * (BAD_USER_INPUT) rather than an internal one. The transaction has rolled back already.
 */
function translateDatabaseError(err: unknown): unknown {
  const code =
    (err as { code?: string; driverError?: { code?: string } }).driverError?.code ??
    (err as { code?: string }).code;
  if (code && UNSTORABLE_TEXT.has(code)) {
    return new BadInputError(
      'input',
      'contains text the database cannot store (e.g. a U+0000 character)',
    );
  }
  return err;
}

/** PostgreSQL detected a deadlock and rolled this transaction back; it may be retried. */
export function isDeadlock(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  return (e.driverError?.code ?? e.code) === '40P01';
}

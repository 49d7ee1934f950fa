import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Experiments on a step's variants (issue #5):
 * - `experiments`: one test per trigger step, kept across trigger versions while its name
 *   stays; its status (RUNNING, ENDED), the promoted winner, the variants of the latest version
 *   that carried it, and the sample it was sized for;
 * - `experiment_assignments`: the variant each customer got, per experiment. Written once, so
 *   weight edits never move anyone and re-entry keeps the variant;
 * - `experiment_entries`: the variant each run got for the step (a holdout too), so results
 *   count entries, sends and conversions per variant from the raw tables, each run once.
 */
export class Experiments1765200000000 implements MigrationInterface {
  name = 'Experiments1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE experiments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        trigger_id uuid NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        step_index integer NOT NULL,
        name text,
        status text NOT NULL,
        control text,
        winner text,
        variants jsonb NOT NULL,
        baseline_rate double precision NOT NULL,
        minimum_detectable_effect double precision NOT NULL,
        required_sample_per_variant integer NOT NULL,
        created_at timestamptz(3) NOT NULL,
        updated_at timestamptz(3) NOT NULL,
        ended_at timestamptz(3)
      )`);
    await q.query(
      `CREATE INDEX experiments_step ON experiments (tenant_id, trigger_id, step_index, created_at)`,
    );
    // At most one running test per step: the trigger service relies on it.
    await q.query(
      `CREATE UNIQUE INDEX experiments_running ON experiments (tenant_id, trigger_id, step_index)
         WHERE status = 'RUNNING'`,
    );

    await q.query(`
      CREATE TABLE experiment_assignments (
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        experiment_id uuid NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        variant text NOT NULL,
        assigned_at timestamptz(3) NOT NULL,
        PRIMARY KEY (tenant_id, experiment_id, customer_id)
      )`);

    await q.query(`
      CREATE TABLE experiment_entries (
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        enrollment_id uuid NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
        step_index integer NOT NULL,
        experiment_id uuid NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        variant text NOT NULL,
        is_holdout boolean NOT NULL,
        entered_at timestamptz(3) NOT NULL,
        PRIMARY KEY (tenant_id, enrollment_id, step_index)
      )`);
    await q.query(
      `CREATE INDEX experiment_entries_experiment ON experiment_entries
         (tenant_id, experiment_id, variant, entered_at)`,
    );

    const tenantMatch = `tenant_id = NULLIF(current_setting('nudge.tenant_id', true), '')::uuid`;
    for (const table of ['experiments', 'experiment_assignments', 'experiment_entries']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(
        `CREATE POLICY tenant_isolation ON ${table} USING (${tenantMatch}) WITH CHECK (${tenantMatch})`,
      );
      await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO nudge_app`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['experiment_entries', 'experiment_assignments', 'experiments']) {
      await q.query(`DROP TABLE ${table}`);
    }
  }
}

import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The trigger engine at full depth (issue #3):
 * - anonymous customers (`external_id` may be null) and their anonymous ids (`customer_aliases`);
 * - enrollments remember when their sequence started (`activated_at`, for cooldowns) and may be
 *   `HELD` while a condition waits for customer data;
 * - `decisions`: what the engine decided about each entry and run, and why.
 */
export class TriggerEngine1764800000000 implements MigrationInterface {
  name = 'TriggerEngine1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE customers ALTER COLUMN external_id DROP NOT NULL`);

    await q.query(`
      CREATE TABLE customer_aliases (
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        anonymous_id text NOT NULL,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        created_at timestamptz(3) NOT NULL,
        PRIMARY KEY (tenant_id, anonymous_id)
      )`);
    await q.query(
      `CREATE INDEX customer_aliases_customer ON customer_aliases (tenant_id, customer_id)`,
    );

    await q.query(`ALTER TABLE enrollments ADD COLUMN activated_at timestamptz(3)`);
    await q.query(
      `UPDATE enrollments SET activated_at = updated_at WHERE state IN ('ACTIVE', 'COMPLETED')`,
    );
    await q.query(
      `CREATE INDEX enrollments_customer_trigger ON enrollments (tenant_id, customer_id, trigger_id, first_entry_at)`,
    );

    await q.query(`
      CREATE TABLE decisions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        trigger_id uuid NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        trigger_version integer NOT NULL,
        enrollment_id uuid REFERENCES enrollments(id) ON DELETE CASCADE,
        event_id bigint,
        at timestamptz(3) NOT NULL,
        outcome text NOT NULL,
        reason text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await q.query(
      `CREATE INDEX decisions_customer ON decisions (tenant_id, customer_id, trigger_id, id)`,
    );

    const tenantMatch = `tenant_id = NULLIF(current_setting('nudge.tenant_id', true), '')::uuid`;
    for (const table of ['customer_aliases', 'decisions']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(
        `CREATE POLICY tenant_isolation ON ${table} USING (${tenantMatch}) WITH CHECK (${tenantMatch})`,
      );
      await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO nudge_app`);
    }
    await q.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO nudge_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE decisions`);
    await q.query(`DROP INDEX enrollments_customer_trigger`);
    await q.query(`ALTER TABLE enrollments DROP COLUMN activated_at`);
    await q.query(`DROP TABLE customer_aliases`);
    await q.query(`DELETE FROM customers WHERE external_id IS NULL`);
    await q.query(`ALTER TABLE customers ALTER COLUMN external_id SET NOT NULL`);
  }
}

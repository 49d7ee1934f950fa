import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Send-time optimisation (issue #5): BEST_HOUR reads when people opened their messages, per
 * customer and per tenant, newest first. Two partial indexes on `messages.opened_at` (set only
 * by a human open or click) keep both reads to the rows they return. No new table, so no new
 * row-level-security policy: `messages` already has its own.
 */
export class BestHour1765300000000 implements MigrationInterface {
  name = 'BestHour1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX messages_customer_opened ON messages (tenant_id, customer_id, opened_at)
         WHERE opened_at IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX messages_tenant_opened ON messages (tenant_id, opened_at)
         WHERE opened_at IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX messages_tenant_opened`);
    await q.query(`DROP INDEX messages_customer_opened`);
  }
}

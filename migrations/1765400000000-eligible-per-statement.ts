import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Counts eligible entry events once per INSERT statement on `decisions` instead of once per
 * row. Ingestion writes all decisions of a call in one statement (1,000 rows for a batch of
 * 100 events and 10 triggers); the row trigger of 1765000000000 then ran a PL/pgSQL function
 * and an INSERT into `metric_deltas` per row, which cost more PostgreSQL time than storing
 * the decisions themselves. The statement trigger reads the statement's new rows (a
 * transition table) and inserts one delta per tenant, trigger, version and hour, with the
 * count. Readers and the compaction add deltas up, so the counters are the same; the
 * definition (which decisions count, and a held entry counted once) is unchanged.
 */
export class EligiblePerStatement1765400000000 implements MigrationInterface {
  name = 'EligiblePerStatement1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER metrics_count_eligible ON decisions`);
    await q.query(`
      CREATE FUNCTION nudge_count_eligible_rows() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO metric_deltas (tenant_id, trigger_id, trigger_version, step_index, channel,
          variant, reason, bucket_start, eligible)
        SELECT n.tenant_id, n.trigger_id, n.trigger_version, -1, '', '', '',
          nudge_metric_hour(n.at), count(*)
        FROM new_decisions n
        WHERE n.event_id IS NOT NULL
          AND (n.outcome IN ('ENTERED', 'RESET', 'HELD', 'BLOCKED')
               OR (n.outcome = 'NOT_MATCHED' AND n.reason = 'CONDITION_FALSE'))
          AND NOT (n.outcome IN ('ENTERED', 'RESET', 'BLOCKED') AND EXISTS (
            SELECT 1 FROM decisions d
            WHERE d.tenant_id = n.tenant_id AND d.customer_id = n.customer_id
              AND d.trigger_id = n.trigger_id AND d.event_id = n.event_id
              AND d.outcome = 'HELD' AND d.id <> n.id))
        GROUP BY n.tenant_id, n.trigger_id, n.trigger_version, nudge_metric_hour(n.at);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER metrics_count_eligible_rows AFTER INSERT ON decisions
        REFERENCING NEW TABLE AS new_decisions
        FOR EACH STATEMENT EXECUTE FUNCTION nudge_count_eligible_rows()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER metrics_count_eligible_rows ON decisions`);
    await q.query(`DROP FUNCTION nudge_count_eligible_rows()`);
    await q.query(`
      CREATE TRIGGER metrics_count_eligible AFTER INSERT ON decisions
        FOR EACH ROW
        WHEN (NEW.event_id IS NOT NULL
              AND NEW.outcome IN ('ENTERED', 'RESET', 'HELD', 'NOT_MATCHED', 'BLOCKED'))
        EXECUTE FUNCTION nudge_count_eligible()`);
  }
}

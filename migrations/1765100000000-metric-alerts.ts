import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metric alerts (issue #5, capability 4): a tenant's threshold on a rate over the last N
 * concluded sends of one trigger (or of all its triggers), with its current state.
 *
 * - `metric_alerts`: the definition, `state` OK/FIRING and `transitions` (how many times the
 *   state changed; it numbers the events, so a webhook retry carries the same id). The state
 *   only moves through a conditional UPDATE, which makes "once per crossing" hold across
 *   instances.
 * - Row triggers tell the alert watchers that a rate may have moved: a message reached a
 *   concluding status (SENT, DELIVERED, OPENED, CLICKED, FAILED, DEAD_LETTER — also when it
 *   was stored in one), or a conversion was credited to a message. They `pg_notify` only when the tenant has an alert on that trigger, so tenants
 *   without alerts pay one indexed lookup per status change and nothing else. NOTIFY is
 *   delivered at commit, never for a rolled-back change, and evaluation happens in the
 *   listener, off the transaction that changed the message.
 */
/** Statuses that conclude a send (as `engine/alerts/alert-rate.ts` counts them). */
const CONCLUDED = `('SENT', 'DELIVERED', 'OPENED', 'CLICKED', 'FAILED', 'DEAD_LETTER')`;

export class MetricAlerts1765100000000 implements MigrationInterface {
  name = 'MetricAlerts1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE metric_alerts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        trigger_id uuid REFERENCES triggers(id) ON DELETE CASCADE,
        metric text NOT NULL CHECK (metric IN
          ('OPEN_RATE', 'CLICK_RATE', 'DELIVERY_RATE', 'FAILURE_RATE', 'CONVERSION_RATE')),
        comparison text NOT NULL CHECK (comparison IN ('BELOW', 'ABOVE')),
        threshold double precision NOT NULL CHECK (threshold >= 0 AND threshold <= 1),
        over_last_sends integer NOT NULL CHECK (over_last_sends BETWEEN 1 AND 10000),
        webhook_url text,
        state text NOT NULL DEFAULT 'OK' CHECK (state IN ('OK', 'FIRING')),
        transitions integer NOT NULL DEFAULT 0,
        last_value double precision,
        last_sends integer,
        last_evaluated_at timestamptz(3),
        state_changed_at timestamptz(3),
        created_at timestamptz(3) NOT NULL
      )`);
    await q.query(
      `CREATE INDEX metric_alerts_trigger ON metric_alerts (tenant_id, trigger_id, created_at)`,
    );

    const tenantMatch = `tenant_id = NULLIF(current_setting('nudge.tenant_id', true), '')::uuid`;
    await q.query(`ALTER TABLE metric_alerts ENABLE ROW LEVEL SECURITY`);
    await q.query(
      `CREATE POLICY tenant_isolation ON metric_alerts USING (${tenantMatch}) WITH CHECK (${tenantMatch})`,
    );
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON metric_alerts TO nudge_app`);

    await q.query(`
      CREATE FUNCTION nudge_metric_alert_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.trigger_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM metric_alerts a
          WHERE a.tenant_id = NEW.tenant_id
            AND (a.trigger_id = NEW.trigger_id OR a.trigger_id IS NULL)
        ) THEN
          PERFORM pg_notify('nudge_metric_alerts', NEW.tenant_id::text || ':' || NEW.trigger_id::text);
        END IF;
        RETURN NULL;
      END
      $$`);
    await q.query(`
      CREATE TRIGGER messages_status_metric_alerts
        AFTER UPDATE OF status ON messages
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ${CONCLUDED})
        EXECUTE FUNCTION nudge_metric_alert_notify()`);
    await q.query(`
      CREATE TRIGGER messages_insert_metric_alerts
        AFTER INSERT ON messages
        FOR EACH ROW WHEN (NEW.status IN ${CONCLUDED})
        EXECUTE FUNCTION nudge_metric_alert_notify()`);
    await q.query(`
      CREATE TRIGGER conversions_metric_alerts
        AFTER INSERT ON conversions
        FOR EACH ROW WHEN (NEW.message_id IS NOT NULL)
        EXECUTE FUNCTION nudge_metric_alert_notify()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS conversions_metric_alerts ON conversions`);
    await q.query(`DROP TRIGGER IF EXISTS messages_insert_metric_alerts ON messages`);
    await q.query(`DROP TRIGGER IF EXISTS messages_status_metric_alerts ON messages`);
    await q.query(`DROP FUNCTION IF EXISTS nudge_metric_alert_notify()`);
    await q.query(`DROP TABLE IF EXISTS metric_alerts`);
  }
}

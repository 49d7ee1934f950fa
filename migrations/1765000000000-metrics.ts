import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metrics (issue #5): counters per tenant, trigger, version, step, channel, variant,
 * suppression reason and UTC hour.
 *
 * Counting happens in PostgreSQL row triggers on the rows that are the truth — `decisions`
 * (eligible entry events), `enrollments` (runs started), `messages` (sent, delivered, opened,
 * clicked, failed, suppressed) and `conversions`. A trigger runs in the same transaction as
 * the change it counts and sees the row before and after, so a counter moves exactly when
 * the state did: a retried step whose INSERT hit its unique key, an update that matched no
 * row, or a rolled-back transaction count nothing, and no code path that changes a message
 * (today's or a future one) can forget to count.
 *
 * Writers only ever INSERT into `metric_deltas` (no row is shared between transactions, so
 * counting adds no lock waits and no deadlocks); `compactMetricDeltas` folds them into the
 * hourly rollup `metric_counts`. Readers add both, in one statement.
 *
 * Definitions (docs/metrics.md) are in `nudge_message_counts` and the trigger functions; a
 * change of definition is a new migration that replaces them and rebuilds the rollup.
 */
export class Metrics1765000000000 implements MigrationInterface {
  name = 'Metrics1765000000000';

  async up(q: QueryRunner): Promise<void> {
    const counters = `
        eligible bigint NOT NULL DEFAULT 0,
        entries bigint NOT NULL DEFAULT 0,
        sent bigint NOT NULL DEFAULT 0,
        delivered bigint NOT NULL DEFAULT 0,
        opened bigint NOT NULL DEFAULT 0,
        clicked bigint NOT NULL DEFAULT 0,
        failed bigint NOT NULL DEFAULT 0,
        suppressed bigint NOT NULL DEFAULT 0,
        conversions bigint NOT NULL DEFAULT 0,
        value numeric NOT NULL DEFAULT 0`;
    // step_index -1, channel '' and variant '': counted for the run, not for a step.
    const key = `
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        trigger_id uuid NOT NULL,
        trigger_version integer NOT NULL,
        step_index integer NOT NULL,
        channel text NOT NULL,
        variant text NOT NULL,
        reason text NOT NULL,
        bucket_start timestamptz(3) NOT NULL`;
    await q.query(`CREATE TABLE metric_counts (${key}, ${counters},
        PRIMARY KEY (tenant_id, trigger_id, bucket_start, trigger_version, step_index, channel,
          variant, reason))`);
    await q.query(`CREATE TABLE metric_deltas (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${key}, ${counters})`);
    await q.query(
      `CREATE INDEX metric_deltas_trigger ON metric_deltas (tenant_id, trigger_id, bucket_start)`,
    );

    await q.query(`
      CREATE FUNCTION nudge_metric_hour(at timestamptz) RETURNS timestamptz
      LANGUAGE sql IMMUTABLE AS $$ SELECT date_trunc('hour', at, 'UTC') $$`);

    await q.query(`
      CREATE FUNCTION nudge_add_metric_delta(
        p_tenant uuid, p_trigger uuid, p_version integer, p_step integer, p_channel text,
        p_variant text, p_reason text, p_bucket timestamptz, p_eligible bigint, p_entries bigint,
        p_sent bigint, p_delivered bigint, p_opened bigint, p_clicked bigint, p_failed bigint,
        p_suppressed bigint, p_conversions bigint, p_value numeric) RETURNS void
      LANGUAGE plpgsql AS $$
      BEGIN
        IF p_eligible = 0 AND p_entries = 0 AND p_sent = 0 AND p_delivered = 0 AND p_opened = 0
           AND p_clicked = 0 AND p_failed = 0 AND p_suppressed = 0 AND p_conversions = 0
           AND p_value = 0 THEN
          RETURN;
        END IF;
        INSERT INTO metric_deltas (tenant_id, trigger_id, trigger_version, step_index, channel,
          variant, reason, bucket_start, eligible, entries, sent, delivered, opened, clicked,
          failed, suppressed, conversions, value)
        VALUES (p_tenant, p_trigger, p_version, p_step, p_channel, p_variant, p_reason,
          nudge_metric_hour(p_bucket), p_eligible, p_entries, p_sent, p_delivered, p_opened,
          p_clicked, p_failed, p_suppressed, p_conversions, p_value);
      END $$`);

    // What one message contributes, from its status and engagement times alone.
    await q.query(`
      CREATE FUNCTION nudge_message_counts(
        status text, delivered_at timestamptz, opened_at timestamptz, clicked_at timestamptz,
        OUT sent bigint, OUT delivered bigint, OUT opened bigint, OUT clicked bigint,
        OUT failed bigint, OUT suppressed bigint)
      LANGUAGE sql IMMUTABLE AS $$
        SELECT w::int::bigint, (w AND delivered_at IS NOT NULL)::int::bigint,
          (w AND opened_at IS NOT NULL)::int::bigint, (w AND clicked_at IS NOT NULL)::int::bigint,
          (status IN ('FAILED', 'DEAD_LETTER'))::int::bigint, (status = 'SUPPRESSED')::int::bigint
        FROM (SELECT status IN ('SENT', 'DELIVERED', 'OPENED', 'CLICKED') AS w) s $$`);
    await q.query(`
      CREATE FUNCTION nudge_message_reason(status text, suppression_reason text) RETURNS text
      LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN status = 'SUPPRESSED'
          THEN split_part(COALESCE(suppression_reason, 'UNKNOWN'), ':', 1) ELSE '' END $$`);

    await q.query(`
      CREATE FUNCTION nudge_count_message() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        o record;
        n record;
        o_reason text;
        n_reason text;
        o_bucket timestamptz;
        n_bucket timestamptz;
        v integer;
      BEGIN
        SELECT * INTO n
          FROM nudge_message_counts(NEW.status, NEW.delivered_at, NEW.opened_at, NEW.clicked_at);
        n_reason := nudge_message_reason(NEW.status, NEW.suppression_reason);
        n_bucket := nudge_metric_hour(COALESCE(NEW.sent_at, NEW.created_at));
        IF TG_OP = 'UPDATE' THEN
          SELECT * INTO o
            FROM nudge_message_counts(OLD.status, OLD.delivered_at, OLD.opened_at, OLD.clicked_at);
          o_reason := nudge_message_reason(OLD.status, OLD.suppression_reason);
          o_bucket := nudge_metric_hour(COALESCE(OLD.sent_at, OLD.created_at));
          IF o IS NOT DISTINCT FROM n AND o_reason = n_reason AND o_bucket = n_bucket THEN
            RETURN NULL;
          END IF;
        ELSE
          SELECT * INTO o FROM nudge_message_counts('QUEUED', NULL, NULL, NULL);
          o_reason := n_reason;
          o_bucket := n_bucket;
        END IF;
        SELECT trigger_version INTO v FROM enrollments
          WHERE tenant_id = NEW.tenant_id AND id = NEW.enrollment_id;
        IF o_reason = n_reason AND o_bucket = n_bucket THEN
          PERFORM nudge_add_metric_delta(NEW.tenant_id, NEW.trigger_id, v, NEW.step_index,
            NEW.channel, COALESCE(NEW.variant, ''), n_reason, n_bucket, 0, 0,
            n.sent - o.sent, n.delivered - o.delivered, n.opened - o.opened,
            n.clicked - o.clicked, n.failed - o.failed, n.suppressed - o.suppressed, 0, 0);
        ELSE
          PERFORM nudge_add_metric_delta(OLD.tenant_id, OLD.trigger_id, v, OLD.step_index,
            OLD.channel, COALESCE(OLD.variant, ''), o_reason, o_bucket, 0, 0, -o.sent,
            -o.delivered, -o.opened, -o.clicked, -o.failed, -o.suppressed, 0, 0);
          PERFORM nudge_add_metric_delta(NEW.tenant_id, NEW.trigger_id, v, NEW.step_index,
            NEW.channel, COALESCE(NEW.variant, ''), n_reason, n_bucket, 0, 0, n.sent,
            n.delivered, n.opened, n.clicked, n.failed, n.suppressed, 0, 0);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER metrics_count_message
        AFTER INSERT OR UPDATE OF status, sent_at, delivered_at, opened_at, clicked_at,
          suppression_reason ON messages
        FOR EACH ROW EXECUTE FUNCTION nudge_count_message()`);

    // Entries: a run counts once it has started its sequence (activated_at set), by that time.
    await q.query(`
      CREATE FUNCTION nudge_count_enrollment() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.activated_at IS NOT DISTINCT FROM NEW.activated_at THEN
          RETURN NULL;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.activated_at IS NOT NULL THEN
          PERFORM nudge_add_metric_delta(OLD.tenant_id, OLD.trigger_id, OLD.trigger_version, -1,
            '', '', '', OLD.activated_at, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0);
        END IF;
        IF NEW.activated_at IS NOT NULL THEN
          PERFORM nudge_add_metric_delta(NEW.tenant_id, NEW.trigger_id, NEW.trigger_version, -1,
            '', '', '', NEW.activated_at, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER metrics_count_enrollment
        AFTER INSERT OR UPDATE OF activated_at ON enrollments
        FOR EACH ROW EXECUTE FUNCTION nudge_count_enrollment()`);

    // Conversions: by conversion time, under the credited message's step, channel and variant
    // (step -1 when nothing was credited); value = the goal event's numeric "value" property.
    await q.query(`
      CREATE FUNCTION nudge_count_conversion() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        step integer := -1;
        chan text := '';
        amount numeric := 0;
        props jsonb;
      BEGIN
        IF NEW.message_id IS NOT NULL THEN
          SELECT step_index, channel INTO step, chan FROM messages
            WHERE tenant_id = NEW.tenant_id AND id = NEW.message_id;
        END IF;
        SELECT properties INTO props FROM events WHERE tenant_id = NEW.tenant_id AND id = NEW.event_id;
        IF jsonb_typeof(props -> 'value') = 'number' THEN
          amount := (props ->> 'value')::numeric;
        END IF;
        PERFORM nudge_add_metric_delta(NEW.tenant_id, NEW.trigger_id, NEW.trigger_version,
          COALESCE(step, -1), COALESCE(chan, ''), COALESCE(NEW.variant, ''), '', NEW.converted_at,
          0, 0, 0, 0, 0, 0, 0, 0, 1, amount);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER metrics_count_conversion AFTER INSERT ON conversions
        FOR EACH ROW EXECUTE FUNCTION nudge_count_conversion()`);

    // Eligible: each entry event evaluated for a trigger, once. Every evaluation records one
    // of these decisions; a held entry released later (or expiring) records a second one for
    // the same event, which is not a second evaluation of a new event.
    await q.query(`
      CREATE FUNCTION nudge_count_eligible() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.outcome = 'NOT_MATCHED' AND NEW.reason <> 'CONDITION_FALSE' THEN
          RETURN NULL;
        END IF;
        IF NEW.outcome IN ('ENTERED', 'RESET', 'BLOCKED') AND EXISTS (
          SELECT 1 FROM decisions d
          WHERE d.tenant_id = NEW.tenant_id AND d.customer_id = NEW.customer_id
            AND d.trigger_id = NEW.trigger_id AND d.event_id = NEW.event_id
            AND d.outcome = 'HELD' AND d.id <> NEW.id) THEN
          RETURN NULL;
        END IF;
        PERFORM nudge_add_metric_delta(NEW.tenant_id, NEW.trigger_id, NEW.trigger_version, -1,
          '', '', '', NEW.at, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER metrics_count_eligible AFTER INSERT ON decisions
        FOR EACH ROW
        WHEN (NEW.event_id IS NOT NULL
              AND NEW.outcome IN ('ENTERED', 'RESET', 'HELD', 'NOT_MATCHED', 'BLOCKED'))
        EXECUTE FUNCTION nudge_count_eligible()`);

    await this.backfill(q);

    const tenantMatch = `tenant_id = NULLIF(current_setting('nudge.tenant_id', true), '')::uuid`;
    for (const table of ['metric_counts', 'metric_deltas']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(
        `CREATE POLICY tenant_isolation ON ${table} USING (${tenantMatch}) WITH CHECK (${tenantMatch})`,
      );
      await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO nudge_app`);
    }
    await q.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO nudge_app`);
  }

  /** Counts what happened before this migration, under the same definitions. */
  private async backfill(q: QueryRunner): Promise<void> {
    const cols = `tenant_id, trigger_id, trigger_version, step_index, channel, variant, reason,
      bucket_start`;
    await q.query(`
      INSERT INTO metric_counts (${cols}, sent, delivered, opened, clicked, failed, suppressed)
      SELECT m.tenant_id, m.trigger_id, e.trigger_version, m.step_index, m.channel,
        COALESCE(m.variant, ''), nudge_message_reason(m.status, m.suppression_reason),
        nudge_metric_hour(COALESCE(m.sent_at, m.created_at)),
        sum(c.sent), sum(c.delivered), sum(c.opened), sum(c.clicked), sum(c.failed),
        sum(c.suppressed)
      FROM messages m
      JOIN enrollments e ON e.tenant_id = m.tenant_id AND e.id = m.enrollment_id
      CROSS JOIN LATERAL nudge_message_counts(m.status, m.delivered_at, m.opened_at,
        m.clicked_at) c
      WHERE m.status NOT IN ('QUEUED', 'SENDING')
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`);
    await q.query(`
      INSERT INTO metric_deltas (${cols}, entries)
      SELECT tenant_id, trigger_id, trigger_version, -1, '', '', '',
        nudge_metric_hour(activated_at), count(*)
      FROM enrollments WHERE activated_at IS NOT NULL GROUP BY 1, 2, 3, 8`);
    await q.query(`
      INSERT INTO metric_deltas (${cols}, conversions, value)
      SELECT c.tenant_id, c.trigger_id, c.trigger_version, COALESCE(m.step_index, -1),
        COALESCE(m.channel, ''), COALESCE(c.variant, ''), '', nudge_metric_hour(c.converted_at),
        count(*),
        COALESCE(sum((ev.properties ->> 'value')::numeric)
          FILTER (WHERE jsonb_typeof(ev.properties -> 'value') = 'number'), 0)
      FROM conversions c
      LEFT JOIN messages m ON m.tenant_id = c.tenant_id AND m.id = c.message_id
      LEFT JOIN events ev ON ev.tenant_id = c.tenant_id AND ev.id = c.event_id
      GROUP BY 1, 2, 3, 4, 5, 6, 8`);
    await q.query(`
      INSERT INTO metric_deltas (${cols}, eligible)
      SELECT tenant_id, trigger_id, trigger_version, -1, '', '', '', nudge_metric_hour(at),
        count(*)
      FROM (SELECT DISTINCT ON (tenant_id, trigger_id, event_id) tenant_id, trigger_id,
              trigger_version, at
            FROM decisions
            WHERE event_id IS NOT NULL
              AND outcome IN ('ENTERED', 'RESET', 'HELD', 'NOT_MATCHED', 'BLOCKED')
              AND NOT (outcome = 'NOT_MATCHED' AND reason <> 'CONDITION_FALSE')
            ORDER BY tenant_id, trigger_id, event_id, id) first_evaluation
      GROUP BY 1, 2, 3, 8`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER metrics_count_eligible ON decisions`);
    await q.query(`DROP TRIGGER metrics_count_conversion ON conversions`);
    await q.query(`DROP TRIGGER metrics_count_enrollment ON enrollments`);
    await q.query(`DROP TRIGGER metrics_count_message ON messages`);
    for (const fn of [
      'nudge_count_eligible()',
      'nudge_count_conversion()',
      'nudge_count_enrollment()',
      'nudge_count_message()',
      'nudge_message_reason(text, text)',
      'nudge_message_counts(text, timestamptz, timestamptz, timestamptz)',
      `nudge_add_metric_delta(uuid, uuid, integer, integer, text, text, text, timestamptz,
        bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, numeric)`,
      'nudge_metric_hour(timestamptz)',
    ]) {
      await q.query(`DROP FUNCTION ${fn}`);
    }
    await q.query(`DROP TABLE metric_deltas`);
    await q.query(`DROP TABLE metric_counts`);
  }
}

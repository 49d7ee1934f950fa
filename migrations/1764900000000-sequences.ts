import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sequences that behave (issue #4):
 * - tenant settings: quiet hours, frequency caps, channels whose marketing needs an explicit
 *   grant, and a secret that signs tracking links (two random UUIDs: 244 random bits);
 * - `consent_records`: every grant and revocation per channel and purpose, append-only; the
 *   current state is the latest by `occurred_at`;
 * - `push_subscriptions`: Web Push endpoints per customer, pruned when the service says gone;
 * - messages learn their purpose, variant, delivery attempts and engagement times; SENDING and
 *   DEAD_LETTER join the states; `message_events` logs opens, clicks, deliveries, bounces;
 * - `conversions`: a run's goal reached, with the message credited for it.
 */
export class Sequences1764900000000 implements MigrationInterface {
  name = 'Sequences1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE tenants
        ADD COLUMN quiet_hours jsonb,
        ADD COLUMN frequency_caps jsonb NOT NULL DEFAULT '[]'::jsonb,
        ADD COLUMN explicit_consent_channels text[] NOT NULL DEFAULT ARRAY['SMS'],
        ADD COLUMN link_secret text NOT NULL
          DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')`);

    await q.query(`
      CREATE TABLE consent_records (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        channel text NOT NULL,
        purpose text NOT NULL,
        granted boolean NOT NULL,
        source text NOT NULL,
        occurred_at timestamptz(3) NOT NULL,
        recorded_at timestamptz(3) NOT NULL
      )`);
    await q.query(
      `CREATE INDEX consent_records_current ON consent_records
         (tenant_id, customer_id, channel, purpose, occurred_at DESC, id DESC)`,
    );

    await q.query(`
      CREATE TABLE push_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        endpoint text NOT NULL,
        p256dh text NOT NULL,
        auth text NOT NULL,
        created_at timestamptz(3) NOT NULL,
        pruned_at timestamptz(3),
        UNIQUE (tenant_id, endpoint)
      )`);
    await q.query(
      `CREATE INDEX push_subscriptions_customer ON push_subscriptions (tenant_id, customer_id, created_at)`,
    );

    await q.query(`
      ALTER TABLE messages
        ADD COLUMN purpose text NOT NULL DEFAULT 'MARKETING',
        ADD COLUMN variant text,
        ADD COLUMN attempts integer NOT NULL DEFAULT 0,
        ADD COLUMN next_attempt_at timestamptz(3),
        ADD COLUMN sending_until timestamptz(3),
        ADD COLUMN provider_message_id text,
        ADD COLUMN push_subscription_id uuid REFERENCES push_subscriptions(id) ON DELETE SET NULL,
        ADD COLUMN delivered_at timestamptz(3),
        ADD COLUMN opened_at timestamptz(3),
        ADD COLUMN clicked_at timestamptz(3),
        ADD COLUMN updated_at timestamptz(3)`);
    // Frequency caps count a customer's marketing messages by the time they took their slot.
    await q.query(
      `CREATE INDEX messages_customer_slots ON messages (tenant_id, customer_id, created_at)
         WHERE purpose = 'MARKETING'`,
    );
    await q.query(
      `CREATE INDEX messages_provider_id ON messages (tenant_id, provider_message_id)
         WHERE provider_message_id IS NOT NULL`,
    );

    await q.query(`
      CREATE TABLE message_events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        kind text NOT NULL,
        machine boolean NOT NULL DEFAULT false,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurred_at timestamptz(3) NOT NULL
      )`);
    await q.query(
      `CREATE INDEX message_events_message ON message_events (tenant_id, message_id, occurred_at)`,
    );

    await q.query(`
      CREATE TABLE conversions (
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        enrollment_id uuid NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
        trigger_id uuid NOT NULL REFERENCES triggers(id) ON DELETE CASCADE,
        trigger_version integer NOT NULL,
        customer_id uuid NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
        event_id bigint NOT NULL,
        started_at timestamptz(3) NOT NULL,
        converted_at timestamptz(3) NOT NULL,
        message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
        variant text,
        recorded_at timestamptz(3) NOT NULL,
        PRIMARY KEY (tenant_id, enrollment_id)
      )`);
    await q.query(
      `CREATE INDEX conversions_trigger ON conversions (tenant_id, trigger_id, converted_at)`,
    );

    const tenantMatch = `tenant_id = NULLIF(current_setting('nudge.tenant_id', true), '')::uuid`;
    for (const table of [
      'consent_records',
      'push_subscriptions',
      'message_events',
      'conversions',
    ]) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(
        `CREATE POLICY tenant_isolation ON ${table} USING (${tenantMatch}) WITH CHECK (${tenantMatch})`,
      );
      await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO nudge_app`);
    }
    await q.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO nudge_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['conversions', 'message_events', 'consent_records']) {
      await q.query(`DROP TABLE ${table}`);
    }
    await q.query(`
      ALTER TABLE messages
        DROP COLUMN purpose, DROP COLUMN variant, DROP COLUMN attempts,
        DROP COLUMN next_attempt_at, DROP COLUMN sending_until, DROP COLUMN provider_message_id,
        DROP COLUMN push_subscription_id, DROP COLUMN delivered_at, DROP COLUMN opened_at,
        DROP COLUMN clicked_at, DROP COLUMN updated_at`);
    await q.query(`DROP TABLE push_subscriptions`);
    await q.query(`
      ALTER TABLE tenants DROP COLUMN quiet_hours, DROP COLUMN frequency_caps,
        DROP COLUMN explicit_consent_channels, DROP COLUMN link_secret`);
  }
}

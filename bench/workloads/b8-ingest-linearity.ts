import { Client } from 'pg';
import { goalRow, medianSample, type GoalRow, type Sample, type Workload } from '../lib/workload';
import { startNudgeProcess, type NudgeProcess } from '../lib/nudge-process';
import { createBenchTriggers, seedCustomers, seedStoredEvents } from '../lib/ingest-setup';
import { ingestLoad } from '../lib/ingest-load';
import { backendCpuSeconds } from '../lib/postgres-cpu';
import { TRACK_BATCH_CONNECTIONS, TRACK_BATCH_SIZE } from './b2-track-batch';

/**
 * B8 (ingest half) — does ingest slow down as stored events pile up? B2's product load
 * (`trackBatch` of 100 events, 20 connections, 10 active triggers) on one Nudge process,
 * first with 1× stored events for the tenant, then 10× and 100× (pre-seeded by SQL between
 * phases). After each measured run the run's own events and decision rows are deleted, so
 * every run of a phase starts at that phase's size. Goal per factor: events/s ≥ 0.8× the 1×
 * run's, request p99 ≤ 2× the 1× run's.
 */

const TRIGGERS = 10;
/** Seeding stops growing beyond what this many ms of seeding allows (the factor is reported). */
const SEED_BUDGET_MS = 200_000;

async function maxId(client: Client, table: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT coalesce(max(id), 0)::text AS id FROM ${table}`,
  );
  return rows[0].id;
}

export const workload: Workload = {
  id: 'B8 ingest',
  title: 'B2’s `trackBatch` with 1×, 10× and 100× stored events',
  async run(options) {
    const base = options.quick ? 2_000 : 100_000;
    const factors = options.quick ? [1, 10] : [1, 10, 100];
    const durationSec = options.quick ? 30 : 5;
    const amount = options.quick ? 10 : undefined;
    let nudge: NudgeProcess | null = null;
    let db: Client | null = null;
    try {
      nudge = await startNudgeProcess({ ...options, label: 'b8_ingest' });
      const product = nudge;
      const { tenantId, secret } = await product.createTenant('bench B8 ingest');
      await seedCustomers(product.database.url, tenantId);
      await createBenchTriggers(product, secret, TRIGGERS);
      db = new Client({ connectionString: product.database.url });
      await db.connect();

      const load = (tag: string, seconds: number) =>
        ingestLoad({
          url: product.graphqlUrl,
          secret,
          connections: TRACK_BATCH_CONNECTIONS,
          durationSec: seconds,
          amount,
          runTag: `b8-${tag}`,
          batchSize: TRACK_BATCH_SIZE,
          workDir: options.workDir,
          serverCpuSeconds: () => product.child.cpuSeconds(),
          databaseCpuSeconds: () => backendCpuSeconds(options.postgresUrl, product.database.name),
        });

      let seeded = 0;
      let seedMs = 0;
      const phases: Array<{ factor: number; stored: number; median: Sample }> = [];
      const notes: string[] = [];
      if (!options.quick) await load('warmup', 3);
      for (const wanted of factors) {
        let target = wanted * base;
        const rate = seedMs > 0 ? seeded / seedMs : Infinity;
        if ((target - seeded) / rate > SEED_BUDGET_MS - seedMs) {
          target = seeded + Math.floor((rate * (SEED_BUDGET_MS - seedMs)) / base) * base;
          notes.push(
            `${wanted}× was cut to ${target / base}× to keep seeding within ${SEED_BUDGET_MS / 1000} s.`,
          );
        }
        if (target > seeded) {
          const ms = await seedStoredEvents(
            product.database.url,
            tenantId,
            seeded,
            target - seeded,
          );
          options.log(
            `seeded ${(target - seeded).toLocaleString('en-US')} events in ${(ms / 1000).toFixed(1)} s`,
          );
          seedMs += ms;
          seeded = target;
        }
        const factor = target / base;
        const samples: Sample[] = [];
        for (let run = 1; run <= options.runs; run++) {
          const [eventsBefore, decisionsBefore] = [
            await maxId(db, 'events'),
            await maxId(db, 'decisions'),
          ];
          const result = await load(`${factor}x-run${run}`, durationSec);
          samples.push({
            eventsPerSec: result.rps * TRACK_BATCH_SIZE,
            requestP50Ms: result.latencyP50Ms,
            requestP99Ms: result.latencyP99Ms,
            nudgeCpuPercent: result.serverCpuPercent,
            postgresCpuPercent: result.databaseCpuPercent,
          });
          options.log(
            `${factor}× run ${run}: ${(result.rps * TRACK_BATCH_SIZE).toFixed(0)} events/s, ` +
              `p99 ${result.latencyP99Ms} ms per request`,
          );
          await db.query('DELETE FROM events WHERE id > $1', [eventsBefore]);
          await db.query('DELETE FROM decisions WHERE id > $1', [decisionsBefore]);
        }
        phases.push({ factor, stored: seeded, median: medianSample(samples) });
      }

      const first = phases[0];
      const rows: GoalRow[] = [];
      const figures: Record<string, number> = { seedSeconds: seedMs / 1000 };
      for (const phase of phases) {
        figures[`eventsPerSecAt${phase.factor}x`] = phase.median.eventsPerSec;
        figures[`requestP99MsAt${phase.factor}x`] = phase.median.requestP99Ms;
        figures[`nudgeCpuPercentAt${phase.factor}x`] = phase.median.nudgeCpuPercent;
        figures[`postgresCpuPercentAt${phase.factor}x`] = phase.median.postgresCpuPercent;
        figures[`storedEventsAt${phase.factor}x`] = phase.stored;
        if (phase === first) continue;
        const id = `B8 ingest ${phase.factor}×`;
        const baselineName = `the 1× run (${first.stored.toLocaleString('en-US')} stored)`;
        rows.push(
          goalRow(
            {
              id,
              metric: `trackBatch events/s, ${phase.stored.toLocaleString('en-US')} stored`,
              product: phase.median.eventsPerSec,
              baseline: first.median.eventsPerSec,
              baselineName,
              better: 'higher',
              goal: '≥ 0.8× (within 20 %)',
            },
            (ratio) => ratio >= 0.8,
          ),
          goalRow(
            {
              id,
              metric: `trackBatch p99 ms per request, ${phase.stored.toLocaleString('en-US')} stored`,
              product: phase.median.requestP99Ms,
              baseline: first.median.requestP99Ms,
              baselineName,
              better: 'lower',
              goal: 'p99 ≤ 2× (ratio ≥ 0.5×)',
            },
            (ratio) => ratio >= 0.5,
          ),
        );
      }
      return {
        rows,
        figures,
        notes: [
          `1× = ${base.toLocaleString('en-US')} stored events for the tenant; factors ` +
            `${phases.map((p) => `${p.factor}×`).join(', ')}; seeded with INSERT … SELECT ` +
            `generate_series (FK triggers off for that session), ${(seedMs / 1000).toFixed(0)} s in all, ` +
            'then ANALYZE. Seeded events: same name and property shape as the load, message ids, ' +
            'spread over 10,000 customers and 30 days.',
          `Load: B2’s (trackBatch of ${TRACK_BATCH_SIZE}, ${TRACK_BATCH_CONNECTIONS} connections, ` +
            `10 active triggers), ` +
            (amount ? `${amount} requests per run (quick)` : `${durationSec} s per run`) +
            `, ${options.runs} run(s) per factor, medians` +
            (options.quick ? '' : ', one 3 s warm-up before the 1× phase') +
            '. Each run’s events and decision rows are deleted after it (by id), so each run starts ' +
            'at its phase’s size; decision rows are not seeded (only events are).',
          'Nudge pinned to core 0, autocannon to core 1, PostgreSQL and Redis unpinned.',
          ...notes,
        ],
      };
    } finally {
      await db?.end().catch(() => undefined);
      await nudge?.stop();
    }
  },
};

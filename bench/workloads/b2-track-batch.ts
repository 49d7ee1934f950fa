import { goalRow, medianSample, type Sample, type Workload } from '../lib/workload';
import { startNudgeProcess, type NudgeProcess } from '../lib/nudge-process';
import { countTenantRows, createBenchTriggers, seedCustomers } from '../lib/ingest-setup';
import { ingestLoad } from '../lib/ingest-load';
import { backendCpuSeconds } from '../lib/postgres-cpu';
import { CUSTOMER_POOL } from '../lib/ingest-events';
import { preparePgIngestBaseline, type PgIngestBaseline } from '../lib/pg-ingest-baseline';

/**
 * B2 — batch ingest. Closed-loop `trackBatch` of 100 events (new messageIds every request)
 * from 20 connections against Nudge with 10 active triggers; against (a) a pool of 4 Node
 * connections sending parameterised 100-row `INSERT … VALUES` of the same rows and (b) one
 * Node `COPY … FROM STDIN` of the same rows, both into a table created by Nudge's own
 * migrations. Goals: Nudge's events/s ≥ 0.5× INSERT and ≥ 0.3× COPY.
 */

export const TRACK_BATCH_SIZE = 100;
export const TRACK_BATCH_CONNECTIONS = 20;
const TRIGGERS = 10;

export const workload: Workload = {
  id: 'B2',
  title:
    '`trackBatch` of 100 events (20 connections, 10 active triggers) vs raw PostgreSQL INSERT and COPY of the same rows',
  async run(options) {
    // Quick mode sends a fixed number of requests, so it proves the path on any machine.
    const durationSec = options.quick ? 30 : 10;
    const amount = options.quick ? 10 : undefined;
    const baselineRows = options.quick ? 10_000 : 300_000;
    const warmup = !options.quick;
    let nudge: NudgeProcess | null = null;
    let raw: PgIngestBaseline | null = null;
    try {
      const [startedNudge, preparedRaw] = await Promise.allSettled([
        startNudgeProcess({ ...options, label: 'b2' }),
        preparePgIngestBaseline({ ...options, label: 'b2_raw' }),
      ]);
      if (startedNudge.status === 'fulfilled') nudge = startedNudge.value;
      if (preparedRaw.status === 'fulfilled') raw = preparedRaw.value;
      if (startedNudge.status === 'rejected') throw startedNudge.reason;
      if (preparedRaw.status === 'rejected') throw preparedRaw.reason;
      const product = nudge!;
      const baseline = raw!;

      const { tenantId, secret } = await product.createTenant('bench B2');
      await seedCustomers(product.database.url, tenantId);
      await createBenchTriggers(product, secret, TRIGGERS);

      const measure = async (tag: string, seconds: number, rows: number): Promise<Sample> => {
        const nudgeRun = await ingestLoad({
          url: product.graphqlUrl,
          secret,
          connections: TRACK_BATCH_CONNECTIONS,
          durationSec: seconds,
          amount,
          runTag: `b2-${tag}`,
          batchSize: TRACK_BATCH_SIZE,
          workDir: options.workDir,
          serverCpuSeconds: () => product.child.cpuSeconds(),
          databaseCpuSeconds: () => backendCpuSeconds(options.postgresUrl, product.database.name),
        });
        const insert = await baseline.run({ mode: 'insert', runTag: `b2-${tag}`, rows });
        const copy = await baseline.run({ mode: 'copy', runTag: `b2-${tag}`, rows });
        const sample = {
          nudgeEventsPerSec: nudgeRun.rps * TRACK_BATCH_SIZE,
          nudgeRequestP50Ms: nudgeRun.latencyP50Ms,
          nudgeRequestP99Ms: nudgeRun.latencyP99Ms,
          nudgeCpuPercent: nudgeRun.serverCpuPercent,
          nudgePostgresCpuPercent: nudgeRun.databaseCpuPercent,
          insertRowsPerSec: insert.rowsPerSec,
          insertStatementP50Ms: insert.statementP50Ms,
          insertStatementP99Ms: insert.statementP99Ms,
          copyRowsPerSec: copy.rowsPerSec,
        };
        options.log(
          `${tag}: Nudge ${sample.nudgeEventsPerSec.toFixed(0)} events/s ` +
            `(p99 ${nudgeRun.latencyP99Ms} ms per request), INSERT ` +
            `${insert.rowsPerSec.toFixed(0)} rows/s (p99 ${insert.statementP99Ms.toFixed(1)} ms), ` +
            `COPY ${copy.rowsPerSec.toFixed(0)} rows/s`,
        );
        return sample;
      };

      if (warmup) await measure('warmup', 3, 50_000);
      const samples: Sample[] = [];
      for (let run = 1; run <= options.runs; run++) {
        samples.push(await measure(`run${run}`, durationSec, baselineRows));
      }
      const tenantRows = await countTenantRows(product.database.url, tenantId, [
        'events',
        'decisions',
        'enrollments',
      ] as const);
      const stored = tenantRows.events;
      const m = medianSample(samples);
      const row = (baseline: number, baselineName: string, goal: string, min: number) =>
        goalRow(
          {
            id: 'B2',
            metric: 'trackBatch events/s',
            product: m.nudgeEventsPerSec,
            baseline,
            baselineName,
            better: 'higher',
            goal,
          },
          (ratio) => ratio >= min,
        );

      return {
        rows: [
          row(m.insertRowsPerSec, 'Node 100-row INSERT, pool of 4', '≥ 0.5×', 0.5),
          row(m.copyRowsPerSec, 'Node COPY', '≥ 0.3×', 0.3),
        ],
        figures: {
          ...m,
          nudgeRssMB: product.rssBytes() / 1e6,
          eventsStoredByNudge: stored,
          decisionRowsPerEvent: tenantRows.decisions / stored,
          enrollmentsPerEvent: tenantRows.enrollments / stored,
        },
        notes: [
          `Nudge: ${TRACK_BATCH_CONNECTIONS} connections, closed loop, ` +
            (amount ? `${amount} requests per run (quick); ` : `${durationSec} s per run; `) +
            `baselines: ${baselineRows.toLocaleString('en-US')} rows per run; ` +
            (warmup ? 'one shorter warm-up of each discarded; ' : 'no warm-up; ') +
            `${options.runs} run(s), medians; Nudge, INSERT and COPY alternate within each run.`,
          'Nudge and the baseline Node process run pinned to core 0; autocannon runs in a child ' +
            'pinned to core 1; PostgreSQL and Redis are not pinned.',
          `Each request carries ${TRACK_BATCH_SIZE} \`page_viewed\` events with new messageIds ` +
            `for customers spread over a pool of ${CUSTOMER_POOL.toLocaleString('en-US')} ` +
            `(pre-created by SQL). ${TRIGGERS} ACTIVE triggers on that event; each matches 1 ` +
            'event in 1,000 (1 % of events start a run that schedules an EMAIL step 1 h later).',
          'Baselines write the same rows (tenant, customer uuid, name, properties, occurred_at, ' +
            'received_at, message_id, payload_hash) into `events` of a second database migrated ' +
            'with Nudge’s migrations (same indexes and foreign keys), emptied before each run; ' +
            'rows are built before the clock starts. INSERT: 4 connections each sending ' +
            'parameterised 100-row INSERT … VALUES (p99 per statement); COPY: one connection, ' +
            '1,000-row text chunks.',
          `Nudge’s events table is not emptied between runs; it held ` +
            `${stored.toLocaleString('en-US')} events at the end (B8 measures the effect of size).`,
        ],
      };
    } finally {
      await Promise.allSettled([nudge?.stop(), raw?.drop()]);
    }
  },
};

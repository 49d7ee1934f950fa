import { goalRow, medianSample, type Sample, type Workload } from '../lib/workload';
import { startNudgeProcess, type NudgeProcess } from '../lib/nudge-process';
import {
  startTrivialGraphqlProcess,
  type TrivialGraphqlProcess,
} from '../lib/trivial-graphql-process';
import { countTenantRows, createBenchTriggers, seedCustomers } from '../lib/ingest-setup';
import { ingestLoad } from '../lib/ingest-load';
import { backendCpuSeconds } from '../lib/postgres-cpu';
import { CUSTOMER_POOL } from '../lib/ingest-events';

/**
 * B1 — single-event ingest. Closed-loop `track` (one event in variables, a new messageId per
 * request) from 50 connections against Nudge with 10 active triggers, and the same requests
 * against a trivial `track` served by Nudge's own HTTP integration (`startHttpServer`:
 * Apollo `executeHTTPGraphQLRequest` on node:http) that only counts. Each repetition runs
 * product then baseline back to back; the goal is Nudge ≥ 0.5× the trivial mutation's req/s.
 */

const TRIGGERS = 10;
const CONNECTIONS = 50;
/** Tables whose rows per stored event show what one `track` writes. */
const TRACE_TABLES = ['events', 'decisions', 'enrollments'] as const;

export const workload: Workload = {
  id: 'B1',
  title:
    '`track` (one event, 50 connections, 10 active triggers) vs a trivial mutation on the same HTTP integration',
  async run(options) {
    // Quick mode sends a fixed number of requests, so it proves the path on any machine.
    const durationSec = options.quick ? 30 : 10;
    const amount = options.quick ? 300 : undefined;
    const warmupSec = options.quick ? 0 : 3;
    let nudge: NudgeProcess | null = null;
    let trivial: TrivialGraphqlProcess | null = null;
    try {
      const [startedNudge, startedTrivial] = await Promise.allSettled([
        startNudgeProcess({ ...options, label: 'b1' }),
        startTrivialGraphqlProcess({ workDir: options.workDir }),
      ]);
      if (startedNudge.status === 'fulfilled') nudge = startedNudge.value;
      if (startedTrivial.status === 'fulfilled') trivial = startedTrivial.value;
      if (startedNudge.status === 'rejected') throw startedNudge.reason;
      if (startedTrivial.status === 'rejected') throw startedTrivial.reason;
      const product = nudge!;
      const baseline = trivial!;
      options.log(
        `Nudge pid ${product.pid} and trivial server pid ${baseline.child.pid} on core 0`,
      );

      const { tenantId, secret } = await product.createTenant('bench B1');
      await seedCustomers(product.database.url, tenantId);
      await createBenchTriggers(product, secret, TRIGGERS);

      let requestsCounted = 0;
      const measure = async (tag: string, seconds: number): Promise<Sample> => {
        const common = {
          secret,
          connections: CONNECTIONS,
          durationSec: seconds,
          amount,
          workDir: options.workDir,
        };
        const nudgeRun = await ingestLoad({
          ...common,
          url: product.graphqlUrl,
          runTag: `b1-${tag}`,
          serverCpuSeconds: () => product.child.cpuSeconds(),
          databaseCpuSeconds: () => backendCpuSeconds(options.postgresUrl, product.database.name),
        });
        const trivialRun = await ingestLoad({
          ...common,
          url: baseline.graphqlUrl,
          runTag: `b1-${tag}`,
          serverCpuSeconds: () => baseline.child.cpuSeconds(),
        });
        requestsCounted += nudgeRun.requests;
        options.log(
          `${tag}: Nudge ${nudgeRun.rps.toFixed(0)} req/s (p99 ${nudgeRun.latencyP99Ms} ms), ` +
            `trivial ${trivialRun.rps.toFixed(0)} req/s (p99 ${trivialRun.latencyP99Ms} ms)`,
        );
        return {
          nudgeRps: nudgeRun.rps,
          nudgeP50Ms: nudgeRun.latencyP50Ms,
          nudgeP99Ms: nudgeRun.latencyP99Ms,
          nudgeCpuPercent: nudgeRun.serverCpuPercent,
          nudgePostgresCpuPercent: nudgeRun.databaseCpuPercent,
          trivialRps: trivialRun.rps,
          trivialP50Ms: trivialRun.latencyP50Ms,
          trivialP99Ms: trivialRun.latencyP99Ms,
          trivialCpuPercent: trivialRun.serverCpuPercent,
        };
      };

      if (warmupSec > 0) await measure('warmup', warmupSec);
      const samples: Sample[] = [];
      for (let run = 1; run <= options.runs; run++)
        samples.push(await measure(`run${run}`, durationSec));
      const rows = await countTenantRows(product.database.url, tenantId, TRACE_TABLES);
      const stored = rows.events;
      const m = medianSample(samples);

      return {
        rows: [
          goalRow(
            {
              id: 'B1',
              metric: 'track req/s',
              product: m.nudgeRps,
              baseline: m.trivialRps,
              baselineName: 'trivial track on the same HTTP integration',
              better: 'higher',
              goal: '≥ 0.5×',
            },
            (ratio) => ratio >= 0.5,
          ),
        ],
        figures: {
          ...m,
          nudgeRssMB: product.rssBytes() / 1e6,
          trivialRssMB: baseline.rssBytes() / 1e6,
          eventsStored: stored,
          requestsCompleted: requestsCounted,
          decisionRowsPerEvent: rows.decisions / stored,
          enrollmentsPerEvent: rows.enrollments / stored,
        },
        notes: [
          `${CONNECTIONS} connections, closed loop, ` +
            (amount ? `${amount} requests per run (quick), ` : `${durationSec} s per run, `) +
            (warmupSec ? `one ${warmupSec} s warm-up of each discarded, ` : 'no warm-up, ') +
            `${options.runs} run(s), medians; product and baseline alternate within each run.`,
          'Nudge (src/main.ts, NODE_ENV=production, LOG_LEVEL=warn) and the trivial server each ' +
            'run pinned to core 0 (`taskset -c 0`); autocannon 9 runs in a child pinned to core 1; ' +
            'PostgreSQL and Redis are not pinned and share both cores.',
          'Baseline: bench/lib/trivial-graphql-server.ts calls Nudge’s own `startHttpServer` ' +
            '(same Apollo integration, request limits and plugins) with a schema whose `track` ' +
            'takes the same TrackInput and returns a constant; its authenticator accepts any key ' +
            'without a database lookup. Both get byte-identical request bodies.',
          `Each request tracks one \`page_viewed\` event with a new messageId for one of ` +
            `${CUSTOMER_POOL.toLocaleString('en-US')} customers (pre-created by SQL). ` +
            `${TRIGGERS} ACTIVE triggers on that event, each with a \`where\` on ` +
            '`event.properties.bucket` that matches 1 event in 1,000 (1 % of events start a run ' +
            'that schedules an EMAIL step 1 h later; nothing is sent during the run).',
          `Events stored by Nudge: ${stored.toLocaleString('en-US')} for ` +
            `${requestsCounted.toLocaleString('en-US')} answered requests (requests still in ` +
            'flight when a run stops are stored but not counted). Non-2xx and GraphQL errors: 0 ' +
            '(a run with any is invalid and fails the workload).',
        ],
      };
    } finally {
      await Promise.allSettled([nudge?.stop(), trivial?.stop()]);
    }
  },
};

import { loadConfig } from '../../src/config';
import {
  goalRow,
  medianSample,
  type BenchOptions,
  type Sample,
  type Workload,
} from '../lib/workload';
import { startNudgeProcess, type NudgeProcess } from '../lib/nudge-process';
import {
  startTrivialGraphqlProcess,
  type TrivialGraphqlProcess,
} from '../lib/trivial-graphql-process';
import {
  startPlainGraphqlWsProcess,
  type PlainGraphqlWsProcess,
} from '../lib/plain-graphql-ws-process';
import { cpuSecondsOf } from '../lib/pinned-child';
import { measureB3Floors } from '../lib/b3-floors';
import { runB3Client, type B3ClientResult } from '../lib/b3-client-runs';
import {
  createB3Triggers,
  seedB3Customers,
  countStartedRuns,
  waitUntilTimersSettled,
  type B3Triggers,
} from '../lib/b3-event-plan';
import type { LatencySummary } from '../lib/latency-summary';

/**
 * B3 — event → `triggerFired` latency. `track` calls go out open loop (on schedule, whatever
 * the answers) from a client pinned to core 1, which also holds one graphql-ws subscriber per
 * tenant; Nudge runs pinned to core 0. Half of the events enter a trigger that fires at once,
 * half one whose `unless` window (PT1S) makes it fire at occurredAt + 1 s (see
 * `bench/lib/b3-event-plan.ts`). Immediate latency = receive time − `track` send time;
 * delayed lateness = the payload's `firedAt` − due time (occurredAt + 1 s), and receive time −
 * due time besides. Every firing is matched to its event: lost and duplicate must be 0.
 *
 * The baseline is the sum of floors measured in the same run under the same pinning
 * (`bench/lib/b3-floors.ts`): (a) p99 round trip of a trivial `track` on Nudge's own HTTP
 * integration, open loop at the same rate; (b) p99 of a single-row INSERT commit from Node;
 * (c) the timer poll interval Nudge runs with (for delayed fires); (d) p99 delivery of a plain
 * graphql-ws server (BASELINES §1d) to one subscriber at the same firing rate.
 */

const TENANTS = 2;

interface Sizes {
  ratePerSec: number;
  runSec: number;
  warmupSec: number;
  floorSec: number;
  commitFloorCount: number;
  /** How long after the last send + 1 s missing firings are awaited. */
  drainTimeoutMs: number;
  /** How long Nudge may take to catch up on due timers after a run. */
  settleTimeoutMs: number;
}

const FULL: Sizes = {
  ratePerSec: 1000,
  runSec: 30,
  warmupSec: 10,
  floorSec: 5,
  commitFloorCount: 2000,
  drainTimeoutMs: 15_000,
  settleTimeoutMs: 30_000,
};
const QUICK: Sizes = {
  ratePerSec: 100,
  runSec: 2,
  warmupSec: 0,
  floorSec: 1,
  commitFloorCount: 200,
  drainTimeoutMs: 5_000,
  settleTimeoutMs: 5_000,
};

/** NUDGE_TIMER_POLL_MS as Nudge will read it (the runner's environment, else the default). */
function timerPollMs(): number {
  return loadConfig({ NUDGE_TIMER_POLL_MS: process.env.NUDGE_TIMER_POLL_MS }).timerPollMs;
}

interface Servers {
  nudge: NudgeProcess;
  trivial: TrivialGraphqlProcess;
  plainWs: PlainGraphqlWsProcess;
}

async function startServers(options: BenchOptions, started: Partial<Servers>): Promise<Servers> {
  const results = await Promise.allSettled([
    startNudgeProcess({ ...options, label: 'b3' }).then((p) => (started.nudge = p)),
    startTrivialGraphqlProcess({ workDir: options.workDir }).then((p) => (started.trivial = p)),
    startPlainGraphqlWsProcess({ ...options }).then((p) => (started.plainWs = p)),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return started as Servers;
}

/** Firing counts summed over the measured runs (a lost firing in any run matters). */
class FiringTally {
  offered = 0;
  sent = 0;
  expected = 0;
  received = 0;
  missing = 0;
  startedInDb = 0;
  duplicates = 0;
  misrouted = 0;
  unexpected = 0;
  failedTracks = 0;
  saturatedRuns = 0;

  add(r: B3ClientResult): void {
    this.offered += r.offered;
    this.sent += r.sent;
    this.expected += r.expectedFirings;
    this.received += r.receivedFirings;
    this.missing += r.lost;
    this.duplicates += r.duplicates;
    this.misrouted += r.misrouted;
    this.unexpected += r.unexpected;
    this.failedTracks += r.trackFailed;
    if (r.sent < r.offered) this.saturatedRuns++;
  }

  get clean(): boolean {
    return (
      this.missing === 0 &&
      this.duplicates === 0 &&
      this.misrouted === 0 &&
      this.failedTracks === 0 &&
      this.saturatedRuns === 0
    );
  }
}

const figures = (summary: LatencySummary, prefix: string): Sample => ({
  [`${prefix}P50Ms`]: summary.p50,
  [`${prefix}P99Ms`]: summary.p99,
  [`${prefix}MaxMs`]: summary.max,
});

const fmt = (s: LatencySummary) => `${s.p50.toFixed(1)}/${s.p99.toFixed(1)}/${s.max.toFixed(1)}`;

export const workload: Workload = {
  id: 'B3',
  title: 'event → triggerFired latency (open loop, half immediate, half after a 1 s window)',
  async run(options) {
    const sizes = options.quick ? QUICK : FULL;
    const pollMs = timerPollMs();
    const started: Partial<Servers> = {};
    try {
      const { nudge, trivial, plainWs } = await startServers(options, started);
      options.log(
        `Nudge pid ${nudge.pid}, trivial server pid ${trivial.child.pid}, plain graphql-ws ` +
          `pid ${plainWs.child.pid}, all on core 0; timer poll ${pollMs} ms`,
      );
      const tenants: Array<{ tenantId: string; secret: string }> = [];
      const triggers: B3Triggers[] = [];
      for (let t = 0; t < TENANTS; t++) {
        const tenant = await nudge.createTenant(`bench B3 ${t}`);
        tenants.push(tenant);
        triggers.push(await createB3Triggers(nudge, tenant.secret));
      }
      const secrets = tenants.map((t) => t.secret);

      let tally = new FiringTally();
      const measure = async (tag: string, seconds: number): Promise<Sample> => {
        const events = Math.round(sizes.ratePerSec * seconds);
        const runTag = `b3${tag}`;
        const tenantIds = tenants.map((t) => t.tenantId);
        await seedB3Customers(nudge.database.url, tenantIds, runTag, events);

        const cpuBefore = cpuSecondsOf(nudge.pid);
        const wallBefore = Date.now();
        const product = await runB3Client(
          {
            mode: 'events',
            url: nudge.graphqlUrl,
            wsUrl: nudge.graphqlUrl.replace(/^http/, 'ws'),
            secrets,
            runTag,
            ratePerSec: sizes.ratePerSec,
            events,
            triggers,
            drainTimeoutMs: sizes.drainTimeoutMs,
          },
          options.workDir,
          seconds * 1000 + sizes.drainTimeoutMs + 120_000,
        );
        const nudgeCpuSec = cpuSecondsOf(nudge.pid) - cpuBefore;
        const wallSec = (Date.now() - wallBefore) / 1000;
        tally.add(product);
        if (product.problems.length) options.log(`${tag}: ${product.problems.join('; ')}`);
        if (product.trackFailed) options.log(`${tag}: track failed: ${product.firstFailure}`);
        if (product.sent < product.offered) {
          options.log(
            `${tag}: SATURATED — Nudge fell 2 s of requests behind; sent ${product.sent} of ` +
              `${product.offered}`,
          );
        }
        // Let Nudge finish what it owes before the floors (or the next run) use the cores.
        const stillDue = await waitUntilTimersSettled(nudge.database.url, sizes.settleTimeoutMs);
        if (stillDue > 0) options.log(`${tag}: ${stillDue} timers still due after settling`);
        const startedInDb = await countStartedRuns(nudge.database.url, runTag);
        tally.startedInDb += startedInDb;

        const floors = await measureB3Floors({
          trivialGraphqlUrl: trivial.graphqlUrl,
          secrets,
          databaseUrl: nudge.database.url,
          plainWs,
          redisUrl: options.redisUrl,
          ratePerSec: sizes.ratePerSec,
          seconds: sizes.floorSec,
          commits: sizes.commitFloorCount,
          concurrently: options.quick,
          workDir: options.workDir,
        });
        const floorsImmediate = floors.roundTrip.p99 + floors.commit.p99 + floors.wsDelivery.p99;
        options.log(
          `${tag}: immediate p50/p99/max ${fmt(product.immediate)} ms; delayed lateness ` +
            `${fmt(product.delayedLateness)} ms (receive ${fmt(product.delayedReceiveLateness)}); ` +
            `firings ${product.receivedFirings}/${product.expectedFirings} (missing ` +
            `${product.lost}; runs started in PostgreSQL ${startedInDb}), ` +
            `dup ${product.duplicates}; Nudge CPU ${nudgeCpuSec.toFixed(1)} s in ` +
            `${wallSec.toFixed(1)} s; floors p99: round trip ${floors.roundTrip.p99.toFixed(2)}, ` +
            `commit ${floors.commit.p99.toFixed(2)}, ws ${floors.wsDelivery.p99.toFixed(2)} → ` +
            `${floorsImmediate.toFixed(2)} ms; poll ${pollMs} ms`,
        );
        return {
          ...figures(product.immediate, 'immediate'),
          ...figures(product.immediateToFiredAt, 'immediateSendToFiredAt'),
          ...figures(product.immediateFiredAtToReceive, 'immediateFiredAtToReceive'),
          ...figures(product.delayedLateness, 'delayedLateness'),
          ...figures(product.delayedReceiveLateness, 'delayedReceiveLateness'),
          ...figures(product.trackRoundTrip, 'nudgeTrackRoundTrip'),
          ...figures(product.sendLag, 'generatorSendLag'),
          ...figures(floors.roundTrip, 'floorTrivialRoundTrip'),
          ...figures(floors.commit, 'floorCommit'),
          ...figures(floors.wsDelivery, 'floorWsDelivery'),
          floorsImmediateP99SumMs: floorsImmediate,
          floorTimerPollMs: pollMs,
          sentFraction: product.sent / product.offered,
          nudgeCpuMsPerEventSent: (nudgeCpuSec * 1000) / Math.max(1, product.sent),
          nudgeCpuShareOfClientRun: nudgeCpuSec / wallSec,
          timersStillDueAfterSettle: stillDue,
          nudgeRssMB: nudge.rssBytes() / 1e6,
        };
      };

      if (sizes.warmupSec > 0) {
        await measure('warmup', sizes.warmupSec);
        tally = new FiringTally(); // the warm-up's counts are not the measurement's
      }
      const samples: Sample[] = [];
      for (let run = 1; run <= options.runs; run++) {
        samples.push(await measure(`run${run}`, sizes.runSec));
      }
      const m = medianSample(samples);
      return {
        rows: [
          goalRow(
            {
              id: 'B3 immediate',
              metric: 'event → triggerFired p99 (ms)',
              product: m.immediateP99Ms,
              baseline: m.floorsImmediateP99SumMs,
              baselineName:
                'sum of measured p99 floors: trivial mutation round trip + PG single-row commit + plain graphql-ws delivery',
              better: 'lower',
              goal: 'p99 ≤ 25 ms; 0 lost, 0 duplicate',
            },
            () => m.immediateP99Ms <= 25 && tally.clean,
          ),
          goalRow(
            {
              id: 'B3 delayed',
              metric: 'triggerFired lateness p99 (ms, firedAt − due)',
              product: m.delayedLatenessP99Ms,
              baseline: pollMs,
              baselineName: 'the timer poll interval Nudge runs with',
              better: 'lower',
              goal: 'p99 ≤ 10 ms; 0 lost, 0 duplicate',
            },
            () => m.delayedLatenessP99Ms <= 10 && tally.clean,
          ),
        ],
        figures: {
          ...m,
          offeredEvents: tally.offered,
          sentEvents: tally.sent,
          saturatedRuns: tally.saturatedRuns,
          expectedFirings: tally.expected,
          receivedFirings: tally.received,
          missingFirings: tally.missing,
          runsStartedInDb: tally.startedInDb,
          duplicateFirings: tally.duplicates,
          misroutedFirings: tally.misrouted,
          unexpectedFirings: tally.unexpected,
          failedTracks: tally.failedTracks,
        },
        notes: notesOf(sizes, options, pollMs, tally),
      };
    } finally {
      await Promise.allSettled([
        started.nudge?.stop(),
        started.trivial?.stop(),
        started.plainWs?.stop(),
      ]);
    }
  },
};

function notesOf(sizes: Sizes, options: BenchOptions, pollMs: number, tally: FiringTally) {
  const n = (v: number) => v.toLocaleString('en-US');
  const events = Math.round(sizes.ratePerSec * sizes.runSec);
  return [
    `${n(sizes.ratePerSec)} track/s open loop for ${sizes.runSec} s (${n(events)} events) per ` +
      'run, ' +
      (sizes.warmupSec ? `one ${sizes.warmupSec} s warm-up discarded, ` : 'no warm-up, ') +
      `${options.runs} run(s), medians; ${TENANTS} tenants, one graphql-ws subscriber each; ` +
      'events alternate between the immediate and the delayed trigger and between tenants; ' +
      'each event has its own customer (pre-created by SQL, no email address, so each step ends ' +
      'SUPPRESSED without a delivery attempt). The client stops sending when 2 s worth of ' +
      'requests are unanswered (the run is then SATURATED and fails its goals; figures cover ' +
      'what was sent).',
    'Immediate trigger: no `unless`, one EMAIL step with delay PT0S (a timer due at once). ' +
      'Delayed trigger: `unless: { event: "b3_never", within: "PT1S" }` and one EMAIL step PT0S ' +
      'after the deadline: triggerFired is announced when the run becomes active, so the ' +
      'absence window (not a delayed first step) is what delays the firing. Delayed lateness is ' +
      'the payload’s `firedAt` (the engine clock when the deadline timer is processed, ms ' +
      'resolution) − (occurredAt + 1 s); receive time − due is reported too. Breakdown of the ' +
      'immediate path: send → `firedAt` (request start inside Nudge) and `firedAt` → receive ' +
      '(transaction, commit, Redis publish, graphql-ws delivery).',
    `Over all measured runs: ${n(tally.sent)} of ${n(tally.offered)} events sent ` +
      `(${tally.saturatedRuns} saturated run(s)), ${tally.failedTracks} failed track calls; ` +
      `${n(tally.received)} firings received for ${n(tally.expected)} accepted events; ` +
      `${tally.missing} missing (not received within ${sizes.drainTimeoutMs / 1000} s after the ` +
      `last send + 1 s: lost, or only late), ${tally.duplicates} duplicate, ${tally.misrouted} ` +
      'misrouted. After each run the workload waits until Nudge has no timer due (up to ' +
      `${sizes.settleTimeoutMs / 1000} s) and counts the runs started in PostgreSQL ` +
      `(enrollments with activated_at): ${n(tally.startedInDb)} — so missing firings that ` +
      'were started there were late, not lost by the engine. The goals count missing as failed.',
    'Pinning: Nudge, the trivial server and the plain graphql-ws server each run pinned to core ' +
      '0 (idle ones only poll timers or wait); the client (keep-alive http.Agent up to 256 ' +
      'sockets + subscribers), the commit floor and the fan-out client run pinned to core 1; ' +
      'PostgreSQL and Redis are not pinned and share both cores. Nudge CPU share = its CPU ' +
      'seconds / wall seconds of the client run (well under 1 while saturated means it waited, ' +
      'or was starved of core 0 by other processes).',
    `Floors, measured after each product run: (a) the same track bodies open loop at ` +
      `${sizes.ratePerSec}/s for ${sizes.floorSec} s to bench/lib/trivial-graphql-server.ts ` +
      `(Nudge’s startHttpServer, counting schema); (b) ${sizes.commitFloorCount} sequential ` +
      'single-row INSERT commits from `pg` (synchronous_commit=on); (c) NUDGE_TIMER_POLL_MS = ' +
      `${pollMs} (Nudge’s configured value; the runner's NUDGE_TIMER_POLL_MS is passed ` +
      `through); (d) bench/lib/plain-graphql-ws-server.ts, 1 subscriber, ${sizes.ratePerSec} ` +
      'firings/s published on Redis like Nudge’s bus. Immediate floor = (a)+(b)+(d) p99s; ' +
      'delayed floor = (c).' +
      (options.quick ? ' Quick mode runs (a), (b) and (d) at once to save time.' : ''),
    'Figures measured on a shared 2-core VM while other work may run: noisy (±25 % or more).',
  ];
}

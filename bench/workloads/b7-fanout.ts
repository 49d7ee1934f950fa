import { goalRow, medianSample, type Sample, type Workload } from '../lib/workload';
import { startNudgeProcess, type NudgeProcess } from '../lib/nudge-process';
import {
  startPlainGraphqlWsProcess,
  type PlainGraphqlWsProcess,
} from '../lib/plain-graphql-ws-process';
import {
  runFanoutClient,
  type FanoutPhase,
  type FanoutPhaseResult,
} from '../lib/fanout-client-runs';

/**
 * B7 — `triggerFired` fan-out. A client process pinned to core 1 opens graphql-ws
 * subscriptions and publishes firings on the server's Redis channel at a fixed rate; the
 * server, pinned to core 0, delivers each to every subscriber. Phases: (a) 1 subscriber ×
 * 1,000 firings/s; (b) 1,000 subscribers of one tenant × 5 firings/s; (b, saturation) the same
 * 1,000 subscribers offered more than either server can deliver, for deliveries/s; (c) 10,000
 * idle subscribers, for the server's resident memory per subscriber.
 *
 * Nudge gets its firings on its own bus channel (`<prefix>:bus:trigger-fired`), published in
 * the engine's `Firing` format exactly as `EffectsApplier` → `RedisBus.publish` sends them: this
 * measures the fan-out path only (bus subscriber → pub/sub topic → subscription resolver →
 * graphql-ws → socket), not ingestion or timers (B3 measures the whole path). The baseline is
 * the plain graphql-ws + graphql-js server of BASELINES §1d (`plain-graphql-ws-server.ts`), fed
 * the same messages through its own Redis channel, with the same client and pinning.
 */

interface Sizes {
  a: { ratePerSec: number; seconds: number };
  b: { subscribers: number; ratePerSec: number; seconds: number };
  saturation: { ratePerSec: number; seconds: number };
  idle: { subscribers: number; settleMs: number };
  warmup: boolean;
}

const FULL: Sizes = {
  a: { ratePerSec: 1000, seconds: 10 },
  b: { subscribers: 1000, ratePerSec: 5, seconds: 10 },
  saturation: { ratePerSec: 40, seconds: 2 },
  idle: { subscribers: 10_000, settleMs: 2000 },
  warmup: true,
};
const QUICK: Sizes = {
  a: { ratePerSec: 100, seconds: 1 },
  b: { subscribers: 50, ratePerSec: 5, seconds: 1 },
  saturation: { ratePerSec: 100, seconds: 0.5 },
  idle: { subscribers: 1000, settleMs: 300 },
  warmup: false,
};

function deliveryPhases(sizes: Sizes, warmup: boolean): FanoutPhase[] {
  const deliver = (
    name: string,
    subscribers: number,
    ratePerSec: number,
    seconds: number,
    drainTimeoutMs: number,
  ): FanoutPhase => ({
    name,
    mode: 'deliver',
    subscribers,
    ratePerSec,
    firings: Math.max(1, Math.round(ratePerSec * seconds)),
    drainTimeoutMs,
  });
  const phases = [
    deliver('a', 1, sizes.a.ratePerSec, warmup ? 2 : sizes.a.seconds, 10_000),
    deliver('b', sizes.b.subscribers, sizes.b.ratePerSec, warmup ? 2 : sizes.b.seconds, 10_000),
  ];
  if (warmup) return phases;
  const { ratePerSec, seconds } = sizes.saturation;
  return [...phases, deliver('saturation', sizes.b.subscribers, ratePerSec, seconds, 90_000)];
}

interface Servers {
  nudge: NudgeProcess;
  plain: PlainGraphqlWsProcess;
}

async function startServers(
  options: Parameters<Workload['run']>[0],
  started: Partial<Servers>,
): Promise<Servers> {
  const results = await Promise.allSettled([
    startNudgeProcess({ ...options, label: 'b7' }).then((p) => (started.nudge = p)),
    startPlainGraphqlWsProcess({ ...options }).then((p) => (started.plain = p)),
  ]);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return started as Servers;
}

/** Named figures of one server's delivery phases (`prefix` = nudge / plain). */
function deliveryFigures(prefix: string, phases: FanoutPhaseResult[]): Sample {
  const byName = new Map(phases.map((p) => [p.name, p]));
  const a = byName.get('a')!;
  const b = byName.get('b')!;
  const saturation = byName.get('saturation')!;
  return {
    [`${prefix}AP50Ms`]: a.latency.p50,
    [`${prefix}AP99Ms`]: a.latency.p99,
    [`${prefix}AMaxMs`]: a.latency.max,
    [`${prefix}BP50Ms`]: b.latency.p50,
    [`${prefix}BP99Ms`]: b.latency.p99,
    [`${prefix}BMaxMs`]: b.latency.max,
    [`${prefix}BDeliveriesPerSec`]: b.deliveriesPerSec,
    [`${prefix}SaturationDeliveriesPerSec`]: saturation.deliveriesPerSec,
    [`${prefix}SaturationP99Ms`]: saturation.latency.p99,
  };
}

/** Named figures of one server's idle phase. */
function idleFigures(prefix: string, idle: FanoutPhaseResult): Sample {
  return {
    [`${prefix}IdleKBPerSubscriber`]:
      (idle.serverRssAfterBytes - idle.serverRssBeforeBytes) / idle.subscribers / 1000,
    [`${prefix}FreshRssMB`]: idle.serverRssBeforeBytes / 1e6,
    [`${prefix}IdleRssMB`]: idle.serverRssAfterBytes / 1e6,
    [`${prefix}IdleOpenSec`]: idle.openMs / 1000,
  };
}

interface DeliveryCheck {
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  closedEarly: number;
}

function addCheck(check: DeliveryCheck, phases: FanoutPhaseResult[]): void {
  for (const p of phases) {
    check.expected += p.expected;
    check.delivered += p.delivered;
    check.lost += p.lost;
    check.duplicates += p.duplicates;
    check.unexpected += p.unexpected;
    check.closedEarly += p.closedEarly;
  }
}

const newCheck = (): DeliveryCheck => ({
  expected: 0,
  delivered: 0,
  lost: 0,
  duplicates: 0,
  unexpected: 0,
  closedEarly: 0,
});

/** A client run covers several phases, each bounded by its own drain timeout. */
const CLIENT_TIMEOUT_MS = 600_000;

const isClean = (c: DeliveryCheck) =>
  c.lost === 0 && c.duplicates === 0 && c.unexpected === 0 && c.closedEarly === 0;

export const workload: Workload = {
  id: 'B7',
  title: 'triggerFired fan-out: 1 × 1,000/s, 1,000 × 5/s, 10,000 idle vs plain graphql-ws',
  async run(options) {
    const sizes = options.quick ? QUICK : FULL;
    const started: Partial<Servers> = {};
    try {
      const { nudge, plain } = await startServers(options, started);
      options.log(`Nudge pid ${nudge.pid} and plain graphql-ws pid ${plain.child.pid} on core 0`);
      const { tenantId, secret } = await nudge.createTenant('bench B7');

      const checks = { nudge: newCheck(), plain: newCheck() };
      /** The same phases from the client against Nudge, then against the baseline. */
      const runBoth = async (phases: FanoutPhase[]) => {
        const common = { redisUrl: options.redisUrl, tenantId, phases };
        const product = await runFanoutClient(
          {
            ...common,
            wsUrl: nudge.graphqlUrl.replace(/^http/, 'ws'),
            authorization: `Bearer ${secret}`,
            channel: `${nudge.redisPrefix}:bus:trigger-fired`,
            serverPid: nudge.pid,
          },
          options.workDir,
          CLIENT_TIMEOUT_MS,
        );
        const baseline = await runFanoutClient(
          {
            ...common,
            wsUrl: plain.wsUrl,
            authorization: null,
            channel: plain.channel,
            serverPid: plain.child.pid,
          },
          options.workDir,
          CLIENT_TIMEOUT_MS,
        );
        for (const p of [...product, ...baseline]) {
          if (p.problems.length) options.log(`${p.name}: ${p.problems.join('; ')}`);
        }
        return { product, baseline };
      };

      // (c) goes first, on the freshly started servers: later phases leave freed heap behind
      // that new sockets would reuse, hiding part of their memory from the RSS delta. It
      // shares a client run with the warm-up (or, without one, with the first run).
      const idlePhase: FanoutPhase = {
        name: 'idle',
        mode: 'idle',
        subscribers: sizes.idle.subscribers,
        settleMs: sizes.idle.settleMs,
      };
      let idle: { product: FanoutPhaseResult; baseline: FanoutPhaseResult } | null = null;
      const measure = async (tag: string, warmup: boolean): Promise<Sample> => {
        const phases = deliveryPhases(sizes, warmup);
        const ran = await runBoth(idle ? phases : [idlePhase, ...phases]);
        if (!idle) {
          idle = { product: ran.product.shift()!, baseline: ran.baseline.shift()! };
          checks.nudge.closedEarly += idle.product.closedEarly;
          checks.plain.closedEarly += idle.baseline.closedEarly;
          options.log(
            `idle: ${describe('Nudge', [idle.product])}; ${describe('plain', [idle.baseline])}`,
          );
        }
        const { product, baseline } = ran;
        options.log(`${tag}: ${describe('Nudge', product)}; ${describe('plain', baseline)}`);
        if (warmup) return {};
        addCheck(checks.nudge, product);
        addCheck(checks.plain, baseline);
        return { ...deliveryFigures('nudge', product), ...deliveryFigures('plain', baseline) };
      };

      if (sizes.warmup) await measure('warmup', true);
      const samples: Sample[] = [];
      for (let run = 1; run <= options.runs; run++) samples.push(await measure(`run${run}`, false));
      const fresh = idle!;
      const m = {
        ...medianSample(samples),
        ...idleFigures('nudge', fresh.product),
        ...idleFigures('plain', fresh.baseline),
      };
      const clean = isClean(checks.nudge);
      const bSubs = sizes.b.subscribers.toLocaleString('en-US');

      return {
        rows: [
          goalRow(
            {
              id: 'B7 (a)',
              metric: `1 subscriber × ${sizes.a.ratePerSec.toLocaleString('en-US')} firings/s: delivery p99 (ms)`,
              product: m.nudgeAP99Ms,
              baseline: m.plainAP99Ms,
              baselineName: 'plain graphql-ws + graphql-js server, same client and pinning',
              better: 'lower',
              goal: 'p99 ≤ 10 ms; delivered = expected',
            },
            () => m.nudgeAP99Ms <= 10 && clean,
          ),
          goalRow(
            {
              id: 'B7 (b) latency',
              metric: `${bSubs} subscribers × ${sizes.b.ratePerSec} firings/s: delivery p99 (ms)`,
              product: m.nudgeBP99Ms,
              baseline: m.plainBP99Ms,
              baselineName: 'plain graphql-ws + graphql-js server, same client and pinning',
              better: 'lower',
              goal: 'p99 ≤ 100 ms; delivered = expected',
            },
            () => m.nudgeBP99Ms <= 100 && clean,
          ),
          goalRow(
            {
              id: 'B7 (b) throughput',
              metric: `${bSubs} subscribers, offered more than either serves: deliveries/s`,
              product: m.nudgeSaturationDeliveriesPerSec,
              baseline: m.plainSaturationDeliveriesPerSec,
              baselineName: 'plain graphql-ws + graphql-js server, same client and pinning',
              better: 'higher',
              goal: '≥ 1× (stretch 2×)',
            },
            (ratio) => ratio >= 1 && clean,
          ),
          goalRow(
            {
              id: 'B7 (c)',
              metric: `${sizes.idle.subscribers.toLocaleString('en-US')} idle subscribers: server RSS per subscriber (KB)`,
              product: m.nudgeIdleKBPerSubscriber,
              baseline: m.plainIdleKBPerSubscriber,
              baselineName: 'plain graphql-ws + graphql-js server, same client and pinning',
              better: 'lower',
              goal: '≤ 50 KB per subscriber',
            },
            () => m.nudgeIdleKBPerSubscriber <= 50 && clean,
          ),
        ],
        figures: {
          ...m,
          nudgeExpectedDeliveries: checks.nudge.expected,
          nudgeDelivered: checks.nudge.delivered,
          nudgeLost: checks.nudge.lost,
          nudgeDuplicates: checks.nudge.duplicates,
          nudgeUnexpected: checks.nudge.unexpected,
          nudgeClosedEarly: checks.nudge.closedEarly,
          plainExpectedDeliveries: checks.plain.expected,
          plainDelivered: checks.plain.delivered,
          plainLost: checks.plain.lost,
          plainDuplicates: checks.plain.duplicates,
        },
        notes: notesOf(sizes, options.runs, checks),
      };
    } finally {
      await Promise.allSettled([started.nudge?.stop(), started.plain?.stop()]);
    }
  },
};

function describe(server: string, phases: FanoutPhaseResult[]): string {
  return (
    `${server} ` +
    phases
      .map((p) =>
        p.expected > 0
          ? `${p.name} p50/p99 ${p.latency.p50.toFixed(1)}/${p.latency.p99.toFixed(1)} ms ` +
            `${Math.round(p.deliveriesPerSec)}/s ${p.delivered}/${p.expected}`
          : `${p.name} ${((p.serverRssAfterBytes - p.serverRssBeforeBytes) / p.subscribers / 1000).toFixed(1)} KB/sub`,
      )
      .join(', ')
  );
}

function notesOf(
  sizes: Sizes,
  runs: number,
  checks: { nudge: DeliveryCheck; plain: DeliveryCheck },
): string[] {
  const n = (v: number) => v.toLocaleString('en-US');
  return [
    `(c) first, once, on the freshly started servers: ${n(sizes.idle.subscribers)} idle ` +
      `subscribers (opened 200 at a time); server RSS read ${sizes.idle.settleMs} ms before ` +
      `opening and ${sizes.idle.settleMs} ms after all are live, delta / count (on fresh servers, so no ` +
      'freed heap from earlier phases hides the sockets’ memory; one sample, not a median). ' +
      'Then per run, each phase with its own sockets, every subscription proven live by a ' +
      `probe before measuring: (a) 1 subscriber, ${n(sizes.a.ratePerSec)} firings/s for ` +
      `${sizes.a.seconds} s; (b) ${n(sizes.b.subscribers)} subscribers of one tenant, ` +
      `${sizes.b.ratePerSec} firings/s for ${sizes.b.seconds} s; (b, saturation) the same ` +
      `${n(sizes.b.subscribers)} subscribers offered ${sizes.saturation.ratePerSec} firings/s ` +
      `for ${sizes.saturation.seconds} s (${n(sizes.b.subscribers * sizes.saturation.ratePerSec)} ` +
      'deliveries/s, more than either server delivers), deliveries/s = delivered / (last ' +
      'receive − first publish). ' +
      (sizes.warmup ? 'One short warm-up of (a) and (b) discarded; ' : 'No warm-up; ') +
      `${runs} run(s), medians; Nudge then the baseline in each run.`,
    'Firings for Nudge are published on its Redis bus channel `<prefix>:bus:trigger-fired` in ' +
      'the engine’s `Firing` JSON, exactly as EffectsApplier → RedisBus.publish sends them: ' +
      'this measures the fan-out path only (bus subscriber → pub/sub topic → type-graphql ' +
      'subscription resolver → graphql-ws), not ingestion or timers (B3 does). The baseline ' +
      '(bench/lib/plain-graphql-ws-server.ts: ws + graphql-ws useServer + graphql-js, same ' +
      'TriggerFiring selection types, one push queue per subscriber) gets the same messages on ' +
      'its own Redis channel. Latency = client receive time − publish time (same machine ' +
      'clock). Nudge authenticates each connection (API key lookup); the baseline does not.',
    `Delivered = expected: Nudge ${n(checks.nudge.delivered)} of ${n(checks.nudge.expected)} ` +
      `(lost ${checks.nudge.lost}, duplicate ${checks.nudge.duplicates}, unexpected ` +
      `${checks.nudge.unexpected}, sockets closed early ${checks.nudge.closedEarly}); baseline ` +
      `${n(checks.plain.delivered)} of ${n(checks.plain.expected)} (lost ${checks.plain.lost}, ` +
      `duplicate ${checks.plain.duplicates}).`,
    'Pinning: Nudge and the baseline server each pinned to core 0 (the idle one waits); the ' +
      'client process (all subscribers and the Redis publisher) pinned to core 1; PostgreSQL ' +
      'and Redis not pinned. Figures measured on a shared 2-core VM: noisy.',
  ];
}

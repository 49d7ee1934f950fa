import { NudgeTimerBench, type NudgeTimerRun } from '../lib/nudge-timer-bench';
import { formatNumber as fmt } from '../lib/report';
import { describeTimerProbe } from '../lib/timer-probe';
import {
  goalRow,
  medianSample,
  type BenchOptions,
  type GoalRow,
  type Sample,
  type Workload,
  type WorkloadResult,
} from '../lib/workload';

/**
 * B8, timer half: does timer accuracy hold as pending timers grow 10× and 100×? One Nudge
 * engine (core 0, NUDGE_TIMER_POLL_MS=5); pending STEP timers (due in a day) are added in
 * steps to 1×, 10× and 100×, and at each scale the same runs are measured:
 *
 * - accuracy: timers due at a rate the engine sustains (p99 lateness; the goal rows), and
 * - saturation: a burst at B4's rate (10 k/s) all due within a short window, bounded as in
 *   B4 (censored after `observeMs`): fires/s, to see whether throughput depends on the
 *   number pending.
 *
 * B4's own load (100 k due over 10 s) saturates the engine, so its p99 measures the backlog
 * (and, bounded, the cut-off), not the effect of pending timers; the accuracy runs do.
 */

interface Sizes {
  scales: number[];
  accuracy: { due: number; windowMs: number };
  saturation: { due: number; windowMs: number; observeMs: number } | null;
  warmUp: boolean;
}

function sizesFor(quick: boolean): Sizes {
  return quick
    ? {
        scales: [100, 1_000, 10_000],
        accuracy: { due: 10, windowMs: 500 },
        saturation: null,
        warmUp: false,
      }
    : {
        scales: [10_000, 100_000, 1_000_000],
        accuracy: { due: 160, windowMs: 8_000 },
        saturation: { due: 20_000, windowMs: 2_000, observeMs: 5_000 },
        warmUp: true,
      };
}

export const workload: Workload = {
  id: 'B8 timers',
  title: 'Timer linearity: accuracy at 1×, 10× and 100× pending timers',
  run,
};

async function run(options: BenchOptions): Promise<WorkloadResult> {
  const sizes = sizesFor(options.quick);
  const { log } = options;
  const nudge = new NudgeTimerBench({
    postgresUrl: options.postgresUrl,
    redisUrl: options.redisUrl,
    workDir: options.workDir,
    label: 'b8',
    pollMs: 5,
    customers: options.quick ? 100 : 10_000,
  });
  const figures: Record<string, number> = {};
  const notes: string[] = [];
  try {
    await nudge.start();
    const measure = async (): Promise<Sample> => {
      const { due, windowMs } = sizes.accuracy;
      const accuracy = await nudge.run(due, nudge.leadFor(due), windowMs, 30_000);
      const sample: Sample = samplePart('accuracy', accuracy);
      if (sizes.saturation) {
        const s = sizes.saturation;
        const burst = await nudge.run(s.due, nudge.leadFor(s.due), s.windowMs, s.observeMs);
        Object.assign(sample, samplePart('saturation', burst));
      }
      return sample;
    };

    let pending = 0;
    let seedMs = 0;
    for (const [i, scale] of sizes.scales.entries()) {
      log(`B8 timers: seeding up to ${scale} pending`);
      const started = Date.now();
      await nudge.preload(scale - pending);
      seedMs += Date.now() - started;
      pending = scale;
      if (i === 0 && sizes.warmUp) {
        log('B8 timers: warm-up');
        await measure();
      }
      const samples: Sample[] = [];
      for (let run = 0; run < options.runs; run++) {
        log(`B8 timers: ${scale} pending, run ${run + 1} of ${options.runs}`);
        samples.push(await measure());
      }
      const median = medianSample(samples);
      for (const [key, value] of Object.entries(median)) figures[`x${10 ** i}${key}`] = value;
      notes.push(describeScale(scale, 10 ** i, median));
    }
    figures.seedMs = seedMs;
    notes.unshift(
      `Pending timers at 1×/10×/100×: ${sizes.scales.join(' / ')} (seeded cumulatively, ` +
        `${fmt(seedMs / 1000)} s in all: SQL insert of enrollments and timers, then ZADD). ` +
        `Accuracy runs: ${sizes.accuracy.due} timers over ${sizes.accuracy.windowMs / 1000} s.` +
        (sizes.saturation
          ? ` Saturation runs: ${sizes.saturation.due} timers over ` +
            `${sizes.saturation.windowMs / 1000} s, cut off ${sizes.saturation.observeMs / 1000} s ` +
            `after the window.`
          : ''),
      `100× is ${fmt(sizes.scales[2])} pending here (the brief's example is 10 M): seeding ` +
        `took about ${fmt((seedMs / pending) * 1e4)} ms per 10 k timers, so 10 M would take ` +
        `about ${fmt(((seedMs / pending) * 1e7) / 60_000)} min; B4 runs its burst with 1 M pending.`,
      `Pinning: the engine on core 0, the webhook receiver on core 1; PostgreSQL and Redis unpinned.`,
    );
    notes.push(...nudge.engineLabels().flatMap(describeTimerProbe));
    return { rows: rowsOf(figures, sizes.scales), figures, notes };
  } finally {
    await nudge.stop();
  }
}

function samplePart(prefix: string, r: NudgeTimerRun): Sample {
  return {
    [`${prefix}P50Ms`]: r.p50,
    [`${prefix}P99Ms`]: r.p99,
    [`${prefix}MaxMs`]: r.max,
    [`${prefix}FiresPerSec`]: r.firesPerSec,
    [`${prefix}Censored`]: r.censored,
    [`${prefix}Problems`]: r.addedAfterDue + r.lost + r.duplicates,
  };
}

function rowsOf(f: Record<string, number>, scales: number[]): GoalRow[] {
  return [1, 2].map((index) => {
    const factor = 10 ** index;
    return goalRow(
      {
        id: `B8 timers ${factor}×`,
        metric: `p99 lateness ms at ${fmt(scales[index])} pending`,
        product: f[`x${factor}accuracyP99Ms`],
        baseline: f.x1accuracyP99Ms,
        baselineName: `the same runs at ${fmt(scales[0])} pending (1×)`,
        better: 'lower',
        goal: '≤ 2× the 1× run',
      },
      (ratio) =>
        ratio >= 0.5 &&
        f[`x${factor}accuracyProblems`] === 0 &&
        f[`x${factor}accuracyCensored`] === 0,
    );
  });
}

function describeScale(pending: number, factor: number, m: Sample): string {
  const accuracy =
    `${factor}× (${fmt(pending)} pending): accuracy p50/p99/max ${fmt(m.accuracyP50Ms)}/` +
    `${fmt(m.accuracyP99Ms)}/${fmt(m.accuracyMaxMs)} ms (censored ${m.accuracyCensored}, ` +
    `added after due + lost + duplicated ${m.accuracyProblems})`;
  if (m.saturationFiresPerSec === undefined) return `${accuracy}.`;
  return (
    `${accuracy}; saturated ${fmt(m.saturationFiresPerSec)} fires/s, p99 ≥ ` +
    `${fmt(m.saturationP99Ms)} ms (censored ${fmt(m.saturationCensored)}, problems ` +
    `${m.saturationProblems}).`
  );
}

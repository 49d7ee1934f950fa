import path from 'node:path';
import { Client } from 'pg';
import { createClient } from 'redis';
import { shardOf } from '../../src/engine/timers/timer-index';
import { timerKeys } from '../../src/engine/timers/timer-keys';
import { startNudgeProcess, type NudgeProcess } from './nudge-process';
import { cpuSecondsOf, spawnPinned, type PinnedChild } from './pinned-child';
import { startTimerEngine, type TimerEngine } from './timer-engine';
import { timerProbeEnv } from './timer-probe';
import { checkFires, fireTimes, summarise, type LatenessSummary } from './timer-fires';
import {
  prepareTimerTenant,
  seedStepTimers,
  type SeededTimers,
  type TimerSeedSpec,
  type TimerTenant,
} from './timer-seed';

/**
 * Nudge as the timer system under test (B4, B5, B8): one engine process (`NUDGE_ROLE=all`,
 * pinned to core 0) on a fresh database, the tenant's webhook receiver pinned to core 1, and
 * STEP timers seeded in bulk (`timer-seed.ts`). `run` seeds timers due in a window, waits
 * until every one has fired and its webhook went out, and reads lateness back from
 * PostgreSQL (`timer-fires.ts`).
 *
 * Runs are bounded: a timer still pending `observeMs` after the window closed is cancelled
 * by the bench (state CANCELLED, removed from the index, as `cancelTimers` does) and counted
 * as *censored*: its lateness enters the figures as (cut-off − due), a lower bound, so a
 * censored run's percentiles are lower bounds too. Nothing is lost silently: every seeded
 * timer ends DONE with exactly one message, or censored.
 */

export interface NudgeTimerRun extends LatenessSummary {
  fired: number;
  censored: number;
  /** Webhook send time − due (messages.sent_at − due_at) of fired timers, ms. */
  deliveredP50: number;
  deliveredP99: number;
  addedAfterDue: number;
  /** Last fire (or the cut-off) − window start, ms. */
  spanMs: number;
  firesPerSec: number;
  /** Fired timers whose message is missing, and webhook deliveries received twice. */
  lost: number;
  duplicates: number;
  /**
   * Engine CPU time over wall time from the window's start until the last fire (or the
   * cut-off): near 1 means the engine's core was the limit, well below 1 means it waited
   * (on PostgreSQL, Redis, or its own poll sleep). Includes deliveries running meanwhile.
   */
  engineBusy: number;
  /** Engine CPU ms in that span per fired timer (deliveries included). */
  engineCpuMsPerFire: number;
  /** Time to insert the window's rows into PostgreSQL and to index them in Redis, ms. */
  insertMs: number;
  indexMs: number;
}

type BenchRedis = ReturnType<typeof createClient>;

/**
 * Engine settings of every timer run: API and timer worker in one process, and webhooks
 * allowed to the bench's receiver on loopback (production refuses non-public targets).
 */
const ENGINE_ENV = { NUDGE_ROLE: 'all', NUDGE_OUTBOUND_PRIVATE: 'allow' };

export interface NudgeTimerBenchOptions {
  postgresUrl: string;
  redisUrl: string;
  workDir: string;
  label: string;
  /** NUDGE_TIMER_POLL_MS for the engine. */
  pollMs: number;
  customers: number;
}

export class NudgeTimerBench {
  nudge!: NudgeProcess;
  db!: Client;
  tenant!: TimerTenant;
  /** The engine now running when it was restarted (else `nudge.child` is). */
  private engine: TimerEngine | null = null;
  private restarts = 0;
  private sink!: PinnedChild;
  private sinkUrl = '';

  constructor(private readonly options: NudgeTimerBenchOptions) {}

  /** Seeding cost seen so far, ms per timer (PostgreSQL insert plus Redis index). */
  private seedMsPerTimer = 0.06;

  /**
   * How long before the first due time seeding `count` timers should start (ms): 1.5× what
   * seeding that many took last time, plus 0.7 s (PostgreSQL slows down as tables grow and
   * when other work shares the machine).
   */
  leadFor(count: number): number {
    return Math.round(700 + 1.5 * count * this.seedMsPerTimer);
  }

  private async seed(spec: TimerSeedSpec): Promise<SeededTimers> {
    const seeded = await seedStepTimers(this.db, this.options.redisUrl, this.tenant, spec);
    if (seeded.count >= 1_000) {
      this.seedMsPerTimer = (seeded.insertMs + seeded.indexMs) / seeded.count;
    }
    return seeded;
  }

  /**
   * Stops the engine and starts another on the same database and index (it rebuilds the
   * index from PostgreSQL before it answers); returns its start-up time in ms.
   */
  async restartEngine(pollMs: number): Promise<number> {
    await (this.engine ? this.engine.stop() : this.nudge.child.stop());
    const label = `${this.options.label}_r${++this.restarts}`;
    this.engine = await startTimerEngine(this.nudge, {
      redisUrl: this.options.redisUrl,
      workDir: this.options.workDir,
      label,
      env: { ...ENGINE_ENV, NUDGE_TIMER_POLL_MS: String(pollMs), ...timerProbeEnv(label) },
    });
    return this.engine.startMs;
  }

  private enginePid(): number {
    return this.engine ? this.engine.child.pid : this.nudge.pid;
  }

  /** Resident set size of the running engine, bytes. */
  engineRssBytes(): number {
    return this.engine ? this.engine.rssBytes() : this.nudge.rssBytes();
  }

  /** Labels of every engine started so far (for `describeTimerProbe`). */
  engineLabels(): string[] {
    const labels = [this.options.label];
    for (let i = 1; i <= this.restarts; i++) labels.push(`${this.options.label}_r${i}`);
    return labels;
  }

  async start(): Promise<void> {
    const { options } = this;
    this.sink = spawnPinned({
      core: 1,
      script: 'bench/children/webhook-sink.ts',
      logFile: path.join(options.workDir, 'webhook-sink.log'),
    });
    const { port } = await this.sink.nextJson<{ port: number }>(30_000);
    this.sinkUrl = `http://127.0.0.1:${port}`;
    this.nudge = await startNudgeProcess({
      postgresUrl: options.postgresUrl,
      redisUrl: options.redisUrl,
      workDir: options.workDir,
      label: options.label,
      env: {
        ...ENGINE_ENV,
        NUDGE_TIMER_POLL_MS: String(options.pollMs),
        ...timerProbeEnv(options.label),
      },
    });
    this.db = new Client({ connectionString: this.nudge.database.url });
    await this.db.connect();
    this.tenant = await prepareTimerTenant(this.nudge, this.db, {
      webhookUrl: `${this.sinkUrl}/hook`,
      customers: options.customers,
    });
  }

  /** Adds `count` timers due about a day from now (they stay pending in every run). */
  async preload(count: number, skipIndex = false): Promise<SeededTimers | null> {
    if (count === 0) return null;
    return this.seed({
      count,
      windowStartMs: Date.now() + 86_400_000,
      windowMs: 3_600_000,
      skipIndex,
    });
  }

  /**
   * Seeds `count` timers due at random in [now + leadMs, + windowMs) and measures them.
   * `leadMs` must cover the seeding (see `addedAfterDue`).
   */
  async run(
    count: number,
    leadMs: number,
    windowMs: number,
    observeMs: number,
  ): Promise<NudgeTimerRun> {
    await fetch(`${this.sinkUrl}/reset`, { method: 'POST' });
    const windowStartMs = Date.now() + leadMs;
    const seeded = await this.seed({ count, windowStartMs, windowMs });
    const cutoffMs = windowStartMs + windowMs + observeMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowStartMs - Date.now())));
    const cpuAtStart = cpuSecondsOf(this.enginePid());
    const wallAtStart = Date.now();
    let check = await checkFires(this.db, this.tenant, seeded);
    while (check.pending > 0 && Date.now() < cutoffMs) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      check = await checkFires(this.db, this.tenant, seeded);
    }
    const engineCpuMs = (cpuSecondsOf(this.enginePid()) - cpuAtStart) * 1000;
    const engineBusy = engineCpuMs / (Date.now() - wallAtStart);
    const censoredDue = check.pending > 0 ? await this.censor(seeded) : [];
    const stoppedAtMs = Date.now();
    // Deliveries run after commit: wait (bounded) until every fired timer's webhook went out.
    for (let waited = 0; waited < 120_000; waited += 250) {
      check = await checkFires(this.db, this.tenant, seeded);
      if (check.sent >= check.done) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const times = await fireTimes(this.db, this.tenant, seeded);
    const sink = (await (await fetch(`${this.sinkUrl}/stats`)).json()) as {
      received: number;
      duplicates: number;
    };

    const lateness = new Float64Array(seeded.count);
    let i = 0;
    for (const value of times.latenessValues) lateness[i++] = value;
    for (const dueMs of censoredDue) lateness[i++] = stoppedAtMs - dueMs;
    const summary = summarise(lateness.subarray(0, i));
    const spanMs = (censoredDue.length ? stoppedAtMs : times.lastFiredMs) - windowStartMs;
    return {
      ...summary,
      fired: check.done,
      censored: censoredDue.length,
      deliveredP50: times.deliveredLateness.p50,
      deliveredP99: times.deliveredLateness.p99,
      addedAfterDue: seeded.addedAfterDue,
      spanMs,
      firesPerSec: check.done / (Math.max(spanMs, windowMs) / 1000),
      engineBusy,
      engineCpuMsPerFire: engineCpuMs / Math.max(1, check.done),
      // A fired timer without its message, a seeded timer neither fired nor censored, or a
      // message marked SENT that the receiver never saw.
      lost:
        check.done -
        check.messages +
        (seeded.count - check.done - censoredDue.length) +
        Math.max(0, check.sent - (sink.received - sink.duplicates)),
      duplicates: sink.duplicates,
      insertMs: seeded.insertMs,
      indexMs: seeded.indexMs,
    };
  }

  /**
   * Cancels the seeded timers still pending (as `cancelTimers` does: state CANCELLED, then
   * removed from the index) and returns their due times. A timer the engine is firing at
   * this moment holds its row lock; the UPDATE waits and then skips it (no longer PENDING).
   */
  private async censor(seeded: SeededTimers): Promise<number[]> {
    const { rows } = await this.db.query<{ id: string; due_ms: number }>(
      `UPDATE timers SET state = 'CANCELLED'
       WHERE tenant_id = $1 AND kind = 'STEP' AND id BETWEEN $2 AND $3 AND state = 'PENDING'
       RETURNING id::text, extract(epoch FROM due_at)::float8 * 1000 AS due_ms`,
      [this.tenant.tenantId, seeded.firstId, seeded.lastId],
    );
    await this.withRedis(async (redis) => {
      for (let start = 0; start < rows.length; start += 1000) {
        const ids = rows.slice(start, start + 1000).map((r) => r.id);
        await redis.zRem(this.indexDueKey(), ids);
      }
    });
    return rows.map((r) => r.due_ms);
  }

  /**
   * Deletes every shard's due and lease set (DEL, freed at once), as if Redis had lost the
   * index; the next engine start rebuilds it from PostgreSQL.
   */
  async clearIndex(): Promise<void> {
    await this.withRedis(async (redis) => {
      const keys: string[] = [];
      for (let shard = 0; shard < this.tenant.shardCount; shard++) {
        const { due, lease } = timerKeys(this.tenant.redisPrefix, shard);
        keys.push(due, lease);
      }
      await redis.del(keys);
    });
  }

  private async withRedis<T>(use: (redis: BenchRedis) => Promise<T>): Promise<T> {
    const redis: BenchRedis = createClient({ url: this.options.redisUrl });
    redis.on('error', () => undefined);
    await redis.connect();
    try {
      return await use(redis);
    } finally {
      redis.destroy();
    }
  }

  /** The Redis key of the due set that holds the tenant's timers. */
  indexDueKey(): string {
    const shard = shardOf(this.tenant.tenantId, this.tenant.shardCount);
    return timerKeys(this.tenant.redisPrefix, shard).due;
  }

  /** Pending timers in the tenant's index shard right now (ZCARD of its due set). */
  async indexedCount(): Promise<number> {
    return this.withRedis((redis) => redis.zCard(this.indexDueKey()));
  }

  async stop(): Promise<void> {
    const problems: unknown[] = [];
    await this.db?.end().catch((err) => problems.push(err));
    await this.engine?.stop().catch((err) => problems.push(err));
    await this.nudge?.stop().catch((err) => problems.push(err));
    await this.sink?.stop().catch((err) => problems.push(err));
    if (problems.length > 0) throw problems[0];
  }
}

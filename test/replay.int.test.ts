import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_REPLAY_FILE,
  runReplay,
  runThreeStepReplay,
  type ReplaySummary,
} from '../scripts/replay';

const REPLAY_TIMEOUT_MS = 600_000;

/** The run's test servers (test/global-setup.ts), a Redis prefix of this file's own. */
function testEnvironment(): NodeJS.ProcessEnv {
  const databaseUrl = process.env.NUDGE_TEST_DATABASE_URL;
  if (!databaseUrl)
    throw new Error('NUDGE_TEST_DATABASE_URL is not set; run through jest (global-setup)');
  return {
    DATABASE_URL: databaseUrl,
    ...(process.env.NUDGE_TEST_REDIS_URL ? { REDIS_URL: process.env.NUDGE_TEST_REDIS_URL } : {}),
    NUDGE_OPERATOR_TOKEN: randomBytes(16).toString('hex'),
    NUDGE_REDIS_PREFIX: `t${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: process.env.NUDGE_TEST_LOG_LEVEL ?? 'silent',
  };
}

/** simulateTrigger over the same range must say what the live run did (both variants). */
function expectSimulationToAgreeWithLive(summary: ReplaySummary): void {
  expect(summary.simulation.fired).toBe(summary.messages.sent);
  expect(summary.simulation.entered).toBe(summary.enrollments.total);
  expect(summary.simulation.cancelled).toBe(summary.enrollments.byState.CANCELLED ?? 0);
  expect(summary.simulation.deferred).toBe(summary.messages.deferred);
  expect(summary.simulation.messages).toBe(summary.messages.sent);
}

describe('replay of the RetailRocket sample', () => {
  it(
    'sends exactly the reminders computed from the CSV, through the API and the SMTP sink',
    async () => {
      const summary = await runReplay({ file: DEFAULT_REPLAY_FILE, env: testEnvironment() });

      expect(summary.messages.sent).toBe(summary.expected.reminders);
      expect(summary.sink.forTenant).toBe(summary.expected.reminders);
      expect(summary.sink.received).toBe(summary.expected.reminders);
      expect(summary.reminderMismatches).toEqual([]);
      expect(summary.isMatch).toBe(true);

      expect(summary.events).toMatchObject({
        sent: 9385,
        accepted: 9382,
        duplicates: 3,
        rejected: 0,
      });
      expect(summary.enrollments.total).toBe(summary.expected.runs);
      expect(summary.enrollments.byState.CANCELLED).toBe(summary.expected.cancelled);
      expect(summary.messages.maxLatenessMs).toBe(0);
      // Pinned so that a change to the expectation itself is noticed, not just agreed with.
      expect(summary.expected).toEqual({ runs: 156, reminders: 121, cancelled: 35, deferred: 0 });
      // The dataset README's own figures (examples/data/README.md), defined per event/visitor.
      expect(summary.reference).toMatchObject({
        entryEvents: 263,
        abandonedEntryEvents: 217,
        visitorsWithAbandonedEntry: 114,
      });

      expectSimulationToAgreeWithLive(summary);
      // 263 add-to-carts, 2 of them exact duplicates stored once: 261 entries, of which 156
      // start a run and the other 105 move their visitor's waiting run.
      expect(summary.simulation).toMatchObject({
        entered: 156,
        reset: 105,
        cancelled: 35,
        fired: 121,
        messages: 121,
        deferred: 0,
      });
    },
    REPLAY_TIMEOUT_MS,
  );

  it(
    'keyed by item and held to office hours in Berlin, sends each reminder at the expected instant',
    async () => {
      const summary = await runReplay({
        file: DEFAULT_REPLAY_FILE,
        variant: 'keyed-windowed',
        env: testEnvironment(),
      });

      expect(summary.tenantTimezone).toBe('Europe/Berlin');
      expect(summary.events).toMatchObject({
        sent: 9385,
        accepted: 9382,
        duplicates: 3,
        rejected: 0,
      });
      // Pinned after an independent recount (Python, zoneinfo): 237 (visitor, item) runs; 38
      // cancelled by a transaction of their own item (7 of the reminded runs have a
      // transaction of another item in their window, which the basic rule would count);
      // of the 199 reminders only 6 have a deadline inside Mon-Fri 09:00-17:00 Berlin time.
      expect(summary.expected).toEqual({ runs: 237, reminders: 199, cancelled: 38, deferred: 193 });
      expect(summary.enrollments.total).toBe(237);
      expect(summary.enrollments.byState).toMatchObject({ COMPLETED: 199, CANCELLED: 38 });
      expect(summary.messages.sent).toBe(199);
      expect(summary.sink.forTenant).toBe(199);
      expect(summary.messages.deferred).toBe(193);
      expect(summary.sendMismatches).toEqual([]);
      expect(summary.reminderMismatches).toEqual([]);
      expect(summary.runMismatches).toEqual([]);
      expect(summary.messages.maxLatenessMs).toBe(0);
      expect(summary.isMatch).toBe(true);

      expectSimulationToAgreeWithLive(summary);
      // 261 stored add-to-carts: 237 start a run, 24 move the waiting run of the same item.
      expect(summary.simulation).toMatchObject({
        entered: 237,
        reset: 24,
        cancelled: 38,
        fired: 199,
        messages: 199,
        deferred: 193,
      });
    },
    REPLAY_TIMEOUT_MS,
  );
});

describe('replay of the three-step cart flow (email, SMS, push) on the RetailRocket sample', () => {
  it(
    'sends every step, and each channel peer received exactly what the service says it sent',
    async () => {
      const summary = await runThreeStepReplay({
        file: DEFAULT_REPLAY_FILE,
        env: testEnvironment(),
      });

      // The self-check: per step, sent = what the SMTP sink, SMS provider or push service got.
      expect(summary.isMatch).toBe(true);
      expect(summary.steps.map((s) => [s.index, s.channel])).toEqual([
        [0, 'EMAIL'],
        [1, 'SMS'],
        [2, 'PUSH'],
      ]);
      for (const step of summary.steps) {
        expect(step.sent).toBeGreaterThan(0);
        expect(step.peerReceived).toBe(step.sent);
        expect(step.pending).toBe(0);
      }
      expect(summary.peers).toMatchObject({
        smtpMails: summary.steps[0].sent,
        smsMessages: summary.steps[1].sent,
        pushDeliveries: summary.steps[2].sent,
      });
      expect(summary.events).toMatchObject({ sent: 9385, accepted: 9382, duplicates: 3 });

      // A person opened some emails (real pixel fetches), so their SMS was skipped.
      expect(summary.opens.pixelsFetched).toBeGreaterThan(0);
      expect(summary.steps[0].opened).toBe(summary.opens.pixelsFetched);
      expect(summary.steps[1].skippedByCondition).toBeGreaterThan(0);

      const suppressed = (reason: string) =>
        summary.steps.reduce((n, step) => n + (step.suppressed[reason] ?? 0), 0);
      expect(suppressed('NO_CONSENT')).toBeGreaterThan(0);
      expect(suppressed('INVALID_ADDRESS')).toBeGreaterThan(0);
      expect(suppressed('FREQUENCY_CAP')).toBeGreaterThan(0);
      // Email and push need no recorded grant; only SMS can be NO_CONSENT here.
      expect(summary.steps[0].suppressed.NO_CONSENT).toBeUndefined();
      expect(summary.steps[2].suppressed.NO_CONSENT).toBeUndefined();

      expect(summary.conversions.count).toBeGreaterThan(0);
      expect(summary.conversions.credited + summary.conversions.uncredited).toBe(
        summary.conversions.count,
      );
      expect(summary.conversions.medianTimeToConvertMs).toBeGreaterThanOrEqual(0);
    },
    REPLAY_TIMEOUT_MS,
  );
});

describe('replay of hand-made boundary histories', () => {
  const W = 2 * 3_600_000;
  const T = Date.UTC(2015, 5, 1, 12);
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nudge-replay-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  // visitor id -> its events; `a` = addtocart, `b` = transaction (file order as written).
  const histories: Record<string, Array<['a' | 'b', number]>> = {
    1: [
      ['a', T],
      ['b', T + W],
    ], // transaction at last + 2 h: cancelled
    2: [
      ['a', T],
      ['b', T + W + 1],
    ], // 1 ms later: reminded
    3: [
      ['a', T],
      ['a', T + W],
    ], // re-add at last + 2 h: a second run, two reminders
    4: [
      ['a', T],
      ['a', T + W - 1],
      ['b', T + 2 * W - 1],
    ], // joined; the moved deadline cancels
    5: [
      ['a', T],
      ['b', T + 60_000],
      ['a', T + 120_000],
    ], // a transaction splits the runs
    6: [
      ['a', T],
      ['b', T - 1],
    ], // a transaction before the add: reminded
    7: [
      ['b', T],
      ['a', T],
    ], // same instant, transaction first in the file: cancelled
    8: [
      ['a', T],
      ['a', T],
    ], // an exact duplicate row: one run, one reminder
  };

  function writeCsv(visitorIds = Object.keys(histories)): string {
    const lines = ['timestamp,visitorid,event,itemid,transactionid,datetime'];
    for (const [visitorId, events] of Object.entries(histories)) {
      if (!visitorIds.includes(visitorId)) continue;
      for (const [kind, ms] of events) {
        const event = kind === 'a' ? 'addtocart' : 'transaction';
        lines.push(`${ms},${visitorId},${event},100,${kind === 'b' ? '7.0' : ''},`);
      }
    }
    const file = path.join(dir, 'boundaries.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  it.each([
    ['the default batches', undefined],
    ['one event per batch', { maxEvents: 1, maxSpanMs: 0 }],
    ['one batch for everything', { maxEvents: 1000, maxSpanMs: 12 * 3_600_000 }],
  ])(
    'agrees with the expectation visitor by visitor, with %s',
    async (_name, batchLimits) => {
      const summary = await runReplay({ file: writeCsv(), env: testEnvironment(), batchLimits });

      expect(summary.expected).toMatchObject({ runs: 10, reminders: 6, cancelled: 4 });
      expect(summary.reminderMismatches).toEqual([]);
      expect(summary.runMismatches).toEqual([]);
      expect(summary.messages.sent).toBe(6);
      expect(summary.sink.forTenant).toBe(6);
      expect(summary.events.duplicates).toBe(1);
      expect(summary.isMatch).toBe(true); // the simulation agrees as well
    },
    REPLAY_TIMEOUT_MS,
  );

  it.each([
    ['the default batches', undefined],
    ['one event per batch', { maxEvents: 1, maxSpanMs: 0 }],
    ['one batch for everything', { maxEvents: 1000, maxSpanMs: 12 * 3_600_000 }],
  ])(
    'keyed and windowed, sends every reminder at the expected instant, with %s',
    async (_name, batchLimits) => {
      const summary = await runReplay({
        file: writeCsv(),
        variant: 'keyed-windowed',
        env: testEnvironment(),
        batchLimits,
      });

      // One item only, so the runs are the basic ones. T is Monday 14:00 in Berlin: every
      // deadline is inside the window but visitor 3's second (18:00), sent Tuesday 09:00.
      expect(summary.expected).toEqual({ runs: 10, reminders: 6, cancelled: 4, deferred: 1 });
      expect(summary.sendMismatches).toEqual([]);
      expect(summary.runMismatches).toEqual([]);
      expect(summary.messages.sent).toBe(6);
      expect(summary.messages.deferred).toBe(1);
      expect(summary.sink.forTenant).toBe(6);
      expect(summary.isMatch).toBe(true);
    },
    REPLAY_TIMEOUT_MS,
  );

  // A transaction stored just before an add-to-cart at the same instant: the live engine (and
  // the expectation) cancel the run at its deadline, because the transaction lies in
  // [last entry, deadline]; the simulator must check the window again at the deadline too.
  it(
    'simulateTrigger agrees with the live engine on a transaction stored just before an add',
    async () => {
      const summary = await runReplay({ file: writeCsv(['7']), env: testEnvironment() });

      expect(summary.enrollments.byState).toEqual({ CANCELLED: 1 });
      expect(summary.simulation).toMatchObject({ entered: 1, cancelled: 1, fired: 0 });
    },
    REPLAY_TIMEOUT_MS,
  );
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_REPLAY_FILE, runReplay } from '../scripts/replay';

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
      expect(summary.expected).toEqual({ runs: 156, reminders: 121, cancelled: 35 });
      // The dataset README's own figures (examples/data/README.md), defined per event/visitor.
      expect(summary.reference).toMatchObject({
        entryEvents: 263,
        abandonedEntryEvents: 217,
        visitorsWithAbandonedEntry: 114,
      });
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

  function writeCsv(): string {
    const lines = ['timestamp,visitorid,event,itemid,transactionid,datetime'];
    for (const [visitorId, events] of Object.entries(histories)) {
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
    },
    REPLAY_TIMEOUT_MS,
  );
});

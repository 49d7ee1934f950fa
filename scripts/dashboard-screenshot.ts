import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchChromium } from './lib/chromium';
import { DEFAULT_REPLAY_FILE, runThreeStepReplay } from './replay';
import type { ReplayLive } from './lib/three-step-replay';

const USAGE = `usage: npm run dashboard:screenshot -- [--out file.png] [events.csv]

Replays the three-step cart flow (npm run replay -- --variant three-step), then, while that
Nudge still runs, opens /dashboard in headless Chromium with the replay tenant's key, checks
that the page shows the replay summary's figures, and saves a screenshot (default
docs/images/dashboard.png). Exits 1 when a figure differs or the replay's own check fails.`;

/** The figures the page shows, read from its DOM (data-metric / data-col attributes). */
interface PageFigures {
  funnel: Record<string, number>;
  steps: Array<{ step: number; sent: number; opened: number; suppressed: number; failed: number }>;
}

const READ_PAGE = `(() => {
  const number = (text) => Number((text || '').replace(/[^0-9.-]/g, ''));
  const funnel = {};
  for (const el of document.querySelectorAll('#funnel [data-metric]')) {
    funnel[el.getAttribute('data-metric')] = number(el.textContent);
  }
  for (const el of document.querySelectorAll('#kpis [data-metric="failed"], #kpis [data-metric="suppressed"]')) {
    funnel[el.getAttribute('data-metric')] = number(el.textContent);
  }
  const steps = [...document.querySelectorAll('#steps tbody tr[data-step]')].map((row) => {
    const cell = (key) => number(row.querySelector('[data-col="' + key + '"]').textContent);
    return {
      step: Number(row.getAttribute('data-step')),
      sent: cell('sent'),
      opened: cell('opened'),
      suppressed: cell('suppressed'),
      failed: cell('failed'),
    };
  });
  return { funnel, steps };
})()`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const outAt = args.indexOf('--out');
  const out = path.resolve(outAt >= 0 ? args[outAt + 1] : 'docs/images/dashboard.png');
  const positional = args.filter((arg, i) => !arg.startsWith('--') && args[i - 1] !== '--out');
  const file = positional[0] ? path.resolve(positional[0]) : DEFAULT_REPLAY_FILE;

  let differences: string[] = [];
  const summary = await runThreeStepReplay({
    file,
    onProgress: (line) => process.stderr.write(`${line}\n`),
    beforeStop: async (live) => {
      differences = await captureDashboard(live, out);
    },
  });

  process.stdout.write(`screenshot: ${path.relative(process.cwd(), out)}\n`);
  if (!summary.isMatch) differences.push('the replay summary failed its own check');
  if (differences.length > 0) {
    process.stdout.write(`MISMATCH\n${differences.map((d) => `  ${d}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

/** Opens the dashboard as the replay tenant, compares its figures, saves the screenshot. */
async function captureDashboard(live: ReplayLive, out: string): Promise<string[]> {
  const browser = await launchChromium({ width: 1360, height: 860 });
  try {
    const page = await browser.context.newPage();
    await page.goto(live.url.replace(/\/graphql$/, '/dashboard'));
    await page.fill('#api-key', live.secret);
    await page.click('#sign-in-button');
    await page.waitForSelector('#funnel [data-metric="entries"]', { timeout: 30_000 });
    await page.waitForSelector('#steps tbody tr', { timeout: 30_000 });
    await page.waitForSelector('#experiments > *', { timeout: 30_000 });
    // Let the "changed" highlight of the first update fade before the picture.
    await page.waitForTimeout(3000);
    const shown = (await page.evaluate(READ_PAGE)) as PageFigures;

    mkdirSync(path.dirname(out), { recursive: true });
    await page.screenshot({ path: out, fullPage: true });
    return compare(live.summary, shown);
  } finally {
    await browser.close();
  }
}

/** Every figure the replay summary and the page both have, side by side. */
function compare(summary: ReplayLive['summary'], shown: PageFigures): string[] {
  const rows: Array<[string, number, number]> = [
    ['entries (runs)', summary.enrollments.total, shown.funnel.entries],
    ['conversions', summary.conversions.count, shown.funnel.conversions],
    ['sent, all steps', sum(summary.steps.map((s) => s.sent)), shown.funnel.sent],
    ['opened, all steps', sum(summary.steps.map((s) => s.opened)), shown.funnel.opened],
  ];
  // The replay's own triggerMetrics read (its check ties them to messages and enrollments).
  const totals = summary.metrics.totals;
  for (const key of FUNNEL_KEYS) rows.push([`metrics ${key}`, totals[key], shown.funnel[key]]);
  for (const step of summary.steps) {
    const onPage = shown.steps.filter((s) => s.step === step.index);
    const label = `step ${step.index + 1} ${step.channel}`;
    rows.push(
      [`${label} sent`, step.sent, sum(onPage.map((s) => s.sent))],
      [`${label} opened`, step.opened, sum(onPage.map((s) => s.opened))],
      [
        `${label} suppressed`,
        sum(Object.values(step.suppressed)),
        sum(onPage.map((s) => s.suppressed)),
      ],
      [`${label} failed`, step.failed, sum(onPage.map((s) => s.failed))],
    );
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  process.stdout.write(`${'figure'.padEnd(width)}  replay  dashboard\n`);
  for (const [name, replay, page] of rows) {
    const mark = replay === page ? '' : '  <- differs';
    process.stdout.write(
      `${name.padEnd(width)}  ${String(replay).padStart(6)}  ${String(page).padStart(9)}${mark}\n`,
    );
  }
  return rows
    .filter(([, replay, page]) => replay !== page)
    .map(([name, replay, page]) => `${name}: replay ${replay}, dashboard ${page}`);
}

const FUNNEL_KEYS = [
  'eligible',
  'entries',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'conversions',
  'failed',
  'suppressed',
] as const;

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

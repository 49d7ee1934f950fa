import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Client } from 'pg';
import { createClient } from 'redis';
import prettier from 'prettier';
import { workloads } from './workloads';
import type { BenchOptions, Workload } from './lib/workload';
import {
  reportMarkdown,
  resultsTable,
  type BenchReport,
  type MachineInfo,
  type WorkloadOutcome,
} from './lib/report';
import { BENCH_NUDGE_ENV, benchNudgeSettings } from './lib/nudge-settings';

/**
 * `npm run bench [-- --quick] [--only B1,B4] [--runs N]`: runs the selected workloads one
 * after another (each measures Nudge and its baseline in the same run), prints progress and
 * the results table, and writes `bench/results/<timestamp>[-quick].{json,md}` plus
 * `latest[-quick].{json,md}`. A workload that throws is reported as FAILED and makes the
 * exit code 1; a goal that does not hold never does (figures are reported, not asserted).
 *
 * PostgreSQL and Redis: BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432) and
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */

const REPO_ROOT = path.resolve(__dirname, '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const MEASURED_PACKAGES = ['@apollo/server', 'graphql', 'bullmq', 'pg', 'redis'];

interface Cli {
  quick: boolean;
  only: string[] | null;
  runs: number | null;
}

function parseCli(argv: string[]): Cli {
  const cli: Cli = { quick: false, only: null, runs: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--quick') cli.quick = true;
    else if (arg.startsWith('--only'))
      cli.only = value()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (arg.startsWith('--runs')) {
      const runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
      cli.runs = runs;
    } else
      throw new Error(
        `unknown argument ${arg}; usage: npm run bench [-- --quick] [--only B1,B4] [--runs N]`,
      );
  }
  return cli;
}

/** `B8` selects `B8`, `B8 ingest` and `B8-timers`, but `B1` does not select `B10`. */
export function selects(selector: string, id: string): boolean {
  const s = selector.toLowerCase();
  const lower = id.toLowerCase();
  return lower === s || (lower.startsWith(s) && !/[0-9]/.test(lower[s.length]));
}

async function postgresVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: new URL('/postgres', url).toString() });
  await client.connect();
  try {
    return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]
      .server_version;
  } finally {
    await client.end();
  }
}

async function redisVersion(url: string): Promise<string> {
  const client = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    client.destroy();
  }
}

function packageVersion(name: string): string {
  try {
    const file = path.join(REPO_ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

async function machineInfo(postgresUrl: string, redisUrl: string): Promise<MachineInfo> {
  const unknown = (err: Error) => `unreachable (${err.message})`;
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    postgres: await postgresVersion(postgresUrl).catch(unknown),
    redis: await redisVersion(redisUrl).catch(unknown),
    packages: Object.fromEntries(MEASURED_PACKAGES.map((name) => [name, packageVersion(name)])),
    gitCommit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    gitDirty: git(['status', '--porcelain']).length > 0,
  };
}

async function runOne(workload: Workload, options: BenchOptions): Promise<WorkloadOutcome> {
  const started = Date.now();
  const elapsedSec = () => (Date.now() - started) / 1000;
  options.log(`start: ${workload.title} (${options.quick ? 'quick' : `${options.runs} runs`})`);
  try {
    const result = await workload.run(options);
    options.log(`done in ${elapsedSec().toFixed(1)} s`);
    return {
      id: workload.id,
      title: workload.title,
      status: 'ok',
      elapsedSec: elapsedSec(),
      result,
    };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    options.log(`FAILED after ${elapsedSec().toFixed(1)} s: ${error}`);
    if (err instanceof Error && err.stack) options.log(err.stack);
    return {
      id: workload.id,
      title: workload.title,
      status: 'failed',
      elapsedSec: elapsedSec(),
      error,
    };
  }
}

async function writeFormatted(file: string, text: string): Promise<void> {
  // Formatted as `prettier --check .` (npm run lint) expects, so result files pass the lint.
  const formatted = await prettier.format(text, {
    ...(await prettier.resolveConfig(file)),
    filepath: file,
  });
  fs.writeFileSync(file, formatted);
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const selected = cli.only
    ? workloads.filter((w) => cli.only!.some((selector) => selects(selector, w.id)))
    : workloads;
  for (const selector of cli.only ?? []) {
    if (!workloads.some((w) => selects(selector, w.id)))
      console.log(`bench: --only ${selector} matches no workload`);
  }
  if (selected.length === 0) {
    throw new Error(
      `no workload matches ${cli.only?.join(',')}; known: ${workloads.map((w) => w.id).join(', ')}`,
    );
  }
  const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runs = cli.runs ?? (cli.quick ? 1 : 3);
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), `nudge-bench-${stamp}-`));
  const mode = cli.quick ? 'quick' : 'full';
  console.log(
    `bench: ${mode} mode, ${runs} run(s), ${selected.map((w) => w.id).join(', ')}; scratch ${workRoot}`,
  );

  const outcomes: WorkloadOutcome[] = [];
  for (const workload of selected) {
    const workDir = path.join(workRoot, workload.id.replace(/[^A-Za-z0-9_-]/g, '_'));
    fs.mkdirSync(workDir, { recursive: true });
    const log = (line: string) =>
      console.log(`[${new Date().toISOString().slice(11, 19)} ${workload.id}] ${line}`);
    outcomes.push(
      await runOne(workload, { quick: cli.quick, runs, postgresUrl, redisUrl, workDir, log }),
    );
  }

  const report: BenchReport = {
    startedAt,
    mode,
    runs,
    command: commandLine(),
    machine: await machineInfo(postgresUrl, redisUrl),
    workloads: outcomes,
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const suffix = cli.quick ? '-quick' : '';
  const json = JSON.stringify(report, null, 2);
  const markdown = reportMarkdown(report);
  for (const name of [`${stamp}${suffix}`, `latest${suffix}`]) {
    await writeFormatted(path.join(RESULTS_DIR, `${name}.json`), json);
    await writeFormatted(path.join(RESULTS_DIR, `${name}.md`), markdown);
  }

  console.log(`\n${resultsTable(outcomes)}\n`);
  console.log(`written: bench/results/${stamp}${suffix}.{json,md} and latest${suffix}.{json,md}`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length > 0) {
    console.log(`FAILED: ${failed.map((o) => o.id).join(', ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((err: Error) => {
    console.error(`bench: ${err.message}`);
    process.exitCode = 1;
  })
  // Leftover handles (a pool, a socket) must not keep a finished run alive.
  .finally(() => setTimeout(() => process.exit(), 100).unref());

/** The command as typed, with `BENCH_NUDGE_ENV` when it changed Nudge's settings. */
function commandLine(): string {
  const args = process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : '';
  const settings = Object.entries(benchNudgeSettings())
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return `${settings ? `${BENCH_NUDGE_ENV}="${settings}" ` : ''}npm run bench${args}`;
}

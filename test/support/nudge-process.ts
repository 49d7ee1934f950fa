import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, readlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OPERATOR_TOKEN } from './harness';

const ROOT = path.resolve(__dirname, '..', '..');
const OUTPUT_TAIL_LINES = 60;

/** A pino line from a child's stdout, parsed. */
export type LogEntry = Record<string, unknown> & { msg?: string; level?: number };

/**
 * Nudge running as its own operating-system process: the service entry `src/main.ts` under
 * ts-node (transpile-only), exactly as `npm start` runs it, so a test can SIGKILL it.
 */
export class NudgeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly tail: string[] = [];
  private readonly listeners = new Set<(entry: LogEntry) => void>();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private partialOut = '';
  private partialErr = '';
  /** How many log lines had each `msg` (e.g. "step delivered"). */
  readonly messageCounts = new Map<string, number>();

  constructor(
    readonly name: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'src', 'main.ts')],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.partialOut = this.consume(this.partialOut + chunk, (line) => this.onStdout(line));
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.partialErr = this.consume(this.partialErr + chunk, (line) => this.remember(line));
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        running.delete(this);
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.exitInfo !== null;
  }

  /** The last lines of stdout and stderr, for failure messages. */
  output(): string {
    return `--- ${this.name} (pid ${this.pid}, exit ${JSON.stringify(this.exitInfo)}) ---\n${this.tail.join('\n')}`;
  }

  /** Resolves with the first log entry (from now on) that matches; rejects if the process exits. */
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry> {
    return new Promise((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        fn();
      };
      const listener = (entry: LogEntry) => {
        if (match(entry)) finish(() => resolve(entry));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${this.name}: no such log line\n${this.output()}`))),
        timeoutMs,
      );
      this.listeners.add(listener);
      void this.exited.then(() =>
        finish(() => reject(new Error(`${this.name} exited\n${this.output()}`))),
      );
    });
  }

  /**
   * The local ports of the process's TCP sockets (its Redis and PostgreSQL connections among
   * them), read from Linux's /proc; empty where /proc is not available.
   */
  async localTcpPorts(): Promise<Set<number>> {
    const inodes = new Set<string>();
    const fds = await readdir(`/proc/${this.pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${this.pid}/fd/${fd}`).catch(() => '');
      const socket = /^socket:\[(\d+)\]$/.exec(link);
      if (socket) inodes.add(socket[1]);
    }
    const ports = new Set<number>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        // sl local_address rem_address st queues timer retrnsmt uid timeout inode ...
        const columns = line.trim().split(/\s+/);
        if (columns.length > 9 && inodes.has(columns[9])) {
          ports.add(parseInt(columns[1].split(':')[1], 16));
        }
      }
    }
    return ports;
  }

  /** Calls `listener` with every log entry from now on; returns the unsubscribe function. */
  onLog(listener: (entry: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the service listens (its "nudge listening" line). */
  ready(timeoutMs = 60_000): Promise<LogEntry> {
    return this.waitForLog((e) => e.msg === 'nudge listening', timeoutMs);
  }

  /** Sends the signal and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.hasExited) return;
    this.child.kill(signal);
    await this.exited;
  }

  /** SIGTERM (clean stop), then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private consume(text: string, onLine: (line: string) => void): string {
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    for (const line of lines) if (line.length > 0) onLine(line);
    return rest;
  }

  private onStdout(line: string): void {
    let entry: LogEntry | null = null;
    try {
      entry = JSON.parse(line) as LogEntry;
    } catch {
      this.remember(line);
      return;
    }
    const msg = typeof entry.msg === 'string' ? entry.msg : '';
    this.messageCounts.set(msg, (this.messageCounts.get(msg) ?? 0) + 1);
    // Only warnings and errors (and start-up lines) are worth showing in a failure message.
    if ((entry.level ?? 0) >= 40 || msg === 'nudge listening') this.remember(line);
    for (const listener of this.listeners) listener(entry);
  }

  private remember(line: string): void {
    this.tail.push(line.length > 2_000 ? `${line.slice(0, 2_000)}…` : line);
    if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
  }
}

/** Processes not yet known to have exited; killed when the test process exits, whatever happens. */
const running = new Set<NudgeProcess>();
process.once('exit', () => {
  for (const p of running) p.child.kill('SIGKILL');
});

export interface NudgeProcessOptions {
  /** Redis key prefix shared with the other instances of the deployment. */
  prefix: string;
  role?: 'all' | 'api' | 'worker';
  /** Further variables (NUDGE_TIMER_LEASE_MS, SMTP_URL, LOG_LEVEL …). */
  env?: Record<string, string>;
}

/**
 * Spawns `src/main.ts` against the run's PostgreSQL and Redis on the system clock. Only the
 * variables given here reach the child (plus PATH and HOME), so nothing of the developer's
 * shell leaks into the service's configuration.
 */
export function spawnNudge(name: string, options: NudgeProcessOptions): NudgeProcess {
  const databaseUrl = process.env.NUDGE_TEST_DATABASE_URL;
  const redisUrl = process.env.NUDGE_TEST_REDIS_URL;
  if (!databaseUrl || !redisUrl) throw new Error('spawnNudge needs the real PostgreSQL and Redis');
  return new NudgeProcess(name, {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    NUDGE_OPERATOR_TOKEN: OPERATOR_TOKEN,
    NUDGE_KEY_PEPPER: 'test-pepper-0123456789',
    NUDGE_CLOCK: 'system',
    NUDGE_ROLE: options.role ?? 'worker',
    NUDGE_REDIS_PREFIX: options.prefix,
    NUDGE_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), `nudge-${name}-`)),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...(process.env.NUDGE_TEST_DB_POOL_SIZE
      ? { NUDGE_DB_POOL_SIZE: process.env.NUDGE_TEST_DB_POOL_SIZE }
      : {}),
    ...options.env,
  });
}

/** Stops every given process that still runs (SIGKILL), in parallel; never throws. */
export async function killAll(processes: Iterable<NudgeProcess>): Promise<void> {
  await Promise.all([...processes].map((p) => p.kill('SIGKILL').catch(() => undefined)));
}

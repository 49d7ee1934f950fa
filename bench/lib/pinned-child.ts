import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Node scripts run as child processes pinned to one CPU core:
 * `taskset -c <core> node -r ts-node/register/transpile-only <script> <args…>`, from the
 * repository root. `taskset` execs node, so the child's pid is the node process (its RSS can
 * be read from /proc). Children talk back with JSON lines on stdout (`emitJson`); anything
 * else they print, and all of stderr, goes to the log file.
 */

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface PinnedChildOptions {
  /** CPU core for `taskset -c`. */
  core: number;
  /** Script path, relative to the repository root or absolute. */
  script: string;
  args?: string[];
  /** Added to (and overriding) the parent's environment. */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags placed before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Where stderr and non-JSON stdout go (appended); default: discarded. */
  logFile?: string;
}

export interface PinnedChild {
  pid: number;
  process: ChildProcess;
  /** Resolves with the exit code (or null when killed by a signal). */
  exited: Promise<number | null>;
  /**
   * The next JSON line (in order of arrival) that `accept` takes; earlier lines it refuses
   * are dropped. Rejects when the child exits first or after `timeoutMs`.
   */
  nextJson<T = any>(timeoutMs: number, accept?: (value: any) => boolean): Promise<T>;
  /** Resident set size of the child now, in bytes (from /proc; 0 once it has exited). */
  rssBytes(): number;
  /** CPU time (user + system) the child has used so far, in seconds (from /proc). */
  cpuSeconds(): number;
  /** The last 2,000 characters the child wrote to stderr (for error messages). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Writes one JSON line to stdout: how a child script reports to its parent. */
export function emitJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Starts the script pinned to `options.core`. */
export function spawnPinned(options: PinnedChildOptions): PinnedChild {
  const args = [
    '-c',
    String(options.core),
    process.execPath,
    ...(options.nodeArgs ?? []),
    '-r',
    'ts-node/register/transpile-only',
    options.script,
    ...(options.args ?? []),
  ];
  const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : null;
  const child = spawn('taskset', args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.script}`);
  child.stderr!.on('data', (chunk: Buffer) => {
    log?.write(chunk);
    stderrTail = (stderrTail + chunk.toString()).slice(-2000);
  });
  let stderrTail = '';

  const queue: unknown[] = [];
  const waiters: Array<() => void> = [];
  let exitCode: number | null | undefined;
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const value = parseJsonLine(line);
    if (value === undefined) log?.write(`${line}\n`);
    else queue.push(value);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      // Give readline the rest of stdout before waiters learn of the exit.
      setImmediate(() => {
        for (const wake of waiters.splice(0)) wake();
        log?.end();
        resolve(code);
      });
    });
  });

  const describe = () =>
    `${options.script} (pid ${child.pid})` + (stderrTail ? `; stderr ends: ${stderrTail}` : '');

  return {
    pid: child.pid,
    process: child,
    exited,
    nextJson<T>(timeoutMs: number, accept: (value: any) => boolean = () => true): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no JSON answer within ${timeoutMs} ms from ${describe()}`));
        }, timeoutMs);
        const done = () => clearTimeout(timer);
        const check = () => {
          while (queue.length > 0) {
            const value = queue.shift();
            if (accept(value)) {
              done();
              resolve(value as T);
              return;
            }
          }
          if (exitCode !== undefined) {
            done();
            reject(new Error(`exited with code ${exitCode} before answering: ${describe()}`));
            return;
          }
          waiters.push(check);
        };
        check();
      });
    },
    rssBytes: () => rssOf(child.pid!),
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    stderrTail: () => stderrTail,
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RunPinnedScriptOptions extends PinnedChildOptions {
  /** The child is killed and the call fails after this long. */
  timeoutMs: number;
}

/**
 * Runs a one-shot script pinned to a core and returns the last JSON line it printed; fails
 * if it exits non-zero, prints no JSON line, or overruns `timeoutMs`.
 */
export async function runPinnedScript<T = any>(options: RunPinnedScriptOptions): Promise<T> {
  const child = spawnPinned(options);
  let last: { value: T } | null = null;
  const collect = (async () => {
    for (;;) {
      try {
        last = { value: await child.nextJson<T>(options.timeoutMs + 1000) };
      } catch {
        return;
      }
    }
  })();
  const timer = setTimeout(() => void child.stop(1000), options.timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  await collect;
  if (code !== 0) {
    const tail = child.stderrTail();
    throw new Error(`${options.script} exited with code ${code}${tail ? `: ${tail}` : ''}`);
  }
  if (!last) throw new Error(`${options.script} printed no JSON result line`);
  return (last as { value: T }).value;
}

function parseJsonLine(line: string): unknown {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in bytes, 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process (clock ticks of 1/100 s on Linux), NaN when gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

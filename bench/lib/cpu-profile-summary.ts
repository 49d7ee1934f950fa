import fs from 'node:fs';
import path from 'node:path';

/**
 * Summarises V8 `.cpuprofile` files (written by `node --cpu-prof`, e.g. with
 * NUDGE_BENCH_CPU_PROF=<dir> for the Nudge child): self time per function and per area
 * (a package under node_modules, a directory under src/, node internals, idle/GC).
 *
 *   npx ts-node --transpile-only bench/lib/cpu-profile-summary.ts <file-or-dir> [top=25] [skip=0]
 *
 * `skip`: seconds at the start of the profile to leave out (start-up: TypeScript transpiling,
 * migrations), so the summary covers the measured load.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  functions: Array<{ name: string; selfMs: number }>;
  areas: Array<{ name: string; selfMs: number }>;
}

/** `node_modules/pg/…` → `pg`, `src/engine/x/y.ts` → `src/engine/x`, `node:…` → `node`. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  const source = /\/(src|bench|scripts)\/(.*)\/[^/]+$/.exec(url);
  if (source) return `${source[1]}/${source[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return path.basename(url);
}

export function summarise(profile: CpuProfile, skipSec = 0): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let elapsedUs = 0;
  profile.samples.forEach((id, k) => {
    const delta = profile.timeDeltas[k] ?? 0;
    elapsedUs += delta;
    if (elapsedUs >= skipSec * 1e6) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const file = url
      ? `${url.replace(/^.*?\/(node_modules|src|bench|scripts)\//, '$1/')}:${lineNumber + 1}`
      : '';
    const name = `${functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    total += us;
  }
  const sorted = (map: Map<string, number>) =>
    [...map.entries()]
      .map(([name, us]) => ({ name, selfMs: us / 1000 }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: total / 1000, functions: sorted(functions), areas: sorted(areas) };
}

function print(file: string, top: number, skipSec: number): void {
  const summary = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile, skipSec);
  const pct = (ms: number) => `${((ms / summary.totalMs) * 100).toFixed(1).padStart(5)} %`;
  console.log(
    `\n${file}: ${(summary.totalMs / 1000).toFixed(1)} s sampled` +
      (skipSec ? ` after the first ${skipSec} s` : ''),
  );
  console.log('\nself time by area:');
  for (const area of summary.areas.slice(0, top))
    console.log(`  ${pct(area.selfMs)}  ${area.name}`);
  console.log('\nself time by function:');
  for (const fn of summary.functions.slice(0, top)) console.log(`  ${pct(fn.selfMs)}  ${fn.name}`);
}

if (require.main === module) {
  const target = process.argv[2];
  const top = Number(process.argv[3] ?? 25);
  const skipSec = Number(process.argv[4] ?? 0);
  if (!target) {
    console.error('usage: cpu-profile-summary.ts <file.cpuprofile | directory> [top]');
    process.exit(2);
  }
  const files = fs.statSync(target).isDirectory()
    ? fs
        .readdirSync(target)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => path.join(target, f))
    : [target];
  for (const file of files) print(file, top, skipSec);
}

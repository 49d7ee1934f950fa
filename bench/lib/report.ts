import type { GoalRow, WorkloadResult } from './workload';

/**
 * The results of one `npm run bench`: what ran where, and each workload's outcome. Turned
 * into the Markdown table the runner prints and writes next to the JSON.
 */

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  node: string;
  postgres: string;
  redis: string;
  packages: Record<string, string>;
  gitCommit: string;
  /** True when the working tree had uncommitted changes. */
  gitDirty: boolean;
}

export type WorkloadOutcome =
  | { id: string; title: string; status: 'ok'; elapsedSec: number; result: WorkloadResult }
  | { id: string; title: string; status: 'failed'; elapsedSec: number; error: string };

export interface BenchReport {
  startedAt: string;
  mode: 'full' | 'quick';
  runs: number;
  command: string;
  machine: MachineInfo;
  workloads: WorkloadOutcome[];
}

/** 12,345 / 123 / 12.3 / 1.23 / 0.123: integers with separators from 100 up. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—';
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function goalLine(row: GoalRow): string {
  return (
    '| ' +
    [
      row.id,
      row.metric,
      formatNumber(row.product),
      `${formatNumber(row.baseline)} (${row.baselineName})`,
      formatRatio(row.ratio),
      row.goal,
      row.holds ? 'yes' : '**no**',
    ]
      .map(cell)
      .join(' | ') +
    ' |'
  );
}

/** The results table: one line per goal row, one per failed workload. */
export function resultsTable(workloads: WorkloadOutcome[]): string {
  const lines = [
    '| id | metric | Nudge | baseline (name) | ratio | goal | holds |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const outcome of workloads) {
    if (outcome.status === 'failed') {
      // The whole error is in the workload's section below; the table keeps its start.
      const short = outcome.error.length > 160 ? `${outcome.error.slice(0, 160)}…` : outcome.error;
      lines.push(`| ${cell(outcome.id)} | FAILED: ${cell(short)} | | | | | **no** |`);
    } else if (outcome.result.rows.length === 0) {
      lines.push(`| ${cell(outcome.id)} | (no goal rows) | | | | | |`);
    } else {
      lines.push(...outcome.result.rows.map(goalLine));
    }
  }
  return lines.join('\n');
}

/** The whole Markdown report: header, table, then each workload's figures and notes. */
export function reportMarkdown(report: BenchReport): string {
  const m = report.machine;
  const quickWarning =
    report.mode === 'quick'
      ? '\n**Quick mode**: tiny sizes and one run; it proves the suite runs, its figures mean little.\n'
      : '';
  const parts = [
    `# Nudge benchmark results (${report.mode})`,
    quickWarning,
    `Started ${report.startedAt}; \`${report.command}\`; ${report.runs} measured run(s) per ` +
      `workload, medians. Commit ${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes)' : ''}.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, PostgreSQL ${m.postgres}, ` +
      `Redis ${m.redis}. Packages: ` +
      Object.entries(m.packages)
        .map(([name, version]) => `${name} ${version}`)
        .join(', ') +
      '.',
    '',
    resultsTable(report.workloads),
    '',
  ];
  for (const outcome of report.workloads) {
    parts.push(`## ${outcome.id}: ${outcome.title}`, '');
    parts.push(
      `${outcome.status === 'ok' ? 'Took' : 'Failed after'} ${outcome.elapsedSec.toFixed(0)} s.`,
      '',
    );
    if (outcome.status === 'failed') {
      parts.push('```', outcome.error, '```', '');
      continue;
    }
    const figures = Object.entries(outcome.result.figures);
    if (figures.length > 0) {
      parts.push('| figure | median |', '| --- | --- |');
      for (const [name, value] of figures) parts.push(`| ${cell(name)} | ${formatNumber(value)} |`);
      parts.push('');
    }
    for (const note of outcome.result.notes) parts.push(`- ${note}`);
    parts.push('');
  }
  return parts.join('\n');
}

/**
 * The contract between the bench runner (`bench/run.ts`) and each workload
 * (`bench/workloads/bN-*.ts`). A workload measures the product and its baseline in the same
 * run, on the same machine, and reports figures; the runner takes medians and writes the
 * table. Nothing here asserts a figure: a goal that does not hold is reported, not thrown.
 */

export interface BenchOptions {
  /** Seconds-long smoke sizes (CI): proves the workload runs, its figures mean little. */
  quick: boolean;
  /** Measured repetitions after one warm-up (3 normally, 1 in quick mode). */
  runs: number;
  /** PostgreSQL server URL without a database (the workload creates its own databases). */
  postgresUrl: string;
  redisUrl: string;
  /** Directory for the workload's scratch files (logs of child processes). */
  workDir: string;
  log: (line: string) => void;
}

/** One measured repetition: named figures, e.g. { productRps: 1200, baselineRps: 2900 }. */
export type Sample = Record<string, number>;

/** A row of the results table: one goal, its product figure, baseline figure and ratio. */
export interface GoalRow {
  /** e.g. "B1" or "B3 immediate". */
  id: string;
  /** What is measured, with its unit: "track req/s". */
  metric: string;
  product: number;
  baseline: number;
  /** Name of the baseline: "trivial mutation on the same HTTP integration". */
  baselineName: string;
  /** product / baseline, or baseline / product when lower is better (see `better`). */
  ratio: number;
  better: 'higher' | 'lower';
  /** The goal in words ("≥ 0.5×") and whether the median figures meet it. */
  goal: string;
  holds: boolean;
}

export interface WorkloadResult {
  rows: GoalRow[];
  /** Every median figure the workload wants to report (units in the key names). */
  figures: Record<string, number>;
  /** Conditions of the run: sizes, pinning, versions, anything a reader needs. */
  notes: string[];
}

export interface Workload {
  id: string;
  title: string;
  /** Runs warm-up plus `options.runs` repetitions and summarises them with medians. */
  run(options: BenchOptions): Promise<WorkloadResult>;
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The per-key median over samples (keys of the first sample). */
export function medianSample(samples: Sample[]): Sample {
  const out: Sample = {};
  for (const key of Object.keys(samples[0] ?? {})) {
    out[key] = median(samples.map((s) => s[key]).filter((v) => Number.isFinite(v)));
  }
  return out;
}

/** Quantile (0..1) of a list, nearest rank. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** A goal row from figures: ratio oriented so that ≥ 1 always means "as good as baseline". */
export function goalRow(
  row: Omit<GoalRow, 'ratio' | 'holds'>,
  holds: (ratio: number) => boolean,
): GoalRow {
  const ratio = row.better === 'higher' ? row.product / row.baseline : row.baseline / row.product;
  return { ...row, ratio, holds: Number.isFinite(ratio) && holds(ratio) };
}

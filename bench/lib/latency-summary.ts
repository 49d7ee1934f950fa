import { quantile } from './workload';

/** p50 / p99 / max of a list of latencies (ms); NaN figures for an empty list. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarizeLatencies(values: ArrayLike<number>): LatencySummary {
  let max = values.length > 0 ? -Infinity : NaN;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p99: quantile(values, 0.99),
    max,
  };
}

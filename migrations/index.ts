import { InitialSchema1764770000000 } from './1764770000000-initial-schema';
import { TriggerEngine1764800000000 } from './1764800000000-trigger-engine';
import { Sequences1764900000000 } from './1764900000000-sequences';
import { Metrics1765000000000 } from './1765000000000-metrics';
import { MetricAlerts1765100000000 } from './1765100000000-metric-alerts';
import { Experiments1765200000000 } from './1765200000000-experiments';
import { BestHour1765300000000 } from './1765300000000-best-hour';
import { EligiblePerStatement1765400000000 } from './1765400000000-eligible-per-statement';

/** Every migration, in order. Shipped migrations are never edited; add a new one. */
export const migrations = [
  InitialSchema1764770000000,
  TriggerEngine1764800000000,
  Sequences1764900000000,
  Metrics1765000000000,
  MetricAlerts1765100000000,
  Experiments1765200000000,
  BestHour1765300000000,
  EligiblePerStatement1765400000000,
];

import type { Workload } from '../lib/workload';
import { workload as b1 } from './b1-track';
import { workload as b2 } from './b2-track-batch';
import { workload as b3 } from './b3-event-to-firing';
import { workload as b4 } from './b4-timer-lateness';
import { workload as b5 } from './b5-timer-drain';
import { workload as b6 } from './b6-timer-memory';
import { workload as b7 } from './b7-fanout';
import { workload as b8Ingest } from './b8-ingest-linearity';
import { workload as b8Timers } from './b8-timer-linearity';

/** Every workload `npm run bench` knows, sorted by id (see bench/run.ts). */
export const workloads: Workload[] = [b1, b2, b3, b4, b5, b6, b7, b8Ingest, b8Timers];

import { MemoryTimerIndex } from '../src/engine/timers/memory-timer-index';
import { shardOf } from '../src/engine/timers/timer-index';
import { instrumentTimerIndex } from '../src/platform/instrumentation';
import { OperatorMetrics } from '../src/platform/operator-metrics';

describe('operator metrics: timer lateness', () => {
  it('observes claim time minus due time for every claimed timer, in seconds', async () => {
    const metrics = new OperatorMetrics(async () => 0);
    const index = new MemoryTimerIndex(1);
    instrumentTimerIndex(index, metrics);
    const tenantId = '00000000-0000-4000-8000-000000000001';
    await index.schedule([
      { timerId: '1', tenantId, dueAtMs: 1_000 },
      { timerId: '2', tenantId, dueAtMs: 4_000 },
      { timerId: '3', tenantId, dueAtMs: 9_000 },
    ]);

    const claimed = await index.claimDue(shardOf(tenantId, 1), 5_000, 10, 30_000);

    expect(claimed.map((c) => c.timerId)).toEqual(['1', '2']);
    const { values } = await metrics.timerLatenessSeconds.get();
    const value = (name: string, le?: number) =>
      values.find((v) => v.metricName === name && (le === undefined || v.labels.le === le))!.value;
    expect(value('nudge_timer_lateness_seconds_count')).toBe(2);
    expect(value('nudge_timer_lateness_seconds_sum')).toBe(5);
    expect(value('nudge_timer_lateness_seconds_bucket', 1)).toBe(1);
    expect(value('nudge_timer_lateness_seconds_bucket', 5)).toBe(2);
    await index.close();
  });
});

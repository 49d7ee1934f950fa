import type { Logger } from '../../logger';
import type { Bus } from '../../platform/bus';
import type { DeliveryService } from '../messages/delivery.service';
import type { TimerIndex } from '../timers/timer-index';
import type { Effects } from './effects';

/** The bus channel on which firings are announced to every instance's subscribers. */
export const TRIGGER_FIRED = 'trigger-fired';

/**
 * Carries out, after commit, what a transaction decided: index updates, deliveries,
 * announcements. A failure here loses nothing durable: pending timers are re-indexed from
 * PostgreSQL by the sweeper, and firings are notifications only.
 */
export class EffectsApplier {
  constructor(
    private readonly index: TimerIndex,
    private readonly delivery: DeliveryService,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** `log` carries the caller's binding (requestId for ingestion, timerId for timers). */
  async apply(effects: Effects, log: Logger = this.log): Promise<void> {
    await this.index.unschedule(effects.timersToUnschedule);
    await this.index.schedule(effects.timersToSchedule);
    for (const { tenantId, messageId } of effects.messagesToDeliver) {
      await this.delivery.deliver(tenantId, messageId, log);
    }
    for (const firing of effects.firings) {
      await this.bus
        .publish(TRIGGER_FIRED, firing)
        .catch((err: Error) =>
          log.warn(
            { tenantId: firing.tenantId, triggerId: firing.triggerId, err },
            'firing not announced',
          ),
        );
    }
  }
}

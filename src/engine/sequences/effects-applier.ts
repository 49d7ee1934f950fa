import type { Logger } from '../../logger';
import type { Bus } from '../../platform/bus';
import type { DeliveryQueue } from '../messages/delivery-queue';
import type { TimerIndex } from '../timers/timer-index';
import type { Effects } from './effects';

/** The bus channel on which firings are announced to every instance's subscribers. */
export const TRIGGER_FIRED = 'trigger-fired';

/**
 * Carries out, after commit, what a transaction decided: index updates, deliveries,
 * announcements. A failure here loses nothing durable: pending timers are re-indexed from
 * PostgreSQL by the sweeper, and firings are notifications only.
 *
 * Deliveries go through the per-tenant-bounded queue. On the system clock they are not
 * awaited, so a slow endpoint never holds a timer worker; on the manual clock they are, so a
 * clock move returns with every due message handed over.
 */
export class EffectsApplier {
  constructor(
    private readonly index: TimerIndex,
    private readonly deliveries: DeliveryQueue,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly awaitDeliveries: boolean,
  ) {}

  /** `log` carries the caller's binding (requestId for ingestion, timerId for timers). */
  async apply(effects: Effects, log: Logger = this.log): Promise<void> {
    await this.index.unschedule(effects.timersToUnschedule);
    await this.index.schedule(effects.timersToSchedule);
    const handedOver = effects.messagesToDeliver.map(({ tenantId, messageId }) =>
      this.deliveries.enqueue(tenantId, messageId, log),
    );
    if (this.awaitDeliveries) await Promise.all(handedOver);
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

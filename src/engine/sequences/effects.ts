import type { IndexedTimer } from '../timers/timer-index';

/** A trigger that fired for a customer: an enrollment entered its sequence. */
export interface Firing {
  tenantId: string;
  triggerId: string;
  triggerName: string;
  /** Null for a customer known only by an anonymous id. */
  customerExternalId: string | null;
  enrollmentId: string;
  firedAt: string;
}

/**
 * What a transaction decided that must happen outside it, once it has committed: timers to
 * add to or drop from the index, messages to hand to a channel, firings to announce.
 * Nothing here runs if the transaction rolls back, so nothing half-done leaks out.
 */
export class Effects {
  readonly timersToSchedule: IndexedTimer[] = [];
  readonly timersToUnschedule: Array<Pick<IndexedTimer, 'timerId' | 'tenantId'>> = [];
  readonly messagesToDeliver: Array<{ tenantId: string; messageId: string }> = [];
  readonly firings: Firing[] = [];
  enrollmentsStarted = 0;
  enrollmentsCancelled = 0;

  merge(other: Effects): void {
    this.timersToSchedule.push(...other.timersToSchedule);
    this.timersToUnschedule.push(...other.timersToUnschedule);
    this.messagesToDeliver.push(...other.messagesToDeliver);
    this.firings.push(...other.firings);
    this.enrollmentsStarted += other.enrollmentsStarted;
    this.enrollmentsCancelled += other.enrollmentsCancelled;
  }
}

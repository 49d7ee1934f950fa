import { EventEmitter } from 'node:events';
import type { Redis } from './redis';

/**
 * Cross-instance notifications: trigger firings for subscriptions, cache invalidations.
 * Payloads are plain JSON (DTOs and ids), never class instances (STACK.md #18).
 */
export interface Bus {
  publish(channel: string, payload: unknown): Promise<void>;
  subscribe(channel: string, handler: (payload: unknown) => void): Promise<void>;
  close(): Promise<void>;
}

/** Single-process stand-in used in trial mode. */
export class MemoryBus implements Bus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(channel: string, payload: unknown): Promise<void> {
    const copy: unknown = JSON.parse(JSON.stringify(payload));
    queueMicrotask(() => this.emitter.emit(channel, copy));
  }

  async subscribe(channel: string, handler: (payload: unknown) => void): Promise<void> {
    this.emitter.on(channel, handler);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/** Redis pub/sub; the subscriber needs its own connection. Channels are prefixed. */
export class RedisBus implements Bus {
  private subscriber: Redis | null = null;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  async publish(channel: string, payload: unknown): Promise<void> {
    await this.client.publish(`${this.prefix}:bus:${channel}`, JSON.stringify(payload));
  }

  async subscribe(channel: string, handler: (payload: unknown) => void): Promise<void> {
    if (!this.subscriber) {
      this.subscriber = this.client.duplicate();
      await this.subscriber.connect();
    }
    await this.subscriber.subscribe(`${this.prefix}:bus:${channel}`, (message) =>
      handler(JSON.parse(message)),
    );
  }

  async close(): Promise<void> {
    if (this.subscriber) {
      this.subscriber.destroy();
      this.subscriber = null;
    }
  }
}

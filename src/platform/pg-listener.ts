import { Client } from 'pg';
import type { Logger } from '../logger';

const RECONNECT_MS = 1_000;

/**
 * PostgreSQL LISTEN on one channel over a dedicated connection (a pooled one would hand the
 * subscription to whoever borrows it next). A lost connection is re-established after a
 * second; `onConnected` runs after every (re)connection, because notifications sent while
 * nobody listened are gone and the caller may need to catch up.
 *
 * Embedded PostgreSQL (PGlite behind its socket) accepts LISTEN but never delivers
 * notifications to another connection; callers poll there instead.
 */
export class PgListener {
  private client: Client | null = null;
  private isClosed = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly onPayload: (payload: string) => void,
    private readonly onConnected: () => void,
    private readonly log: Logger,
  ) {}

  /** Connects and listens; resolves once listening (rejects if the first attempt fails). */
  async start(): Promise<void> {
    await this.connect();
  }

  async close(): Promise<void> {
    this.isClosed = true;
    if (this.retry) clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url });
    client.on('notification', (message) => {
      if (message.channel === this.channel && message.payload) this.onPayload(message.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err, channel: this.channel }, 'postgres listener lost its connection');
      this.reconnectLater(client);
    });
    client.on('end', () => this.reconnectLater(client));
    await client.connect();
    await client.query(`LISTEN ${quoteIdentifier(this.channel)}`);
    if (this.isClosed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.onConnected();
  }

  private reconnectLater(client: Client): void {
    if (this.isClosed || this.client !== client || this.retry) return;
    this.client = null;
    client.end().catch(() => undefined);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch((err: Error) => {
        this.log.warn({ err, channel: this.channel }, 'postgres listener reconnect failed');
        this.scheduleRetry();
      });
    }, RECONNECT_MS);
    this.retry.unref();
  }

  private scheduleRetry(): void {
    if (this.isClosed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.connect().catch(() => this.scheduleRetry());
    }, RECONNECT_MS);
    this.retry.unref();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

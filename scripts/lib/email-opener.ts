import { visitorIdOf } from './nudge-operations';
import type { SmtpSink } from './smtp-sink';
import { OPEN_AFTER_MS, isOpenedByPerson, itemOfSubject } from './three-step-flow';

/** A current desktop mail client's user agent: a person, by Nudge's machine-open rules. */
const PERSON_USER_AGENT =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';

const OPEN_PIXEL = /<img[^>]+src="([^"]+)"/;

/**
 * Plays the people who read their cart email: for each mail of the tenant that
 * `isOpenedByPerson` picks, it fetches the open pixel from the mail's HTML, with a browser
 * user agent, `OPEN_AFTER_MS` of virtual time after the mail arrived. The pixel points at
 * NUDGE_PUBLIC_URL; the fetch goes to the running service instead, with the same path.
 *
 * Call `afterClockMove` after every move of the manual clock: deliveries happen inside the
 * `setClock` call, so a mail seen then arrived at or before that instant, and its open falls
 * at the first move at least `OPEN_AFTER_MS` later (the replay adds clock stops for that).
 */
export class EmailOpener {
  /** Mails of the tenant that a person opens, seen so far. */
  chosen = 0;
  /** Open pixels fetched (each answered 200). */
  pixelsFetched = 0;
  private seen = 0;
  private waiting: Array<{ pixelUrl: string; openAtMs: number }> = [];

  constructor(
    private readonly sink: SmtpSink,
    private readonly tenantId: string,
    private readonly publicUrl: string,
    private readonly serviceUrl: string,
  ) {}

  /**
   * Notes the mails that arrived up to `nowMs` (the clock just moved there) and opens those
   * whose time has come. Throws if a chosen mail has no open pixel or a fetch fails.
   */
  async afterClockMove(nowMs: number): Promise<void> {
    await this.sink.settle();
    for (const mail of this.sink.received.slice(this.seen)) {
      const key = mail.headers.get('x-nudge-idempotency-key');
      if (typeof key !== 'string' || !key.startsWith(`${this.tenantId}:`)) continue;
      const visitorId = visitorIdOf(mail.to[0] ?? null);
      const itemId = itemOfSubject(mail.subject);
      if (visitorId === null || itemId === null || !isOpenedByPerson(visitorId, itemId)) continue;
      const src = mail.html ? OPEN_PIXEL.exec(mail.html)?.[1] : undefined;
      if (!src) throw new Error(`the cart email to visitor ${visitorId} has no open pixel`);
      this.chosen++;
      this.waiting.push({ pixelUrl: this.local(src), openAtMs: nowMs + OPEN_AFTER_MS });
    }
    this.seen = this.sink.received.length;

    const due = this.waiting.filter((w) => w.openAtMs <= nowMs);
    this.waiting = this.waiting.filter((w) => w.openAtMs > nowMs);
    for (const { pixelUrl } of due) {
      const response = await fetch(pixelUrl, { headers: { 'user-agent': PERSON_USER_AGENT } });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`open pixel answered HTTP ${response.status}`);
      this.pixelsFetched++;
    }
  }

  /** The pixel URL (HTML-escaped, on the public URL) pointed at the running service. */
  private local(src: string): string {
    const url = new URL(src.replace(/&amp;/g, '&'));
    if (url.origin !== new URL(this.publicUrl).origin) {
      throw new Error(`open pixel ${url.origin} is not on the public URL ${this.publicUrl}`);
    }
    const service = new URL(this.serviceUrl);
    url.protocol = service.protocol;
    url.host = service.host;
    return url.toString();
  }
}

/**
 * Telling a person's open or click from a machine's.
 *
 * Mail providers fetch images through proxies (Gmail, Yahoo), Apple Mail Privacy Protection
 * downloads every image of every message as soon as it arrives, and corporate security
 * gateways and chat apps follow links to scan or preview them. None of that means a person
 * read anything, and counting it would make "if not opened" steps skip people who never saw
 * the email. The rule, in order:
 *
 * 1. No user agent, or a blank one: a machine (every browser and mail client sends one).
 * 2. A user agent that names a known proxy, prefetcher, link scanner, preview fetcher or HTTP
 *    library (`MACHINE_AGENTS` below): a machine.
 * 3. Exactly `Mozilla/5.0` and nothing more: Apple Mail Privacy Protection's prefetch, which
 *    hides the real client; a machine.
 * 4. Within `MACHINE_WINDOW_MS` (2 s) of sending, whatever the user agent: a machine. No
 *    person opens an email that fast; scanners that pose as a browser do. A negative interval
 *    (clock skew) counts as "within".
 * 5. Otherwise a person.
 *
 * Machine events are still recorded (flagged `machine`), so the rule can be revisited on the
 * stored data; they never set `opened_at`/`clicked_at` or move a message's status.
 */

/** Opens and clicks this soon after sending are a machine's, whatever the user agent says. */
export const MACHINE_WINDOW_MS = 2_000;

const MACHINE_AGENTS: readonly RegExp[] = [
  // Image proxies of webmail providers.
  /GoogleImageProxy|ggpht\.com|YahooMailProxy|Yahoo! Slurp/i,
  // Microsoft: Office link discovery, Bing link previews, Skype/Teams link previews.
  /Microsoft Office (?:Existence|Protocol) Discovery|BingPreview|SkypeUriPreview/i,
  // Email security gateways and link scanners.
  /Proofpoint|Mimecast|Barracuda|Symantec|Forcepoint|Trend ?Micro|Sophos|FireEye/i,
  /Zscaler|Cloudmark|Cisco.?IronPort|Avanan|Checkpoint/i,
  // Crawlers and chat-app link previews.
  /Googlebot|bingbot|Applebot|Slackbot|Twitterbot|Discordbot|TelegramBot|LinkedInBot/i,
  /YandexBot|DuckDuckBot|Baiduspider|facebookexternalhit|WhatsApp|Embedly|redditbot/i,
  /\b(?:crawler|spider|HeadlessChrome|PhantomJS|Puppeteer|Playwright)\b/i,
  // HTTP libraries and command-line tools.
  /^(?:curl|Wget|python-requests|python-urllib|aiohttp|Go-http-client|okhttp|Java)\b/i,
  /^(?:Apache-HttpClient|libwww-perl|axios|node-fetch|undici|got)\b/i,
];

/** Apple Mail Privacy Protection fetches with this bare user agent. */
const APPLE_PRIVACY_PREFETCH = 'Mozilla/5.0';

/**
 * True when an open (or click) is a machine's rather than a person's, by the rule above.
 * `msSinceSent` is the time from the message's `sent_at` to the event, or null when the
 * message has no send time (then only the user agent decides). Pure; no I/O.
 */
export function isMachineOpen(userAgent: string | undefined, msSinceSent: number | null): boolean {
  const agent = userAgent?.trim() ?? '';
  if (agent === '') return true;
  if (agent === APPLE_PRIVACY_PREFETCH) return true;
  if (MACHINE_AGENTS.some((pattern) => pattern.test(agent))) return true;
  return msSinceSent !== null && msSinceSent < MACHINE_WINDOW_MS;
}

import {
  emailLinks,
  isHttpUrl,
  parseToken,
  signToken,
  verifyToken,
} from '../src/engine/engagement/link-tokens';
import { MACHINE_WINDOW_MS, isMachineOpen } from '../src/engine/engagement/machine-opens';

const TENANT = '0b6f5c1e-8a4d-4c2b-9f1e-2d3c4b5a6978';
const MESSAGE = 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b';
const SECRET = 'a'.repeat(64);
const OTHER_SECRET = 'b'.repeat(64);
const BASE = 'https://nudge.example.test';

/** The token inside a tracking URL, e.g. `…/t/c/<token>?u=…` → `<token>`. */
const tokenOf = (url: string): string => new URL(url).pathname.split('/')[3];

describe('link tokens', () => {
  it('pack both ids and a 128-bit MAC into 64 base64url characters', () => {
    const token = signToken('open', TENANT, MESSAGE, SECRET);
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    const parsed = parseToken(token)!;
    expect(parsed.tenantId).toBe(TENANT);
    expect(parsed.messageId).toBe(MESSAGE);
    expect(parsed.mac).toHaveLength(16);
    expect(verifyToken(parsed, 'open', SECRET)).toBe(true);
  });

  it('do not verify with another secret, as another kind, or with a flipped bit', () => {
    const parsed = parseToken(signToken('open', TENANT, MESSAGE, SECRET))!;
    expect(verifyToken(parsed, 'open', OTHER_SECRET)).toBe(false);
    expect(verifyToken(parsed, 'unsubscribe', SECRET)).toBe(false);
    expect(verifyToken(parsed, 'click', SECRET, 'https://shop.example/')).toBe(false);

    const bytes = Buffer.from(signToken('open', TENANT, MESSAGE, SECRET), 'base64url');
    for (const index of [0, 20, 40, 47]) {
      const flipped = Buffer.from(bytes);
      flipped[index] ^= 1;
      expect(verifyToken(parseToken(flipped.toString('base64url'))!, 'open', SECRET)).toBe(false);
    }
  });

  it('sign the destination of a click, so the URL cannot be swapped', () => {
    const parsed = parseToken(
      signToken('click', TENANT, MESSAGE, SECRET, 'https://shop.example/a'),
    )!;
    expect(verifyToken(parsed, 'click', SECRET, 'https://shop.example/a')).toBe(true);
    expect(verifyToken(parsed, 'click', SECRET, 'https://evil.example/a')).toBe(false);
    expect(verifyToken(parsed, 'click', SECRET, 'https://shop.example/a?x=1')).toBe(false);
    expect(verifyToken(parsed, 'click', SECRET)).toBe(false);
  });

  it('reject text that is not a token', () => {
    for (const text of ['', 'abc', `${TENANT}.${MESSAGE}.sig`, 'A'.repeat(63), 'A'.repeat(65)]) {
      expect(parseToken(text)).toBeNull();
    }
    expect(parseToken('+'.repeat(64))).toBeNull();
  });

  it('build the pixel, click and unsubscribe URLs of one email', () => {
    const links = emailLinks(`${BASE}/`, TENANT, MESSAGE, SECRET);
    expect(links.openPixelUrl).toMatch(/^https:\/\/nudge\.example\.test\/t\/o\/[\w-]{64}$/);
    expect(links.unsubscribeUrl).toMatch(/^https:\/\/nudge\.example\.test\/t\/u\/[\w-]{64}$/);
    expect(verifyToken(parseToken(tokenOf(links.openPixelUrl))!, 'open', SECRET)).toBe(true);
    expect(verifyToken(parseToken(tokenOf(links.unsubscribeUrl))!, 'unsubscribe', SECRET)).toBe(
      true,
    );

    const destination = 'https://shop.example/p/1?utm_source=nudge&q=a b+c#top';
    const clickUrl = new URL(links.clickUrl(destination));
    expect(clickUrl.pathname).toMatch(/^\/t\/c\/[\w-]{64}$/);
    expect(clickUrl.searchParams.get('u')).toBe(destination);
    const parsed = parseToken(tokenOf(clickUrl.toString()))!;
    expect(verifyToken(parsed, 'click', SECRET, destination)).toBe(true);
  });

  it('leave links that are not http(s) alone', () => {
    const links = emailLinks(BASE, TENANT, MESSAGE, SECRET);
    for (const href of ['mailto:a@example.com', 'tel:+4915112345678', '#top', '/relative']) {
      expect(links.clickUrl(href)).toBe(href);
    }
    expect(isHttpUrl('javascript:alert(1)')).toBe(false);
    expect(isHttpUrl('HTTPS://shop.example/')).toBe(true);
  });
});

describe('machine opens', () => {
  const browser =
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
  const later = 60_000;

  it('count a browser or mail client some time after sending as a person', () => {
    expect(isMachineOpen(browser, later)).toBe(false);
    expect(isMachineOpen(browser, null)).toBe(false);
    const iphone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 ' +
      '(KHTML, like Gecko) Mobile/15E148';
    expect(isMachineOpen(iphone, later)).toBe(false);
    expect(isMachineOpen('Microsoft Outlook 16.0.17328; Pro', later)).toBe(false);
  });

  it.each([
    [
      'Gmail',
      'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
    ],
    ['Yahoo', 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html'],
    ['Apple Mail Privacy Protection', 'Mozilla/5.0'],
    ['Office link discovery', 'Microsoft Office Existence Discovery'],
    ['Bing preview', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) BingPreview/1.0b'],
    ['a security gateway', 'Mozilla/5.0 (compatible; Proofpoint URL Defense)'],
    ['a crawler', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
    ['a chat preview', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'],
    [
      'a headless browser',
      'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0 Safari/537.36',
    ],
    ['curl', 'curl/8.5.0'],
    ['python', 'python-requests/2.31.0'],
  ])('count %s as a machine', (_name, agent) => {
    expect(isMachineOpen(agent, later)).toBe(true);
  });

  it('count a missing or blank user agent as a machine', () => {
    expect(isMachineOpen(undefined, later)).toBe(true);
    expect(isMachineOpen('   ', later)).toBe(true);
  });

  it(`count anything within ${MACHINE_WINDOW_MS} ms of sending as a machine`, () => {
    expect(isMachineOpen(browser, 0)).toBe(true);
    expect(isMachineOpen(browser, MACHINE_WINDOW_MS - 1)).toBe(true);
    expect(isMachineOpen(browser, -500)).toBe(true);
    expect(isMachineOpen(browser, MACHINE_WINDOW_MS)).toBe(false);
  });
});

import type { Page } from 'playwright-core';
import { describeWithChromium, launchChromium, type Browser } from './support/chromium';
import {
  createApiKey,
  createTenantWithKey,
  uniq,
  type TestTenant,
} from './support/graphql-helpers';
import { startTestNudge, type TestNudge } from './support/harness';

const CREATE_TRIGGER = `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`;

/** The text of the first element matching `selector` once `predicate` holds for it. */
async function waitForText(
  page: Page,
  selector: string,
  predicate: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < timeoutMs) {
    last = ((await page
      .locator(selector)
      .first()
      .textContent({ timeout: 1000 })
      .catch(() => '')) ?? '') as string;
    if (predicate(last.trim())) return last.trim();
    await page.waitForTimeout(100);
  }
  throw new Error(`timed out waiting on ${selector}; last text was ${JSON.stringify(last)}`);
}

describeWithChromium('dashboard page in headless Chromium', () => {
  let t: TestNudge;
  let browser: Browser;
  let tenant: TestTenant;
  let triggerId: string;
  let dashboardUrl: string;

  beforeAll(async () => {
    t = await startTestNudge();
    browser = await launchChromium();
    dashboardUrl = t.nudge.url.replace(/\/graphql$/, '/dashboard');
    tenant = await createTenantWithKey(t, `dashboard ${uniq()}`);
    await t.setClock('2025-05-06T09:00:00Z');
    const created = await t.ok(tenant.secret, CREATE_TRIGGER, {
      i: {
        name: 'Cart reminder',
        event: 'added_to_cart',
        unless: { event: 'purchase', within: 'PT2H' },
        steps: [{ channel: 'EMAIL', template: { subject: 'Still there?', body: 'Hi' } }],
      },
    });
    triggerId = created.createTrigger.id;
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  /** A new tab that records script errors and CSP violations. */
  async function openDashboard(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    await page.goto(dashboardUrl);
    return { page, problems };
  }

  async function signIn(page: Page, secret: string): Promise<void> {
    await page.fill('#api-key', secret);
    await page.click('#sign-in-button');
  }

  async function trackCart(customer: string, at: string): Promise<void> {
    await t.ok(tenant.secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, {
      i: { externalId: customer, email: `${customer}@example.com` },
    });
    await t.ok(tenant.secret, `mutation($i: TrackInput!) { track(input: $i) { eventId } }`, {
      i: { customerExternalId: customer, event: 'added_to_cart', occurredAt: at },
    });
  }

  it('is served with a strict content security policy and no inline script', async () => {
    const response = await fetch(dashboardUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

    const script = await fetch(dashboardUrl.replace(/\/dashboard$/, '/dashboard/app.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await script.text()).length).toBeGreaterThan(1000);
  });

  it('shows a clear error for a bad API key and keeps nothing in storage', async () => {
    const { page, problems } = await openDashboard();
    await signIn(page, 'nk_not_a_real_key_0000000000');
    const error = await waitForText(page, '#sign-in-error', (text) => text.length > 0);
    expect(error).toBe('That API key was not accepted.');
    expect(await page.isVisible('#board')).toBe(false);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // The failed sign-in is a 200 with UNAUTHENTICATED: nothing else may have gone wrong.
    expect(problems).toEqual([]);
    await page.close();
  });

  it('tells a key that may not read apart from a bad one', async () => {
    const ingestOnly = await createApiKey(t, tenant.secret, ['INGEST'], 'events only');
    const { page } = await openDashboard();
    await signIn(page, ingestOnly.secret);
    const error = await waitForText(page, '#sign-in-error', (text) => text.length > 0);
    expect(error).toBe('This API key may not read metrics (it needs READ).');
    expect(await page.isVisible('#board')).toBe(false);
    await page.close();
  });

  it('says so when Nudge cannot be reached', async () => {
    const { page } = await openDashboard();
    await page.route('**/graphql', (route) => route.abort('connectionrefused'));
    await signIn(page, tenant.secret);
    const error = await waitForText(page, '#sign-in-error', (text) => text.length > 0);
    expect(error).toContain('Cannot reach Nudge');
    await page.close();
  });

  it('says so when the key is revoked while the page is open', async () => {
    const key = await createApiKey(t, tenant.secret, ['READ'], 'dashboard viewer');
    const { page } = await openDashboard();
    await signIn(page, key.secret);
    await waitForText(page, '#live-status', (text) => text === 'live');

    await t.ok(tenant.secret, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, {
      id: key.id,
    });
    const error = await waitForText(page, '#board-error', (text) => text.length > 0);
    expect(error).toContain('revoked');
    await waitForText(page, '#live-status', (text) => text === 'refused');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.close();
  });

  it('signs in, picks the trigger, and shows a number change live without a reload', async () => {
    const { page, problems } = await openDashboard();
    await signIn(page, tenant.secret);
    await waitForText(page, '#tenant-name', (text) => text.startsWith('dashboard '));
    expect(await page.inputValue('#trigger-picker')).toBe(triggerId);
    expect(await page.evaluate("sessionStorage.getItem('nudge.dashboard.apiKey')")).toBe(
      tenant.secret,
    );
    await waitForText(page, '#live-status', (text) => text === 'live');
    await waitForText(page, '[data-metric="entries"]', (text) => text === '0');
    // Survives only if the page is never reloaded.
    await page.evaluate('window.marker = 42');

    // The add-to-cart is evaluated at once; its run starts when the 2 h window closes.
    await trackCart(`c-${uniq()}`, '2025-05-06T10:00:00Z');
    await waitForText(page, '[data-metric="eligible"]', (text) => text === '1');
    expect(await page.locator('[data-stage="eligible"] .delta').textContent()).toBe('+1');
    expect(await page.isVisible('[data-stage="eligible"].changed')).toBe(true);
    expect(await page.textContent('[data-metric="entries"]')).toBe('0');

    // The deadline passes without a purchase: the run starts and the reminder is sent, and
    // the funnel, the step table and the firings move on by themselves.
    await t.setClock('2025-05-06T12:30:00Z');
    await waitForText(page, '[data-metric="entries"]', (text) => text === '1');
    await waitForText(page, '[data-metric="sent"]', (text) => text === '1');
    await waitForText(page, '[data-metric="activationRate"]', (text) => text === '100.0%');
    await waitForText(page, '#updated-at', (text) => text.startsWith('2025-05-06 12:30'));
    await waitForText(page, '#steps tr[data-step="0"] [data-col="sent"]', (text) => text === '1');
    await waitForText(page, '#firings li .who', (text) => text.startsWith('c-'));

    expect(await page.evaluate('window.marker')).toBe(42);
    expect(problems).toEqual([]);
    await page.close();
  });
  it('opens the trigger named in the address and shows its experiment, kept current', async () => {
    const created = await t.ok(tenant.secret, CREATE_TRIGGER, {
      i: {
        name: 'Subject test',
        event: 'viewed_item',
        goal: { event: 'purchase', within: 'P1D' },
        steps: [
          {
            channel: 'EMAIL',
            template: { subject: 'You looked at this', body: 'Hi' },
            variants: [
              { name: 'plain', weight: 50 },
              { name: 'bold', weight: 50, template: { subject: 'LOOK!', body: 'Hi' } },
            ],
          },
        ],
      },
    });
    const experimentTrigger = created.createTrigger.id as string;
    const page = await browser.context.newPage();
    await page.goto(`${dashboardUrl}#trigger=${experimentTrigger}`);
    await signIn(page, tenant.secret);
    await waitForText(page, '#live-status', (text) => text === 'live');
    expect(await page.inputValue('#trigger-picker')).toBe(experimentTrigger);
    await waitForText(
      page,
      '[data-experiment-step="0"] [data-status]',
      (text) => text === 'RUNNING',
    );
    const variants = () =>
      page.$$eval('[data-experiment-step="0"] tbody tr', (rows) =>
        rows.map((row) => row.getAttribute('data-variant')),
      );
    expect((await variants()).sort()).toEqual(['bold', 'plain']);

    const entriesShown = async () => {
      const cells = await page.$$eval('[data-experiment-step="0"] [data-col="entries"]', (tds) =>
        tds.map((td) => td.textContent ?? ''),
      );
      return cells.reduce((total, text) => total + Number(text.replace(/,/g, '')), 0);
    };
    expect(await entriesShown()).toBe(0);
    for (let i = 0; i < 6; i++) {
      const customer = `v-${uniq()}`;
      await t.ok(tenant.secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, {
        i: { externalId: customer, email: `${customer}@example.com` },
      });
      await t.ok(tenant.secret, `mutation($i: TrackInput!) { track(input: $i) { eventId } }`, {
        i: { customerExternalId: customer, event: 'viewed_item' },
      });
    }
    await waitForText(page, '[data-metric="entries"]', (text) => text === '6');
    const started = Date.now();
    while ((await entriesShown()) !== 6 && Date.now() - started < 10_000) {
      await page.waitForTimeout(100);
    }
    expect(await entriesShown()).toBe(6);
    await page.close();
  });
});

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's `chromium` package (`.ci/run` installs it when missing). */
export const CHROMIUM_PATH = process.env.NUDGE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless and offline: no first-run UI, no background downloads, no QUIC, no GPU; root in
 * a container needs --no-sandbox.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const hasChromium = (): boolean => existsSync(CHROMIUM_PATH);

/**
 * `describe` that needs Chromium. Without it the suite is skipped and says why, except under
 * CI=true or NUDGE_REQUIRE_SERVERS=1, where a missing browser fails (as missing servers do in
 * test/global-setup.ts).
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (hasChromium()) {
    describe(name, body);
    return;
  }
  const mustHave = process.env.CI === 'true' || process.env.NUDGE_REQUIRE_SERVERS === '1';
  const reason = `needs Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`;
  describe(name, () => {
    if (mustHave) {
      it(`${reason} — required under CI / NUDGE_REQUIRE_SERVERS`, () => {
        throw new Error(`${reason}; it is not installed`);
      });
    } else {
      it.skip(`${reason} — not installed, suite did not run`, () => undefined);
    }
  });
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile, removed again on close. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'nudge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

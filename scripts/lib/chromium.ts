import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's `chromium` package (`.ci/run` installs it when missing). */
export const CHROMIUM_PATH = process.env.NUDGE_CHROMIUM_PATH ?? '/usr/bin/chromium';

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

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile (removed again on close). */
export async function launchChromium(
  viewport: { width: number; height: number } = { width: 1280, height: 900 },
): Promise<Browser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'nudge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

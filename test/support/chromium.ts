import { CHROMIUM_PATH, hasChromium } from '../../scripts/lib/chromium';

export {
  CHROMIUM_PATH,
  hasChromium,
  launchChromium,
  type Browser,
} from '../../scripts/lib/chromium';

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
      // Jest lists skipped tests only with --verbose: say it where every run shows it.
      process.stderr.write(`\n${name}: SKIPPED, ${reason}\n`);
      it.skip(`${reason} — not installed, suite did not run`, () => undefined);
    }
  });
}

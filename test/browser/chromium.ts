import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM } from '../suites.ts';

/* Debian's Chromium (`apt-get install chromium`), never a browser downloaded by a test tool: test/suites.ts leaves the suite out without it. */

/**
 * Headless, sandbox off (root in CI containers), and every background connection off:
 * the machine's network is closed and nothing but loopback must be reached.
 */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

// Debian's chromium, driven headless by playwright-core for the viewer's browser tests. Never
// downloads a browser: when /usr/bin/chromium is missing the tests are skipped, saying why (on CI
// they fail instead).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { requirement } from '../common/requirements.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can (on CI, a missing one throws: see requirement). */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : requirement(`${CHROMIUM} not found: install Debian's chromium (npm test does it with apt when it can) to run the viewer's browser tests`);
}

/** A headless chromium (playwright gives it a fresh temporary profile) that reaches out to nothing by itself. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

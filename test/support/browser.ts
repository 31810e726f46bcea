import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, else the one `npx playwright-core install chromium` downloads (Ubuntu has only a snap). */
const DEBIAN_CHROMIUM = '/usr/bin/chromium';
/** Headless as root, and quiet: without the networking flags it keeps calling Google's hosts. */
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

/** A headless Chromium; a missing one fails the test with how to install it. */
export function launchChromium(): Promise<Browser> {
  const executablePath = [DEBIAN_CHROMIUM, chromium.executablePath()].find((path) => existsSync(path));
  if (!executablePath) throw new Error('Chromium is missing: scripts/test-deps.sh says how to install it');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

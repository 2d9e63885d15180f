/**
 * Debian's headless Chromium for the HTML report tests: undefined when it is not on the PATH
 * (the tests then skip), an error under CI=true, where a missing service fails instead.
 */
import type { Browser } from 'playwright-core';
import { findOnPath } from '../../sandbox/queue.ts';

export async function launchChromium(): Promise<Browser | undefined> {
  const executablePath = findOnPath('chromium', process.env.PATH);
  if (executablePath === undefined) {
    if (process.env.CI === 'true') throw new Error('CI=true but chromium is not on PATH (apt-get install -y chromium)');
    return undefined;
  }
  const { chromium } = await import('playwright-core');
  // As root (CI), Chromium's own sandbox cannot start.
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}

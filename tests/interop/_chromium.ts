// Headless Chromium for the interop drivers: launched once per driver, a fresh context per run,
// the peer's code sent as source text (see `portable` in _peer.ts).
import { existsSync } from "node:fs";
import type { Browser } from "playwright-core";
import { portable } from "./_peer.ts";

export const CHROMIUM = "/usr/bin/chromium";
/** Why Chromium cannot run here, or undefined when it can. */
export const chromiumMissing = existsSync(CHROMIUM) ? undefined : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;

/** Launches headless Chromium, or resolves undefined when it is not installed. */
export async function launchChromium(): Promise<Browser | undefined> {
  if (chromiumMissing) return undefined;
  const { chromium } = await import("playwright-core");
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    timeout: 30_000,
  });
}

/**
 * Opens `pageUrl` in a fresh context, so the sockets come from that origin, and runs `main(input)`
 * there; throws when the page has no `input.api`.
 */
export async function runInChromium<I extends { api: string }, O>(browser: Browser, pageUrl: string, main: (input: I) => Promise<O>, input: I): Promise<O> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    await page.goto(pageUrl, { timeout: 10_000 });
    if (!(await page.evaluate((name) => name in globalThis, input.api))) throw new Error(`Chromium has no ${input.api}`);
    return await page.evaluate(`(${portable(main)})(${JSON.stringify(input)})`) as O;
  } finally {
    await context.close().catch(() => {});
  }
}

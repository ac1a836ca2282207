// Test fixtures: every test talks to the server that global-setup.ts started.
import { test as base, expect, Page } from "@playwright/test";
import { readServerInfo, ServerInfo } from "../server-info";

export const test = base.extend<{ server: ServerInfo }>({
  server: async ({}, use) => {
    await use(readServerInfo());
  },
  baseURL: async ({}, use) => {
    await use(readServerInfo().baseURL);
  },
});

export { expect };

/**
 * Open a page and wait until the WebAssembly has loaded and hydrated it:
 * clicks before hydration are lost (TOOLCHAIN.md, pitfall 5).
 */
export async function openHydrated(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForLoadState("networkidle");
}

/** Wait for a full-page navigation triggered by the app to settle and hydrate. */
export async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
}

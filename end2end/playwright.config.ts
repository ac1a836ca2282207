import { defineConfig } from "@playwright/test";

// Which database the server under test uses: "sqlite" (default) or "postgres".
const backend = process.env.ROSTER_TEST_BACKEND ?? "sqlite";

export default defineConfig({
  testDir: "./tests",
  // Each run starts its own server on a fresh database (see global-setup.ts).
  globalSetup: "./global-setup.ts",
  // The tests share one server and one first administrator: run them in order.
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  outputDir: `test-results/${backend}`,
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});

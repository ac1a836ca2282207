// Test fixtures: every test talks to the server that global-setup.ts started.
import { test as base, expect, Browser, BrowserContext, BrowserContextOptions, CDPSession, Page } from "@playwright/test";
import { readServerInfo, ServerInfo } from "../server-info";
import { startOwnServer, OwnServer } from "../own-server";

export const test = base.extend<{ server: ServerInfo; pageProblems: void }>({
  server: async ({}, use) => {
    await use(readServerInfo());
  },
  baseURL: async ({}, use) => {
    await use(readServerInfo().baseURL);
  },
  // Fails any test whose page threw (a panic in the WebAssembly, a broken
  // hydration) or could not load one of its own scripts, styles or images.
  pageProblems: [
    async ({ page }, use) => {
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`uncaught error: ${e.message}`));
      page.on("response", (r) => {
        const kind = r.request().resourceType();
        if (r.status() >= 400 && ["script", "stylesheet", "image", "font"].includes(kind)) {
          problems.push(`${kind} ${r.url()} answered ${r.status()}`);
        }
        if (r.status() >= 400 && r.url().match(/\.(wasm|ico)$/)) {
          problems.push(`${r.url()} answered ${r.status()}`);
        }
      });
      page.on("requestfailed", (r) => {
        const failure = r.failure()?.errorText ?? "";
        // Navigations started by the app cancel requests still in flight.
        if (!failure.includes("ERR_ABORTED")) {
          problems.push(`request ${r.url()} failed: ${failure}`);
        }
      });
      await use();
      expect(problems, "problems seen by the browser").toEqual([]);
    },
    { auto: true },
  ],
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

/** The WebAssembly files the page fetches from now on, by file name. */
export function wasmRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on("request", (r) => {
    const name = new URL(r.url()).pathname.split("/").pop() ?? "";
    if (name.endsWith(".wasm")) seen.push(name);
  });
  return seen;
}

/** The split modules (app/src/lazy_pages.rs) among WebAssembly file names, by application: `split_users.….wasm` → `users`. */
export function splitModules(wasm: string[]): string[] {
  return [...new Set(wasm.filter((n) => n.startsWith("split_")).map((n) => n.replace(/^split_(.*?)\..*$/, "$1")))].sort();
}

/** A person as the specs sign them up or in. */
export interface Person {
  email: string;
  first: string;
  last: string;
  password: string;
}

/** Open a setup link, create the first Global administrator, and land on the Dashboard. */
export async function createFirstAdministrator(page: Page, setupURL: string, admin: Person): Promise<void> {
  await openHydrated(page, setupURL);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("First name").fill(admin.first);
  await page.getByLabel("Last name").fill(admin.last);
  await page.getByLabel("Password", { exact: true }).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
}

/** Sign in from the Sign in page and land on the Dashboard. */
export async function signInToDashboard(page: Page, email: string, password: string): Promise<void> {
  await openHydrated(page, "/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
}

/** A browser context of its own and its page. */
export interface Opened {
  context: BrowserContext;
  page: Page;
}

/**
 * Pages on a server of a spec file's own (own-server.ts). Each records what
 * the pageProblems fixture catches on the shared server's pages (an uncaught
 * error: a panic in the WebAssembly, a broken hydration), and every test of
 * the file fails on any. Call it at the top of the file.
 */
export function ownPages(baseURL: () => string) {
  const errors: string[] = [];
  test.afterEach(() => {
    expect(errors.splice(0), "errors in the browser").toEqual([]);
  });
  return async function open(browser: Browser, options: BrowserContextOptions = {}): Promise<Opened> {
    const context = await browser.newContext({ baseURL: baseURL(), ...options });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(`uncaught error: ${e.message}`));
    return { context, page };
  };
}

/**
 * A serial spec with a server of its own (`startOwnServer(options)`): started
 * before the spec's tests, stopped after them with every browser context
 * `newPage` opened (each page's uncaught errors fail its test). `host`: the
 * name its pages open it by instead of 127.0.0.1 (`baseURL()` gives the
 * address they use).
 */
export function withOwnServer(options?: Parameters<typeof startOwnServer>[0], host?: string) {
  test.describe.configure({ mode: "serial" });
  let server: OwnServer | undefined;
  const contexts: BrowserContext[] = [];
  const baseURL = () => (host ? own().baseURL.replace("//127.0.0.1:", `//${host}:`) : own().baseURL);
  const open = ownPages(baseURL);
  const own = (): OwnServer => {
    if (!server) throw new Error("the spec's own server has not started");
    return server;
  };
  test.beforeAll(async () => {
    server = await startOwnServer(options);
  });
  test.afterAll(async () => {
    for (const c of contexts) await c.close();
    await server?.stop();
  });
  async function newPage(browser: Browser): Promise<Page> {
    const { context, page } = await open(browser);
    contexts.push(context);
    return page;
  }
  return { own, newPage, baseURL };
}

export interface Virtual {
  cdp: CDPSession;
  authenticatorId: string;
}

/** A virtual platform authenticator (CTAP2, resident keys, user verification) for this page's context. */
export async function addAuthenticator(page: Page, isUserVerified = true): Promise<Virtual> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

export async function credentials(v: Virtual) {
  const { credentials } = await v.cdp.send("WebAuthn.getCredentials", { authenticatorId: v.authenticatorId });
  return credentials;
}

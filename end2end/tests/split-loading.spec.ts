// Split loading (issue 16): the pages a new person sees first load only the
// main WebAssembly module; each application's pages are a module of their
// own (app/src/lazy_pages.rs, `cargo leptos build --split`), fetched when one
// of them is first opened, or ahead, in the background, by the Dashboard (only
// the applications the person may open). Every page still hydrates when it is
// loaded directly and after client-side navigation, and calls no server
// function while it loads: the data the server rendered comes with the page.
//
// Runs after foundation.spec.ts (files run in order, one worker), which
// created the first administrator.
import { test, expect, openHydrated, settle, signInToDashboard, splitModules, wasmRequests } from "./fixtures";
import type { Page } from "@playwright/test";

const ADMIN = { email: "ada@example.com", password: "analytical engine 1843" };

test.describe.configure({ mode: "serial" });

/** The split module (app/src/lazy_pages.rs) that holds the page at `path`. */
function applicationModule(path: string): string {
  const first = path.split("/")[1] ?? "";
  if (first === "") return "dashboard";
  return first.replace(/-/g, "_");
}

const isMain = (name: string) => /^roster(\.[A-Za-z0-9_-]{22}|_bg)?\.wasm$/.test(name);

/**
 * The page is hydrated: a click on a navigation link is handled by the router
 * in the page (the window and what was set on it survive), not by a full load.
 */
async function expectHydrated(page: Page, path: string) {
  await page.evaluate(() => ((window as unknown as { __stayed: number }).__stayed = 1));
  await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name: "Dashboard" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  const stayed = await page.evaluate(() => (window as unknown as { __stayed?: number }).__stayed);
  expect(stayed, `${path}: the link was followed inside the page, so the page had hydrated`).toBe(1);
}

test("the sign-in page loads the main module alone; the Dashboard's code comes after sign-in", async ({ page }) => {
  const wasm = wasmRequests(page);
  await openHydrated(page, "/signin");
  expect(wasm.length, wasm.join(", ")).toBe(1);
  expect(isMain(wasm[0]), wasm[0]).toBe(true);
  // Typed and sent by the hydrated form (a server function), not a page post.
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  expect(wasm.filter((n) => !isMain(n)).length, `chunks after sign-in: ${wasm.join(", ")}`).toBeGreaterThan(0);
});

test("every page an administrator can open hydrates when loaded directly, and loads its own chunk", async ({ page }) => {
  test.setTimeout(300_000); // 16 pages, each loaded from nothing
  await signInToDashboard(page, ADMIN.email, ADMIN.password);
  // An invitation, so that the Email queue has an email to open.
  const invited = await page.request.post("/api/invite_user", {
    data: { email: "split.loading@example.com", role_ids: [] },
    headers: { Origin: new URL(page.url()).origin },
  });
  expect(invited.status(), await invited.text()).toBe(200);
  // The detail pages: the first link to one in each list.
  const detail = async (list: string, pattern: RegExp): Promise<string> => {
    await openHydrated(page, list);
    const hrefs = await page.locator("main a[href]").evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
    const href = hrefs.find((h) => pattern.test(h));
    expect(href, `a link matching ${pattern} on ${list}`).toBeTruthy();
    return href!;
  };
  const paths = [
    "/",
    "/account",
    "/users",
    "/users/new",
    "/users/import",
    await detail("/users", /^\/users\/\d+$/),
    "/roles",
    "/roles/new",
    await detail("/roles", /^\/roles\/\d+$/),
    "/email-queue",
    await detail("/email-queue", /^\/email-queue\/\d+$/),
    "/audit-log",
    "/applications",
    "/applications/new",
    "/settings",
    "/settings/templates/invitation",
  ];
  const chunks = new Map<string, string[]>();
  for (const path of paths) {
    // A fresh page each time, so each page's own chunks are fetched anew.
    const fresh = await page.context().newPage();
    const wasm = wasmRequests(fresh);
    const errors: string[] = [];
    fresh.on("pageerror", (e) => errors.push(e.message));
    // Server functions called while the page loads and hydrates: the data the
    // server rendered travels with the page, so hydration asks for none of it again.
    const calls: string[] = [];
    fresh.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/")) calls.push(`${r.method()} ${url.pathname}`);
    });
    const response = await fresh.goto(path);
    expect(response?.status(), path).toBe(200);
    await fresh.waitForLoadState("networkidle");
    await expect(fresh.getByRole("heading", { level: 1 }).first()).toBeVisible();
    expect(calls, `${path}: server functions called while it loaded; the page should carry that data`).toEqual([]);
    await expect(fresh.getByRole("heading", { name: "Page not found" })).toHaveCount(0);
    chunks.set(path, wasm.filter((n) => !isMain(n)));
    expect(chunks.get(path)!.length, `${path} loads a chunk of its own: ${wasm.join(", ")}`).toBeGreaterThan(0);
    const module = applicationModule(path);
    expect(
      wasm.some((n) => n.startsWith(`split_${module}.`)),
      `${path} loads its application's module split_${module}: ${wasm.join(", ")}`,
    ).toBe(true);
    await expectHydrated(fresh, path);
    expect(errors, `${path}: errors in the browser`).toEqual([]);
    await fresh.close();
  }
  // The applications' pages are not all one chunk.
  const users = new Set(chunks.get("/users"));
  expect(chunks.get("/roles")!.some((n) => !users.has(n)), "Roles has code Users does not load").toBe(true);
});

test("the Dashboard fetches the code of the person's applications in the background; opening them then waits for none", async ({ page }) => {
  const wasm = wasmRequests(page);
  await signInToDashboard(page, ADMIN.email, ADMIN.password);
  const everyApplication = ["account", "applications", "audit_log", "dashboard", "email_queue", "roles", "settings", "users"];
  await expect.poll(() => splitModules(wasm), "every module an administrator can open").toEqual(everyApplication);
  await settle(page);
  const fetched = wasm.length;
  const nav = page.getByRole("navigation", { name: "Applications" });
  await nav.getByRole("link", { name: "Roles", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Roles" })).toBeVisible();
  await nav.getByRole("link", { name: "Users", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  // The Users page's own controls work: its search asks the server.
  const search = page.waitForRequest((r) => r.url().endsWith("/api/list_users"));
  await page.getByRole("searchbox").first().fill("ada");
  await search;
  await expect(page.locator("main")).toContainText(ADMIN.email);
  expect(wasm.slice(fetched), "no WebAssembly fetched on the way: it was all there").toEqual([]);
});

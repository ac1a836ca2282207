// The Users search while typing: it waits for a pause before it asks the
// server, and the list always ends with the results of the last term typed,
// even when the answer to an earlier term arrives after the later one.
//
// Runs after foundation.spec.ts (files run in order, one worker), which
// created the first administrator.
import { test, expect, openHydrated } from "./fixtures";
import type { Page, Request } from "@playwright/test";

const ADMIN = { email: "ada@example.com", password: "analytical engine 1843" };
const PEOPLE = ["zoe.search@example.com", "zora.search@example.com", "zed.search@example.com"];

test.describe.configure({ mode: "serial" });

function searchOf(r: Request): string | null {
  if (!r.url().endsWith("/api/list_users")) return null;
  return (JSON.parse(r.postData() ?? "{}").query?.search as string) ?? null;
}

async function signIn(page: Page) {
  await openHydrated(page, "/signin");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
}

const emailsShown = (page: Page) => page.locator("table tbody tr td a[href^=\"/users/\"]").allInnerTexts();

test("typing a term sends one search, after the pause", async ({ page }) => {
  await signIn(page);
  for (const email of PEOPLE) {
    const r = await page.request.post("/api/invite_user", {
      data: { email, role_ids: [] },
      headers: { Origin: new URL(page.url()).origin },
    });
    expect(r.status(), await r.text()).toBe(200);
  }
  await openHydrated(page, "/users");
  const searches: string[] = [];
  page.on("request", (r) => {
    const s = searchOf(r);
    if (s !== null) searches.push(s);
  });
  // Three keystrokes within one moment (typed by the page itself, so that a
  // busy machine cannot stretch the gaps between them past the pause).
  await page.getByRole("searchbox", { name: "Search", exact: true }).evaluate((box: HTMLInputElement) => {
    for (const value of ["z", "zo", "zor"]) {
      box.value = value;
      box.dispatchEvent(new Event("input", { bubbles: true }));
    }
  });
  await expect(page.getByRole("row").filter({ hasText: "zora.search@example.com" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "zoe.search@example.com" })).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(searches).toEqual(["zor"]);
});

test("a slow answer to an earlier term never replaces the last term's results", async ({ page }) => {
  await signIn(page);
  await openHydrated(page, "/users");
  // The answers to "z" and "zo" take 2 s; the last term's comes at once.
  await page.route("**/api/list_users", async (route) => {
    const s = searchOf(route.request());
    if (s === "z" || s === "zo") await new Promise((done) => setTimeout(done, 2000));
    await route.continue();
  });
  const searches: string[] = [];
  page.on("request", (r) => {
    const s = searchOf(r);
    if (s !== null) searches.push(s);
  });
  const box = page.getByRole("searchbox", { name: "Search", exact: true });
  // Each key after the previous term's request went out (a pause longer
  // than the debounce), so that each term is sent.
  for (const [key, term] of [["z", "z"], ["o", "zo"], ["e", "zoe"]]) {
    const sent = page.waitForRequest((r) => searchOf(r) === term);
    await box.press(key);
    await sent;
  }
  await expect.poll(() => emailsShown(page)).toEqual(["zoe.search@example.com"]);
  // After the slow answers to "z" and "zo" have arrived, "zoe"'s still stand.
  await page.waitForTimeout(2500);
  expect(searches).toEqual(["z", "zo", "zoe"]);
  expect(await emailsShown(page)).toEqual(["zoe.search@example.com"]);
  await expect(box).toHaveValue("zoe");
});

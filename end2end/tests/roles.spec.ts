// Laura's scenario from the Roles issue: the admin creates the role "Digital
// Channel Manager" with View on Users and on Email queue only, and invites
// lauram@kbank.com with it. Laura signs up from the link in the Email queue,
// sees exactly those two tiles, gets the 403 page for Roles, and sees the
// Roles tile at her next page load once the admin grants Roles View, without
// signing out.
//
// invitation.spec.ts already invites lauram@kbank.com (as an administrator) on
// the shared server, so this story runs on a server of its own: same binary,
// same backend, a fresh database, its own first administrator.
import { test, expect, openHydrated, settle, createFirstAdministrator, ownPages, splitModules, wasmRequests } from "./fixtures";
import type { BrowserContext, Page } from "@playwright/test";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "grace@kbank.com", first: "Grace", last: "Hopper", password: "cobol compilers since 1959" };
const LAURA = { email: "lauram@kbank.com", password: "kbank digital channels 2026" };
const ROLE = "Digital Channel Manager";

test.describe.configure({ mode: "serial" });

let own: OwnServer;
let admin: { context: BrowserContext; page: Page };
let laura: { context: BrowserContext; page: Page };
let invitationLink = "";

// Like the pageProblems fixture, for this file's own pages: a panic in the
// WebAssembly or a broken hydration fails the test.

const newPage = ownPages(() => own.baseURL);

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer();
  admin = await newPage(browser);
});

test.afterAll(async () => {
  await admin?.context.close();
  await laura?.context.close();
  await own?.stop();
});

// ---- helpers --------------------------------------------------------------------------

function nav(page: Page) {
  return page.getByRole("navigation", { name: "Applications" });
}

/** The applications on the Dashboard, by their registry keys. */
async function tiles(page: Page): Promise<string[]> {
  const list = page.getByRole("list", { name: "Applications" });
  await expect(list).toBeVisible();
  return list.locator("[data-app]").evaluateAll((els) => els.map((e) => e.getAttribute("data-app") ?? ""));
}

async function openRole(page: Page, tab: string) {
  await openHydrated(page, "/roles");
  await page.getByRole("link", { name: ROLE }).click();
  await expect(page.getByRole("heading", { level: 1, name: ROLE })).toBeVisible();
  await page.getByRole("tab", { name: tab }).click();
  await expect(page.getByRole("tab", { name: tab })).toHaveAttribute("aria-selected", "true");
}

// ---- the story ------------------------------------------------------------------------

test("the admin creates Digital Channel Manager with View on Users and Email queue only", async () => {
  const { page } = admin;
  expect(own.setupURL).toMatch(/\/setup\//);
  await createFirstAdministrator(page, own.setupURL, ADMIN);

  await nav(page).getByRole("link", { name: "Roles" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Roles" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "Administrator" })).toContainText("Built in");
  await page.getByRole("link", { name: "New role" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New role" })).toBeVisible();
  await page.getByLabel("Name").fill(ROLE);
  await page.getByLabel("Description").fill("Looks after the digital channels.");
  await page.getByRole("button", { name: "Create role" }).click();

  // The new role opens on its permission matrix.
  await expect(page.getByRole("heading", { level: 1, name: ROLE })).toBeVisible();
  await expect(page.getByRole("tab", { name: "Permissions" })).toHaveAttribute("aria-selected", "true");
  await settle(page);
  await page.getByRole("checkbox", { name: "Users: View" }).check();
  await page.getByRole("checkbox", { name: "Email queue: View" }).check();
  // Email queue declares no Create permission: there is no box for it.
  await expect(page.getByRole("checkbox", { name: "Email queue: Create" })).toHaveCount(0);
  await page.getByRole("button", { name: "Save permissions" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Permissions saved." })).toBeVisible();
  await expect(page.getByRole("checkbox", { name: "Users: View" })).toBeChecked();
  await expect(page.getByRole("checkbox", { name: "Roles: View" })).not.toBeChecked();

  // Preview dashboard: the tiles a member sees.
  await page.getByRole("tab", { name: "Preview dashboard" }).click();
  const preview = page.getByRole("list", { name: "Applications a member sees" });
  await expect(preview.locator("[data-app]")).toHaveCount(2);
  expect(await preview.locator("[data-app]").evaluateAll((els) => els.map((e) => e.getAttribute("data-app")))).toEqual([
    "users",
    "email-queue",
  ]);
});

test("the admin invites lauram@kbank.com with the role and finds the link in the Email queue", async () => {
  const { page } = admin;
  await nav(page).getByRole("link", { name: "Users" }).click();
  await page.getByRole("link", { name: "New user" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New user" })).toBeVisible();
  await page.getByLabel("Email").fill(LAURA.email);
  await page.getByRole("checkbox", { name: ROLE }).check();
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${LAURA.email}.` })).toBeVisible();

  await nav(page).getByRole("link", { name: "Email queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  await page.getByRole("row").filter({ hasText: LAURA.email }).getByRole("link", { name: /^You have been invited/ }).click();
  await page.getByRole("tab", { name: "Plain text" }).click();
  const body = await page.locator("pre.email-body").innerText();
  const match = body.match(/https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/);
  expect(match, `no sign-up link in:\n${body}`).not.toBeNull();
  invitationLink = match![0];
});

test("Laura signs up and her Dashboard shows exactly Users and Email queue", async ({ browser }) => {
  expect(invitationLink).not.toBe("");
  laura = await newPage(browser);
  const { page } = laura;
  const wasm = wasmRequests(page);
  await openHydrated(page, invitationLink);
  await expect(page.getByRole("heading", { name: "Sign up" })).toBeVisible();
  await page.getByLabel("Password", { exact: true }).fill(LAURA.password);
  await page.getByLabel("Confirm password").fill(LAURA.password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  expect(await tiles(page)).toEqual(["users", "email-queue"]);
  await expect(nav(page).getByRole("link", { name: "Roles" })).toHaveCount(0);
  // The Dashboard fetches the code of her applications ahead, and no other's.
  await expect.poll(() => splitModules(wasm)).toEqual(["account", "dashboard", "email_queue", "users"]);
  await settle(page);
  expect(splitModules(wasm)).toEqual(["account", "dashboard", "email_queue", "users"]);
});

test("opening Roles by its address shows the 403 page with a way back", async () => {
  const { page } = laura;
  const response = await page.goto("/roles");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { level: 1, name: "Access denied" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("403");
  await expect(page.getByRole("alert")).toContainText("You do not have permission to open Roles.");
  await settle(page);
  await page.getByRole("link", { name: "Back to the Dashboard" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("the admin sees Laura's access and which role grants it", async () => {
  const { page } = admin;
  await openHydrated(page, "/users");
  await page.getByRole("link", { name: LAURA.email }).click();
  const access = page.getByRole("region", { name: "Access" });
  await expect(access.getByRole("row").filter({ hasText: "Email queue" })).toContainText(ROLE);
  await expect(access.getByRole("row").filter({ hasText: "Roles" })).toHaveCount(0);
});

test("the admin grants Roles View; Laura's next page load shows the Roles tile without signing out", async () => {
  await openRole(admin.page, "Permissions");
  await admin.page.getByRole("checkbox", { name: "Roles: View" }).check();
  await admin.page.getByRole("button", { name: "Save permissions" }).click();
  await expect(admin.page.getByRole("status").filter({ hasText: "Permissions saved." })).toBeVisible();

  const { page } = laura;
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  expect(await tiles(page)).toEqual(["users", "roles", "email-queue"]);
  await expect(page.getByLabel("User menu")).toContainText(LAURA.email);
  await nav(page).getByRole("link", { name: "Roles" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Roles" })).toBeVisible();
  await expect(page.getByRole("link", { name: ROLE })).toBeVisible();
  // View only: no New role for her.
  await expect(page.getByRole("link", { name: "New role" })).toHaveCount(0);
});

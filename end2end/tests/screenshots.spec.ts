// Pictures of the main pages, as the README shows them: the seed's story
// (an administrator invites Laura with the role Digital Channel Manager; Laura
// signs up and sees her two applications), taken at 1280 × 800, plus a
// phone-sized Users page and the dark theme.
//
// Every run writes them to test-results/screenshots-<backend>/; `make
// screenshots` runs this file alone with ROSTER_SCREENSHOTS_DIR=docs/screenshots,
// the pictures the README links. Each picture is checked for what it must show
// before it is taken, so a broken page fails here instead of landing in the README.
//
// Runs on a server of its own (a fresh database, its own administrator).
import { test, expect, openHydrated, settle, createFirstAdministrator, ownPages } from "./fixtures";
import type { Browser, BrowserContextOptions, Page } from "@playwright/test";
import * as fs from "fs";
import * as path from "path";
import { startOwnServer, OwnServer } from "../own-server";
import { backend } from "../server-info";

const ADMIN = { email: "hedy@kbank.com", first: "Hedy", last: "Lamarr", password: "frequency hopping 1942" };
const LAURA = { email: "lauram@kbank.com", first: "Laura", last: "Mills", password: "kbank digital channels 2026" };
const ROLE = "Digital Channel Manager";
const TEAM = [
  ["tom.baker@kbank.com", "Tom", "Baker"],
  ["ana.lopez@kbank.com", "Ana", "López"],
  ["wei.zhang@kbank.com", "Wei", "Zhang"],
  ["fatima.ali@kbank.com", "Fatima", "Ali"],
  ["john.smith@kbank.com", "John", "Smith"],
];
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 }, colorScheme: "light" };
const DIR = process.env.ROSTER_SCREENSHOTS_DIR ?? path.join(__dirname, "..", "test-results", `screenshots-${backend()}`);

test.describe.configure({ mode: "serial" });

let own: OwnServer;

const openOwn = ownPages(() => own.baseURL);
const newPage = (browser: Browser, options: BrowserContextOptions = DESKTOP) => openOwn(browser, options);

async function shoot(page: Page, name: string) {
  // The page loaded and its fonts ready before the picture.
  // (Not networkidle: a page with an email's frame never goes idle.)
  await page.waitForLoadState("load");
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: path.join(DIR, `${name}.png`), animations: "disabled" });
  expect(fs.statSync(path.join(DIR, `${name}.png`)).size).toBeGreaterThan(5_000);
}

/** Call a server function: `json` for those that read JSON, else as a form. */
async function post(page: Page, fn: string, args: Record<string, unknown>, json = true) {
  const body = json ? { data: args } : { form: args as Record<string, string> };
  const r = await page.request.post(`/api/${fn}`, { ...body, headers: { Origin: own.baseURL } });
  expect(r.status(), `${fn}: ${await r.text()}`).toBe(200);
  return r.json();
}

test.beforeAll(async () => {
  fs.mkdirSync(DIR, { recursive: true });
  own = await startOwnServer();
});

test.afterAll(async () => {
  await own?.stop();
});

let invitationLink = "";

test("pictures of the administrator's pages", async ({ browser }) => {
  test.setTimeout(120_000);
  const { context, page } = await newPage(browser);
  await createFirstAdministrator(page, own.setupURL, ADMIN);
  const roleId = await post(page, "create_role", { name: ROLE, description: "Looks after the digital channels' people and email." }, false);
  await post(page, "set_role_permissions", { id: roleId, grants: [["Users", "View"], ["EmailQueue", "View"]] });
  for (const [email, first_name, last_name] of TEAM) {
    await post(page, "invite_user", { email, first_name, last_name, role_ids: [roleId] });
  }

  await openHydrated(page, "/");
  await expect(page.getByRole("list", { name: "Applications" }).getByRole("link")).toHaveCount(6);
  await shoot(page, "dashboard-administrator");

  await openHydrated(page, "/users/new");
  await page.getByLabel("Email").fill(LAURA.email);
  await page.getByLabel("First name").fill(LAURA.first);
  await page.getByLabel("Last name").fill(LAURA.last);
  await page.getByRole("checkbox", { name: ROLE }).check();
  await expect(page.getByRole("list", { name: "Chosen roles" })).toContainText(ROLE);
  await shoot(page, "new-user");
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${LAURA.email}.` })).toBeVisible();

  await openHydrated(page, "/users");
  await expect(page.getByRole("row").filter({ hasText: LAURA.email })).toContainText("Invited");
  await shoot(page, "users");

  await openHydrated(page, "/email-queue");
  await expect(page.getByRole("row").filter({ hasText: LAURA.email })).toHaveCount(1);
  await shoot(page, "email-queue");
  await page.getByRole("row").filter({ hasText: LAURA.email }).getByRole("link", { name: /^You have been invited/ }).click();
  await expect(page.frameLocator("iframe.email-html").getByText(`Hello ${LAURA.first},`)).toBeVisible();
  await shoot(page, "email-invitation");
  invitationLink = (await page.locator("pre.email-body").textContent())!.match(/https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/)![0];

  await openHydrated(page, `/roles/${roleId}`);
  await expect(page.getByRole("heading", { level: 1, name: ROLE })).toBeVisible();
  await shoot(page, "roles-matrix");

  await openHydrated(page, "/account?tab=password");
  await expect(page.getByLabel("Current password")).toBeVisible();
  await shoot(page, "account-password");
  await context.close();

  const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });
  await phone.page.goto(own.baseURL + "/signin");
  await settle(phone.page);
  await phone.page.getByLabel("Email").fill(ADMIN.email);
  await phone.page.getByLabel("Password").fill(ADMIN.password);
  await phone.page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(phone.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await openHydrated(phone.page, "/users");
  await expect(phone.page.getByRole("row").filter({ hasText: LAURA.email })).toBeVisible();
  await shoot(phone.page, "users-phone");
  await phone.context.close();

  const dark = await newPage(browser, { ...DESKTOP, colorScheme: "dark" });
  await openHydrated(dark.page, "/signin");
  await dark.page.getByLabel("Email").fill(ADMIN.email);
  await dark.page.getByLabel("Password").fill(ADMIN.password);
  await dark.page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(dark.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await openHydrated(dark.page, "/users");
  await expect(dark.page.getByRole("row").filter({ hasText: LAURA.email })).toBeVisible();
  const background = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background, "the dark theme is in force").not.toBe("rgb(255, 255, 255)");
  await shoot(dark.page, "users-dark");
  await dark.context.close();
});

test("a picture of Laura's Dashboard: only what her role permits", async ({ browser }) => {
  expect(invitationLink).not.toBe("");
  const { context, page } = await newPage(browser);
  await openHydrated(page, invitationLink);
  await page.getByLabel("Password", { exact: true }).fill(LAURA.password);
  await page.getByLabel("Confirm password").fill(LAURA.password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByRole("list", { name: "Applications" }).getByRole("link")).toHaveCount(2);
  await shoot(page, "dashboard-laura");
  await context.close();
});

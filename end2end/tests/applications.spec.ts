// The organization's own applications, end to end: the administrator
// registers CRM (a small web app the test starts, which signs people in with
// the openid-client library) and gives the role Sales View on it. Laura, in
// Sales, clicks CRM's tile on her Dashboard and lands signed in on CRM, which
// shows her email and her permissions there. Tom, without the role, sees no
// tile, and going to CRM directly gets Roster's "no access" page.
import { test, expect, openHydrated, settle, createFirstAdministrator, ownPages } from "./fixtures";
import type { BrowserContext, Page } from "@playwright/test";
import { startOwnServer, OwnServer } from "../own-server";
import { startRelyingParty, RelyingParty } from "../relying-party";

const ADMIN = { email: "grace@kbank.com", first: "Grace", last: "Hopper", password: "cobol compilers since 1959" };
const LAURA = { email: "lauram@kbank.com", password: "kbank digital channels 2026" };
const TOM = { email: "tom@kbank.com", password: "quarterly ledgers balance nicely" };

test.describe.configure({ mode: "serial" });

let own: OwnServer;
let crm: RelyingParty;
let admin: { context: BrowserContext; page: Page };
let salesRole = 0;
let appKey = "";

const newPage = ownPages(() => own.baseURL);

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer();
  crm = await startRelyingParty();
  admin = await newPage(browser);
});

test.afterAll(async () => {
  await admin?.context.close();
  await crm?.stop();
  await own?.stop();
});

/** A server function called from the administrator's browser session. */
async function api(endpoint: string, data: Record<string, unknown>, json = true): Promise<any> {
  const headers = { Origin: own.baseURL, Accept: "application/json" };
  const r = json
    ? await admin.page.request.post(`${own.baseURL}/api/${endpoint}`, { data, headers })
    : await admin.page.request.post(`${own.baseURL}/api/${endpoint}`, { form: data as Record<string, string>, headers });
  expect(r.status(), `${endpoint}: ${await r.text()}`).toBe(200);
  return r.json();
}

/** Invite `email` with `roles`, and sign them up from the link in the Email queue in a browser of their own. */
async function signUp(browser: import("@playwright/test").Browser, email: string, password: string, roles: number[]) {
  await api("invite_user", { email, role_ids: roles });
  const list = await api("list_emails", { status: "" }, false);
  const row = list.rows.find((r: any) => r.to === email);
  const detail = await api("get_email", { id: String(row.id) }, false);
  const link = /https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/.exec(detail.body_text)![0];
  const person = await newPage(browser);
  await openHydrated(person.page, link);
  await person.page.getByLabel("Password", { exact: true }).fill(password);
  await person.page.getByLabel("Confirm password").fill(password);
  await person.page.getByRole("button", { name: "Sign up" }).click();
  await expect(person.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(person.page);
  return person;
}

test("the administrator registers CRM and copies its credentials, shown once", async () => {
  const { page } = admin;
  await createFirstAdministrator(page, own.setupURL, ADMIN);
  await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name: "Applications" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Applications" })).toBeVisible();
  await page.getByRole("link", { name: "New application" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New application" })).toBeVisible();
  await settle(page);
  await page.getByLabel("Name").fill("CRM");
  await page.getByLabel("Description").fill("Customers and deals");
  await page.getByLabel(/^Launch URL/).fill(crm.url);
  await page.getByLabel(/^Redirect URIs/).fill(crm.redirectURI);
  await page.getByRole("button", { name: "Create application" }).click();
  await expect(page.getByText("Copy the client secret now: it will not be shown again.")).toBeVisible();
  const clientId = (await page.locator("#client-id").innerText()).trim();
  const secret = await page.getByRole("textbox", { name: "Client secret" }).inputValue();
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await crm.configure(own.baseURL, clientId, secret);

  await page.getByRole("link", { name: "Open the application" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM" })).toBeVisible();
  await expect(page.locator("body")).not.toContainText(secret);
  appKey = `app-${/\/applications\/(\d+)/.exec(page.url())![1]}`;
});

test("the role Sales gets View on CRM in the permission matrix", async () => {
  const { page } = admin;
  await openHydrated(page, "/roles/new");
  await page.getByLabel("Name").fill("Sales");
  await page.getByRole("button", { name: "Create role" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sales" })).toBeVisible();
  await settle(page);
  salesRole = Number(/\/roles\/(\d+)/.exec(page.url())![1]);
  await page.getByRole("checkbox", { name: "CRM: View" }).check();
  await page.getByRole("button", { name: "Save permissions" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Permissions saved." })).toBeVisible();
  await page.getByRole("tab", { name: "Preview dashboard" }).click();
  await expect(page.getByRole("list", { name: "Applications a member sees" }).locator(`[data-app="${appKey}"]`)).toBeVisible();
});

test("Laura clicks CRM's tile and lands signed in on CRM, with her email and permissions", async ({ browser }) => {
  const laura = await signUp(browser, LAURA.email, LAURA.password, [salesRole]);
  const { page } = laura;
  const tile = page.getByRole("list", { name: "Applications" }).locator(`a[data-app="${appKey}"]`);
  await expect(tile).toContainText("CRM");
  await tile.click();
  await expect(page.getByRole("heading", { level: 1, name: "CRM" })).toBeVisible();
  await expect(page.locator("#email")).toHaveText(LAURA.email);
  await expect(page.locator("#permissions")).toHaveText("view");
  expect(page.url()).toBe(crm.url);
  await laura.context.close();
});

test("Tom, without the role, has no tile and gets Roster's no access page at CRM", async ({ browser }) => {
  const tom = await signUp(browser, TOM.email, TOM.password, []);
  const { page } = tom;
  await expect(page.locator(`[data-app="${appKey}"]`)).toHaveCount(0);
  const response = await page.goto(crm.url);
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { level: 1, name: "No access" })).toBeVisible();
  await expect(page.getByText("You don't have access to CRM. Ask an administrator.")).toBeVisible();
  expect(page.url().startsWith(own.baseURL)).toBe(true);
  await tom.context.close();
});

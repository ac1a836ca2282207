// Working on many people at once, on a server of this file's own: select
// every user matching a search (more than a page), disable them after a
// confirmation that names the count, read the result and the audit entries;
// import a CSV with good, duplicate and bad rows, read the review, import,
// and find the invitations in the Email queue; export the list and compare
// the file; and a person with Users View only sees no bulk actions.
import { test, expect, openHydrated, settle, createFirstAdministrator } from "./fixtures";
import type { Browser, BrowserContext, Page } from "@playwright/test";
import * as fs from "fs";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "bea@bulk.test", first: "Bea", last: "Bulk", password: "many people at once 13" };
const CREW = Array.from({ length: 30 }, (_, i) => `crew${String(i).padStart(2, "0")}@ship.test`);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

test.describe.configure({ mode: "serial" });

let own: OwnServer;
let admin: { context: BrowserContext; page: Page };
const pageErrors: string[] = [];

async function newPage(browser: Browser) {
  const context = await browser.newContext({ baseURL: own.baseURL, acceptDownloads: true });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`uncaught error: ${e.message}`));
  return { context, page };
}

async function api(page: Page, endpoint: string, data: unknown) {
  const r = await page.request.post(`/api/${endpoint}`, { data, headers: { Origin: own.baseURL } });
  expect(r.status(), `${endpoint}: ${await r.text()}`).toBe(200);
  return r.json();
}

async function axe(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const results = await (window as any).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      iframes: false,
    });
    return results.violations.map((v: any) => `${v.id}: ${v.help} ${v.nodes.map((n: any) => n.target.join(" ")).join(", ")}`);
  });
}

async function searchUsers(page: Page, term: string) {
  await page.getByRole("searchbox", { name: "Search", exact: true }).fill(term);
  await expect(page.getByRole("button", { name: `Remove filter Search: ${term}` })).toBeVisible();
}

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer();
  admin = await newPage(browser);
  await createFirstAdministrator(admin.page, own.setupURL, ADMIN);
  for (const email of [...CREW, "captain@port.test", "cook@port.test"]) {
    await api(admin.page, "invite_user", { email, role_ids: [] });
  }
});

test.afterEach(() => {
  expect(pageErrors.splice(0), "errors in the browser").toEqual([]);
});

test.afterAll(async () => {
  await admin?.context.close();
  await own?.stop();
});

test("select all users matching a search, disable them, and read the result and the audit log", async () => {
  const { page } = admin;
  await openHydrated(page, "/users");
  await searchUsers(page, "ship.test");
  await expect(page.getByRole("row").filter({ hasText: "crew00@ship.test" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "captain@port.test" })).toHaveCount(0);

  await page.getByRole("checkbox", { name: "Select every user on this page" }).check();
  await expect(page.getByRole("checkbox", { name: "Select crew24@ship.test" })).toBeChecked();
  await expect(page.getByText("All 25 users on this page are selected.")).toBeVisible();
  await page.getByRole("button", { name: "Select all matching users" }).click();
  await expect(page.getByText("All 30 matching users are selected.")).toBeVisible();
  await expect(page.getByText("30 selected")).toBeVisible();

  await page.getByLabel("Bulk action").selectOption({ label: "Disable" });
  await page.getByRole("button", { name: "Apply" }).click();
  const confirm = page.getByRole("alertdialog", { name: "Confirm the bulk action" });
  await expect(confirm).toContainText("Disable 30 users?");
  expect(await axe(page), "axe-core on Users with a bulk action to confirm").toEqual([]);
  await confirm.getByRole("button", { name: "Disable 30 users" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Disable 30 users: done. 30 of 30 changed." })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "crew00@ship.test" })).toContainText("Disabled");
  await expect(page.getByRole("checkbox", { name: "Select crew00@ship.test" })).not.toBeChecked();

  // Again on the ticked rows only: already disabled, and the result says so.
  await page.getByRole("checkbox", { name: "Select crew00@ship.test" }).check();
  await page.getByRole("checkbox", { name: "Select crew01@ship.test" }).check();
  await page.getByLabel("Bulk action").selectOption({ label: "Disable" });
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("button", { name: "Disable 2 users" }).click();
  await expect(page.getByText("Disable 2 users: done. 0 of 2 changed.")).toBeVisible();
  await expect(page.getByText("2 skipped: already disabled")).toBeVisible();

  await openHydrated(page, "/audit-log");
  await page.getByRole("combobox", { name: /^Action/ }).selectOption("user.disabled");
  // The filtered list has replaced the whole log (where crew29 was invited too).
  await expect(page.getByRole("row").filter({ hasText: "invitation.sent" })).toHaveCount(0);
  await expect(page.getByRole("row").filter({ hasText: "crew29@ship.test" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "bulk action" })).toHaveCount(30);
  await page.getByRole("combobox", { name: /^Action/ }).selectOption("users.bulk");
  await expect(page.getByRole("row").filter({ hasText: "user.disabled" })).toHaveCount(0);
  await expect(page.getByRole("row").filter({ hasText: "Disable: 30 selected, 30 changed" })).toBeVisible();
});

test("export the list to CSV and compare the file", async () => {
  const { page } = admin;
  await openHydrated(page, "/users");
  await searchUsers(page, "ship.test");
  await page.getByLabel("Sort by").selectOption("-email");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export to CSV" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^users-\d{4}-\d{2}-\d{2}\.csv$/);
  const text = fs.readFileSync((await file.path())!, "utf8");
  const lines = text.replace(/^\ufeff/, "").split("\r\n");
  expect(lines[0]).toBe("Email,First name,Last name,Status,Roles,Created,Last sign-in");
  expect(lines.slice(1, -1).map((l) => l.split(",")[0])).toEqual([...CREW].reverse());
  for (const line of lines.slice(1, -1)) {
    expect(line).toMatch(/^crew\d\d@ship\.test,,,Disabled,,\d{4}-\d\d-\d\dT\d\d:\d\dZ,$/);
  }
  expect(lines[lines.length - 1]).toBe("");
});

test("import a CSV: review good, duplicate and bad rows, import, and find the invitations in the Email queue", async () => {
  const { page } = admin;
  await openHydrated(page, "/users");
  await page.getByRole("link", { name: "Import" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Import users" })).toBeVisible();
  await settle(page);
  const csv =
    "\ufeffemail;first name;last name;roles\r\n" +
    "ada@newco.test;Ada;Lovelace;\r\n" +
    '"grace@newco.test";"Grace";"Hopper, Jr.";Administrator\r\n' +
    "captain@port.test;The;Captain;\r\n" +
    "ADA@newco.test;Ada;Again;\r\n" +
    "not an address;No;Body;\r\n";
  await page.getByLabel("CSV file").setInputFiles({ name: "people.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Review" }).click();
  const review = page.getByRole("region", { name: "Review" });
  await expect(review.getByRole("status")).toHaveText(
    "2 new people (will be invited), 1 already a user (skipped), 0 users to give roles, 2 errors.",
  );
  await expect(review.getByRole("row").filter({ hasText: "Again" })).toContainText(
    "The same email as line 2: each person once.",
  );
  await expect(review.getByRole("row").filter({ hasText: "not an address" })).toContainText("Error");
  await expect(review.getByRole("row").filter({ hasText: "captain@port.test" })).toContainText("Already a user: skipped.");
  expect(await axe(page), "axe-core on the import review").toEqual([]);

  await review.getByRole("button", { name: "Invite 2 people" }).click();
  const result = page.getByRole("region", { name: "Result" });
  await expect(result.getByRole("status")).toHaveText("2 invited, 0 given roles, 1 skipped, 2 errors.");
  const download = page.waitForEvent("download");
  await result.getByRole("link", { name: "Download the rows with errors (CSV)" }).click();
  const errors = fs.readFileSync((await (await download).path())!, "utf8").split("\r\n");
  expect(errors[0]).toBe("email,first name,last name,roles,error");
  expect(errors[1]).toBe("ADA@newco.test,Ada,Again,,The same email as line 2: each person once.");
  expect(errors[2]).toMatch(/^not an address,No,Body,,/);

  await result.getByRole("link", { name: "See the invitations in the Email queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "ada@newco.test" })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "grace@newco.test" })).toBeVisible();
});

test("a person with Users View only sees no bulk actions", async ({ browser }) => {
  const { page } = admin;
  const created = await page.request.post("/api/create_role", {
    form: { name: "Users viewers", description: "" },
    headers: { Origin: own.baseURL },
  });
  expect(created.status(), await created.text()).toBe(200);
  const role = await created.json();
  await api(page, "set_role_permissions", { id: role, grants: [["Users", "View"]] });
  const id = await api(page, "invite_user", { email: "viewer@port.test", role_ids: [role] });
  const detail = await page.request.post("/api/list_emails", { form: { status: "" }, headers: { Origin: own.baseURL } });
  const emails = (await detail.json()).rows as { id: number; to: string }[];
  const email = emails.find((e) => e.to === "viewer@port.test")!;
  const body = await page.request.post("/api/get_email", { form: { id: String(email.id) }, headers: { Origin: own.baseURL } });
  const link = /\/signup\/[A-Za-z0-9_-]+/.exec((await body.json()).body_text)![0];
  expect(id).toBeGreaterThan(0);

  const viewer = await newPage(browser);
  await openHydrated(viewer.page, link);
  await viewer.page.getByLabel("Password", { exact: true }).fill("only looking, never touching");
  await viewer.page.getByLabel("Confirm password").fill("only looking, never touching");
  await viewer.page.getByRole("button", { name: "Sign up" }).click();
  await expect(viewer.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await openHydrated(viewer.page, "/users");
  await expect(viewer.page.getByRole("row").filter({ hasText: "captain@port.test" })).toBeVisible();
  await expect(viewer.page.getByRole("checkbox")).toHaveCount(0);
  await expect(viewer.page.getByLabel("Bulk action")).toHaveCount(0);
  await viewer.context.close();
});

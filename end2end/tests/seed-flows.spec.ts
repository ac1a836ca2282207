// The seed's flow (invite Laura, find the invitation in the Email queue, sign
// up with its link, land on the Dashboard) done twice more, the ways people
// who are not at a desk with a mouse do it:
//
// - on a phone-sized window (390 × 844, touch), through the navigation drawer;
// - with the keyboard alone: every step is Tab / Shift+Tab to a control, then
//   typing, Enter or Space. No clicks, no fills.
//
// Runs on a server of its own (a fresh database, its own administrator).
import { test, expect, openHydrated, settle, createFirstAdministrator, ownPages } from "./fixtures";
import type { BrowserContextOptions, Locator, Page } from "@playwright/test";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "dorothy@example.com", first: "Dorothy", last: "Vaughan", password: "fortran for the west computers" };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true };
const LINK = /https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/;

test.describe.configure({ mode: "serial" });

let own: OwnServer;

const newPage = ownPages(() => own.baseURL);

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer();
  const { context, page } = await newPage(browser);
  await createFirstAdministrator(page, own.setupURL, ADMIN);
  await context.close();
});

test.afterAll(async () => {
  await own?.stop();
});

/** Nothing runs off the right edge of the window. */
async function expectNoSidewaysScroll(page: Page, where: string) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, `${where} does not scroll sideways`).toBeLessThanOrEqual(0);
}

test("on a phone: invite Laura, find the email, sign up with its link, see the Dashboard", async ({ browser }) => {
  const laura = { email: "laura.phone@kbank.com", first: "Laura", last: "Mills", password: "kbank on a small screen" };
  const { context, page } = await newPage(browser, PHONE);
  await openHydrated(page, "/signin");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).tap();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  await expectNoSidewaysScroll(page, "the Dashboard");

  const menu = page.getByRole("button", { name: "Menu" });
  const nav = page.getByRole("navigation", { name: "Applications" });
  await menu.tap();
  await nav.getByRole("link", { name: "Users", exact: true }).tap();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  await expectNoSidewaysScroll(page, "Users");
  await page.getByRole("link", { name: "New user" }).tap();
  await expect(page.getByRole("heading", { level: 1, name: "New user" })).toBeVisible();
  await expectNoSidewaysScroll(page, "New user");
  await page.getByLabel("Email").fill(laura.email);
  await page.getByLabel("First name").fill(laura.first);
  await page.getByLabel("Last name").fill(laura.last);
  await page.getByRole("checkbox", { name: "Administrator" }).tap();
  await page.getByRole("button", { name: "Send invitation" }).tap();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${laura.email}.` })).toBeVisible();

  await menu.tap();
  await nav.getByRole("link", { name: "Email queue" }).tap();
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  await expectNoSidewaysScroll(page, "the Email queue");
  await page.getByRole("row").filter({ hasText: laura.email }).getByRole("link", { name: /^You have been invited/ }).tap();
  await expect(page.frameLocator("iframe.email-html").getByText(`Hello ${laura.first},`)).toBeVisible();
  await expectNoSidewaysScroll(page, "the email");
  await page.getByRole("tab", { name: "Plain text" }).tap();
  const link = (await page.locator("pre.email-body").innerText()).match(LINK)?.[0];
  expect(link, "a sign-up link in the plain-text body").toBeTruthy();
  await context.close();

  // Laura, on her own phone.
  const mine = await newPage(browser, PHONE);
  await openHydrated(mine.page, link!);
  await expect(mine.page.getByRole("heading", { name: "Sign up" })).toBeVisible();
  await expectNoSidewaysScroll(mine.page, "Sign up");
  await expect(mine.page.getByLabel("First name")).toHaveValue(laura.first);
  await mine.page.getByLabel("Password", { exact: true }).fill(laura.password);
  await mine.page.getByLabel("Confirm password").fill(laura.password);
  await mine.page.getByRole("button", { name: "Sign up" }).tap();
  await expect(mine.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(mine.page.getByRole("list", { name: "Applications" }).getByRole("link", { name: /Users/ })).toBeVisible();
  await expectNoSidewaysScroll(mine.page, "Laura's Dashboard");
  await mine.context.close();
});

/**
 * Press Tab (or Shift+Tab) until `target` has the focus, as a keyboard user
 * would; fails if it cannot be reached within `max` presses.
 */
async function tabTo(page: Page, target: Locator, { back = false, max = 80 } = {}) {
  await expect(target).toBeVisible();
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
  }
  const focused = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
  throw new Error(`could not reach ${target} with ${back ? "Shift+Tab" : "Tab"} in ${max} presses (focus on ${focused})`);
}

test("with the keyboard alone: invite Laura, find the email, sign up with its link, see the Dashboard", async ({ browser }) => {
  test.setTimeout(120_000);
  const laura = { email: "laura.keys@kbank.com", first: "Laura", last: "Mills", password: "kbank without a mouse" };
  const { context, page } = await newPage(browser);
  const keys = page.keyboard;
  await openHydrated(page, "/signin");
  await tabTo(page, page.getByLabel("Email"));
  await keys.type(ADMIN.email);
  await tabTo(page, page.getByLabel("Password"));
  await keys.type(ADMIN.password);
  await keys.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);

  const nav = page.getByRole("navigation", { name: "Applications" });
  await tabTo(page, nav.getByRole("link", { name: "Users", exact: true }));
  await keys.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  await tabTo(page, page.getByRole("link", { name: "New user" }));
  await keys.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "New user" })).toBeVisible();
  await tabTo(page, page.getByLabel("Email"));
  await keys.type(laura.email);
  await keys.press("Tab");
  await expect(page.getByLabel("First name")).toBeFocused();
  await keys.type(laura.first);
  await keys.press("Tab");
  await expect(page.getByLabel("Last name")).toBeFocused();
  await keys.type(laura.last);
  const role = page.getByRole("checkbox", { name: "Administrator" });
  await tabTo(page, role);
  await keys.press("Space");
  await expect(role).toBeChecked();
  await tabTo(page, page.getByRole("button", { name: "Send invitation" }));
  await keys.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${laura.email}.` })).toBeVisible();

  // Back up the page to the navigation (it comes before the page in Tab order).
  await tabTo(page, nav.getByRole("link", { name: "Email queue" }), { back: true });
  await keys.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  await tabTo(page, page.getByRole("row").filter({ hasText: laura.email }).getByRole("link", { name: /^You have been invited/ }));
  await keys.press("Enter");
  const plain = page.getByRole("tab", { name: "Plain text" });
  await tabTo(page, plain);
  await keys.press("Enter");
  await expect(plain).toHaveAttribute("aria-selected", "true");
  await expect(page.locator("pre.email-body")).toBeVisible();
  const link = (await page.locator("pre.email-body").innerText()).match(LINK)?.[0];
  expect(link, "a sign-up link in the plain-text body").toBeTruthy();
  await context.close();

  // Laura opens the link (from her mail program) and signs up with the keyboard.
  const mine = await newPage(browser);
  await openHydrated(mine.page, link!);
  await tabTo(mine.page, mine.page.getByLabel("Password", { exact: true }));
  await mine.page.keyboard.type(laura.password);
  await tabTo(mine.page, mine.page.getByLabel("Confirm password"));
  await mine.page.keyboard.type(laura.password);
  await mine.page.keyboard.press("Enter");
  await expect(mine.page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(mine.page.getByLabel(/^User menu/)).toContainText(`${laura.first} ${laura.last}`);
  await mine.context.close();
});

// Foundation acceptance: open the setup link, create the administrator, land
// on the Dashboard, sign out, sign in again, and fail to sign in with a wrong
// password. Runs against a fresh server per backend (ROSTER_TEST_BACKEND).
import { test, expect, openHydrated, settle } from "./fixtures";
import type { Page } from "@playwright/test";

const ADMIN = {
  email: "ada@example.com",
  firstName: "Ada",
  lastName: "Lovelace",
  name: "Ada Lovelace",
  password: "analytical engine 1843",
};

// The tests build on each other: the first creates the administrator.
test.describe.configure({ mode: "serial" });

async function expectDashboard(page: Page) {
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
}

async function signIn(page: Page, email: string, password: string) {
  await expect(page.getByRole("heading", { name: "Sign in", exact: true })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

async function signOut(page: Page) {
  const menu = page.getByLabel("User menu");
  await expect(menu).toContainText(ADMIN.name);
  await menu.click();
  await expect(page.getByRole("link", { name: "Account" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await settle(page);
}

test("the setup link creates the first administrator, who can sign out and sign in again", async ({
  page,
  server,
}) => {
  expect(server.setupURL, "the server printed no setup link on a fresh database").toBeTruthy();
  expect(server.setupURL!).toMatch(new RegExp(`^${server.baseURL}/setup/\\S+$`));

  await openHydrated(page, server.setupURL!);
  await expect(page.getByRole("heading", { name: "Set up Roster" })).toBeVisible();
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("First name").fill(ADMIN.firstName);
  await page.getByLabel("Last name").fill(ADMIN.lastName);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByLabel("Confirm password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Create administrator" }).click();

  await expectDashboard(page);
  await expect(page.getByLabel("User menu")).toContainText(ADMIN.name);

  await signOut(page);

  // Signed out: the Dashboard is no longer reachable.
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin(\?.*)?$/);
  await settle(page);

  await signIn(page, ADMIN.email, ADMIN.password);
  await expectDashboard(page);
  await expect(page.getByLabel("User menu")).toContainText(ADMIN.name);

  await signOut(page);
  await signIn(page, ADMIN.email, "not the right password");
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/signin$/);
  await expect(page.getByRole("heading", { name: "Sign in", exact: true })).toBeVisible();
});

test("a wrong password is refused with a message, then the right one signs in", async ({ page }) => {
  await openHydrated(page, "/signin");
  await signIn(page, ADMIN.email, "wrong password, long enough");
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/signin$/);

  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectDashboard(page);
});

test("an unknown email is refused with the same message", async ({ page }) => {
  await openHydrated(page, "/signin");
  await signIn(page, "nobody@example.com", ADMIN.password);
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/signin$/);
});

test("the setup link is no longer valid once the administrator exists", async ({ page, server }) => {
  await openHydrated(page, server.setupURL!);
  await expect(page.getByRole("heading", { name: "Set up Roster" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("This setup link is no longer valid");
  await expect(page.getByRole("button", { name: "Create administrator" })).toHaveCount(0);
});

test("a signed-out visit to /account goes through sign-in and back to Account", async ({ page, baseURL }) => {
  await page.goto("/account");
  await expect(page).toHaveURL(`${baseURL}/signin?next=%2Faccount`);
  await settle(page);
  await signIn(page, ADMIN.email, ADMIN.password);
  await expect(page).toHaveURL(`${baseURL}/account`);
  await expect(page.getByRole("heading", { level: 1, name: "Account" })).toBeVisible();
  await expect(page.getByRole("main")).toContainText(ADMIN.email);
});

test("every Dashboard tile and every navigation link opens its application", async ({ page }) => {
  await openHydrated(page, "/signin");
  await signIn(page, ADMIN.email, ADMIN.password);
  await expectDashboard(page);
  const tiles = page.locator("a.tile");
  const names = await tiles.locator(".tile-name").allInnerTexts();
  expect(names.length, "the administrator sees every application").toBeGreaterThanOrEqual(4);
  for (const name of names) {
    await openHydrated(page, "/");
    const nameExactly = page.locator(".tile-name").getByText(name, { exact: true });
    await page.locator("a.tile").filter({ has: nameExactly }).click();
    await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
    await expect(page.getByRole("heading", { name: "Page not found" })).toHaveCount(0);
    await settle(page);
    // The same application from the navigation.
    await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name, exact: true }).click();
    await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  }
});

test("an unknown address shows Page not found to a signed-in user", async ({ page }) => {
  await openHydrated(page, "/signin");
  await signIn(page, ADMIN.email, ADMIN.password);
  await expectDashboard(page);

  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the favicon and the stylesheet are served", async ({ request }) => {
  const icon = await request.get("/favicon.ico");
  expect(icon.status()).toBe(200);
  expect((await icon.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0, 1, 0]));

  // The page names the stylesheet by its content hash (hash-files), and the
  // hashed file may be kept for a year; the page itself is asked for each time.
  const page = await request.get("/signin");
  expect(page.headers()["cache-control"]).toBe("no-cache");
  const href = (await page.text()).match(/href="(\/pkg\/[^"]+\.css)"/)?.[1] ?? "";
  expect(href).toMatch(/^\/pkg\/roster\.[A-Za-z0-9_-]{22}\.css$/);
  const css = await request.get(href);
  expect(css.status()).toBe(200);
  expect(css.headers()["content-type"]).toContain("text/css");
  expect(css.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
  expect(await css.text()).toContain(".sidebar");
});

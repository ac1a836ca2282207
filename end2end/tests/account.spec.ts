// Account → Password, and Forgot password → email → reset → Sign in.
// Runs on a server of its own, with a real SMTP server, so the reset email can
// be checked both in the Email queue and at the SMTP server.
import { test, expect, openHydrated, settle, withOwnServer } from "./fixtures";
import type { Page } from "@playwright/test";

const USER = { email: "margaret@example.com", first: "Margaret", last: "Hamilton" };
const PASSWORDS = ["apollo guidance computer", "lunar module software 1969", "rope memory woven by hand"];

const { own, newPage } = withOwnServer({ smtp: true });

async function signIn(page: Page, password: string) {
  await openHydrated(page, "/signin");
  await page.getByLabel("Email").fill(USER.email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

let first: Page;

test("changing the password on Account → Password signs out the other browser", async ({ browser }) => {
  first = await newPage(browser);
  await openHydrated(first, own().setupURL);
  await first.getByLabel("Email").fill(USER.email);
  await first.getByLabel("First name").fill(USER.first);
  await first.getByLabel("Last name").fill(USER.last);
  await first.getByLabel("Password", { exact: true }).fill(PASSWORDS[0]);
  await first.getByLabel("Confirm password").fill(PASSWORDS[0]);
  await first.getByRole("button", { name: "Create administrator" }).click();
  await expect(first.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(first);

  // Another browser, same user.
  const second = await newPage(browser);
  await signIn(second, PASSWORDS[0]);
  await expect(second.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();

  // User menu → Account → Password.
  await first.getByLabel("User menu").click();
  await first.getByRole("link", { name: "Account" }).click();
  await expect(first.getByRole("heading", { level: 1, name: "Account" })).toBeVisible();
  await first.getByRole("tab", { name: "Password" }).click();
  await expect(first.getByRole("tab", { name: "Password" })).toHaveAttribute("aria-selected", "true");
  await settle(first);
  await first.getByLabel("Current password").fill(PASSWORDS[0]);
  await first.getByLabel("New password", { exact: true }).fill("password1234");
  await expect(first.getByText(/too common/)).toBeVisible(); // the strength meter's live feedback
  await first.getByLabel("New password", { exact: true }).fill(PASSWORDS[1]);
  await expect(first.getByText("Strength: Very strong").or(first.getByText("Strength: Strong"))).toBeVisible();
  await first.getByLabel("Confirm new password").fill(PASSWORDS[1]);
  await first.getByRole("button", { name: "Save" }).click();
  await expect(first.getByRole("status").filter({ hasText: "Your password was changed, and 1 other session(s) were signed out." })).toBeVisible();

  // The other browser is signed out.
  await second.reload();
  await expect(second).toHaveURL(/\/signin/);
  // The old password fails; the new one works.
  await signIn(second, PASSWORDS[0]);
  await expect(second.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await signIn(second, PASSWORDS[1]);
  await expect(second.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("forgot password → the email in the Email queue and at the SMTP server → reset → sign in", async ({ browser }) => {
  const visitor = await newPage(browser);
  await openHydrated(visitor, "/signin");
  await visitor.getByRole("link", { name: "Forgot password?" }).click();
  await expect(visitor.getByRole("heading", { name: "Forgot password" })).toBeVisible();
  await settle(visitor);
  await visitor.getByLabel("Email").fill(USER.email);
  await visitor.getByRole("button", { name: "Send reset link" }).click();
  await expect(visitor.getByRole("status")).toContainText("If an account exists for that email");

  // The admin (the same user, still signed in on the first browser) finds it in the Email queue,
  // with its link hidden: a reset link is shown to nobody, administrators included.
  await openHydrated(first, "/email-queue");
  const row = first.getByRole("row").filter({ hasText: "Reset your Roster password" });
  await expect(row).toContainText(USER.email);
  await row.getByRole("link", { name: "Reset your Roster password" }).click();
  const body = await first.locator("pre.email-body").innerText();
  expect(body).toContain("/reset/••••••");
  expect(body).not.toMatch(/\/reset\/[A-Za-z0-9_-]{43}/);
  await expect(first.locator(".links-hidden")).toContainText("password-reset link is hidden");

  // Only the SMTP server received the live link.
  await expect.poll(() => own().mail().filter((m) => m.subject === "Reset your Roster password").length, { timeout: 15_000 }).toBe(1);
  const sent = own().mail().find((m) => m.subject === "Reset your Roster password")!;
  expect(sent.to).toEqual([USER.email]);
  const link = sent.text.match(/https?:\/\/\S+\/reset\/[A-Za-z0-9_-]{43}/)?.[0];
  expect(link, sent.text).toBeTruthy();

  // Reset, then sign in with the new password.
  await openHydrated(visitor, link!);
  await expect(visitor.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
  await visitor.getByLabel("Password", { exact: true }).fill(PASSWORDS[2]);
  await visitor.getByLabel("Confirm password").fill(PASSWORDS[2]);
  await visitor.getByRole("button", { name: "Save" }).click();
  await expect(visitor.getByRole("status")).toContainText("Your password was changed");
  await visitor.getByRole("link", { name: "Sign in", exact: true }).click();
  await settle(visitor);
  await signIn(visitor, PASSWORDS[2]);
  await expect(visitor.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();

  // The reset ended every earlier session, and the link works once.
  await first.reload();
  await expect(first).toHaveURL(/\/signin/);
  await openHydrated(visitor, link!);
  await expect(visitor.getByRole("alert")).toContainText("no longer valid");
});

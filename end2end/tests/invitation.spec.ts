// The seed's main flow, word for word: the admin invites lauram@kbank.com from
// Users → New user (with her name), finds the email in the Email queue by To
// and Subject, reads its HTML body (greeting Laura by name) and copies the
// link from its plain-text body, and Laura signs up with it in a fresh
// browser, correcting her last name. The link then refuses a second use.
//
// Runs after foundation.spec.ts (files run in order, one worker), which
// created the first administrator.
import { test, expect, openHydrated, settle, signInToDashboard } from "./fixtures";

const ADMIN = { email: "ada@example.com", password: "analytical engine 1843" };
const LAURA = { email: "lauram@kbank.com", first: "Laura", last: "Mills", password: "kbank digital channels 2026" };

test.describe.configure({ mode: "serial" });

let invitationLink = "";

test("the admin invites lauram@kbank.com and finds the invitation in the Email queue", async ({ page }) => {
  const cspViolations: string[] = [];
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) cspViolations.push(m.text());
  });
  await signInToDashboard(page, ADMIN.email, ADMIN.password);

  // Go to the Users application. Select New user.
  await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name: "Users" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  await page.getByRole("link", { name: "New user" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New user" })).toBeVisible();

  // Enter the email, choose a role, and send the invitation.
  await page.getByLabel("Email").fill(LAURA.email);
  await page.getByLabel("First name").fill(LAURA.first);
  await page.getByLabel("Last name").fill(LAURA.last);
  await page.getByRole("checkbox", { name: "Administrator" }).check();
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${LAURA.email}.` })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: LAURA.email })).toBeVisible();
  await expect(page.getByText("Invited", { exact: true })).toBeVisible();

  // The Users list shows her as Invited, with the delivery state of the email.
  await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name: "Users" }).click();
  const row = page.getByRole("row").filter({ hasText: LAURA.email });
  await expect(row).toContainText("Invited");
  await expect(row).toContainText("Administrator");
  await expect(row.getByRole("link", { name: /Not sent/ })).toBeVisible();

  // In the Email queue application, find the email by To and Subject.
  await page.getByRole("navigation", { name: "Applications" }).getByRole("link", { name: "Email queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  const email = page.getByRole("row").filter({ hasText: LAURA.email });
  await expect(email).toHaveCount(1);
  const subject = email.getByRole("link", { name: /^You have been invited to join / });
  await expect(subject).toHaveText("You have been invited to join Roster");
  await subject.click();

  // Its HTML body renders in the page (inside the sandboxed frame, under the
  // page's Content-Security-Policy), greeting Laura by name.
  await expect(page.locator("dd.email-to")).toHaveText(LAURA.email);
  await expect(page.getByRole("tab", { name: "HTML" })).toHaveAttribute("aria-selected", "true");
  const html = page.frameLocator("iframe.email-html");
  await expect(html.getByText(`Hello ${LAURA.first},`)).toBeVisible();
  await expect(html.getByRole("link", { name: "Create your password and sign up" })).toBeVisible();
  const frameBox = await page.locator("iframe.email-html").boundingBox();
  expect(frameBox!.height, "the frame is tall enough to read").toBeGreaterThan(150);
  expect(cspViolations, "no Content-Security-Policy violation").toEqual([]);

  // Switched to plain text, the body holds the link to copy.
  await page.getByRole("tab", { name: "Plain text" }).click();
  await expect(page.locator("pre.email-body")).toBeVisible();
  await expect(page.locator("iframe.email-html")).toBeHidden();
  await expect(page.locator("pre.email-body")).toContainText(`Hello ${LAURA.first},`);
  const body = await page.locator("pre.email-body").innerText();
  const match = body.match(/https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/);
  expect(match, `no sign-up link in:\n${body}`).not.toBeNull();
  invitationLink = match![0];
});

test("the link opens Sign up in a fresh browser, and the new user lands on the Dashboard", async ({ browser }) => {
  expect(invitationLink).not.toBe("");
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, invitationLink);
  await expect(page.getByRole("heading", { name: "Sign up" })).toBeVisible();
  await expect(page.getByText(LAURA.email)).toBeVisible();
  // The name New user was given is there to correct.
  await expect(page.getByLabel("First name")).toHaveValue(LAURA.first);
  await expect(page.getByLabel("Last name")).toHaveValue(LAURA.last);
  await page.getByLabel("Last name").fill("Mitchell");
  await page.getByLabel("Password", { exact: true }).fill(LAURA.password);
  await page.getByLabel("Confirm password").fill(LAURA.password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await expect(page.getByLabel("User menu")).toContainText(`${LAURA.first} Mitchell`);
  await openHydrated(page, "/account");
  await expect(page.getByText(`Email: ${LAURA.email}`)).toBeVisible();
  await expect(page.getByLabel("First name")).toHaveValue(LAURA.first);
  await expect(page.getByLabel("Last name")).toHaveValue("Mitchell");
  await context.close();
});

test("opening the link a second time is refused", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await openHydrated(page, invitationLink);
  await expect(page.getByRole("alert")).toHaveText(
    "This invitation is no longer valid. Ask your administrator to send a new one.",
  );
  await expect(page.getByLabel("Password", { exact: true })).toHaveCount(0);
  await context.close();
});

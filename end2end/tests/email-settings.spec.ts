// Email settings in the UI, on a server of this file's own that starts with
// no SMTP configuration at all and a real SMTP server (aiosmtpd) that demands
// a user name and password: the admin saves the SMTP settings in Settings →
// Email server, sends a test email, rewords the invitation in Settings →
// Email templates (live preview, a refused template without {{link}}),
// invites someone, and reads the new wording in the Email queue; the worker
// sends it through the saved settings.
import { test, expect, openHydrated, settle, createFirstAdministrator, ownPages } from "./fixtures";
import type { BrowserContext, Page } from "@playwright/test";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "grace@kbank.com", first: "Grace", last: "Hopper", password: "cobol compilers since 1959" };
const SMTP = { user: "kbank-mailer", password: "sink password 4 e2e" };
const INVITED = "newhire@kbank.com";
const SUBJECT = "Your Kbank account is waiting";

test.describe.configure({ mode: "serial" });

let own: OwnServer;
let admin: { context: BrowserContext; page: Page };

const newPage = ownPages(() => own.baseURL);

function nav(page: Page) {
  return page.getByRole("navigation", { name: "Applications" });
}

async function waitForMail(subject: string) {
  await expect.poll(() => own.mail().filter((m) => m.subject === subject).length, { timeout: 20_000 }).toBe(1);
  return own.mail().find((m) => m.subject === subject)!;
}

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer({
    smtp: true,
    smtpAuth: SMTP,
    smtpInConfig: false,
    env: { ROSTER_ENCRYPTION_KEY: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" },
  });
  admin = await newPage(browser);
});

test.afterAll(async () => {
  await admin?.context.close();
  await own?.stop();
});

test("the admin saves the SMTP settings and sends a test email", async () => {
  const { page } = admin;
  await createFirstAdministrator(page, own.setupURL, ADMIN);

  await nav(page).getByRole("link", { name: "Settings" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Not configured" })).toBeVisible();
  await settle(page);

  await page.getByLabel("Host").fill("127.0.0.1");
  await page.getByLabel("Port").fill(String(own.smtpPort));
  await page.getByLabel("Security").selectOption("none");
  await page.getByLabel("User name").fill(SMTP.user);
  await page.getByLabel("Password", { exact: true }).fill(SMTP.password);
  await page.getByLabel("From name").fill("Kbank People");
  await page.getByLabel("From address").fill("people@kbank.com");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved. Every node sends" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "In force: the settings saved here" })).toBeVisible();
  // The password is never shown again: the field is empty and says "unchanged".
  await expect(page.getByLabel("Password", { exact: true })).toHaveValue("");
  await expect(page.getByLabel("Password", { exact: true })).toHaveAttribute("placeholder", "unchanged");
  expect(await page.content()).not.toContain(SMTP.password);

  await page.getByLabel("Send to").fill("ops@kbank.com");
  await page.getByRole("button", { name: "Send test email" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The test email was sent to ops@kbank.com" })).toBeVisible();
  const mail = await waitForMail("Test email from Roster");
  expect(mail.to).toEqual(["ops@kbank.com"]);
  expect(mail.from).toBe("Kbank People <people@kbank.com>");
});

test("the admin rewords the invitation with a live preview", async () => {
  const { page } = admin;
  await page.getByRole("tab", { name: "Email templates" }).click();
  await page.getByRole("link", { name: "Invitation" }).click();
  // (A client-side navigation in the hydrated app: no settle. Playwright's
  // "networkidle" never comes for a page with a sandboxed srcdoc iframe.)
  await expect(page.getByRole("heading", { level: 1, name: "Invitation email" })).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: "one-time sign-up link" })).toBeVisible();

  await page.getByLabel("Subject").fill(SUBJECT);
  await expect(page.locator(".preview-subject")).toHaveText(SUBJECT);
  // Without {{link}} the template is refused, as you type.
  await page.getByLabel("Plain text").fill("Hello from the Kbank digital team! Join {{site_name}}.");
  await expect(page.getByRole("list", { name: "Problems" })).toContainText("The plain text must contain {{link}}");
  await page.getByRole("button", { name: "Save template" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The plain text must contain {{link}}" }).last()).toBeVisible();

  await page.getByLabel("Plain text").fill("Hello from the Kbank digital team! Open {{link}} to join {{site_name}}.");
  await expect(page.getByRole("list", { name: "Problems" })).toHaveCount(0);
  await expect(page.locator(".preview pre.email-body")).toContainText(
    "Hello from the Kbank digital team! Open https://people.example.com/signup/",
  );
  await page.getByRole("button", { name: "Save template" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved. The next email of this kind" })).toBeVisible();
  await expect(page.locator(".page-header .badge")).toHaveText("Customized");
});

test("the next invitation has the new wording in the Email queue, sent through the saved settings", async () => {
  const { page } = admin;
  await nav(page).getByRole("link", { name: "Users" }).click();
  await page.getByRole("link", { name: "New user" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "New user" })).toBeVisible();
  await page.getByLabel("Email").fill(INVITED);
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${INVITED}.` })).toBeVisible();

  await nav(page).getByRole("link", { name: "Email queue" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Email queue" })).toBeVisible();
  const row = page.getByRole("row").filter({ hasText: INVITED });
  await row.getByRole("link", { name: SUBJECT }).click();
  await expect(page.locator("dd.email-to")).toHaveText(INVITED);
  await expect(page.locator("pre.email-body")).toContainText("Hello from the Kbank digital team! Open http");
  await expect(page.locator("pre.email-body")).toContainText("/signup/");

  const sent = await waitForMail(SUBJECT);
  expect(sent.to).toEqual([INVITED]);
  expect(sent.text).toContain("Hello from the Kbank digital team!");
  await expect(async () => {
    await page.reload();
    await expect(page.locator(".page-header .badge")).toHaveText("Sent", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
});

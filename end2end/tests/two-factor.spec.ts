// Two-factor sign-in with an authenticator app: set up on Account → Security
// (the secret read from the page, codes computed here as an authenticator app
// would, RFC 6238 with Node's crypto), sign in with a code, a reused and a
// wrong code refused, a recovery code accepted once; a role that requires it
// sends its new member to set it up first. On a server of its own,
// so that the shared server's administrator keeps signing in with a password.
import { test, expect, openHydrated, settle, withOwnServer } from "./fixtures";
import type { Page } from "@playwright/test";
import { createHmac } from "node:crypto";

const ADMIN = { email: "grace@example.com", first: "Grace", last: "Hopper", password: "nanoseconds on a wire 11.8 inches" };

const { own, newPage } = withOwnServer();

/** RFC 4648 base32 to bytes. */
function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of `secret` for the step `offset` steps from now. */
function totp(secret: string, offset = 0): string {
  const step = Math.floor(Date.now() / 1000 / 30) + offset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

async function passwordStep(page: Page) {
  await openHydrated(page, "/signin");
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Two-step sign-in" })).toBeVisible();
  await expect(page).toHaveURL(/\/signin\/verify/);
  await settle(page);
}

async function secondStep(page: Page, code: string) {
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

let secret = "";
let recoveryCodes: string[] = [];
let usedCode = "";

test("an authenticator app is set up on Account → Security with one code, and recovery codes are shown once", async ({
  browser,
}) => {
  const page = await newPage(browser);
  await openHydrated(page, own().setupURL);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("First name").fill(ADMIN.first);
  await page.getByLabel("Last name").fill(ADMIN.last);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByLabel("Confirm password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();

  await openHydrated(page, "/account?tab=security");
  await expect(page.getByRole("tab", { name: "Security" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByText("Not set up.")).toBeVisible();
  await page.getByRole("button", { name: "Set up an authenticator app" }).click();
  await expect(page.getByRole("img", { name: "QR code of the authenticator secret" }).locator("svg")).toBeVisible();
  secret = (await page.locator("#totp-secret").textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);

  await page.getByLabel("Code from the app").fill(totp(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The authenticator app is on." })).toBeVisible();
  const list = page.getByRole("list", { name: "Recovery codes" });
  await expect(list.getByRole("listitem")).toHaveCount(10);
  recoveryCodes = (await list.getByRole("listitem").allTextContents()).map((c) => c.trim());
  expect(recoveryCodes[0]).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
  await expect(page.getByText(/^On\. Signing in asks for a code/)).toBeVisible();

  // Once enabled, the secret is not shown again.
  await page.reload();
  await settle(page);
  await expect(page.getByText("10 unused recovery codes. New codes replace them all.")).toBeVisible();
  await expect(page.locator("#totp-secret")).toHaveCount(0);
  await expect(page.getByText(secret)).toHaveCount(0);
});

test("signing in asks for a code after the password, and the session starts only after it", async ({ browser }) => {
  const page = await newPage(browser);
  await passwordStep(page);
  // The half-signed-in browser has no session: any other page leads to Sign in.
  const other = await page.context().newPage();
  await other.goto("/account");
  await expect(other).toHaveURL(/\/signin/);
  await other.close();

  // The step after the one that turned the app on (that code is spent).
  usedCode = totp(secret, 1);
  await secondStep(page, usedCode);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("a reused code and a wrong code are refused", async ({ browser }) => {
  const page = await newPage(browser);
  await passwordStep(page);
  await secondStep(page, usedCode);
  await expect(page.getByRole("alert")).toContainText("That code is not right.");
  const wrong = [totp(secret, -1), totp(secret), totp(secret, 1)].includes("000000") ? "999999" : "000000";
  await secondStep(page, wrong);
  await expect(page.getByRole("alert")).toContainText("That code is not right.");
  await expect(page).toHaveURL(/\/signin\/verify/);
  await page.goto("/account");
  await expect(page).toHaveURL(/\/signin/);
});

test("a recovery code signs in once", async ({ browser }) => {
  const page = await newPage(browser);
  await passwordStep(page);
  await secondStep(page, recoveryCodes[0]);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await openHydrated(page, "/account?tab=security");
  await expect(page.getByText("9 unused recovery codes. New codes replace them all.")).toBeVisible();

  const again = await newPage(browser);
  await passwordStep(again);
  await secondStep(again, recoveryCodes[0]);
  await expect(again.getByRole("alert")).toContainText("That code is not right.");
  await secondStep(again, recoveryCodes[1]);
  await expect(again.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("a role that requires two-factor sign-in takes its new member to set it up before anything else", async ({ browser }) => {
  const admin = await newPage(browser);
  await passwordStep(admin);
  await secondStep(admin, recoveryCodes[2]);
  await expect(admin.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  const api = async (endpoint: string, options: { form?: Record<string, string>; data?: unknown }) => {
    const r = await admin.request.post(`/api/${endpoint}`, { ...options, headers: { Origin: own().baseURL } });
    expect(r.status(), `${endpoint}: ${await r.text()}`).toBe(200);
    return r.json();
  };
  const roleId: number = await api("create_role", { form: { name: "Reviewers", description: "" } });

  // The checkbox on the role's page.
  await openHydrated(admin, `/roles/${roleId}`);
  const card = admin.locator("section", { has: admin.getByRole("heading", { name: "Two-factor sign-in" }) });
  await card.getByLabel("Members must use a passkey or an authenticator app").check();
  await card.getByRole("button", { name: "Save" }).click();
  await expect(card.getByRole("status")).toHaveText("Saved.");

  // A new member signs up from their invitation.
  const email = "ada@example.com";
  await api("invite_user", { data: { email, role_ids: [roleId] } });
  const rows = (await api("list_emails", { form: { status: "" } })).rows as { id: number; to: string }[];
  const detail = await api("get_email", { form: { id: String(rows.find((r) => r.to === email)!.id) } });
  const link = (detail.body_text as string).match(/https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/)![0];
  const member = await newPage(browser);
  await openHydrated(member, link);
  const password = "analytical engine punched cards";
  await member.getByLabel("Password", { exact: true }).fill(password);
  await member.getByLabel("Confirm password").fill(password);
  await member.getByRole("button", { name: "Sign up" }).click();

  // Taken to Account → Security; other pages lead back there.
  await expect(member).toHaveURL(/\/account\?tab=security$/);
  await expect(member.getByRole("alert")).toContainText("A role of yours requires two-factor sign-in.");
  await openHydrated(member, "/users");
  await expect(member).toHaveURL(/\/account\?tab=security$/);

  await member.getByRole("button", { name: "Set up an authenticator app" }).click();
  const memberSecret = (await member.locator("#totp-secret").textContent())!.trim();
  await member.getByLabel("Code from the app").fill(totp(memberSecret));
  await member.getByRole("button", { name: "Turn on" }).click();
  await expect(member.getByRole("status").filter({ hasText: "The authenticator app is on." })).toBeVisible();
  await openHydrated(member, "/");
  await expect(member.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

// Passkeys in Chromium with its virtual authenticator (the DevTools Protocol
// WebAuthn domain, through a CDP session): a passkey is added on Account →
// Security (resident key, user verification), signs in alone after signing
// out (from the email field's autofill, and from the button), serves as the
// second step after the password, and a browser context without it cannot
// sign in; an authenticator that cannot verify the person is refused with a
// clear message. On a server of its own, opened as
// `localhost` (browsers hold passkeys for domain names, never for an IP
// address; Roster serves a loopback public URL's passkeys as localhost).
import { test, expect, addAuthenticator, createFirstAdministrator, credentials, openHydrated, settle, withOwnServer } from "./fixtures";
import type { Virtual } from "./fixtures";
import type { Page } from "@playwright/test";

const ADMIN = { email: "ada@example.com", first: "Ada", last: "Lovelace", password: "analytical engine notes 1843" };

const { own, newPage, baseURL: base } = withOwnServer(undefined, "localhost");

/**
 * The passkey as it is after its latest use: copies carry its signature
 * counter, which Roster requires to go up (a copy with an older count reads as
 * a cloned authenticator).
 */
let latest: Awaited<ReturnType<typeof credentials>>[number] | undefined;
async function used(v: Virtual) {
  latest = (await credentials(v))[0];
}

/** Another browser with the passkey synced to it (the latest copy). */
async function withPasskey(page: Page): Promise<Virtual> {
  const v = await addAuthenticator(page);
  await v.cdp.send("WebAuthn.addCredential", { authenticatorId: v.authenticatorId, credential: latest! });
  return v;
}

/**
 * A browser that offers no passkeys in the autofill: Chromium's virtual
 * authenticator answers the Sign in page's conditional request at once, so
 * the button's own request is tested where there is none.
 */
async function noAutofill(page: Page) {
  await page.addInitScript(() => {
    if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

let laptop: Page;
let laptopKey: Virtual;

test("a passkey is added on Account → Security, and the first one comes with recovery codes", async ({ browser }) => {
  laptop = await newPage(browser);
  laptopKey = await addAuthenticator(laptop);
  await createFirstAdministrator(laptop, new URL(own().setupURL).pathname, ADMIN);

  await openHydrated(laptop, "/account?tab=security");
  const card = laptop.getByRole("region", { name: "Passkeys" });
  await expect(card.getByText("No passkeys yet.")).toBeVisible();
  await laptop.getByLabel("Name of the new passkey").fill("Work laptop");
  await laptop.getByRole("button", { name: "Add a passkey" }).click();
  await expect(laptop.getByRole("status").filter({ hasText: "The passkey was added." })).toBeVisible();
  await expect(laptop.getByRole("list", { name: "Recovery codes" }).getByRole("listitem")).toHaveCount(10);
  await expect(card.getByRole("cell", { name: "Work laptop", exact: true })).toBeVisible();
  await expect(card.getByRole("cell", { name: "Never", exact: true })).toBeVisible();

  const held = await credentials(laptopKey);
  expect(held).toHaveLength(1);
  expect(held[0].isResidentCredential, "a discoverable credential").toBe(true);
  expect(held[0].rpId).toBe("localhost");
  await used(laptopKey);
});

test("signed out, the email field's autofill offers the passkey and it alone signs in", async () => {
  await laptop.context().clearCookies();
  const html = await (await laptop.request.get("/signin")).text();
  expect(html).toContain('autocomplete="username webauthn"');
  // The conditional request: the virtual authenticator answers it as a
  // person picking the passkey in the suggestions would.
  await openHydrated(laptop, "/signin");
  await expect(laptop.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(laptop);
  await used(laptopKey);
  await openHydrated(laptop, "/account?tab=security");
  const card = laptop.getByRole("region", { name: "Passkeys" });
  await expect(card.getByRole("cell", { name: "Work laptop", exact: true })).toBeVisible();
  await expect(card.getByRole("cell", { name: "Never", exact: true })).toHaveCount(0);
});

test("Sign in with a passkey: the passkey alone signs in (no email, no password)", async ({ browser }) => {
  const phone = await newPage(browser);
  await noAutofill(phone);
  const key = await withPasskey(phone);
  await openHydrated(phone, "/signin");
  await phone.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(phone.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await used(key);
});

test("a browser context without the passkey cannot sign in with one", async ({ browser }) => {
  const stranger = await newPage(browser);
  await noAutofill(stranger);
  await addAuthenticator(stranger);
  await openHydrated(stranger, "/signin");
  await stranger.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(stranger.getByRole("alert")).toContainText("No passkey was used");
  await expect(stranger).toHaveURL(/\/signin/);
  const me = await stranger.request.post("/api/me", { headers: { Origin: base() } });
  expect(await me.json()).toBeNull();
});

test("after the password, the passkey is the second step", async ({ browser }) => {
  const desk = await newPage(browser);
  await noAutofill(desk);
  const key = await withPasskey(desk);
  await openHydrated(desk, "/signin");
  await desk.getByLabel("Email").fill(ADMIN.email);
  await desk.getByLabel("Password").fill(ADMIN.password);
  await desk.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(desk.getByRole("heading", { level: 1, name: "Two-step sign-in" })).toBeVisible();
  await settle(desk);
  await desk.getByRole("button", { name: "Use a passkey" }).click();
  await expect(desk.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await used(key);
});

test("an authenticator that cannot verify the person is refused with a clear message", async ({ browser }) => {
  const page = await newPage(browser);
  await noAutofill(page);
  // Signed in with the passkey; then only an authenticator that cannot
  // verify the person is left.
  const good = await withPasskey(page);
  await openHydrated(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  await used(good);
  await good.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: good.authenticatorId });
  const refusing = await addAuthenticator(page, false);

  await openHydrated(page, "/account?tab=security");
  await page.getByLabel("Name of the new passkey").fill("Old phone");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("could not verify you");
  expect(await credentials(refusing)).toHaveLength(0);
  const card = page.getByRole("region", { name: "Passkeys" });
  await expect(card.getByRole("cell", { name: "Old phone", exact: true })).toHaveCount(0);

  // The same refusal signing in, with the passkey on that authenticator.
  await page.context().clearCookies();
  await refusing.cdp.send("WebAuthn.addCredential", { authenticatorId: refusing.authenticatorId, credential: latest! });
  await openHydrated(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("No passkey was used");
  await expect(page).toHaveURL(/\/signin/);
});

// Passkeys in Chromium with its virtual authenticator (the DevTools Protocol
// WebAuthn domain, through a CDP session): a passkey is added on Account →
// Security (resident key, user verification), signs in alone after signing
// out, serves as the second step after the password, and a browser context
// without it cannot sign in; an authenticator that cannot verify the person
// is refused with a clear message. On a server of its own, opened as
// `localhost` (browsers hold passkeys for domain names, never for an IP
// address; Roster serves a loopback public URL's passkeys as localhost).
import { test, expect, openHydrated, settle, ownPages } from "./fixtures";
import { startOwnServer, OwnServer } from "../own-server";
import type { Browser, BrowserContext, CDPSession, Page } from "@playwright/test";

const ADMIN = { email: "ada@example.com", first: "Ada", last: "Lovelace", password: "analytical engine notes 1843" };

test.describe.configure({ mode: "serial" });
let server: OwnServer | undefined;
const own = (): OwnServer => {
  if (!server) throw new Error("the spec's own server has not started");
  return server;
};
const base = () => own().baseURL.replace("//127.0.0.1:", "//localhost:");
const open = ownPages(base);
const contexts: BrowserContext[] = [];

test.beforeAll(async () => {
  server = await startOwnServer();
});
test.afterAll(async () => {
  for (const c of contexts) await c.close();
  await server?.stop();
});

async function newPage(browser: Browser): Promise<Page> {
  const { context, page } = await open(browser);
  contexts.push(context);
  return page;
}

interface Virtual {
  cdp: CDPSession;
  authenticatorId: string;
}

/** A virtual platform authenticator (CTAP2, resident keys, user verification) for this page's context. */
async function addAuthenticator(page: Page, isUserVerified = true): Promise<Virtual> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function credentials(v: Virtual) {
  const { credentials } = await v.cdp.send("WebAuthn.getCredentials", { authenticatorId: v.authenticatorId });
  return credentials;
}

let laptop: Page;
let laptopKey: Virtual;

test("a passkey is added on Account → Security, and the first one comes with recovery codes", async ({ browser }) => {
  laptop = await newPage(browser);
  laptopKey = await addAuthenticator(laptop);
  await openHydrated(laptop, new URL(own().setupURL).pathname);
  await laptop.getByLabel("Email").fill(ADMIN.email);
  await laptop.getByLabel("First name").fill(ADMIN.first);
  await laptop.getByLabel("Last name").fill(ADMIN.last);
  await laptop.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await laptop.getByLabel("Confirm password").fill(ADMIN.password);
  await laptop.getByRole("button", { name: "Create administrator" }).click();
  await expect(laptop.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(laptop);

  await openHydrated(laptop, "/account?tab=security");
  const card = laptop.getByRole("region", { name: "Passkeys" });
  await expect(card.getByText("No passkeys yet.")).toBeVisible();
  await laptop.getByLabel("Name of the new passkey").fill("Work laptop");
  await laptop.getByRole("button", { name: "Add a passkey" }).click();
  await expect(laptop.getByRole("status").filter({ hasText: "The passkey was added." })).toBeVisible();
  await expect(laptop.getByRole("list", { name: "Recovery codes" }).getByRole("listitem")).toHaveCount(10);
  await expect(card.getByRole("cell", { name: "Work laptop" })).toBeVisible();
  await expect(card.getByRole("cell", { name: "Never" })).toBeVisible();

  const held = await credentials(laptopKey);
  expect(held).toHaveLength(1);
  expect(held[0].isResidentCredential, "a discoverable credential").toBe(true);
  expect(held[0].rpId).toBe("localhost");
});

test("signed out, the passkey alone signs in (no email, no password)", async () => {
  await laptop.context().clearCookies();
  await openHydrated(laptop, "/signin");
  await expect(laptop.getByLabel("Email")).toHaveAttribute("autocomplete", "username webauthn");
  await laptop.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(laptop.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(laptop);
  await openHydrated(laptop, "/account?tab=security");
  const card = laptop.getByRole("region", { name: "Passkeys" });
  await expect(card.getByRole("cell", { name: "Work laptop" })).toBeVisible();
  await expect(card.getByRole("cell", { name: "Never" })).toHaveCount(0);
});

test("a browser context without the passkey cannot sign in with one", async ({ browser }) => {
  const stranger = await newPage(browser);
  await addAuthenticator(stranger);
  await openHydrated(stranger, "/signin");
  await stranger.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(stranger.getByRole("alert")).toContainText("No passkey was used");
  await expect(stranger).toHaveURL(/\/signin/);
  const me = await stranger.request.post("/api/me", { headers: { Origin: base() } });
  expect(await me.json()).toBeNull();
});

test("after the password, the passkey is the second step", async ({ browser }) => {
  // The same passkey, copied into another browser's authenticator (a synced passkey).
  const desk = await newPage(browser);
  const deskKey = await addAuthenticator(desk);
  for (const credential of await credentials(laptopKey)) {
    await deskKey.cdp.send("WebAuthn.addCredential", { authenticatorId: deskKey.authenticatorId, credential });
  }
  await openHydrated(desk, "/signin");
  await desk.getByLabel("Email").fill(ADMIN.email);
  await desk.getByLabel("Password").fill(ADMIN.password);
  await desk.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(desk.getByRole("heading", { level: 1, name: "Two-step sign-in" })).toBeVisible();
  await settle(desk);
  await desk.getByRole("button", { name: "Use a passkey" }).click();
  await expect(desk.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
});

test("an authenticator that cannot verify the person is refused with a clear message", async ({ browser }) => {
  const page = await newPage(browser);
  // Signed in with the passkey copied in; then only an authenticator that
  // cannot verify the person is left.
  const good = await addAuthenticator(page);
  for (const credential of await credentials(laptopKey)) {
    await good.cdp.send("WebAuthn.addCredential", { authenticatorId: good.authenticatorId, credential });
  }
  await openHydrated(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();
  await settle(page);
  await good.cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: good.authenticatorId });
  const refusing = await addAuthenticator(page, false);

  await openHydrated(page, "/account?tab=security");
  await page.getByLabel("Name of the new passkey").fill("Old phone");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("could not verify you");
  expect(await credentials(refusing)).toHaveLength(0);
  await expect(page.getByRole("region", { name: "Passkeys" }).getByRole("cell", { name: "Old phone" })).toHaveCount(0);

  // The same refusal signing in.
  await page.context().clearCookies();
  await refusing.cdp.send("WebAuthn.addCredential", {
    authenticatorId: refusing.authenticatorId,
    credential: (await credentials(laptopKey))[0],
  });
  await openHydrated(page, "/signin");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert")).toContainText("No passkey was used");
  await expect(page).toHaveURL(/\/signin/);
});

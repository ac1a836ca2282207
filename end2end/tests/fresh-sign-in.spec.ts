// "Confirm it's you": adding a passkey with a sign-in older than
// fresh_sign_in (2 s on this spec's own server) asks for the password in a
// dialog, then carries on and adds the passkey, and the owner gets one email
// saying so; cancelling adds nothing. In Chromium's virtual authenticator, on
// a server opened as `localhost`.
import { test, expect, addAuthenticator, createFirstAdministrator, credentials, openHydrated, withOwnServer } from "./fixtures";

const ADMIN = { email: "ada@example.com", first: "Ada", last: "Lovelace", password: "analytical engine notes 1843" };

const { own, newPage } = withOwnServer({ env: { ROSTER_FRESH_SIGN_IN: "2s" } }, "localhost");

test("adding a passkey with an old sign-in asks to confirm, then adds it", async ({ browser }) => {
  const page = await newPage(browser);
  const key = await addAuthenticator(page);
  const held = () => credentials(key);
  await createFirstAdministrator(page, new URL(own().setupURL).pathname, ADMIN);
  await openHydrated(page, "/account?tab=security");
  // The sign-in is older than the 2 s this server allows.
  await page.waitForTimeout(2500);

  const dialog = page.getByRole("dialog", { name: "Confirm it's you" });
  await page.getByLabel("Name of the new passkey").fill("Planted");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("alert").filter({ hasText: "Confirm it's you" })).toBeVisible();
  expect(await held(), "cancelled: no passkey was made").toHaveLength(0);

  await page.getByLabel("Name of the new passkey").fill("Work laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(dialog).toBeVisible();
  await dialog.getByLabel("Password").fill("not my password");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expect(dialog.getByRole("alert")).toContainText("password is incorrect");
  await dialog.getByLabel("Password").fill(ADMIN.password);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expect(dialog).toBeHidden();
  // It carried on with what was asked.
  await expect(page.getByRole("status").filter({ hasText: "The passkey was added." })).toBeVisible();
  await expect(page.getByRole("region", { name: "Passkeys" }).getByRole("cell", { name: "Work laptop", exact: true })).toBeVisible();
  expect(await held()).toHaveLength(1);

  // The owner is told, once: the cancelled attempt added nothing and told nothing.
  await openHydrated(page, "/email-queue");
  await expect(page.getByRole("cell", { name: "A passkey was added to your Roster account" })).toHaveCount(1);
});

// The interface as a person meets it: icons that draw without emoji fonts,
// the light and dark themes, times in the viewer's zone, the filter bar, a
// phone-sized window with its navigation drawer, and axe-core's WCAG 2.1 A
// and AA rules on every page in light, dark and phone size.
//
// Runs on a server of its own (a fresh database, its own administrator).
import { test, expect, openHydrated, settle, createFirstAdministrator, signInToDashboard, ownPages, Opened } from "./fixtures";
import type { Browser, BrowserContextOptions, Page } from "@playwright/test";
import * as fs from "fs";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "mary@example.com", first: "Mary", last: "Jackson", password: "wind tunnel at langley 1958" };
const INVITED = "katherine@example.com";

test.describe.configure({ mode: "serial" });

let own: OwnServer;
const open = ownPages(() => own.baseURL);
let signUpPath = "";

async function signedIn(browser: Browser, options: BrowserContextOptions = {}): Promise<Opened> {
  const opened = await open(browser, options);
  await signInToDashboard(opened.page, ADMIN.email, ADMIN.password);
  return opened;
}

test.beforeAll(async ({ browser }) => {
  own = await startOwnServer();
  const context = await browser.newContext({ baseURL: own.baseURL });
  const page = await context.newPage();
  await createFirstAdministrator(page, own.setupURL, ADMIN);
  // Someone invited, so that Users, the Email queue and the Audit log have rows.
  await openHydrated(page, "/users/new");
  await page.getByLabel("Email").fill(INVITED);
  await page.getByRole("button", { name: "Send invitation" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Invitation queued for ${INVITED}.` })).toBeVisible();
  // Its link, for the Sign up page (never used, so it stays valid for every run of axe).
  await openHydrated(page, "/email-queue");
  await page.getByRole("row").filter({ hasText: INVITED }).getByRole("link").first().click();
  const body = (await page.locator("pre.email-body").textContent()) ?? "";
  signUpPath = new URL(body.match(/https?:\/\/\S+\/signup\/[A-Za-z0-9_-]{43}/)![0]).pathname;
  await context.close();
});

test.afterAll(async () => {
  await own?.stop();
});

/** The pages of the shell an administrator can open, with the heading each shows. */
async function shellPages(page: Page): Promise<[string, string][]> {
  await openHydrated(page, "/users");
  const userHref = await page.getByRole("link", { name: INVITED }).getAttribute("href");
  await openHydrated(page, "/email-queue");
  const emailHref = await page.getByRole("row").filter({ hasText: INVITED }).getByRole("link").first().getAttribute("href");
  await openHydrated(page, "/roles");
  const roleHref = await page.getByRole("link", { name: "Administrator" }).getAttribute("href");
  return [
    ["/", "Dashboard"],
    ["/users", "Users"],
    ["/users/new", "New user"],
    [userHref!, INVITED],
    ["/roles", "Roles"],
    ["/roles/new", "New role"],
    [roleHref!, "Administrator"],
    ["/email-queue", "Email queue"],
    [emailHref!, "You have been invited"],
    ["/audit-log", "Audit log"],
    ["/settings", "Settings"],
    ["/settings?tab=templates", "Settings"],
    ["/settings/templates/invitation", "Invitation"],
    ["/applications", "Applications"],
    ["/applications/new", "New application"],
    ["/account", "Account"],
    ["/account?tab=password", "Account"],
    ["/account?tab=sessions", "Account"],
    ["/account?tab=security", "Account"],
  ];
}

/** axe-core's own script, evaluated in the page (evaluation is not subject to the page's CSP). */
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

async function violationsOn(page: Page, where: string): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    // The email preview is a sandboxed frame of the email's own HTML: axe checks Roster's page.
    const results = await (window as any).axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      iframes: false,
    });
    return results.violations.map(
      (v: any) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n: any) => n.target.join(" ")).slice(0, 5).join("\n    ")}`,
    );
  });
  return violations.map((v: string) => `${where}: ${v}`);
}

test("navigation and Dashboard icons are SVG drawings, never emoji", async ({ browser }) => {
  const { context, page } = await signedIn(browser);
  const nav = page.getByRole("navigation", { name: "Applications" });
  const links = nav.getByRole("link");
  const tiles = page.locator("a.tile");
  expect(await tiles.count()).toBeGreaterThanOrEqual(4);
  for (const scope of [nav, page.getByRole("list", { name: "Applications" })]) {
    const text = await scope.innerText();
    expect(text, "no emoji in the navigation or on the tiles").not.toMatch(/\p{Extended_Pictographic}/u);
  }
  for (const item of [...(await links.all()).slice(1), ...(await tiles.all())]) {
    const icon = item.locator("svg.icon");
    await expect(icon).toHaveCount(1);
    const box = await icon.boundingBox();
    expect(box && box.width >= 16 && box.height >= 16, "the icon has a size").toBeTruthy();
    expect(await icon.locator("path, circle, rect, line").count(), "the icon draws something").toBeGreaterThan(0);
  }
  await context.close();
});

test("the theme follows the system until the User menu chooses one, and the choice is remembered", async ({ browser }) => {
  const { context, page } = await signedIn(browser, { colorScheme: "dark" });
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const systemDark = await background();
  await page.getByLabel("User menu").click();
  await page.getByRole("radio", { name: "Light" }).check();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  const light = await background();
  expect(light, "Light differs from the system's dark").not.toEqual(systemDark);
  await page.reload();
  await settle(page);
  await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
  expect(await background(), "the server renders the remembered theme").toEqual(light);
  await page.getByLabel("User menu").click();
  await expect(page.getByRole("radio", { name: "Light" })).toBeChecked();
  await page.getByRole("radio", { name: "Dark" }).check();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  expect(await background()).toEqual(systemDark);
  await page.getByRole("radio", { name: "System" }).check();
  await expect(page.locator("html")).not.toHaveAttribute("data-theme", /.*/);
  await page.emulateMedia({ colorScheme: "light" });
  expect(await background(), "System follows the system's light theme").toEqual(light);
  await context.close();
});

test("times are shown in the viewer's time zone, relative when recent, exact in the tooltip", async ({ browser }) => {
  const { context, page } = await signedIn(browser, { timezoneId: "Asia/Tokyo", locale: "en-GB" });
  await openHydrated(page, "/audit-log");
  const first = page.locator("table time").first();
  await expect(first).toHaveText(/just now|minutes? ago/);
  const datetime = (await first.getAttribute("datetime"))!;
  expect(datetime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\dZ$/);
  const title = (await first.getAttribute("title"))!;
  expect(title, "the tooltip is local, not UTC").not.toContain("UTC");
  const expected = await page.evaluate(
    (iso) => new Date(iso).toLocaleString("default", { dateStyle: "medium", timeStyle: "short" }),
    datetime,
  );
  expect(title).toEqual(expected);
  // Tokyo is UTC+9: the tooltip's hour is the UTC hour plus nine.
  const utcHour = Number(datetime.slice(11, 13));
  expect(title).toContain(`${String((utcHour + 9) % 24).padStart(2, "0")}:${datetime.slice(14, 16)}`);
  await context.close();
});

test("the filter bar shows each filter in force as a chip; removing it or Clear all resets the list", async ({ browser }) => {
  const { context, page } = await signedIn(browser);
  await openHydrated(page, "/users");
  const rows = page.locator("table.data-table tbody tr");
  await expect(rows).toHaveCount(2);
  await page.getByRole("combobox", { name: "Status", exact: true }).selectOption({ label: "Invited" });
  await expect(rows).toHaveCount(1);
  const chips = page.getByRole("list", { name: "Filters in force" });
  await expect(chips.getByRole("listitem")).toHaveText(["Status: Invited"]);
  await page.getByRole("button", { name: "Remove filter Status: Invited" }).click();
  await expect(rows).toHaveCount(2);
  await expect(page.getByRole("combobox", { name: "Status", exact: true })).toHaveValue("");
  await expect(chips).toHaveCount(0);
  await page.getByRole("searchbox", { name: "Search", exact: true }).fill("kath");
  await page.getByRole("combobox", { name: "Status", exact: true }).selectOption({ label: "Invited" });
  await expect(chips.getByRole("listitem")).toHaveCount(2);
  await page.getByRole("button", { name: "Clear all" }).click();
  await expect(page.getByRole("searchbox", { name: "Search", exact: true })).toHaveValue("");
  await expect(rows).toHaveCount(2);
  await context.close();
});

test("on a phone the navigation is a drawer: it keeps focus while open and Escape closes it", async ({ browser }) => {
  const { context, page } = await signedIn(browser, { viewport: { width: 390, height: 844 }, hasTouch: true });
  const nav = page.getByRole("navigation", { name: "Applications" });
  const menu = page.getByRole("button", { name: "Menu" });
  await expect(menu).toBeVisible();
  await expect(nav).toBeHidden();
  await menu.click();
  await expect(nav).toBeVisible();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const inside = await page.evaluate(() => !!document.activeElement?.closest("#sidebar"));
    expect(inside, `focus stays in the drawer (Tab ${i + 1})`).toBe(true);
  }
  await page.keyboard.press("Escape");
  await expect(nav).toBeHidden();
  await expect(menu).toBeFocused();
  // Following a link closes the drawer.
  await menu.click();
  await nav.getByRole("link", { name: "Users", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  await expect(nav).toBeHidden();
  // Nothing runs off the right edge: wide tables scroll inside their container.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow, "the page does not scroll sideways").toBeLessThanOrEqual(0);
  const targets = await page.locator("main button:visible, main select:visible, main input:visible").evaluateAll((els) =>
    els.map((e) => [e.getAttribute("aria-label") ?? e.textContent ?? e.tagName, e.getBoundingClientRect().height] as const),
  );
  for (const [name, height] of targets) {
    expect(height, `touch target ${name}`).toBeGreaterThanOrEqual(44);
  }
  // Every page's top bar is one row with the Menu button inside it, however
  // short the page (the Dashboard's once took a third of the screen).
  const bar = page.locator("header.topbar");
  for (const [path, heading] of await shellPages(page)) {
    if (path.startsWith("/settings/templates/")) {
      await page.goto(path); // its live preview frame keeps the network busy
      await page.waitForLoadState("load");
    } else {
      await openHydrated(page, path);
    }
    const h1 = page.getByRole("heading", { level: 1 }).first();
    await expect(h1).toContainText(heading);
    const top = (await bar.boundingBox())!;
    const button = (await menu.boundingBox())!;
    const title = (await h1.boundingBox())!;
    expect(top.height, `the top bar's height on ${path}`).toBeLessThanOrEqual(80);
    expect(button.y >= top.y && button.y + button.height <= top.y + top.height, `the Menu button inside the top bar on ${path}`).toBe(true);
    expect(title.y, `the heading right below the top bar on ${path}`).toBeGreaterThanOrEqual(top.y + top.height);
    expect(title.y, `the heading right below the top bar on ${path}`).toBeLessThan(top.y + top.height + 80);
  }
  await context.close();
});

for (const [mode, options] of [
  ["light", { colorScheme: "light" }],
  ["dark", { colorScheme: "dark" }],
  ["phone", { viewport: { width: 390, height: 844 } }],
] as [string, BrowserContextOptions][]) {
  test(`axe-core finds no WCAG 2.1 A or AA violation on any page (${mode})`, async ({ browser }) => {
    test.setTimeout(300_000); // some twenty pages, each loaded and analysed
    const { context, page } = await signedIn(browser, options);
    const found: string[] = [];
    for (const [path, heading] of await shellPages(page)) {
      if (path.startsWith("/settings/templates/")) {
        // Its live preview frame keeps the network from ever going idle.
        await page.goto(path);
        await page.waitForLoadState("load");
      } else {
        await openHydrated(page, path);
      }
      await expect(page.getByRole("heading", { level: 1 }).first()).toContainText(heading);
      found.push(...(await violationsOn(page, `${path} (${mode})`)));
    }
    const anonymous = await browser.newContext({ baseURL: own.baseURL, ...options });
    const outside = await anonymous.newPage();
    for (const [path, heading] of [["/signin", "Sign in"], ["/forgot-password", "Forgot password"], [signUpPath, "Sign up"]]) {
      await openHydrated(outside, path);
      await expect(outside.getByRole("heading", { level: 1 }).first()).toContainText(heading);
      found.push(...(await violationsOn(outside, `${path} (${mode})`)));
    }
    await anonymous.close();
    await context.close();
    expect(found, "axe-core's WCAG 2.1 A and AA violations").toEqual([]);
  });
}

// What a person sees matches what they may do (issue 27, point 9). On a
// server of its own, the administrator makes a role with View on every
// application and one role for each single permission (each application's
// Create, Update and Delete; they include View), and signs up one person in
// each. Each person walks every page their navigation opens and the detail
// pages (a user, the administrator, a role, the Administrator role, an email,
// an unsent password reset, an application), checks that the "New …" and
// Import links show exactly when they hold Create, and clicks every visible
// button (confirmations included). No call to /api/ may answer 403 on the way.
//
// Each person gets targets of their own (a user with a pending invitation and
// its email, a role with that user as member, an application), so what one
// person deletes or disables does not change what the next one sees.
import { test, expect, openHydrated, createFirstAdministrator, ownPages } from "./fixtures";
import type { Browser, BrowserContext, Page } from "@playwright/test";
import { startOwnServer, OwnServer } from "../own-server";

const ADMIN = { email: "ada@walk.test", first: "Ada", last: "Walker", password: "every page every button 27" };
const PASSWORD = "looking at what I may touch 27";

type App = "Users" | "Roles" | "EmailQueue" | "AuditLog" | "Settings" | "Applications";
type Perm = "View" | "Create" | "Update" | "Delete";
type Grant = [App, Perm];

/** The permissions each of Roster's applications declares (app/src/registry.rs). */
const DECLARED: Record<App, Perm[]> = {
  Users: ["View", "Create", "Update", "Delete"],
  Roles: ["View", "Create", "Update", "Delete"],
  EmailQueue: ["View", "Update", "Delete"],
  AuditLog: ["View"],
  Settings: ["View", "Update"],
  Applications: ["View", "Create", "Update", "Delete"],
};
const APPS = Object.keys(DECLARED) as App[];

interface Walker {
  role: string;
  grants: Grant[];
  email: string;
}

const WALKERS: Walker[] = [
  { role: "View only", grants: APPS.map((a) => [a, "View"] as Grant), email: "view-only@walk.test" },
  ...APPS.flatMap((app) =>
    DECLARED[app]
      .filter((p) => p !== "View")
      .map((p) => ({ role: `${app} ${p}`, grants: [[app, p]] as Grant[], email: `${app}-${p}@walk.test`.toLowerCase() })),
  ),
];

/** Buttons the walk never clicks: they close, copy or change only the page itself. */
const SKIP = /^(Cancel|Copy|Copied|Clear all|Menu)$|^Remove filter/;

test.describe.configure({ mode: "serial" });

let own: OwnServer;
let admin: { context: BrowserContext; page: Page };
const open = ownPages(() => own.baseURL);
let adminId = 0;
let adminRoleId = 0;
let resetEmailId = 0;

async function call(page: Page, endpoint: string, body: { data?: unknown; form?: Record<string, string> }): Promise<any> {
  const r = await page.request.post(`${own.baseURL}/api/${endpoint}`, {
    ...body,
    headers: { Origin: own.baseURL, Accept: "application/json" },
  });
  expect(r.status(), `${endpoint}: ${await r.text()}`).toBe(200);
  return r.json();
}
const json = (endpoint: string, data: unknown) => call(admin.page, endpoint, { data });
const form = (endpoint: string, data: Record<string, string>) => call(admin.page, endpoint, { form: data });

/** A user with a pending invitation, and the id of its email. */
async function invite(email: string, roleIds: number[]): Promise<{ id: number; emailId: number }> {
  const id = await json("invite_user", { email, role_ids: roleIds });
  const detail = await form("get_user", { id: String(id) });
  return { id, emailId: detail.delivery.email_id };
}

interface Targets {
  user: number;
  email: number;
  role: number;
  app: number;
}

/** A user, their invitation email, a role they are a member of, an application: this walker's to change. */
async function targetsFor(n: number): Promise<Targets> {
  const { id: user, emailId: email } = await invite(`target-${n}@walk.test`, []);
  const role = await form("create_role", { name: `Target role ${n}`, description: "" });
  await form("add_role_member", { role_id: String(role), user_id: String(user) });
  const app = await json("create_application", {
    input: {
      name: `Target app ${n}`,
      description: "",
      mark: "Letter",
      colour: "Blue",
      launch_url: `https://app${n}.example.com/`,
      redirect_uris: `https://app${n}.example.com/callback`,
      post_logout_redirect_uris: "",
      client_type: "Confidential",
    },
  });
  return { user, email, role, app: app.id };
}

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  own = await startOwnServer();
  admin = await open(browser);
  await createFirstAdministrator(admin.page, own.setupURL, ADMIN);
  const me = await form("me", {});
  adminId = me.user_id;
  const roles: { id: number; builtin: boolean }[] = await form("list_roles", {});
  adminRoleId = roles.find((r) => r.builtin)!.id;
  // An unsent password reset: only an administrator resends or deletes it.
  const anonymous = await browser.newContext({ baseURL: own.baseURL });
  const r = await anonymous.request.post(`${own.baseURL}/api/forgot_password`, {
    form: { email: ADMIN.email },
    headers: { Origin: own.baseURL },
  });
  expect(r.status()).toBe(200);
  await anonymous.close();
  await expect
    .poll(async () => {
      const list = await form("list_emails", { status: "" });
      resetEmailId = list.rows.find((e: { to: string }) => e.to === ADMIN.email)?.id ?? 0;
      return resetEmailId;
    })
    .toBeGreaterThan(0);
});

test.afterAll(async () => {
  await admin?.context.close();
  await own?.stop();
});

/** Sign `w` up in a browser of their own, from the invitation the administrator sends them. */
async function signUp(browser: Browser, w: Walker): Promise<{ context: BrowserContext; page: Page }> {
  const role = await form("create_role", { name: w.role, description: "" });
  await json("set_role_permissions", { id: role, grants: w.grants });
  const { emailId } = await invite(w.email, [role]);
  const email = await form("get_email", { id: String(emailId) });
  const token = /\/signup\/([A-Za-z0-9_-]{43})/.exec(email.body_text)![1];
  const person = await open(browser);
  await call(person.page, "sign_up", { form: { token, password: PASSWORD, password_confirmation: PASSWORD } });
  return person;
}

const holds = (w: Walker, app: App, perm: Perm) => w.grants.some(([a, p]) => a === app && (p === perm || perm === "View"));

/** The pages `w` may open, with the "New …" link each list shows to holders of Create. */
function pagesFor(w: Walker, t: Targets): { path: string; creates?: [App, string] }[] {
  const pages: { path: string; creates?: [App, string] }[] = [{ path: "/" }];
  const may = (app: App) => holds(w, app, "View");
  if (may("Users")) {
    pages.push({ path: "/users", creates: ["Users", "New user"] }, { path: `/users/${t.user}` }, { path: `/users/${adminId}` });
  }
  if (may("Roles")) {
    pages.push({ path: "/roles", creates: ["Roles", "New role"] });
    for (const tab of ["general", "permissions", "members", "preview"]) {
      pages.push({ path: `/roles/${adminRoleId}?tab=${tab}` });
    }
    // The target role last on its General tab: its Delete ends the walk there.
    for (const tab of ["permissions", "members", "general"]) {
      pages.push({ path: `/roles/${t.role}?tab=${tab}` });
    }
  }
  if (may("EmailQueue")) {
    pages.push({ path: "/email-queue" }, { path: `/email-queue/${resetEmailId}` }, { path: `/email-queue/${t.email}` });
  }
  if (may("AuditLog")) pages.push({ path: "/audit-log" });
  if (may("Settings")) pages.push({ path: "/settings" }, { path: "/settings?tab=templates" });
  if (may("Applications")) {
    pages.push({ path: "/applications", creates: ["Applications", "New application"] }, { path: `/applications/${t.app}` });
  }
  return pages;
}

/** Counts the page's calls to /api/ in flight, and records every one that answers 403. */
function watch(page: Page, who: string, forbidden: string[]) {
  const state = { started: 0, inFlight: 0, where: "" };
  const api = (url: string) => new URL(url).pathname.startsWith("/api/");
  page.on("request", (r) => {
    if (api(r.url())) {
      state.started++;
      state.inFlight++;
    }
  });
  const done = (r: { url(): string }) => {
    if (api(r.url())) state.inFlight--;
  };
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  page.on("response", (r) => {
    if (r.status() === 403) forbidden.push(`${who} on ${state.where}: ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return state;
}

/** Click every visible button of the page (and of what each click opens), once per label. */
async function clickEverything(page: Page, state: ReturnType<typeof watch>, done: Set<string>) {
  const clicked = new Set<string>();
  for (let i = 0; i < 25; i++) {
    const buttons = await page.locator("main button:visible:enabled").all();
    let next = null;
    for (const b of buttons) {
      const label = ((await b.textContent()) ?? "").trim();
      if (!label || SKIP.test(label) || clicked.has(label)) continue;
      clicked.add(label);
      done.add(label);
      next = b;
      break;
    }
    if (!next) return;
    const before = state.started;
    await next.click();
    // A click that calls the server starts at once; one that opens a question does not.
    for (let t = 0; t < 10 && state.started === before; t++) await page.waitForTimeout(30);
    await expect.poll(() => state.inFlight, { timeout: 15_000 }).toBe(0);
  }
}

async function walk(browser: Browser, w: Walker, n: number, forbidden: string[], done: Set<string>) {
  const t = await targetsFor(n);
  const { context, page } = await signUp(browser, w);
  const state = watch(page, w.role, forbidden);
  for (const { path, creates } of pagesFor(w, t)) {
    state.where = path;
    await openHydrated(page, path);
    await expect(page.getByRole("heading", { level: 1 }).first(), `${w.role} opens ${path}`).not.toHaveText("Access denied");
    if (creates) {
      const [app, label] = creates;
      await expect(page.getByRole("link", { name: label, exact: true }), `${w.role}: ${label} on ${path}`).toHaveCount(
        holds(w, app, "Create") ? 1 : 0,
      );
      if (app === "Users") {
        await expect(page.getByRole("link", { name: "Import", exact: true }), `${w.role}: Import`).toHaveCount(
          holds(w, app, "Create") ? 1 : 0,
        );
      }
    }
    await clickEverything(page, state, done);
  }
  // Holders of Create use the form the link opens; others who type its address are told what is missing.
  const creating: [App, string, (p: Page) => Promise<void>, string][] = [
    ["Users", "/users/new", async (p) => p.getByLabel("Email", { exact: true }).fill(`new-${n}@walk.test`), "Send invitation"],
    ["Roles", "/roles/new", async (p) => p.getByLabel("Name", { exact: true }).fill(`New role ${n}`), "Create role"],
    [
      "Applications",
      "/applications/new",
      async (p) => {
        await p.getByLabel("Name", { exact: true }).fill(`New app ${n}`);
        await p.getByLabel(/^Launch URL/).fill(`https://new${n}.example.com/`);
        await p.getByLabel(/^Redirect URIs/).fill(`https://new${n}.example.com/callback`);
      },
      "Create application",
    ],
  ];
  for (const [app, path, fill, submit] of creating) {
    if (!holds(w, app, "View")) continue;
    state.where = path;
    await openHydrated(page, path);
    if (holds(w, app, "Create")) {
      await fill(page);
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname.startsWith("/api/create_") || r.url().endsWith("/api/invite_user"));
      await page.getByRole("button", { name: submit }).click();
      expect((await answered).status(), `${w.role}: ${submit}`).toBe(200);
    } else {
      await expect(page.getByRole("heading", { level: 1, name: "Access denied" }), `${w.role} on ${path}`).toBeVisible();
      await expect(page.getByRole("button", { name: submit })).toHaveCount(0);
    }
  }
  await context.close();
}

test("as a View-only role and as a role with each single permission, no visible action answers 403", async ({ browser }) => {
  test.setTimeout(240_000);
  const forbidden: string[] = [];
  const done = new Set<string>();
  // Three people at a time, each in a browser context of their own.
  for (let i = 0; i < WALKERS.length; i += 3) {
    await Promise.all(WALKERS.slice(i, i + 3).map((w, k) => walk(browser, w, i + k, forbidden, done)));
  }
  expect(forbidden, "actions shown to people whose permissions refuse them").toEqual([]);
  // The walk reached the actions each single permission opens, confirmations included.
  for (const label of [
    "Resend invitation",
    "Revoke invitation",
    "Disable user",
    "Sign out all sessions",
    "Save permissions",
    "Remove",
    "Add",
    "Delete role",
    "Yes, delete",
    "Disable application",
    "Rotate secret",
    "Delete application",
  ]) {
    expect([...done], `the walk clicked ${label}`).toContain(label);
  }
});

// "In the browser": Roster's release server as a person's browser sees it.
//
// Debian's Chromium, driven through the DevTools Protocol (Playwright's CDP
// session, from end2end/node_modules), loads the sign-in page from an empty
// cache, signs in, opens the Users page, then visits the sign-in page again
// with what the browser kept. Each profile runs in a fresh browser context
// (empty cache) with the network emulated by Network.emulateNetworkConditions.
//
// Measured per page load:
//   - bytes on the wire: the sum of Network.loadingFinished encodedDataLength
//     (compressed body plus headers, as received), all requests and JS + WASM + CSS;
//   - visible: first contentful paint (the page is server-rendered, so the
//     form or the table is what paints);
//   - interactive: hydrated, i.e. the WebAssembly has attached the page's
//     handlers: the sign-in <form> its submit listener, the Users search box
//     its input handler (addEventListener, recorded by an init script, or
//     Leptos's delegated `$$$input` property);
//     then the form is filled and submitted, and the bench checks the
//     answer came from the server function (no full page post).
//
// Usage: node bench/browser.cjs BASE_URL EMAIL PASSWORD > out.json
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), ROSTER_BROWSER_RUNS
// (page loads per figure, median reported; default 3).
"use strict";
const path = require("path");
const { chromium } = require(path.join(__dirname, "..", "end2end", "node_modules", "playwright-core"));

const [base, email, password] = process.argv.slice(2);
if (!base || !email || !password) {
  console.error("usage: node bench/browser.cjs BASE_URL EMAIL PASSWORD");
  process.exit(2);
}
const RUNS = Number(process.env.ROSTER_BROWSER_RUNS || 3);

const PROFILES = {
  // 1.6 Mbps down, 750 kbps up, 150 ms round trip: a slow mobile link.
  slow: { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 },
  unthrottled: { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 },
};

const ASSET = /\.(js|wasm|css)(\?|$)/;

/** Counts what the page receives between start() and stop(). */
function wire(cdp) {
  const urls = new Map();
  let on = false;
  let all = 0, assets = 0, requests = 0, assetRequests = 0, fromCache = 0;
  cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
  cdp.on("Network.requestServedFromCache", () => { if (on) fromCache++; });
  cdp.on("Network.loadingFinished", (e) => {
    if (!on) return;
    const url = urls.get(e.requestId) || "";
    all += e.encodedDataLength;
    requests++;
    if (ASSET.test(new URL(url, base).pathname)) {
      assets += e.encodedDataLength;
      assetRequests++;
    }
  });
  return {
    start() { on = true; all = assets = requests = assetRequests = fromCache = 0; },
    stop() { on = false; return { bytes: all, assetBytes: assets, requests, assetRequests, fromCache }; },
  };
}

async function fcp(page) {
  return page.evaluate(() => new Promise((done) => {
    const seen = performance.getEntriesByName("first-contentful-paint")[0];
    if (seen) return done(seen.startTime);
    new PerformanceObserver((list) => {
      const e = list.getEntriesByName("first-contentful-paint")[0];
      if (e) done(e.startTime);
    }).observe({ type: "paint", buffered: true });
  }));
}

// Records when a listener is attached to an element (hydration attaches the
// page's handlers with addEventListener, or as Leptos's delegated `$$$type`).
const LISTENERS = `
  window.__listeners = [];
  const add = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, ...rest) {
    if (this instanceof Element) window.__listeners.push([this, type, performance.now()]);
    return add.call(this, type, ...rest);
  };`;

/** The time (ms since navigation start) at which `selector` got its `type` handler. */
async function hydratedAt(page, selector, type) {
  const h = await page.waitForFunction(
    ([sel, t]) => {
      const el = document.querySelector(sel);
      if (!el) return false;
      const seen = (window.__listeners || []).find(([e, ty]) => e === el && ty === t);
      if (seen) return seen[2];
      return el["$$$" + t] !== undefined ? performance.now() : false;
    },
    [selector, type],
    { polling: 5, timeout: 120000 },
  );
  return h.jsonValue();
}

async function networkIdle(page) {
  await page.waitForLoadState("networkidle", { timeout: 120000 });
}

async function loadSignIn(page, meter) {
  meter.start();
  await page.goto(`${base}/signin`, { waitUntil: "commit", timeout: 120000 });
  const interactive = await hydratedAt(page, "form", "submit");
  const visible = await fcp(page);
  await networkIdle(page);
  return { visible, interactive, ...meter.stop() };
}

async function signIn(page) {
  const posts = [];
  const listener = (r) => { if (r.method() === "POST") posts.push({ url: r.url(), type: r.resourceType() }); };
  page.on("request", listener);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor({ timeout: 120000 });
  page.off("request", listener);
  // Hydrated: the form went to the server function (fetch), not as a page post.
  const viaFunction = posts.some((p) => p.url.includes("/api/sign_in") && (p.type === "fetch" || p.type === "xhr"));
  const pagePost = posts.some((p) => p.type === "document");
  return { viaFunction, pagePost };
}

async function loadUsers(page, meter) {
  meter.start();
  await page.goto(`${base}/users`, { waitUntil: "commit", timeout: 120000 });
  const interactive = await hydratedAt(page, "input[type=search]", "input");
  await page.locator("table tbody tr").first().waitFor({ timeout: 120000 });
  const visible = await fcp(page);
  await networkIdle(page);
  return { visible, interactive, ...meter.stop() };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function summarize(runs) {
  const keys = Object.keys(runs[0]).filter((k) => typeof runs[0][k] === "number");
  const out = { runs: runs.length };
  for (const k of keys) out[k] = median(runs.map((r) => r[k]));
  for (const k of Object.keys(runs[0]).filter((k) => typeof runs[0][k] === "boolean")) out[k] = runs.every((r) => r[k]);
  return out;
}

async function profile(browser, name, conditions) {
  const first = [], users = [], repeat = [], submitted = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    await context.addInitScript(LISTENERS);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.clearBrowserCache");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
    await cdp.send("Network.emulateNetworkConditions", conditions);
    const meter = wire(cdp);

    first.push(await loadSignIn(page, meter));
    // A repeat visit: the same browser, another time (a new tab, the cache kept).
    const again = await context.newPage();
    const cdp2 = await context.newCDPSession(again);
    await cdp2.send("Network.enable");
    await cdp2.send("Network.emulateNetworkConditions", conditions);
    repeat.push(await loadSignIn(again, wire(cdp2)));
    await again.close();

    submitted.push(await signIn(page));
    users.push(await loadUsers(page, meter));
    await context.close();
  }
  return {
    profile: name,
    conditions,
    signInFirst: summarize(first),
    signInRepeat: summarize(repeat),
    usersAfterSignIn: summarize(users),
    signInSubmit: summarize(submitted),
  };
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium" });
  const version = browser.version();
  const results = [];
  try {
    for (const [name, conditions] of Object.entries(PROFILES)) {
      results.push(await profile(browser, name, conditions));
      console.error(`[browser] ${name}: ${JSON.stringify(results[results.length - 1])}`);
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ base, runs: RUNS, chromium: version, results }, null, 2));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

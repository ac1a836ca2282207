// A small web application that signs its users in with Roster through a real
// OpenID Connect client library (openid-client): what an organization's CRM
// would do. `/` shows who is signed in (email and Roster permissions) or
// starts a sign-in; `/callback` finishes it (PKCE S256, state and nonce
// checked by the library, ID token verified against Roster's JWKS, userinfo).
import * as http from "http";
import * as crypto from "crypto";
import type { AddressInfo } from "net";

export interface RelyingParty {
  url: string;
  redirectURI: string;
  /** Give it the credentials Roster showed once. */
  configure: (issuer: string, clientId: string, clientSecret: string) => Promise<void>;
  stop: () => Promise<void>;
}

type Client = typeof import("openid-client");

// openid-client is an ES module; the specs are compiled to CommonJS, whose
// `import()` would become `require()`.
const importESM = new Function("m", "return import(m)") as (m: string) => Promise<Client>;

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
}

interface SignedIn {
  email: string;
  permissions: string[];
}

const COOKIE = "crm_session";

function page(res: http.ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`);
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startRelyingParty(): Promise<RelyingParty> {
  const client = await importESM("openid-client");
  let config: import("openid-client").Configuration | null = null;
  const pending = new Map<string, Pending>();
  const sessions = new Map<string, SignedIn>();
  let base = "";

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", base);
      const sid = /(?:^|;\s*)crm_session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1] ?? "";
      if (url.pathname === "/favicon.ico") {
        res.writeHead(204);
        return res.end();
      }
      if (!config) return page(res, 503, "CRM", "<p>Not configured yet.</p>");
      if (url.pathname === "/") {
        const who = sessions.get(sid);
        if (!who) {
          // Start a sign-in with Roster.
          const p: Pending = {
            verifier: client.randomPKCECodeVerifier(),
            state: client.randomState(),
            nonce: client.randomNonce(),
          };
          const id = crypto.randomBytes(16).toString("hex");
          pending.set(id, p);
          const target = client.buildAuthorizationUrl(config, {
            redirect_uri: `${base}/callback`,
            // roster: the roles and this application's permissions.
            scope: "openid email profile roster",
            code_challenge: await client.calculatePKCECodeChallenge(p.verifier),
            code_challenge_method: "S256",
            state: p.state,
            nonce: p.nonce,
          });
          res.writeHead(302, { Location: target.href, "Set-Cookie": `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax` });
          return res.end();
        }
        return page(
          res,
          200,
          "CRM",
          `<p>Signed in as <strong id="email">${esc(who.email)}</strong></p><p>Permissions: <span id="permissions">${esc(who.permissions.join(", "))}</span></p>`,
        );
      }
      if (url.pathname === "/callback") {
        const p = pending.get(sid);
        if (!p) return page(res, 400, "CRM", "<p>No sign-in in progress.</p>");
        pending.delete(sid);
        const tokens = await client.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: p.verifier,
          expectedState: p.state,
          expectedNonce: p.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) return page(res, 500, "CRM", "<p>No ID token.</p>");
        const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        sessions.set(sid, { email: String(claims.email), permissions: (info.permissions as string[]) ?? [] });
        res.writeHead(302, { Location: "/" });
        return res.end();
      }
      page(res, 404, "CRM", "<p>Not found.</p>");
    } catch (e) {
      page(res, 500, "CRM", `<p id="error">${esc(String(e))}</p>`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    redirectURI: `${base}/callback`,
    configure: async (issuer, clientId, clientSecret) => {
      // The tests' Roster listens on plain http on loopback.
      config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
        execute: [client.allowInsecureRequests],
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

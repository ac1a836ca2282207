// Where global-setup.ts records the server it started, and how tests read it.
import { spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";

export type Backend = "sqlite" | "postgres";

export interface ServerInfo {
  backend: Backend;
  /** e.g. http://127.0.0.1:41234 (no trailing slash) */
  baseURL: string;
  /** The one-time setup link the server printed, or null if it printed none. */
  setupURL: string | null;
  databaseURL: string;
  pid: number;
  logFile: string;
}

export function backend(): Backend {
  const b = process.env.ROSTER_TEST_BACKEND ?? "sqlite";
  if (b !== "sqlite" && b !== "postgres") {
    throw new Error(`ROSTER_TEST_BACKEND must be "sqlite" or "postgres", not "${b}"`);
  }
  return b;
}

/** Per-backend folder for the server's log and the info file (kept after the run). */
export function runDir(b: Backend = backend()): string {
  return path.join(__dirname, "test-results", `server-${b}`);
}

export function infoFile(b: Backend = backend()): string {
  return path.join(runDir(b), "server.json");
}

export function readServerInfo(): ServerInfo {
  const file = process.env.ROSTER_E2E_SERVER_INFO ?? infoFile();
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: the Playwright globalSetup did not start the server`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as ServerInfo;
}

/** The encryption key of the PostgreSQL servers under test (32 bytes, base64). */
export const TEST_ENCRYPTION_KEY = "dGVzdCBrZXkgZm9yIHJvc3RlcidzIHRlc3RzIG9ubHk=";

/**
 * Start a Roster server under test: `bin` in `workDir`, on a free port, with
 * the site cargo-leptos built and the given database, never a developer's
 * roster.toml; `extra` adds or overrides variables. Its log goes to `logFd`.
 */
export function spawnRoster(
  bin: string,
  workDir: string,
  siteRoot: string,
  databaseURL: string,
  logFd: number,
  extra: Record<string, string> = {},
): ChildProcess {
  return spawn(bin, [], {
    cwd: workDir,
    env: {
      ...process.env,
      ROSTER_LISTEN: "127.0.0.1:0",
      ROSTER_SITE_ROOT: siteRoot,
      ROSTER_DATABASE_URL: databaseURL,
      ROSTER_CONFIG: path.join(workDir, "no-roster.toml"),
      ROSTER_LOG: "info,sqlx=warn",
      // Roster refuses to start on PostgreSQL without an encryption key (on
      // SQLite it makes roster.key beside the database).
      ...(databaseURL.startsWith("postgres") ? { ROSTER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY } : {}),
      ...extra,
      NO_COLOR: "1",
    },
    stdio: ["ignore", "pipe", logFd],
  });
}

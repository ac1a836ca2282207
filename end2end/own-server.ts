// A server of a spec file's own: the same binary and backend as the shared
// one (global-setup.ts), on a fresh database, optionally with a real SMTP
// server (aiosmtpd, server/tests/smtp_sink.py) that records what it receives.
import { spawn, execFileSync, ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import { backend, spawnRoster } from "./server-info";

export interface OwnServer {
  baseURL: string;
  setupURL: string;
  /** Messages the SMTP sink accepted (only with `smtp: true`). */
  mail: () => SinkMessage[];
  /** The SMTP sink's port (only with `smtp: true`). */
  smtpPort: number | null;
  stop: () => Promise<void>;
}

export interface SinkMessage {
  message_id: string;
  to: string[];
  subject: string;
  from: string;
  text: string;
}

const REPO = path.resolve(__dirname, "..");
const PG_HOST = process.env.ROSTER_TEST_PG_HOST ?? "127.0.0.1";
const PG_PORT = process.env.ROSTER_TEST_PG_PORT ?? "5432";
const PG_USER = process.env.ROSTER_TEST_PG_USER ?? "postgres";

function psql(sql: string): void {
  execFileSync("psql", ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function startSink(
  workDir: string,
  auth?: { user: string; password: string },
): Promise<{ url: string; port: number; file: string; proc: ChildProcess }> {
  const port = await freePort();
  const file = path.join(workDir, "mail.jsonl");
  const args = [path.join(REPO, "server", "tests", "smtp_sink.py"), String(port), file];
  if (auth) args.push("--auth", `${auth.user}:${auth.password}`);
  const proc = spawn("python3", args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the SMTP sink did not start (pip install aiosmtpd)")), 20_000);
    readline.createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once("exit", (code) => reject(new Error(`the SMTP sink exited (code ${code})`)));
  });
  return { url: `smtp://127.0.0.1:${port}`, port, file, proc };
}

export async function startOwnServer(
  opts: {
    smtp?: boolean;
    /** The sink demands AUTH with this user name and password. */
    smtpAuth?: { user: string; password: string };
    /** Name the sink in ROSTER_SMTP_URL (default); false leaves email to Settings. */
    smtpInConfig?: boolean;
    env?: Record<string, string>;
  } = {},
): Promise<OwnServer> {
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, "target");
  const bin = process.env.ROSTER_SERVER_BIN ?? path.join(targetDir, "debug", "server");
  const siteRoot = process.env.ROSTER_SITE_ROOT ?? path.join(REPO, "target", "site");
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "roster-e2e-own-"));
  let databaseURL = `sqlite://${path.join(workDir, "roster.db")}`;
  let pgDatabase: string | null = null;
  if (backend() === "postgres") {
    pgDatabase = `roster_e2e_own_${crypto.randomBytes(6).toString("hex")}`;
    psql(`CREATE DATABASE ${pgDatabase}`);
    databaseURL = `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${pgDatabase}`;
  }
  const sink = opts.smtp ? await startSink(workDir, opts.smtpAuth) : null;
  const logFile = path.join(workDir, "server.log");
  const logFd = fs.openSync(logFile, "a");
  const server: ChildProcess = spawnRoster(bin, workDir, siteRoot, databaseURL, logFd, {
    ROSTER_MAIL_POLL_INTERVAL: "100ms",
    ...(sink && opts.smtpInConfig !== false ? { ROSTER_SMTP_URL: sink.url } : {}),
    ...(opts.env ?? {}),
  });
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
      server.kill("SIGTERM");
      await exited;
    }
    sink?.proc.kill();
    fs.closeSync(logFd);
    if (pgDatabase) psql(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
    if (!process.env.ROSTER_E2E_KEEP) fs.rmSync(workDir, { recursive: true, force: true });
  };
  const mail = (): SinkMessage[] =>
    sink && fs.existsSync(sink.file)
      ? fs.readFileSync(sink.file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l))
      : [];
  try {
    return await new Promise<OwnServer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not listen within 60s; see ${logFile}`)), 60_000);
      server.once("exit", (code) => reject(new Error(`the server exited (code ${code}); see ${logFile}`)));
      let setupURL = "";
      readline.createInterface({ input: server.stdout! }).on("line", (line) => {
        if (/^\s*http\S+\/setup\/\S+\s*$/.test(line)) setupURL = line.trim();
        const m = /^Roster listening on (http:\/\/\S+)\s*$/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({ baseURL: m[1].replace(/\/$/, ""), setupURL, mail, smtpPort: sink?.port ?? null, stop });
        }
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
}

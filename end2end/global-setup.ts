// Starts the real Roster server (target/debug/server) on a fresh database for
// the backend named by ROSTER_TEST_BACKEND, waits until it listens, and
// records its address and one-time setup link for the tests. The returned
// function is Playwright's teardown: it stops the server and drops the
// database.
import { execFileSync, ChildProcess } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as readline from "readline";
import { backend, infoFile, runDir, ServerInfo, spawnRoster } from "./server-info";

const REPO = path.resolve(__dirname, "..");
const SETUP_INTRO =
  "Roster has no users yet. Open this one-time setup link to create the first administrator:";
const LISTENING = /^Roster listening on (http:\/\/\S+)\s*$/;
const START_TIMEOUT_MS = 60_000;

const PG_HOST = process.env.ROSTER_TEST_PG_HOST ?? "127.0.0.1";
const PG_PORT = process.env.ROSTER_TEST_PG_PORT ?? "5432";
const PG_USER = process.env.ROSTER_TEST_PG_USER ?? "postgres";

function psql(sql: string): void {
  execFileSync(
    "psql",
    ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

function log(msg: string): void {
  // Playwright shows globalSetup output on the terminal.
  console.log(`[e2e] ${msg}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const b = backend();
  const dir = runDir(b);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });

  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
    : path.join(REPO, "target");
  const bin = process.env.ROSTER_SERVER_BIN ?? path.join(targetDir, "debug", "server");
  const siteRoot = process.env.ROSTER_SITE_ROOT ?? path.join(REPO, "target", "site");
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} does not exist: run \`cargo leptos build\` in ${REPO} first`);
  }
  if (!fs.existsSync(path.join(siteRoot, "pkg"))) {
    throw new Error(`${siteRoot}/pkg does not exist: run \`cargo leptos build\` in ${REPO} first`);
  }

  // A fresh, empty database for this run.
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `roster-e2e-${b}-`));
  let databaseURL: string;
  let pgDatabase: string | null = null;
  if (b === "sqlite") {
    databaseURL = `sqlite://${path.join(workDir, "roster.db")}`;
  } else {
    pgDatabase = `roster_e2e_${crypto.randomBytes(6).toString("hex")}`;
    psql(`CREATE DATABASE ${pgDatabase}`);
    databaseURL = `postgres://${PG_USER}@${PG_HOST}:${PG_PORT}/${pgDatabase}`;
  }

  const cleanupDatabase = () => {
    if (pgDatabase) {
      try {
        psql(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
      } catch (e) {
        console.error(`[e2e] could not drop database ${pgDatabase}: ${e}`);
      }
    }
    if (!process.env.ROSTER_E2E_KEEP) {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  };

  const logFile = path.join(dir, "server.log");
  const stdoutFile = path.join(dir, "server.stdout.log");
  const logFd = fs.openSync(logFile, "a");
  const stdoutLog = fs.createWriteStream(stdoutFile);

  log(`backend ${b}: starting ${path.relative(REPO, bin)} on ${databaseURL}`);
  log(`server log: ${path.relative(process.cwd(), logFile)}`);
  const server: ChildProcess = spawnRoster(bin, workDir, siteRoot, databaseURL, logFd, {
    ROSTER_LOG: process.env.ROSTER_LOG ?? "info,sqlx=warn,tower_http=debug",
  });

  let info: ServerInfo;
  try {
    info = await new Promise<ServerInfo>((resolve, reject) => {
      let setupURL: string | null = null;
      let expectSetupLink = false;
      const timer = setTimeout(() => {
        reject(new Error(`the server did not say it was listening within ${START_TIMEOUT_MS / 1000}s; see ${logFile}`));
      }, START_TIMEOUT_MS);
      const onExit = (code: number | null, signal: string | null) => {
        clearTimeout(timer);
        const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-4000) : "";
        reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${tail}`));
      };
      server.once("exit", onExit);
      server.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      const lines = readline.createInterface({ input: server.stdout! });
      lines.on("line", (line) => {
        stdoutLog.write(line + "\n");
        if (line === SETUP_INTRO) {
          expectSetupLink = true;
          return;
        }
        if (expectSetupLink) {
          expectSetupLink = false;
          setupURL = line.trim();
          return;
        }
        const m = LISTENING.exec(line);
        if (m) {
          clearTimeout(timer);
          server.off("exit", onExit);
          resolve({
            backend: b,
            baseURL: m[1].replace(/\/$/, ""),
            setupURL,
            databaseURL,
            pid: server.pid!,
            logFile,
          });
        }
      });
    });
  } catch (e) {
    server.kill("SIGKILL");
    cleanupDatabase();
    throw e;
  }

  fs.writeFileSync(infoFile(b), JSON.stringify(info, null, 2));
  process.env.ROSTER_E2E_SERVER_INFO = infoFile(b);
  log(`backend ${b}: server listening on ${info.baseURL} (pid ${info.pid})`);

  return async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise<void>((resolve) => server.once("exit", () => resolve()));
      server.kill("SIGTERM");
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 10_000));
      if ((await Promise.race([exited, timeout])) === "timeout") {
        server.kill("SIGKILL");
        await exited;
      }
    }
    stdoutLog.end();
    fs.closeSync(logFd);
    cleanupDatabase();
    log(`backend ${b}: server stopped${pgDatabase ? `, database ${pgDatabase} dropped` : ""}`);
  };
}

//! Outages survived: PostgreSQL restarted under a sign-in and page-load mix,
//! the SMTP server down for a while, SQLite's disk full, and SIGTERM with
//! requests and email sends in flight.
//!
//! The PostgreSQL restart runs against a PostgreSQL server of the test's own
//! (the shared one on 5432 serves every other test), and the full disk is a
//! small tmpfs mounted for the test: both need root, which these tests have.

use crate::helpers::*;
use app::auth::SignIn;
use app::email_queue::{EmailRow, EmailStatus, GetEmail};
use app::error::AppError;
use app::roles::CreateRole;
use app::users::{InviteUser, ListUsers, UserQuery};
use leptos::server_fn::ServerFn;
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, RETRY_AFTER};
use reqwest::StatusCode;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

crate::on_both_backends!(
    smtp_down_mail_stays_queued_with_its_next_attempt_then_goes_out,
    sigterm_finishes_requests_in_flight_and_gives_claimed_email_back,
);

// ---- PostgreSQL restarted ----------------------------------------------------------

/// A PostgreSQL server of the test's own, in a temporary directory, on a
/// free port: it can be stopped and started without touching anyone else's.
/// Dropping it stops it and removes its files.
struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        // The newest installed version.
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server programs in /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        versions.sort_by_key(|bin| {
            bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
        });
        let bin = versions.pop().expect("initdb in /usr/lib/postgresql/*/bin");
        let dir = std::env::temp_dir().join(unique("roster_pg"));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("chown").arg("postgres").arg(&dir));
        let pg = Self { dir, bin, port: free_port() };
        // Trust on 127.0.0.1 like the shared server; no fsync, a test's data need not survive a power cut.
        pg.as_postgres(
            Command::new(pg.bin.join("initdb"))
                .args(["--auth=trust", "--username=postgres", "--no-sync", "--pgdata"])
                .arg(pg.dir.join("data")),
        );
        pg.ctl("start");
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl start` (waits until it accepts connections) or `pg_ctl stop -m fast`
    /// (ends every session at once, waits until it is down).
    fn ctl(&self, what: &str) {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("--pgdata").arg(self.dir.join("data")).arg("--wait");
        match what {
            "start" => cmd.arg("--log").arg(self.dir.join("log")).args([
                "-o",
                &format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display()),
                "start",
            ]),
            _ => cmd.args(["--mode", "fast", "stop"]),
        };
        self.as_postgres(&mut cmd);
    }

    /// Run `cmd` as the `postgres` user (PostgreSQL refuses to run as root).
    fn as_postgres(&self, cmd: &mut Command) {
        let mut runuser = Command::new("runuser");
        runuser.args(["-u", "postgres", "--"]).arg(cmd.get_program()).args(cmd.get_args());
        run(&mut runuser);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("--pgdata")
            .arg(self.dir.join("data"))
            .args(["--mode", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run a command to its end; panic with its output if it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One request of the load: what it was, when it started, how long it took,
/// and what came back.
#[derive(Debug, Clone)]
struct Answer {
    kind: &'static str,
    started: Instant,
    took: Duration,
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// Longest a request that starts while the database is down may take: the
/// wait for a connection (5 s on PostgreSQL) and room for a slow machine.
const OUTAGE_BOUND: Duration = Duration::from_secs(7);
/// Longest a request in flight when the database goes away may take: a page
/// already streaming waits for a connection once for each of its rounds of
/// queries (the Users page has two), each ending in the error it shows.
const IN_FLIGHT_BOUND: Duration = Duration::from_secs(13);

/// Sign in (a new browser) or load the Users page (the administrator's
/// session), over and over, until `stop`; every answer goes to `answers`.
fn spawn_load(
    kind: &'static str,
    base: String,
    cookie: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let request = if kind == "sign-in" {
                let args = SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: None };
                http.post(format!("{base}{}", SignIn::PATH))
                    .header(ORIGIN, &base)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .body(serde_qs::to_string(&args).unwrap())
            } else {
                http.get(format!("{base}/users")).header(COOKIE, format!("roster_session={cookie}"))
            };
            let started = Instant::now();
            // Far beyond the bound: a hang shows as status 0.
            let answer = match tokio::time::timeout(Duration::from_secs(30), request.send()).await {
                Ok(Ok(r)) => {
                    let status = r.status().as_u16();
                    let retry_after = r.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
                    let body = r.text().await.unwrap_or_default();
                    Answer { kind, started, took: started.elapsed(), status, retry_after, body }
                }
                Ok(Err(e)) => {
                    Answer { kind, started, took: started.elapsed(), status: 0, retry_after: None, body: e.to_string() }
                }
                Err(_) => Answer {
                    kind,
                    started,
                    took: started.elapsed(),
                    status: 0,
                    retry_after: None,
                    body: "no answer in 30 s".into(),
                },
            };
            answers.lock().unwrap().push(answer);
        }
    })
}

/// PostgreSQL stops for 8 s (`pg_ctl stop -m fast`: every session ended at
/// once) while people sign in and load pages, then starts again. A request
/// that starts during the outage is answered within a bound, 503 with
/// `Retry-After` and a short message that says the database is not
/// answering (never a 500, never a hang); one in flight when it began ends
/// within a bound too; within 5 s of the database's return everything works
/// again, in the same process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_answers_503_then_recovers_by_itself() {
    let pg = PrivatePostgres::start();
    let db = TestDb::at(Backend::Postgres, pg.url());
    let mut server = Server::start_with(&db, UNTHROTTLED).await;
    let admin = set_up_admin(&server).await;
    let cookie = admin.cookie.clone().expect("signed in");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let load: Vec<_> = ["sign-in", "page", "sign-in", "page"]
        .into_iter()
        .map(|kind| spawn_load(kind, server.base.clone(), cookie.clone(), stop.clone(), answers.clone()))
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = Instant::now();
    tokio::task::block_in_place(|| pg.ctl("stop"));
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Liveness stays up (restarting Roster would not help); readiness says why not.
    let probe = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(probe.status(), StatusCode::OK, "/healthz during the outage");
    let probe = reqwest::get(format!("{}/readyz", server.base)).await.unwrap();
    assert_eq!(probe.status(), StatusCode::SERVICE_UNAVAILABLE, "/readyz during the outage");
    tokio::time::sleep(Duration::from_secs(6)).await;
    tokio::task::block_in_place(|| pg.ctl("start"));
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert!(server.is_running(), "the same process served throughout");

    let answers = answers.lock().unwrap().clone();
    let recovered = back + Duration::from_secs(5);
    let at = |t: Instant| format!("{:.1} s", t.saturating_duration_since(stopping).as_secs_f64());
    // The requests around the outage (seen with --nocapture).
    println!("PostgreSQL stopping at 0.0 s, down at {}, back at {}:", at(down), at(back));
    for a in answers.iter().filter(|a| a.started + a.took >= stopping && a.started < back + Duration::from_secs(1)) {
        println!("  {:8} started {:>6} → {} in {:.1} s", a.kind, at(a.started), a.status, a.took.as_secs_f64());
    }
    for a in &answers {
        let when = format!("{} started at {} (down at {}, back at {})", a.kind, at(a.started), at(down), at(back));
        let ended = a.started + a.took;
        assert!(a.status == 200 || a.status == 503, "{when}: {} {:?}", a.status, a.body);
        assert!(a.took <= IN_FLIGHT_BOUND, "{when}: took {:?}: {} {:?}", a.took, a.status, a.body);
        if a.started >= down {
            assert!(a.took <= OUTAGE_BOUND, "{when}: took {:?}: {}", a.took, a.status);
        }
        if ended < stopping || a.started >= recovered {
            assert_eq!(a.status, 200, "{when}, with the database up: {:?}", a.body);
        }
        if a.started >= down && ended < back {
            assert_eq!(a.status, 503, "{when}, answered during the outage: {:?}", a.body);
        }
        if a.status == 503 {
            let secs: u64 =
                a.retry_after.as_deref().unwrap_or_else(|| panic!("{when}: no Retry-After")).parse().unwrap();
            assert!((1..=60).contains(&secs), "{when}: Retry-After {secs}");
            if a.kind == "sign-in" {
                // What the Sign in page shows.
                let error: AppError =
                    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("{when}: {e}: {}", a.body));
                assert_eq!(error, AppError::Unavailable(secs), "{when}");
                assert!(error.to_string().contains("database is not answering"), "{error}");
            } else {
                assert!(a.body.contains("database is not answering"), "{when}: {:?}", a.body);
            }
        }
    }
    for kind in ["sign-in", "page"] {
        let of_kind = || answers.iter().filter(move |a| a.kind == kind);
        assert!(of_kind().any(|a| a.status == 503), "some {kind} was answered 503 during the outage");
        assert!(of_kind().any(|a| a.started >= recovered), "{kind}s went on after the recovery");
    }
}

// ---- The SMTP server down for a while -------------------------------------------------

/// The Email queue's row for the one email to `to`.
async fn row_to(admin: &mut Client, to: &str) -> EmailRow {
    let rows = admin.emails("").await;
    rows.into_iter().find(|r| r.to == to).unwrap_or_else(|| panic!("an email to {to}"))
}

/// Email goes out; the SMTP server goes away (the connection Roster keeps
/// open to it dies too) and an invitation is queued: it stays Queued, each
/// failed attempt counted with its error, and the Email queue shows when the
/// next attempt is due. When the server is back on the same port, the email
/// goes out, once, and shows Sent.
async fn smtp_down_mail_stays_queued_with_its_next_attempt_then_goes_out(backend: Backend) {
    let db = TestDb::new(backend);
    let mut sink = SmtpSink::start();
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_RETRY_BASE".into(), "500ms".into()));
    let server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.invite("before@example.com", &[]).await.status, StatusCode::OK);
    sink.wait_for(1, 20).await;

    sink.stop();
    assert_eq!(admin.invite("during@example.com", &[]).await.status, StatusCode::OK, "queued while SMTP is down");
    let deadline = Instant::now() + Duration::from_secs(20);
    let waiting = loop {
        let row = row_to(&mut admin, "during@example.com").await;
        if row.status == EmailStatus::Queued && row.attempts >= 3 {
            break row;
        }
        assert!(Instant::now() < deadline, "three failed attempts: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let error = waiting.last_error.clone().expect("the last attempt's error");
    assert!(error.contains("Connection refused") && error.contains(&sink.port.to_string()), "{error}");
    let next = waiting.next_attempt_at.expect("Queued shows its next attempt");
    assert!(next > now_ms() - 1000, "the next attempt is ahead: {next} vs {}", now_ms());
    let detail = admin.send(GetEmail { id: waiting.id }).await.ok();
    assert!(detail.attempts.len() >= 3 && detail.attempts.iter().all(|a| a.error.is_some()), "{:?}", detail.attempts);
    assert!(detail.sent_at.is_none());
    // The email's page says so too.
    let page = admin.get(&format!("/email-queue/{}", waiting.id)).await.text().await.unwrap();
    assert!(page.contains("Next attempt") && page.contains("Connection refused"), "{page}");

    sink.restart(false);
    mail_to(&sink, "during@example.com", &waiting.subject, 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let row = row_to(&mut admin, "during@example.com").await;
        if row.status == EmailStatus::Sent {
            break row;
        }
        assert!(Instant::now() < deadline, "shown Sent: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sent.next_attempt_at, None, "{sent:?}");
    let detail = admin.send(GetEmail { id: sent.id }).await.ok();
    assert!(detail.sent_at.is_some() && detail.attempts.last().is_some_and(|a| a.error.is_none()), "{detail:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_during = sink.messages().into_iter().filter(|m| m["to"] == serde_json::json!(["during@example.com"]));
    assert_eq!(to_during.count(), 1, "delivered once");
}

// ---- SQLite's disk full ----------------------------------------------------------------

/// A tmpfs of `size` mounted on a new temporary directory; unmounted (and
/// the directory removed) when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = std::env::temp_dir().join(unique("roster_small_disk"));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&dir));
        Self { dir }
    }

    /// Write a file until the file system is full; its path.
    fn fill(&self) -> PathBuf {
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last few bytes a short write left.
        while f.write(&[0u8]).is_ok_and(|n| n == 1) {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn sqlite_file_check(path: &Path, sql: &str) -> String {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
    row.try_get::<String, _>(0).unwrap()
}

/// The file system under the SQLite database fills up. A write (an
/// invitation, a new role, a sign-in, which writes a session) fails with
/// 507 and a message that says the disk is full; reads go on (the Users list
/// and page, with a session whose last-seen time is due to be written and
/// cannot be); once space is freed, writes work again without a restart, and
/// everything committed before is there in a database that passes
/// `PRAGMA integrity_check`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_refuses_writes_clearly_and_keeps_reads_and_data() {
    let disk = SmallDisk::mount("16m");
    let file = disk.dir.join("roster.db");
    let db = TestDb::at(Backend::Sqlite, format!("sqlite://{}", file.display()));
    let mut server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let mut kept = Vec::new();
    for i in 0..5 {
        let email = format!("kept{i}@example.com");
        assert_eq!(admin.invite(&email, &[]).await.status, StatusCode::OK);
        kept.push(email);
    }
    // A second session, whose last-seen time the first read after the disk
    // fills wants to write (it is more than a minute old).
    let mut reader = server.client();
    assert_eq!(reader.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
    execute(&db, "UPDATE sessions SET last_seen_at = last_seen_at - 120000").await;
    // Everything into the database file and the log emptied, so that the
    // next write must grow a file.
    let busy = scalar(&db, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_eq!(busy, 0, "checkpoint");
    let filler = disk.fill();

    let r = admin.invite("late@example.com", &[]).await;
    assert_eq!(r.status.as_u16(), 507, "{:?}", r.body);
    assert_eq!(r.err(), AppError::DiskFull);
    assert!(AppError::DiskFull.to_string().contains("disk is full"));
    let r = admin.send(CreateRole { name: "Late".into(), description: String::new() }).await;
    assert_eq!((r.status.as_u16(), r.err()), (507, AppError::DiskFull));
    let r = server.client().sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!((r.status.as_u16(), r.err()), (507, AppError::DiskFull));

    // Reads go on.
    let r = reqwest::get(format!("{}/healthz", server.base)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let query = UserQuery::default();
    let page = reader.send(ListUsers { query: query.clone() }).await.ok();
    for email in &kept {
        assert!(page.rows.iter().any(|u| &u.email == email), "{email} listed");
    }
    let r = reader.get("/users").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("kept0@example.com"));
    assert!(server.is_running());

    // Space again: writes work again, in the same process.
    std::fs::remove_file(filler).unwrap();
    assert_eq!(admin.invite("after@example.com", &[]).await.status, StatusCode::OK);
    kept.push("after@example.com".into());
    let page = reader.send(ListUsers { query }).await.ok();
    assert!(page.rows.iter().all(|u| u.email != "late@example.com"), "the refused write left nothing");

    server.kill();
    assert_eq!(sqlite_file_check(&file, "PRAGMA integrity_check").await, "ok");
    let emails = sqlite_file_check(&file, "SELECT group_concat(email, ' ') FROM users").await;
    for email in &kept {
        assert!(emails.split(' ').any(|e| e == email), "{email} is in the database: {emails}");
    }
}

// ---- SIGTERM ------------------------------------------------------------------------

/// The start of a server function call, by hand: its request line and
/// headers, for a body of `length` bytes.
fn call_head<S: Args>(addr: &str, cookie: &str, length: usize) -> String {
    format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nCookie: roster_session={cookie}\r\n\
         Content-Type: {}\r\nAccept: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
        S::PATH,
        <S::Encoding as Encoding>::CONTENT_TYPE,
    )
}

/// Call server function `args` with its body written over `over` in ten
/// parts, on a connection of its own (the way a slow upload arrives); the
/// answer's status line and body. Blocks: run it on a thread of its own.
fn slow_call<S: Args>(addr: String, cookie: String, args: S, over: Duration) -> (String, String) {
    let bytes = <S::Encoding as Encoding>::encode(&args);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(call_head::<S>(&addr, &cookie, bytes.len()).as_bytes()).unwrap();
    let part = bytes.len().div_ceil(10);
    for piece in bytes.chunks(part) {
        std::thread::sleep(over / 10);
        s.write_all(piece).unwrap();
    }
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

/// SIGTERM while an email is being sent (to an SMTP server that accepted the
/// connection and hangs), a slow request is arriving and another request
/// will never finish. New connections are refused at once; the slow request
/// is finished (its user exists); the one that never finishes is cut at
/// `shutdown_grace`, and the process exits 0 within that bound; the email it
/// had claimed is back in the queue (Queued, no lease, its unfinished attempt
/// uncounted), so the next process sends it at once instead of after the
/// one-minute lease.
async fn sigterm_finishes_requests_in_flight_and_gives_claimed_email_back(backend: Backend) {
    const GRACE: Duration = Duration::from_secs(4);
    let db = TestDb::new(backend);
    let mut sink = SmtpSink::start();
    sink.restart_stalling();
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_LEASE".into(), "60s".into()));
    env.push(("ROSTER_SHUTDOWN_GRACE".into(), "4s".into()));
    let mut server = Server::start_with(&db, &as_refs(&env)).await;
    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.invite("claimed@example.com", &[]).await.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    while row_to(&mut admin, "claimed@example.com").await.status != EmailStatus::Sending {
        assert!(Instant::now() < deadline, "the worker claimed the invitation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (addr, cookie) = (server.addr(), admin.cookie.clone().unwrap());
    let invite = InviteUser { email: "slow@example.com".into(), first_name: None, last_name: None, role_ids: vec![] };
    let slow = {
        let (addr, cookie) = (addr.clone(), cookie.clone());
        std::thread::spawn(move || slow_call(addr, cookie, invite, Duration::from_secs(2)))
    };
    // Headers and the first bytes of a body whose rest never comes.
    let mut stuck = std::net::TcpStream::connect(&addr).unwrap();
    stuck.write_all(call_head::<InviteUser>(&addr, &cookie, 100).as_bytes()).unwrap();
    stuck.write_all(b"{\"email\":").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    server.terminate();
    let terminated = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = std::net::TcpStream::connect(&addr).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused), "a new connection after SIGTERM");

    let (status, answer) = tokio::task::block_in_place(|| slow.join().unwrap());
    assert!(status.contains(" 200 "), "the request in flight was finished: {status} {answer}");
    let exit = server.wait_exit(GRACE + Duration::from_secs(6)).await;
    let exit = exit.unwrap_or_else(|| panic!("exited within shutdown_grace and a margin"));
    assert!(exit.success(), "exit status {exit:?} after {:?}", terminated.elapsed());
    drop(stuck);

    let claimed = "(SELECT id FROM emails WHERE to_addr = 'claimed@example.com')";
    let status = scalar_text(&db, &format!("SELECT status FROM emails WHERE id = {claimed}")).await;
    assert_eq!(status.as_deref(), Some("queued"), "the claimed email is back in the queue");
    let leased =
        scalar(&db, &format!("SELECT COUNT(*) FROM emails WHERE id = {claimed} AND lease_until IS NOT NULL")).await;
    assert_eq!(leased, 0, "its lease is cleared");
    assert_eq!(scalar(&db, &format!("SELECT attempts FROM emails WHERE id = {claimed}")).await, 0);
    let due = scalar(&db, &format!("SELECT next_attempt_at FROM emails WHERE id = {claimed}")).await;
    assert!(due <= now_ms(), "due now");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM users WHERE email = 'slow@example.com'").await,
        1,
        "the finished request's user exists"
    );

    // The next process sends both at once, not a lease later.
    sink.restart(false);
    let _next = Server::start_with(&db, &as_refs(&env)).await;
    // Within 20 s: well before the 60 s lease would have ended.
    sink.wait_for(2, 20).await;
    let to: Vec<String> = sink.messages().iter().map(|m| m["to"][0].as_str().unwrap().to_string()).collect();
    assert!(to.contains(&"claimed@example.com".to_string()) && to.contains(&"slow@example.com".to_string()), "{to:?}");
}

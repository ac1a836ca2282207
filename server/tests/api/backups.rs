//! Operations (issue 29): the command line, online backups of the SQLite
//! database and restoring one, scheduled backups, and `/readyz`.
//!
//! Backups and restore are SQLite's (PostgreSQL has pg_dump and pg_restore):
//! those tests run on SQLite only. The command line, the PostgreSQL refusals,
//! scheduled backups' PostgreSQL notice and `/readyz` run on both backends.

use crate::helpers::*;
use app::email_queue::ListEmails;
use app::roles::{CreateRole, ListRoles};
use app::users::GetUser;
use reqwest::StatusCode;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The SQLite file of a test database.
fn db_file(db: &TestDb) -> PathBuf {
    PathBuf::from(db.url.strip_prefix("sqlite://").expect("an SQLite database"))
}

/// A temporary directory, removed at the end of the test.
fn temp_dir(what: &str) -> TempDir {
    let dir = std::env::temp_dir().join(unique(what));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// `server ARGS…` against the test database; waits for it in a blocking
/// thread, so that the tasks of the test (a write load) go on meanwhile.
async fn run(db: &TestDb, args: &[&str]) -> Output {
    let mut cmd = command(db);
    cmd.args(args).stdin(Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("the server binary runs")).await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `server restore PATH` must refuse: non-zero, with a message containing `says`.
async fn refuses_to_restore(db: &TestDb, path: &Path, says: &str) -> String {
    let out = run(db, &["restore", path.to_str().unwrap()]).await;
    let err = stderr(&out);
    assert!(!out.status.success(), "restore of {} succeeded:\n{}", path.display(), stdout(&out));
    assert!(err.contains(says), "restore of {} should say {says:?}, said:\n{err}", path.display());
    err
}

/// One connection to an SQLite file (a backup) for direct SQL.
async fn open_file(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true);
    sqlx::SqliteConnection::connect_with(&options).await.unwrap()
}

async fn integrity(path: &Path) -> String {
    let mut conn = open_file(path).await;
    sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.unwrap()
}

/// Every recipient in the Email queue, page after page.
async fn all_recipients(admin: &mut Client) -> HashSet<String> {
    let mut to = HashSet::new();
    let mut before = None;
    loop {
        let page = admin.send(ListEmails { status: String::new(), before }).await.ok();
        to.extend(page.rows.iter().map(|r| r.to.clone()));
        match page.next {
            Some(next) => before = Some(next),
            None => return to,
        }
    }
}

#[derive(Debug, Clone)]
enum Acked {
    /// An invited user (their id and email): a user row and a queued invitation email.
    User(UserId, String),
    Role(String),
}

/// The main promise: a backup taken while the API writes holds everything the
/// API had acknowledged before the backup started, and restores into a
/// working Roster whose stored secrets are still sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_everything_acknowledged_before_it() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = temp_dir("roster_backups");
    let backup = dir.0.join("copy.db");
    let server = Server::start(&db).await;
    let admin = set_up_admin(&server).await;

    // Three writers invite people (a user and a queued email each) and create roles, without pause.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for w in 0..3 {
        let (mut c, acked, stop) = (admin.clone(), acked.clone(), stop.clone());
        load.spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let email = format!("load{w}-{i}@example.com");
                let r = c.invite(&email, &[]).await;
                assert_eq!(r.status, StatusCode::OK, "invite {email}: {:?}", r.body);
                acked.lock().unwrap().push(Acked::User(r.ok(), email));
                let name = format!("Load role {w}-{i}");
                let r = c.send(CreateRole { name: name.clone(), description: String::new() }).await;
                assert_eq!(r.status, StatusCode::OK, "create role {name}: {:?}", r.body);
                acked.lock().unwrap().push(Acked::Role(name));
                i += 1;
            }
        });
    }
    let count = |acked: &Arc<Mutex<Vec<Acked>>>| acked.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&acked) < 30 {
        assert!(Instant::now() < deadline, "the load made too little progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Everything acknowledged up to now must be in the backup.
    let before: Vec<Acked> = acked.lock().unwrap().clone();
    let out = run(&db, &["backup", backup.to_str().unwrap()]).await;
    let during = count(&acked) - before.len();
    // The load goes on after the backup, to show the server was never paused.
    let ended = count(&acked);
    while count(&acked) < ended + 6 {
        assert!(Instant::now() < deadline, "the load stopped after the backup");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = load.join_next().await {
        done.unwrap();
    }
    assert!(out.status.success(), "backup: {}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("Backed up") && said.contains("roster.key"), "the backup reminds of the key:\n{said}");
    eprintln!("{} writes acknowledged before the backup, {during} while it ran", before.len());
    // Written after the backup ended: not in it.
    let mut admin = admin;
    let late = admin.invite("after-the-backup@example.com", &[]).await.ok();

    // The encryption key is not in the backup, and the signing keys in it are sealed.
    let key_text = std::fs::read_to_string(db_file(&db).with_file_name("roster.key")).unwrap();
    let key_bytes = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(key_text.trim()).unwrap()
    };
    let copy = std::fs::read(&backup).unwrap();
    assert!(!copy.windows(key_bytes.len()).any(|w| w == key_bytes.as_slice()), "the raw key is in the backup");
    assert!(!copy.windows(key_text.trim().len()).any(|w| w == key_text.trim().as_bytes()), "the key is in the backup");
    {
        let mut conn = open_file(&backup).await;
        let sealed: Vec<String> =
            sqlx::query_scalar("SELECT private_key FROM oidc_signing_keys WHERE private_key IS NOT NULL")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert!(!sealed.is_empty(), "the backup holds the signing keys");
        for k in &sealed {
            assert!(k.starts_with("v1:") && !k.contains("PRIVATE KEY"), "a signing key is in clear: {k:.20}…");
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only Roster's user may read a backup");
    }

    // Restore it (the server stopped), and read everything back through the API.
    drop(server);
    let out = run(&db, &["restore", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert!(stdout(&out).contains("Restored"), "{}", stdout(&out));
    let server = Server::start(&db).await;
    let mut c = server.client();
    assert_eq!(c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
    let roles: HashSet<String> = c.send(ListRoles {}).await.ok().into_iter().map(|r| r.name).collect();
    let recipients = all_recipients(&mut c).await;
    for item in &before {
        match item {
            Acked::User(id, email) => {
                let r = c.send(GetUser { id: *id }).await;
                assert_eq!(r.status, StatusCode::OK, "user {email} (id {id}) after the restore: {:?}", r.body);
                assert_eq!(&r.ok().email, email);
                assert!(recipients.contains(email), "the invitation to {email} is in the Email queue");
            }
            Acked::Role(name) => assert!(roles.contains(name), "the role {name} after the restore"),
        }
    }
    assert_eq!(c.send(GetUser { id: late }).await.status, StatusCode::NOT_FOUND, "the restore replaced the file");
    // The restored server opens the sealed signing keys with the key file beside the database.
    assert!(!server.log().contains("cannot be used on this node"), "{}", server.log());
    let jwks: serde_json::Value = c.get("/oidc/jwks").await.json().await.unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
}

/// Restore never replaces a database that a server (or another command) uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_while_a_server_runs() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = temp_dir("roster_backups");
    let backup = dir.0.join("copy.db");
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let out = run(&db, &["backup", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "backup: {}", stderr(&out));

    let err = refuses_to_restore(&db, &backup, "in use").await;
    assert!(err.contains("Stop every server"), "{err}");
    assert!(admin.whoami().await.is_some(), "the server goes on");
    let leftovers: Vec<String> = std::fs::read_dir(db_file(&db).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("restore"))
        .collect();
    assert!(leftovers.is_empty(), "nothing staged or set aside: {leftovers:?}");

    // Once it stops, the same restore goes through and keeps what it replaced.
    drop(server);
    let out = run(&db, &["restore", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert!(stdout(&out).contains(".before-restore-"), "{}", stdout(&out));
}

/// Random bytes, a truncated copy, an SQLite file of something else, no file:
/// each refused with its own reason, and the database left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_what_is_not_a_sound_roster_backup() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = temp_dir("roster_backups");
    let server = Server::start(&db).await;
    let admin = set_up_admin(&server).await;
    invite_many(&admin, "person", 200).await;
    drop(server);
    let backup = dir.0.join("copy.db");
    let out = run(&db, &["backup", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "a backup works with no server running: {}", stderr(&out));

    // Random bytes (a fixed xorshift sequence).
    let random = dir.0.join("random.db");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    refuses_to_restore(&db, &random, "is not an SQLite database").await;

    // The first half of a real backup: the header is right, pages are missing.
    let copy = std::fs::read(&backup).unwrap();
    assert!(copy.len() > 64 * 1024, "a backup of some size: {} bytes", copy.len());
    let truncated = dir.0.join("truncated.db");
    std::fs::write(&truncated, &copy[..copy.len() / 2]).unwrap();
    refuses_to_restore(&db, &truncated, "damaged").await;

    // A sound SQLite database of something else.
    let other = dir.0.join("other.db");
    {
        let mut conn = open_file(&other).await;
        sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)").execute(&mut conn).await.unwrap();
    }
    refuses_to_restore(&db, &other, "not a Roster database").await;

    refuses_to_restore(&db, &dir.0.join("missing.db"), "cannot read the backup").await;
    refuses_to_restore(&db, &dir.0, "is not a file").await;

    // The database is as it was: its 201 people are there.
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM users").await, 201);
    let server = Server::start(&db).await;
    let mut c = server.client();
    assert_eq!(c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
}

/// A backup written by a newer Roster (a migration this binary does not
/// know) is refused: this binary could not run on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_a_backup_from_a_newer_roster() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = temp_dir("roster_backups");
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let backup = dir.0.join("copy.db");
    let out = run(&db, &["backup", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "backup: {}", stderr(&out));
    drop(server);
    {
        // What a future version's start would have left: its migration applied.
        let mut conn = open_file(&backup).await;
        sqlx::query("CREATE TABLE from_the_future (id INTEGER PRIMARY KEY)").execute(&mut conn).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, X'00', 1)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let err = refuses_to_restore(&db, &backup, "newer version of Roster").await;
    assert!(err.contains("99990101000000") && err.contains("from the future"), "{err}");
    // Nothing was replaced: the server starts on its own database.
    let server = Server::start(&db).await;
    let mut c = server.client();
    assert_eq!(c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::OK);
}

/// A backup of an older schema restores, and the server's start migrates it.
///
/// The older backup is made the way an older Roster made its database: the
/// real migration files of this repository, all but the newest, applied by
/// sqlx's migrator (exactly the schema and `_sqlx_migrations` rows that the
/// release before the newest migration left), then rows written in that
/// schema. Taking a current database and deleting its newest
/// `_sqlx_migrations` row would not do: the newest migration's effects (a
/// column, a table) would still be there, and applying it again would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_an_older_schema_is_migrated_when_the_server_starts() {
    let db = TestDb::new(Backend::Sqlite);
    let dir = temp_dir("roster_backups");
    let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&all).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let older = dir.0.join("older-migrations");
    std::fs::create_dir_all(&older).unwrap();
    for f in &files[..files.len() - 1] {
        std::fs::copy(f, older.join(f.file_name().unwrap())).unwrap();
    }
    let backup = dir.0.join("older.db");
    {
        let mut conn = open_file(&backup).await;
        let migrator = sqlx::migrate::Migrator::new(older.as_path()).await.unwrap();
        migrator.run(&mut conn).await.unwrap();
        sqlx::query(
            "INSERT INTO roles (name, name_norm, description, created_at) \
             VALUES ('Kept from before', 'kept from before', 'made by an older Roster', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO users (email, email_norm, first_name, last_name, created_at) \
             VALUES ('old@example.com', 'old@example.com', 'Olga', 'Older', 0)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }

    let out = run(&db, &["restore", backup.to_str().unwrap()]).await;
    assert!(out.status.success(), "restore: {}", stderr(&out));
    assert!(stdout(&out).contains("older version of Roster"), "{}", stdout(&out));
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM _sqlx_migrations").await, files.len() as i64 - 1);

    let server = Server::start(&db).await;
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE").await, files.len() as i64);
    let ready = server.client().get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    // Through the API: an administrator made now sees what the older Roster stored.
    let mut cmd = command(&db);
    cmd.args(["create-admin", "--email", "ops@example.com", "--first-name", "Ops"]).stdin(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"a long enough passphrase\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "create-admin: {}", stderr(&out));
    let mut c = server.client();
    assert_eq!(c.sign_in("ops@example.com", "a long enough passphrase").await.status, StatusCode::OK);
    assert!(c.send(ListRoles {}).await.ok().iter().any(|r| r.name == "Kept from before"));
    let old_id = scalar(&db, "SELECT id FROM users WHERE email = 'old@example.com'").await;
    let olga = c.send(GetUser { id: UserId::new(old_id) }).await.ok();
    assert_eq!((olga.first_name.as_str(), olga.email_verified), ("Olga", false));
}

crate::on_both_backends!(scheduled_backups_keep_the_newest);

/// `backup_dir` with `backup_interval = 1s` and `backup_keep = 2`: backups
/// keep coming, and only the newest two stay, each a sound database. On
/// PostgreSQL the server says once that they are SQLite's, and writes none.
async fn scheduled_backups_keep_the_newest(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = temp_dir("roster_scheduled");
    let backups = dir.0.join("backups");
    let env = [
        ("ROSTER_BACKUP_DIR", backups.to_str().unwrap()),
        ("ROSTER_BACKUP_INTERVAL", "1s"),
        ("ROSTER_BACKUP_KEEP", "2"),
    ];
    let mut server = Server::start_with(&db, &env).await;
    let names = || -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&backups) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("roster-") && n.ends_with(".db"))
            .collect();
        names.sort();
        names
    };
    if backend == Backend::Postgres {
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(names().is_empty(), "{:?}", names());
        let log = server.log();
        assert_eq!(log.matches("scheduled backups are for SQLite").count(), 1, "{log}");
        return;
    }
    set_up_admin(&server).await;
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 5 {
        assert!(Instant::now() < deadline, "scheduled backups written: {seen:?}");
        seen.extend(names());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill();
    let left = names();
    assert_eq!(left.len(), 2, "the newest two stay: {left:?} (seen {seen:?})");
    let newest_seen = seen.iter().max().unwrap();
    assert!(left.last().unwrap() >= newest_seen, "the oldest were deleted: {left:?}, seen {seen:?}");
    for name in &left {
        let path = backups.join(name);
        assert_eq!(integrity(&path).await, "ok", "{name}");
        let mut conn = open_file(&path).await;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut conn).await.unwrap();
        assert!(users <= 1, "{name}");
    }
}

crate::on_both_backends!(readyz_tells_whether_this_node_can_serve);

/// `/readyz`: 200 when the database answers and has every migration of this
/// binary; 503 with the reason otherwise. `/healthz` stays 200 (liveness).
/// Both answer without a session and whatever the Host.
async fn readyz_tells_whether_this_node_can_serve(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let anon = server.client();
    let r = anon.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap().trim(), "ready");
    for path in ["/readyz", "/healthz"] {
        let r = anon.get_with(path, &[("Host", "10.1.2.3:3000")]).await;
        assert_eq!(r.status(), StatusCode::OK, "{path} answers the node's own address");
    }

    // A migration of this binary missing (as on a database another node
    // rolled back): not ready, and it says which.
    let newest = scalar(&db, "SELECT MAX(version) FROM _sqlx_migrations").await;
    execute(&db, &format!("DELETE FROM _sqlx_migrations WHERE version = {newest}")).await;
    let r = anon.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reason = r.text().await.unwrap();
    assert!(reason.contains("not ready") && reason.contains(&newest.to_string()), "{reason}");
    assert_eq!(anon.get("/healthz").await.status(), StatusCode::OK, "liveness does not depend on the schema");
}

crate::on_both_backends!(the_command_line_lists_explains_and_refuses_clearly);

/// `server --help` lists every command with its options, each command has
/// its `--help`, `server --version` names the version and the commit, and
/// backup and restore on PostgreSQL point to pg_dump and pg_restore.
async fn the_command_line_lists_explains_and_refuses_clearly(backend: Backend) {
    let db = TestDb::new(backend);
    let out = run(&db, &["--help"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let help = stdout(&out);
    for usage in [
        "server serve",
        "server create-admin --email <EMAIL> [--first-name <NAME>] [--last-name <NAME>]",
        "server seed-demo",
        "server rotate-signing-key",
        "server backup <PATH>",
        "server restore <PATH>",
    ] {
        assert!(help.contains(usage), "--help lists `{usage}`:\n{help}");
    }
    for (command, says) in [
        ("serve", "Run Roster"),
        ("create-admin", "--first-name"),
        ("seed-demo", "demo roles"),
        ("rotate-signing-key", "signing keys"),
        ("backup", "VACUUM INTO"),
        ("restore", "integrity check"),
    ] {
        let out = run(&db, &[command, "--help"]).await;
        assert!(out.status.success() && stdout(&out).contains(says), "{command} --help:\n{}", stdout(&out));
    }

    let out = run(&db, &["--version"]).await;
    assert!(out.status.success());
    // The commit the binary was built from: a commit of this repository
    // (HEAD may have moved since the build), or "unknown" without git.
    let version = stdout(&out);
    let commit = version
        .trim()
        .strip_prefix(&format!("server {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("--version: {version}"))
        .to_string();
    let git = |args: &[&str]| {
        std::process::Command::new("git").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().ok()
    };
    match git(&["rev-parse", "--verify", "--quiet", &format!("{commit}^{{commit}}")]) {
        _ if commit == "unknown" => assert!(git(&["rev-parse", "HEAD"]).is_none_or(|o| !o.status.success())),
        Some(o) => assert!(o.status.success(), "{commit} is a commit of this repository"),
        None => panic!("a commit ({commit}) but no git"),
    }
    assert!(commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit()), "{version}");

    // A mistake says what is wrong, without starting anything.
    let out = run(&db, &["create-admin"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--email"), "{}", stderr(&out));

    let dir = temp_dir("roster_cli");
    let path = dir.0.join("copy.db");
    match backend {
        Backend::Postgres => {
            let out = run(&db, &["backup", path.to_str().unwrap()]).await;
            assert!(!out.status.success() && stderr(&out).contains("pg_dump -Fc"), "{}", stderr(&out));
            let out = run(&db, &["restore", path.to_str().unwrap()]).await;
            assert!(
                !out.status.success() && stderr(&out).contains("pg_restore --clean --if-exists"),
                "{}",
                stderr(&out)
            );
        }
        Backend::Sqlite => {
            let out = run(&db, &["backup", path.to_str().unwrap()]).await;
            assert!(!out.status.success() && stderr(&out).contains("no database"), "{}", stderr(&out));
            let server = Server::start(&db).await;
            let out = run(&db, &["backup", path.to_str().unwrap()]).await;
            assert!(out.status.success(), "{}", stderr(&out));
            let out = run(&db, &["backup", path.to_str().unwrap()]).await;
            assert!(!out.status.success() && stderr(&out).contains("already exists"), "{}", stderr(&out));
            let out = run(&db, &["backup", dir.0.to_str().unwrap()]).await;
            assert!(!out.status.success() && stderr(&out).contains("is a directory"), "{}", stderr(&out));
            drop(server);
        }
    }
}

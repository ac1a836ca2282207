//! Start real server processes against fresh databases and talk to them over HTTP.

#![allow(dead_code)]

use app::audit::{AuditEntry, AuditQuery, ListAudit};
use app::auth::{Me, Setup, SignIn};
pub use app::domain::{RoleId, UserId};
use app::email_queue::{EmailRow, GetEmail, ListEmails};
use app::error::AppError;
use app::invitations::SignUp;
use app::roles::{CreateRole, Grant, ListRoles, SetRolePermissions};
use app::users::{GetUser, InviteUser, UpdateOutcome, UpdateUser};
use leptos::server_fn::codec::{Json, MultipartFormData, PostUrl};
use leptos::server_fn::{Http, ServerFn};
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::StatusCode;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::marker::PhantomData;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generate one `#[tokio::test]` per backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::helpers::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::helpers::Backend::Postgres).await }
        }
    )*};
}

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database: a temporary SQLite file, or a PostgreSQL database that is
/// dropped when this value is.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<TempDir>,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst), nanos)
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(unique("roster_it"));
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}/roster.db", dir.display());
                Self { backend, url, pg_name: None, _dir: Some(TempDir(dir)) }
            }
            Backend::Postgres => {
                let name = unique("roster_it");
                psql(&format!("CREATE DATABASE {name}"));
                let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
                Self { backend, url, pg_name: Some(name), _dir: None }
            }
        }
    }
}

impl TestDb {
    /// A database someone else provides and removes (a test's own PostgreSQL
    /// server): nothing is created or dropped here.
    pub fn at(backend: Backend, url: String) -> Self {
        Self { backend, url, pg_name: None, _dir: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The encryption key the test servers of PostgreSQL get, unless a test sets
/// `ROSTER_ENCRYPTION_KEY` itself (Roster refuses to start on PostgreSQL without one;
/// on SQLite it makes `roster.key` beside the database).
pub const TEST_KEY: &str = "dGVzdCBrZXkgZm9yIHJvc3RlcidzIHRlc3RzIG9ubHk=";

/// The `server` binary with only the database's settings in its environment
/// (and the test key on PostgreSQL): for sub-commands such as `rotate-signing-key`.
pub fn command(db: &TestDb) -> Command {
    command_of(std::path::Path::new(env!("CARGO_BIN_EXE_server")), db)
}

/// Like [`command`], for the `server` binary at `exe` (a copy of it).
pub fn command_of(exe: &std::path::Path, db: &TestDb) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("ROSTER_DATABASE_URL", &db.url);
    if db.backend == Backend::Postgres {
        cmd.env("ROSTER_ENCRYPTION_KEY", TEST_KEY);
    }
    cmd
}

/// A running `server` process. Its log (stderr) goes to a file; when the
/// value is dropped at the end of a test that passed, a panic in that log
/// fails the test (a panic inside a request is a bug even when the answer is
/// a 200), and a test that failed prints the log's tail.
pub struct Server {
    child: Child,
    pub base: String,
    pub setup_link: Option<String>,
    pub stdout_lines: Vec<String>,
    log: std::path::PathBuf,
    /// The log file is this value's own (removed when it is dropped).
    own_log: bool,
}

impl Server {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, &[]).await
    }

    pub async fn start_with(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::start_logging(db, env, None).await
    }

    /// Like [`Server::start_with`], writing the server's log (stderr) to `log`
    /// (without one, to a file of its own in the temporary directory).
    pub async fn start_logging(db: &TestDb, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let mut cmd = command(db);
        // No site (pages name unhashed files that are not there), and none is
        // unpacked from the binary at every start: tests that need a site
        // give their own (foundation.rs) or run the binary alone (operations.rs).
        cmd.env("ROSTER_SITE_ROOT", "target/site");
        Self::spawn(cmd, env, log).await
    }

    /// The `server` binary at `exe` (a copy of it), run in the directory
    /// `cwd` with only the database's settings and `env`.
    pub async fn start_exe(db: &TestDb, exe: &std::path::Path, cwd: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = command_of(exe, db);
        cmd.current_dir(cwd);
        Self::spawn(cmd, env, None).await
    }

    async fn spawn(mut cmd: Command, env: &[(&str, &str)], log: Option<&std::path::Path>) -> Self {
        let own_log = log.is_none();
        let log = log.map_or_else(|| std::env::temp_dir().join(unique("roster_server") + ".log"), |p| p.to_path_buf());
        cmd.env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("server starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let mut setup_link = None;
        let base = loop {
            let line = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(60)))
                .expect("server printed its address within 60 s");
            if line.trim_start().starts_with("http") && line.contains("/setup/") {
                setup_link = Some(line.trim().to_string());
            }
            lines.push(line.clone());
            if let Some(addr) = line.strip_prefix("Roster listening on ") {
                break addr.trim().to_string();
            }
        };
        Self { child, base, setup_link, stdout_lines: lines, log, own_log }
    }

    /// What the server has written to its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Start a server that must refuse to: it exits (within 30 s) with a
    /// failure. No test key is added. Returns what it wrote to stderr.
    pub fn refuses_to_start(db: &TestDb, env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROSTER_DATABASE_URL", &db.url)
            .env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("server starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not stop within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "the server exited successfully");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("Roster listening on"),
            "the server listened before it stopped"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM: what a supervisor sends to stop it.
    pub fn terminate(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// Wait up to `within` for the process to exit: its exit status, or None if it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The address it listens on (`127.0.0.1:port`).
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// SIGKILL, no goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let log = self.log();
        if std::thread::panicking() {
            let tail: String = log.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect();
            eprintln!("--- the server's log ({}), its end:\n{tail}", self.log.display());
            return;
        }
        if self.own_log {
            let _ = std::fs::remove_file(&self.log);
        }
        if let Some(at) = log.find("panicked at") {
            let from = log[..at].rfind('\n').map_or(0, |i| i + 1);
            let excerpt: String = log[from..].chars().take(2000).collect();
            panic!("the server panicked during this test:\n{excerpt}");
        }
    }
}

/// A browser-like client: one session cookie, `Origin` on every POST.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub last_set_cookie: Option<String>,
    /// The pending sign-in cookie (`roster_pending`): a right password owed its second step.
    pub pending: Option<String>,
}

/// What a server function answered. `T` is its output type ([`Client::send`]);
/// [`Reply::ok`] and [`Reply::err`] read the body as that type or as the `AppError`.
pub struct Reply<T = Value> {
    pub status: StatusCode,
    /// The body as JSON (or as text when it is not JSON).
    pub body: Value,
    pub set_cookie: Option<String>,
    output: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Reply<T> {
    /// 200, and the body as the server function's output type.
    #[track_caller]
    pub fn ok(&self) -> T {
        assert_eq!(self.status, StatusCode::OK, "{:?}", self.body);
        match serde_json::from_value(self.body.clone()) {
            Ok(output) => output,
            Err(e) => panic!("the output of type {}: {e}: {:?}", std::any::type_name::<T>(), self.body),
        }
    }
}

impl<T> Reply<T> {
    /// Not 200, and the body as the error the server function returned.
    #[track_caller]
    pub fn err(&self) -> AppError {
        assert_ne!(self.status, StatusCode::OK, "{:?}", self.body);
        match serde_json::from_value(self.body.clone()) {
            Ok(e) => e,
            Err(e) => panic!("an AppError: {e}: {:?}", self.body),
        }
    }
}

impl<T> Reply<T> {
    /// The same reply, its body no longer tied to an output type (to list
    /// replies of different functions together).
    pub fn untyped(self) -> Reply {
        Reply { status: self.status, body: self.body, set_cookie: self.set_cookie, output: PhantomData }
    }

    /// The message of an `AppError::Invalid` reply (input that cannot be accepted).
    #[track_caller]
    pub fn invalid(&self) -> String {
        match self.err() {
            AppError::Invalid(message) => message,
            other => panic!("not Invalid: {other:?}"),
        }
    }
}

/// How a server function's arguments travel: the input encoding its `#[server]`
/// declares, encoded as server_fn's client encodes it.
pub trait Encoding {
    const CONTENT_TYPE: &'static str;
    fn encode<T: Serialize>(args: &T) -> Vec<u8>;
}

/// The default: `application/x-www-form-urlencoded` through `serde_qs`.
impl Encoding for PostUrl {
    const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";
    fn encode<T: Serialize>(args: &T) -> Vec<u8> {
        serde_qs::to_string(args).expect("form-encodable arguments").into_bytes()
    }
}

/// `input = server_fn::codec::Json`.
impl Encoding for Json {
    const CONTENT_TYPE: &'static str = "application/json";
    fn encode<T: Serialize>(args: &T) -> Vec<u8> {
        serde_json::to_vec(args).expect("JSON-encodable arguments")
    }
}

/// A server function's arguments: the struct `#[server]` generates (e.g.
/// `app::users::InviteUser`), with its path, encoding and output type.
pub trait Args: ServerFn + Serialize {
    type Encoding: Encoding;
}

impl<S, I, O> Args for S
where
    S: ServerFn<Protocol = Http<I, O>> + Serialize,
    I: Encoding,
{
    type Encoding = I;
}

/// A server function that takes `multipart/form-data` (its struct has no
/// serializable fields: the form is the argument).
pub trait MultipartArgs: ServerFn {}

impl<S, O> MultipartArgs for S where S: ServerFn<Protocol = Http<MultipartFormData, O>> {}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, base: base.to_string(), cookie: None, last_set_cookie: None, pending: None }
    }

    /// Call a server function with its typed arguments: POSTed to its path, in
    /// its encoding; the reply reads as its output type.
    pub async fn send<S: Args>(&mut self, args: S) -> Reply<S::Output> {
        let req = self
            .api_post(S::PATH)
            .header(CONTENT_TYPE, <S::Encoding as Encoding>::CONTENT_TYPE)
            .body(<S::Encoding as Encoding>::encode(&args));
        self.send_api(req).await
    }

    /// Call a server function that takes `multipart/form-data` (a file upload):
    /// these text fields and one file field named `file` (if given).
    pub async fn send_multipart<S: MultipartArgs>(
        &mut self,
        fields: &[(&str, &str)],
        file: Option<&[u8]>,
    ) -> Reply<S::Output> {
        let (content_type, body) = multipart(fields, file);
        let req = self.api_post(S::PATH).header(CONTENT_TYPE, content_type).body(body);
        self.send_api(req).await
    }

    /// Raw: a server function by its endpoint with these form fields, for
    /// requests the typed arguments cannot make (missing or malformed fields).
    pub async fn call_raw(&mut self, endpoint: &str, args: &[(&str, &str)]) -> Reply {
        let req = self.api_post(&format!("/api/{endpoint}")).form(args);
        self.send_api(req).await
    }

    /// Raw: a server function by its endpoint with this JSON body, for
    /// requests the typed arguments cannot make (missing or malformed fields).
    pub async fn call_raw_json(&mut self, endpoint: &str, args: Value) -> Reply {
        let req = self.api_post(&format!("/api/{endpoint}")).json(&args);
        self.send_api(req).await
    }

    /// Raw: a `multipart/form-data` body to a server function by its endpoint,
    /// for requests the typed arguments cannot make.
    pub async fn call_raw_multipart(&mut self, endpoint: &str, fields: &[(&str, &str)], file: Option<&[u8]>) -> Reply {
        let (content_type, body) = multipart(fields, file);
        let req = self.api_post(&format!("/api/{endpoint}")).header(CONTENT_TYPE, content_type).body(body);
        self.send_api(req).await
    }

    /// GET a page without following redirects.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, format!("roster_session={c}"));
        }
        req.send().await.expect("request completes")
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Reply<String> {
        self.send(SignIn { email: email.into(), password: password.into(), next: Some(String::new()) }).await
    }

    /// The signed-in user's email, or None.
    pub async fn whoami(&mut self) -> Option<String> {
        self.send(Me {}).await.ok().map(|me| me.email)
    }
}

/// The Sign up page's arguments without a name: the invitation's token and
/// the password, typed twice alike.
pub fn sign_up(token: &str, password: &str) -> SignUp {
    SignUp {
        token: token.into(),
        first_name: None,
        last_name: None,
        password: password.into(),
        password_confirmation: password.into(),
    }
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Use the server's setup link to create the first administrator; returns a signed-in client.
pub async fn set_up_admin(server: &Server) -> Client {
    let link = server.setup_link.as_ref().expect("a fresh server prints a setup link");
    complete_setup(&server.base, link).await
}

/// Create the first administrator through `setup_link` on the server at `base`
/// (also used by the benches, which start the release server themselves).
pub async fn complete_setup(base: &str, setup_link: &str) -> Client {
    let token = setup_link.rsplit('/').next().unwrap();
    let mut c = Client::new(base);
    let r = c
        .send(Setup {
            token: token.into(),
            email: ADMIN_EMAIL.into(),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
            password: ADMIN_PASSWORD.into(),
            password_confirmation: ADMIN_PASSWORD.into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "setup: {:?}", r.body);
    c
}

impl Client {
    /// A POST to the server function at `path`, from Roster's own origin, with the session if any.
    fn api_post(&self, path: &str) -> reqwest::RequestBuilder {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .header("Accept", "application/json");
        let cookies: Vec<String> = [("roster_session", &self.cookie), ("roster_pending", &self.pending)]
            .into_iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
            .collect();
        if cookies.is_empty() {
            req
        } else {
            req.header(COOKIE, cookies.join("; "))
        }
    }

    /// Send a server function call and keep the cookies it sets, as a browser
    /// does; the body as JSON (or as text when it is not JSON).
    async fn send_api<T>(&mut self, req: reqwest::RequestBuilder) -> Reply<T> {
        let resp = req.send().await.expect("request completes");
        let status = resp.status();
        let set_cookie = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("roster_session="))
            .map(str::to_string);
        if let Some(pending) = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("roster_pending="))
        {
            let value = pending.trim_start_matches("roster_pending=").split(';').next().unwrap_or("");
            self.pending = (!value.is_empty()).then(|| value.to_string());
        }
        if let Some(sc) = &set_cookie {
            let value = sc.trim_start_matches("roster_session=").split(';').next().unwrap_or("");
            self.cookie = (!value.is_empty()).then(|| value.to_string());
            self.last_set_cookie = Some(sc.clone());
        }
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body, set_cookie, output: PhantomData }
    }

    /// Invite a user with the given roles; returns the new user's id.
    pub async fn invite(&mut self, email: &str, role_ids: &[RoleId]) -> Reply<UserId> {
        self.send(InviteUser { email: email.into(), first_name: None, last_name: None, role_ids: role_ids.to_vec() })
            .await
    }

    /// The Email queue's first page, with this status filter (`""`: all).
    pub async fn emails(&mut self, status: &str) -> Vec<EmailRow> {
        let status = if status.is_empty() { String::new() } else { word(status) };
        self.send(ListEmails { status, before: None }).await.ok().rows
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A real SMTP server (aiosmtpd) that records every message it accepts.
pub struct SmtpSink {
    child: Option<Child>,
    lean: bool,
    /// `user:password` the sink demands (AUTH PLAIN/LOGIN), if any.
    auth: Option<String>,
    pub port: u16,
    pub file: std::path::PathBuf,
    _dir: TempDir,
}

impl SmtpSink {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A sink that demands AUTH with this user name and password (535 otherwise).
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        Self::start_inner(false, Some(format!("{user}:{password}")))
    }

    /// A sink that records only message id, recipients and subject (no MIME
    /// parsing): for thousands of messages, where parsing would be the bottleneck.
    pub fn start_lean() -> Self {
        Self::start_with(true)
    }

    fn start_with(lean: bool) -> Self {
        Self::start_inner(lean, None)
    }

    fn start_inner(lean: bool, auth: Option<String>) -> Self {
        let dir = std::env::temp_dir().join(unique("roster_smtp"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut sink =
            Self { child: None, lean, auth, port: free_port(), file: dir.join("mail.jsonl"), _dir: TempDir(dir) };
        // A port free a moment ago can be taken before the sink binds it (an
        // outgoing connection's ephemeral port, another test's server): then
        // try another one.
        for _ in 0..5 {
            match sink.try_spawn(&[]) {
                Ok(()) => return sink,
                Err(_) => sink.port = free_port(),
            }
        }
        sink.restart(false);
        sink
    }

    /// The URL Roster should send to.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)start on the same port; with `fail`, every message is refused with 550.
    pub fn restart(&mut self, fail: bool) {
        self.spawn(if fail { &["--fail"] } else { &[] });
    }

    /// (Re)start on the same port as a server that accepts connections and
    /// never answers: a send to it stays in flight until its client gives up.
    pub fn restart_stalling(&mut self) {
        self.spawn(&["--stall"]);
    }

    fn spawn(&mut self, flags: &[&str]) {
        if let Err(line) = self.try_spawn(flags) {
            panic!("smtp sink did not start on port {}: {line}", self.port);
        }
    }

    /// Start the sink; Err(what it printed) when it did not start listening.
    fn try_spawn(&mut self, flags: &[&str]) -> Result<(), String> {
        self.stop();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(self.port.to_string()).arg(&self.file).args(flags).stdout(Stdio::piped());
        if self.lean {
            cmd.arg("--lean");
        }
        if let Some(auth) = &self.auth {
            cmd.arg("--auth").arg(auth);
        }
        let mut child = cmd.spawn().expect("python3 with aiosmtpd runs (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        if !line.contains("listening") {
            let _ = child.kill();
            let _ = child.wait();
            return Err(line);
        }
        self.child = Some(child);
        Ok(())
    }

    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Every AUTH attempt a sink started with `start_with_auth` received, in
    /// order: `{"mechanism", "login", "password", "success"}`.
    pub fn auth_attempts(&self) -> Vec<Value> {
        std::fs::read_to_string(format!("{}.auth", self.file.display()))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many messages arrived (counts lines; parses nothing).
    pub fn count(&self) -> usize {
        std::fs::read(&self.file).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0)
    }

    /// Wait until at least `n` messages arrived, or panic after `secs`.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        self.wait_for_count(n, secs).await;
        self.messages()
    }

    /// `wait_for` without reading the messages back.
    pub async fn wait_for_count(&self, n: usize, secs: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let count = self.count();
            if count >= n {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "expected {n} messages, got {count} after {secs}s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `/signup/<token>` link in an invitation's plain text.
pub fn signup_link(text: &str) -> String {
    let start = text.find("http").expect("a link in the email");
    text[start..].split_whitespace().next().unwrap().to_string()
}

pub fn token_of(link: &str) -> String {
    link.rsplit('/').next().unwrap().to_string()
}

/// Fast retries for tests.
pub fn mail_env(sink: &SmtpSink) -> Vec<(String, String)> {
    vec![
        ("ROSTER_SMTP_URL".into(), sink.url()),
        ("ROSTER_MAIL_POLL_INTERVAL".into(), "50ms".into()),
        ("ROSTER_MAIL_RETRY_BASE".into(), "200ms".into()),
    ]
}

pub fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// One text value by direct SQL (NULL as None), e.g. a stored body whose
/// link nobody may read through the API.
pub async fn scalar_text(db: &TestDb, sql: &str) -> Option<String> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
    row.try_get::<Option<String>, _>(0).unwrap()
}

/// Direct SQL for assertions the HTTP API does not expose (e.g. rows mid-send at a crash).
pub async fn scalar(db: &TestDb, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
    row.try_get::<i64, _>(0).unwrap()
}

/// Direct SQL that changes rows, with text arguments `$1`, `$2`, …: rows as
/// an older Roster (or someone with SQL access) may have left them.
pub async fn execute_sql(db: &TestDb, sql: &str, args: &[&str]) -> u64 {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut query = sqlx::query(sql);
    for a in args {
        query = query.bind(*a);
    }
    query.execute(&mut conn).await.unwrap().rows_affected()
}

impl Client {
    /// POST a form-encoded server function's arguments with exactly these
    /// extra headers (no `Origin` unless given) and the session cookie, if any.
    pub async fn post_form_with<S: Args<Encoding = PostUrl>>(
        &self,
        args: S,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{}", self.base, S::PATH))
            .header(CONTENT_TYPE, PostUrl::CONTENT_TYPE)
            .body(PostUrl::encode(&args));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, format!("roster_session={c}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request completes")
    }

    /// GET a page with these extra headers (e.g. `Host`), without following redirects.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, format!("roster_session={c}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request completes")
    }
}

/// The password of every user [`add_user`] signs up.
pub const PASSWORD: &str = "a long and lovely passphrase";

/// Invite `email` with `role_ids` and sign them up from the link in the Email
/// queue (no SMTP needed). Returns their signed-in client.
pub async fn add_user(admin: &mut Client, server: &Server, email: &str, role_ids: &[RoleId]) -> Client {
    let r = admin.invite(email, role_ids).await;
    assert_eq!(r.status, StatusCode::OK, "invite {email}: {:?}", r.body);
    let row = admin.emails("").await.into_iter().find(|e| e.to == email).expect("the invitation email");
    let d = admin.send(GetEmail { id: row.id }).await;
    let token = token_of(&signup_link(&d.ok().body_text));
    let mut c = server.client();
    let r = c
        .send(SignUp {
            token,
            first_name: None,
            last_name: None,
            password: PASSWORD.into(),
            password_confirmation: PASSWORD.into(),
        })
        .await;
    assert_eq!(r.status, StatusCode::OK, "sign up {email}: {:?}", r.body);
    c
}

/// [`add_user`], and the new user's id.
pub async fn add_user_and_id(
    admin: &mut Client,
    server: &Server,
    email: &str,
    role_ids: &[RoleId],
) -> (Client, UserId) {
    let mut c = add_user(admin, server, email, role_ids).await;
    let id = user_id(&mut c).await;
    (c, id)
}

pub async fn user_id(c: &mut Client) -> UserId {
    c.send(Me {}).await.ok().expect("signed in").user_id
}

/// A role granting `grants` (e.g. `&[(AppId::Users, Permission::View)]`); returns its id.
pub async fn create_role(admin: &mut Client, name: &str, grants: &[Grant]) -> RoleId {
    let r = admin.send(CreateRole { name: name.into(), description: String::new() }).await;
    assert_eq!(r.status, StatusCode::OK, "create_role {name}: {:?}", r.body);
    let id = r.ok();
    let r = admin.send(SetRolePermissions { id, grants: grants.to_vec() }).await;
    assert_eq!(r.status, StatusCode::OK, "set_role_permissions {name}: {:?}", r.body);
    id
}

/// Set role `id`'s grants (what the Permissions tab saves); the grants it holds now.
pub async fn set_grants(c: &mut Client, id: RoleId, grants: &[Grant]) -> Reply<Vec<Grant>> {
    c.send(SetRolePermissions { id, grants: grants.to_vec() }).await
}

/// The people of the administrator-protection tests: the first
/// administrator, a "User manager" whose role grants `grants`, and Grace, a
/// second administrator, both signed in.
pub struct Cast {
    pub admin: Client,
    pub admin_role: RoleId,
    pub manager: Client,
    pub manager_role: RoleId,
    pub grace: Client,
    pub grace_id: UserId,
}

impl Cast {
    pub async fn new(server: &Server, grants: &[Grant]) -> Self {
        let mut admin = set_up_admin(server).await;
        let admin_role = administrator_role(&mut admin).await;
        let manager_role = create_role(&mut admin, "User manager", grants).await;
        let manager = add_user(&mut admin, server, "manager@example.com", &[manager_role]).await;
        let (grace, grace_id) = add_user_and_id(&mut admin, server, "grace@example.com", &[admin_role]).await;
        Self { admin, admin_role, manager, manager_role, grace, grace_id }
    }
}

/// The built-in Administrator role's id.
pub async fn administrator_role(admin: &mut Client) -> RoleId {
    admin.send(ListRoles {}).await.ok().into_iter().find(|r| r.builtin).unwrap().id
}

/// Server settings that turn sign-in throttling off, for measurements and
/// load tests that sign in far more often than a person would.
pub const UNTHROTTLED: &[(&str, &str)] = &[
    ("ROSTER_SIGNIN_FREE_FAILURES", "1000000"),
    ("ROSTER_SIGNIN_LOCKOUT_FAILURES", "1000001"),
    ("ROSTER_SIGNIN_IP_FREE_FAILURES", "1000000"),
];

/// Invite `n` people (`{prefix}{i}@example.com`, no roles) from 8 concurrent clients.
pub async fn invite_many(admin: &Client, prefix: &str, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (mut c, prefix) = (admin.clone(), prefix.to_string());
        tasks.spawn(async move {
            for i in (w..n).step_by(8) {
                let r = c.invite(&format!("{prefix}{i}@example.com"), &[]).await;
                assert!(r.status.is_success(), "{:?}", r.body);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

/// The audit entries `admin` sees with no filter (newest first), or with `action` only.
pub async fn audit_entries(admin: &mut Client, action: &str) -> Vec<AuditEntry> {
    let action = if action.is_empty() { Default::default() } else { word(action) };
    let query = AuditQuery { action, ..Default::default() };
    admin.send(ListAudit { query }).await.ok().entries
}

/// A `multipart/form-data` body with these text fields and one file field
/// named `file` (if given): (Content-Type, body).
pub fn multipart(fields: &[(&str, &str)], file: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "roster-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some(file) = file {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(file);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Run one statement directly on the database (to set up states the HTTP API
/// cannot reach, such as a sign-in that happened minutes ago).
pub async fn execute(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}

/// Make every session's last authentication `minutes` older, as if its
/// person had signed in that long ago.
pub async fn age_sign_ins(db: &TestDb, minutes: i64) {
    execute(db, &format!("UPDATE sessions SET authenticated_at = authenticated_at - {}", minutes * 60_000)).await;
}

/// Now, in Unix milliseconds: take it before an action whose notice [`assert_notice`] checks.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Check a security notice's plain text (and HTML): it says when (a minute
/// between `since` and now, as `2026-11-29 09:30 UTC`), where from (the test
/// client's address), and `what`; and it holds no link that grants access.
pub fn assert_notice(text: &str, html: &str, what: &str, since: i64) {
    let minutes = since / 60_000..=now_ms() / 60_000;
    let when: Vec<String> = minutes.map(|m| app::time::format_time(m * 60_000)).collect();
    for body in [text, html] {
        assert!(body.contains(what), "it says what happened ({what}): {body}");
        assert!(when.iter().any(|t| body.contains(t.as_str())), "it says when ({when:?}): {body}");
        assert!(body.contains("127.0.0.1"), "it says where from: {body}");
        assert!(!body.contains("/reset/") && !body.contains("/signup/"), "no link that grants access: {body}");
    }
}

/// The one queued email to `to` whose subject is `subject` (as `admin` reads
/// the Email queue), checked by [`assert_notice`]; returns its plain text.
pub async fn notice(admin: &mut Client, to: &str, subject: &str, what: &str, since: i64) -> String {
    let rows = admin.emails("").await;
    let found: Vec<&EmailRow> = rows.iter().filter(|m| m.to == to && m.subject == subject).collect();
    assert_eq!(found.len(), 1, "one “{subject}” to {to}: {rows:?}");
    let d = admin.send(GetEmail { id: found[0].id }).await.ok();
    assert_notice(&d.body_text, &d.body_html, what, since);
    d.body_text
}

/// How many queued emails to `to` have this subject.
pub async fn count_emails(admin: &mut Client, to: &str, subject: &str) -> usize {
    let rows = admin.emails("").await;
    rows.iter().filter(|m| m.to == to && m.subject == subject).count()
}

/// The subject of the email that confirms a changed address.
pub const CONFIRM_SUBJECT: &str = "Confirm your email address for Roster";

/// Change user `id`'s email as `admin` (their name and roles as they are).
pub async fn change_email(admin: &mut Client, id: UserId, email: &str) -> Reply<UpdateOutcome> {
    let d = admin.send(GetUser { id }).await.ok();
    let args =
        UpdateUser { id, first_name: d.first_name, last_name: d.last_name, email: email.into(), role_ids: d.role_ids };
    admin.send(args).await
}

/// The messages `sink` received for `to` whose subject is `subject`, once
/// there are at least `n` (or panic after 20 s).
pub async fn mail_to(sink: &SmtpSink, to: &str, subject: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Value> = sink
            .messages()
            .into_iter()
            .filter(|m| m["to"] == serde_json::json!([to]) && m["subject"] == serde_json::json!(subject))
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "{n} × {subject:?} to {to}: got {:?}", sink.messages());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The token of the `n`th (1-based) email confirmation link sent to `to`, read
/// from the SMTP server as its owner reads it (the Email queue masks it).
pub async fn confirmation_token(sink: &SmtpSink, to: &str, n: usize) -> String {
    let mail = mail_to(sink, to, CONFIRM_SUBJECT, n).await;
    let link = signup_link(mail[n - 1]["text"].as_str().unwrap());
    assert!(link.contains("/confirm-email/"), "{link}");
    token_of(&link)
}

/// Whether Users says user `id` proved control of their address.
pub async fn email_verified(admin: &mut Client, id: UserId) -> bool {
    admin.send(GetUser { id }).await.ok().email_verified
}

/// A field that holds one of a few words (an email's status, a template's
/// kind, an audit action) from its word, read as the server reads it: the same
/// for a `String` and for an enum that serializes to the same words.
#[track_caller]
pub fn word<T: DeserializeOwned>(w: &str) -> T {
    match serde_json::from_value(Value::String(w.to_string())) {
        Ok(v) => v,
        Err(e) => panic!("{w:?} as {}: {e}", std::any::type_name::<T>()),
    }
}

/// The word such a field serializes to.
pub fn word_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(w)) => w,
        other => panic!("not a word: {other:?}"),
    }
}

/// `loads` page loads of `pages` (in turn) with the session `cookie`, all at
/// once, each abandoned part-way as a browser does: one in three after 0–19 ms
/// (answered or not), one after the first part of the streamed page, one as
/// soon as the status line and headers arrive. `strict`: those two must get
/// an answer at all.
pub async fn abandon_page_loads(base: &str, cookie: &str, pages: &[&str], loads: usize, strict: bool) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..loads {
        let request = http.get(format!("{base}{}", pages[i % pages.len()])).header(reqwest::header::COOKIE, cookie);
        tasks.spawn(async move {
            match i % 3 {
                0 => {
                    let _ = tokio::time::timeout(Duration::from_millis((i % 20) as u64), request.send()).await;
                }
                1 => match request.send().await {
                    Ok(mut response) => {
                        let _ = response.chunk().await;
                    }
                    Err(e) => assert!(!strict, "an answer: {e}"),
                },
                _ => {
                    let answer = request.send().await;
                    assert!(!strict || answer.is_ok(), "an answer: {answer:?}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a page load task ends without panicking");
    }
}

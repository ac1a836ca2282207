//! The Roster binary: configuration, router, command line.
//!
//! `server` (or `server serve`) runs Roster; the other commands (`server
//! --help` lists them, `cli.rs`) do one job against the configured database:
//! `create-admin` for headless installs, `seed-demo`, `rotate-signing-key`,
//! `backup` and `restore` (`backup.rs`).

mod backup;
mod bodies;
mod cli;
mod config;
mod db_lock;
mod finish;
mod key_file;
mod migrations;
mod monitoring;
mod probes;
mod site;
mod worker;

use app::middleware::{authenticate, check_host};
use app::server::crypto::Passwords;
use app::server::db::Db;
use app::server::state::{AppState, Settings, SetupToken};
use app::{shell, App};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use cli::{Cli, Command};
use config::Config;
use db_lock::DbLock;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse_args().command.unwrap_or(Command::Serve);
    if let Command::ListServerFns = command {
        list_server_fns();
        return ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roster: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config);
    let result = match command {
        Command::Serve => using_db(&config, serve(config.clone())).await,
        Command::CreateAdmin { email, first_name, last_name } => {
            using_db(&config, create_admin(config.clone(), &email, &first_name, &last_name)).await
        }
        Command::SeedDemo => using_db(&config, seed_demo(config.clone())).await,
        Command::RotateSigningKey => using_db(&config, rotate_signing_key(config.clone())).await,
        Command::Backup { path } => backup::backup_command(&config, &path).await,
        Command::Restore { path } => backup::restore_command(&config, &path).await,
        Command::ListServerFns => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Run `job`, which uses the database, holding the database's shared lock:
/// `server restore` refuses to replace the file meanwhile (`db_lock`).
async fn using_db(config: &Config, job: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    let _lock = DbLock::shared(&config.database_url)?;
    job.await
}

fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Colour escape codes only on a terminal: a log file or journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn create_admin(config: Config, email: &str, first: &str, last: &str) -> Result<(), String> {
    let name = app::domain::PersonName::parse(first, last)?;
    eprintln!("Password for {email} (at least {} characters), then Enter:", config.password_min_chars);
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).map_err(|e| format!("cannot read the password: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']);
    let db = Db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    // Touches no stored secret: the configured key, if any, without making a key file.
    let state = build_state(&config, db, config.listen, config.encryption_key().ok().flatten(), None).await;
    let id = app::auth::service::create_admin_with_password(&state, email, &name, password, password, false)
        .await
        .map_err(|e| e.to_string())?;
    println!("Created Global administrator {email} (id {id}).");
    Ok(())
}

/// `server rotate-signing-key`: rotate the OpenID Connect signing keys now
/// (`app::oidc::keys`); every node signs with the new active key from its
/// next token on.
async fn rotate_signing_key(config: Config) -> Result<(), String> {
    let key = key_file::encryption_key(&config)?;
    let db = Db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    let state = build_state(&config, db, config.listen, Some(key), None).await;
    let rotated = app::oidc::keys::rotate(&state.db, &state.settings).await.map_err(|_| {
        "the signing keys could not be rotated (the log says why; is this node's encryption key the one that \
         sealed them?)"
            .to_string()
    })?;
    let Some(r) = rotated else {
        println!("Another node rotated the signing keys at the same moment: nothing more was done.");
        return Ok(());
    };
    let retire = humantime_serde::re::humantime::format_duration(app::oidc::keys::retire_after(&state.settings));
    println!("Signing key {} signs ID tokens from now on.", r.active);
    if let Some(old) = r.retiring {
        println!(
            "Signing key {old} signs no more; it leaves the JWKS in {retire}, once the tokens it signed have expired."
        );
    }
    println!("Signing key {} is published, to sign from the next rotation.", r.next);
    Ok(())
}

/// `server seed-demo`: the demo roles, created once; existing ones are left alone.
async fn seed_demo(config: Config) -> Result<(), String> {
    let db = Db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    for (name, created) in app::roles::service::seed_demo(&db).await.map_err(|e| e.to_string())? {
        if created {
            println!("Created the role {name}.");
        } else {
            println!("The role {name} already exists; left as it is.");
        }
    }
    Ok(())
}

/// Hidden: every registered server function, one `METHOD /path` a line, so
/// the integration tests can call each one (see tests/api/roles.rs).
fn list_server_fns() {
    let mut fns: Vec<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, method)| format!("{method} {path}")).collect();
    fns.sort();
    for f in fns {
        println!("{f}");
    }
}

/// The state every request sees. `site_root`: where the site's files are
/// (`site.rs`); the commands that serve no pages pass `None`.
async fn build_state(
    config: &Config,
    db: Db,
    bound: SocketAddr,
    encryption_key: Option<app::server::secret::EncryptionKey>,
    site_root: Option<&Path>,
) -> AppState {
    let site_root = site_root.unwrap_or(Path::new("target/site"));
    let settings = Settings {
        public_url: config.public_url(bound),
        site_name: config.site_name.clone(),
        session_idle_timeout: config.session_idle_timeout,
        session_absolute_timeout: config.session_absolute_timeout,
        invitation_ttl: config.invitation_ttl,
        smtp_configured: config.smtp_url().is_some(),
        smtp_url: config.smtp_url().map(app::server::secret::SecretString::new),
        smtp_url_source: config.smtp_url_source(),
        mail_from: config.mail_from.clone(),
        encryption_key,
        mail_max_attempts: config.mail_max_attempts,
        mail_retry_base: config.mail_retry_base,
        mail_lease: config.mail_lease,
        mail_retention: config.mail_retention,
        throttle: app::auth::throttle::ThrottleSettings {
            free: config.signin_free_failures,
            window: config.signin_failure_window,
            lockout_after: config.signin_lockout_failures,
            lockout: config.signin_lockout_duration,
            ip_free: config.signin_ip_free_failures,
        },
        password_min_chars: config.password_min_chars,
        reset_emails_per_address: config.password_reset_emails_per_address,
        reset_emails_per_ip: config.password_reset_emails_per_ip,
        // Validated when the configuration was loaded.
        trusted_proxies: config.trusted_proxies().unwrap_or_default(),
        oidc_access_token_ttl: config.access_token_ttl,
        fresh_sign_in: config.fresh_sign_in,
        bulk_batch_size: config.bulk_batch_size,
        bulk_batch_pause: config.bulk_batch_pause,
        oidc_id_token_ttl: config.id_token_ttl,
        signing_key_rotation: config.signing_key_rotation,
        signing_key_retire_margin: config.signing_key_retire_margin,
    };
    let mut leptos_options = LeptosOptions::builder()
        .output_name("roster")
        .site_root(site_root.to_string_lossy().as_ref())
        .site_pkg_dir("pkg")
        .site_addr(bound)
        .build();
    // The page names the hashed JS, WASM and CSS that this site holds (an
    // absolute hash file path: leptos joins it to the binary's directory).
    match app::server::assets::find_hash_file(site_root, "pkg", "roster") {
        Some((path, _)) => {
            leptos_options.hash_files = true;
            leptos_options.hash_file = path.to_string_lossy().as_ref().into();
        }
        None => {
            tracing::debug!("no hash file matches {}/pkg: the site's file names carry no hash", site_root.display())
        }
    }
    AppState {
        db,
        settings: Arc::new(settings),
        passwords: Passwords::with_queue_limit(config.argon2_queue_limit).await,
        setup: Arc::new(SetupToken::default()),
        leptos_options,
    }
}

async fn serve(config: Config) -> Result<(), String> {
    // Decompress the password blocklist now, not in the first user's request.
    tokio::task::spawn_blocking(app::password_policy::preload);
    let key = key_file::encryption_key(&config)?;
    // Before anything is counted: the recorder (only with a metrics token).
    let metrics = monitoring::install(config.metrics_token())?;
    let db = Db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    // Kept until the server stops: an unpacked site is removed then.
    let site = site::Site::locate(config.site_root.as_deref())?;
    let state = build_state(&config, db, bound, Some(key), Some(site.root())).await;
    // Seal keys an earlier version left in clear, retire, make or rotate as due.
    if app::oidc::keys::maintain(&state.db, &state.settings).await.is_err() {
        tracing::error!(
            "the ID token signing keys cannot be used on this node (see above): single sign-on fails here until \
             it has the encryption key that sealed them"
        );
    }

    let users = app::auth::service::user_count(&state.db).await.map_err(|e| e.to_string())?;
    if users == 0 {
        let token = state.setup.mint();
        println!(
            "Roster has no users yet. Open this one-time setup link to create the first administrator:\n  {}",
            state.settings.link(&format!("/setup/{}", token.expose()))
        );
    }
    if let Some(url) = config.smtp_url() {
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("invalid configuration: smtp_url: {e}"))?;
    } else {
        println!(
            "Email sending is not configured (ROSTER_SMTP_URL, or Settings → Email server): emails stay in the Email queue."
        );
    }
    // Set at SIGTERM (or Ctrl-C): the moment by which what is in flight must be done.
    let (stop, stopped) = tokio::sync::watch::channel(None);
    // Always running: settings saved in Settings → Email server start (or
    // change) sending on every node without a restart.
    let worker =
        tokio::spawn(worker::run(state.db.clone(), state.settings.clone(), config.mail_poll_interval, stopped.clone()));
    backup::schedule(&config);
    if config.public_url.as_deref().unwrap_or("").is_empty() && bound.ip().is_unspecified() {
        tracing::warn!(
            "public_url is not set and Roster listens on every interface: set public_url to the address users \
             open, for the links in emails and so that requests for other host names are refused"
        );
    }
    println!("Roster listening on http://{bound}");

    let router = router(state, metrics);
    // TCP_NODELAY: a server-rendered page is written in several chunks; with
    // Nagle's algorithm the last one waits for the client's delayed ACK, which
    // added 40 ms to every page on a kept-alive connection (BENCHMARKS.md).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let grace = config.shutdown_grace;
    let stop = Arc::new(stop);
    let signal = {
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            tracing::info!(grace = ?grace, "stopping: no new connections; finishing the requests in flight");
            stop.send_replace(Some(tokio::time::Instant::now() + grace));
        }
    };
    // Stops accepting at the signal (the listener closes), then waits for the
    // requests in flight; those still running at the deadline are cut short.
    let serve = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(signal)
        .into_future();
    let served = tokio::select! {
        served = serve => served.map_err(|e| e.to_string()),
        () = async { tokio::time::sleep_until(worker::stopping(&mut stopped.clone()).await).await } => {
            tracing::warn!("stopping: requests still running after shutdown_grace were cut short");
            Ok(())
        }
    };
    // The worker stops too (if the server ended without a signal, now).
    if stop.borrow().is_none() {
        stop.send_replace(Some(tokio::time::Instant::now() + grace));
    }
    if worker.await.is_err() {
        tracing::error!("stopping: the email worker failed");
    }
    tracing::info!("stopped");
    served
}

fn router(state: AppState, metrics: monitoring::Metrics) -> Router {
    let routes = generate_route_list(App);
    // HSTS only when users reach Roster over https.
    let hsts = state.settings.cookie_secure().then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(monitoring::scrape).layer(Extension(metrics.clone())))
        .route("/users/export.csv", get(app::users::export::download))
        // OpenID Connect provider (app::oidc): thin handlers, logic in its service.
        .route(app::oidc::DISCOVERY, get(app::oidc::discovery))
        .route(app::oidc::JWKS, get(app::oidc::jwks))
        .route(app::oidc::AUTHORIZE, get(app::oidc::authorize))
        .route(app::oidc::TOKEN, axum::routing::post(app::oidc::token))
        .route(app::oidc::USERINFO, get(app::oidc::userinfo).post(app::oidc::userinfo))
        .route(app::oidc::END_SESSION, get(app::oidc::end_session))
        .merge(static_files(&options.site_root))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        // Innermost: a page render the browser abandons still runs to its end.
        .layer(axum::middleware::from_fn(finish::run_to_completion))
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate))
        // A server-function body its function cannot read: 4xx before any decoding.
        .layer(axum::middleware::from_fn(bodies::check))
        // Outside `authenticate`: a request for another host reaches nothing.
        .layer(axum::middleware::from_fn_with_state(state.clone(), check_host))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(app::server::security::API_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        // Pages and server-function answers are not kept without asking
        // again; hashed static files say otherwise (`static_files`).
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .layer(compression())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %redact_path(req.uri().path()))
        }))
        // Outermost: every answer is counted and timed, a 421 or a compressed page alike.
        .layer(axum::middleware::from_fn_with_state(metrics.is_some(), monitoring::track))
        .with_state(state)
}

/// `/pkg/`: the compiled JS, WASM and CSS. A release build has a brotli
/// (`.br`) and a gzip (`.gz`) copy of each (`cargo leptos build --release
/// --precompress`), sent instead of the file when the request's
/// `Accept-Encoding` allows. Hashed names never change content: browsers keep
/// them a year without asking again.
fn static_files(site_root: &str) -> Router<AppState> {
    let pkg = ServeDir::new(Path::new(site_root).join("pkg")).precompressed_br().precompressed_gzip();
    Router::new().nest_service("/pkg", pkg).layer(axum::middleware::from_fn(
        |req: Request<axum::body::Body>, next: axum::middleware::Next| async move {
            let hashed = app::server::assets::is_hashed_name(req.uri().path().rsplit('/').next().unwrap_or(""));
            let mut res = next.run(req).await;
            let h = res.headers_mut();
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            let kept = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
            if hashed && kept {
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
            }
            res
        },
    ))
}

/// Server-rendered pages and server-function answers, compressed as they are
/// sent (brotli or gzip, whichever the request accepts first) once they are
/// over 1 KiB. Streamed pages stay streamed: the encoder flushes whenever the
/// page waits for its next chunk. Static files are precompressed instead.
fn compression() -> CompressionLayer<impl Predicate> {
    let dynamic =
        |_: StatusCode, _: axum::http::Version, headers: &axum::http::HeaderMap, _: &axum::http::Extensions| {
            let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            ["text/html", "application/json", "text/plain"].iter().any(|t| kind.starts_with(t))
        };
    CompressionLayer::new().compress_when(SizeAbove::new(1024).and(dynamic))
}

/// Paths that carry a secret token are logged without it.
fn redact_path(path: &str) -> String {
    for prefix in ["/setup/", "/signup/", "/reset/", app::email_confirmation::PATH] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if !rest.is_empty() {
                return format!("{prefix}[redacted]");
            }
        }
    }
    path.to_string()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_paths_are_redacted_in_logs() {
        assert_eq!(super::redact_path("/setup/abc"), "/setup/[redacted]");
        assert_eq!(super::redact_path("/signup/abc"), "/signup/[redacted]");
        assert_eq!(super::redact_path("/confirm-email/abc"), "/confirm-email/[redacted]");
        assert_eq!(super::redact_path("/users"), "/users");
    }
}

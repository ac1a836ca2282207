//! Running for years: page loads that the browser abandons part-way (a closed
//! tab, a click on another link) leave no panic in the server's log; the
//! binary alone, copied anywhere, serves the whole site.

use crate::helpers::*;
use reqwest::StatusCode;
use std::time::Duration;

crate::on_both_backends!(cancelled_page_loads_leave_no_panic_in_the_log);

/// Every page an administrator can open, and a few that answer 404 or
/// redirect: each streams its own mix of resources and suspended views.
const PAGES: &[&str] = &[
    "/",
    "/users",
    "/users/new",
    "/users/import",
    "/users/1",
    "/roles",
    "/roles/new",
    "/roles/1",
    "/email-queue",
    "/email-queue/1",
    "/audit-log",
    "/applications",
    "/applications/new",
    "/settings",
    "/settings/templates/invitation",
    "/account",
    "/account?tab=security",
    "/account?tab=sessions",
    "/signin",
    "/forgot-password",
    "/no-such-page",
];

const LOADS: usize = 2_000;

async fn cancelled_page_loads_leave_no_panic_in_the_log(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let admin = set_up_admin(&server).await;
    let cookie = format!("roster_session={}", admin.cookie.clone().expect("signed in"));
    abandon_page_loads(&server.base, &cookie, PAGES, LOADS, false).await;

    // The server still serves whole pages afterwards.
    let response = admin.get("/users").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Users"));
    // Renders abandoned last may still be finishing.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let log = server.log();
    let panics = log.matches("panicked at").count();
    assert_eq!(panics, 0, "{panics} panics in the server log after {LOADS} cancelled page loads:\n{log}");
}

crate::on_both_backends!(the_log_in_a_file_is_plain_text);

/// A log written to a file (not a terminal) carries no colour escape codes.
async fn the_log_in_a_file_is_plain_text(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, &[("ROSTER_LOG", "info")]).await;
    let mut c = server.client();
    // Something worth a line at info: a failed sign-in.
    c.sign_in("nobody@example.com", "not the password").await;
    let log = server.log();
    assert!(log.lines().count() > 1, "the server logged at info:\n{log}");
    assert!(!log.contains('\u{1b}'), "the log holds escape codes:\n{log}");
}

crate::on_both_backends!(the_binary_alone_serves_the_site);

/// Copied alone into an empty directory and run there without `site_root`,
/// the binary serves the site it was built with: the page names the hashed
/// JS, WASM and CSS, each is sent with its type and the bytes `make test`'s
/// site build wrote, and the unpacked copy is removed when the server stops.
async fn the_binary_alone_serves_the_site(backend: Backend) {
    let site = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site/pkg");
    assert!(
        site.is_dir(),
        "no site at {}: build it before the Rust tests (make site-for-tests), as make test does",
        site.display()
    );
    let dir = TempDir(std::env::temp_dir().join(unique("roster_alone")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let exe = dir.0.join("server");
    std::fs::copy(env!("CARGO_BIN_EXE_server"), &exe).unwrap();
    let db = TestDb::new(backend);
    let mut server = Server::start_exe(&db, &exe, &dir.0, &[("ROSTER_SITE_ROOT", ""), ("ROSTER_LOG", "info")]).await;

    let http = reqwest::Client::new();
    let page = http.get(format!("{}/signin", server.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let named: Vec<String> = ["js", "wasm", "css"]
        .iter()
        .map(|ext| {
            html.match_indices("/pkg/roster.")
                .find_map(|(i, _)| {
                    let rest = &html[i..];
                    let end = rest.find(|c: char| c == '"' || c == '\'' || c == ')' || c.is_whitespace())?;
                    rest[..end].ends_with(&format!(".{ext}")).then(|| rest[..end].to_string())
                })
                .unwrap_or_else(|| panic!("the page names no /pkg/roster.*.{ext}: {html}"))
        })
        .collect();
    for (path, kind) in named.iter().zip(["text/javascript", "application/wasm", "text/css"]) {
        let name = path.trim_start_matches("/pkg/");
        assert!(app::server::assets::is_hashed_name(name), "{path} carries a content hash");
        let r = http.get(format!("{}{path}", server.base)).header("accept-encoding", "identity").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with(kind), "{path} is sent as {content_type}");
        let body = r.bytes().await.unwrap();
        assert_eq!(body.as_ref(), std::fs::read(site.join(name)).unwrap(), "{path} is the file the site build wrote");
    }
    let favicon = http.get(format!("{}/favicon.ico", server.base)).send().await.unwrap();
    assert_eq!(favicon.status(), StatusCode::OK, "the public files come along");

    let log = server.log();
    let unpacked = log
        .lines()
        .find(|l| l.contains("serving the site this binary carries"))
        .and_then(|l| l.split("dir=").nth(1))
        .map(|d| std::path::PathBuf::from(d.split_whitespace().next().unwrap_or("")))
        .unwrap_or_else(|| panic!("the log says where the site was unpacked: {log}"));
    assert!(unpacked.join("pkg").is_dir(), "{} holds the site", unpacked.display());
    drop(http);
    server.terminate();
    let status = server.wait_exit(Duration::from_secs(30)).await.expect("the server stops within 30 s of SIGTERM");
    assert!(status.success(), "the server stops cleanly on SIGTERM: {status}");
    assert!(!unpacked.exists(), "the unpacked site ({}) is removed when the server stops", unpacked.display());
}

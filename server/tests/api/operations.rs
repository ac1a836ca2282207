//! Running for years: page loads that the browser abandons part-way (a closed
//! tab, a click on another link) leave no panic in the server's log.

use crate::helpers::*;
use reqwest::header::COOKIE;
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
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let mut loads = tokio::task::JoinSet::new();
    for i in 0..LOADS {
        let request = http.get(format!("{}{}", server.base, PAGES[i % PAGES.len()])).header(COOKIE, &cookie);
        loads.spawn(async move {
            match i % 3 {
                // Gone before the answer starts: after 0–19 ms.
                0 => {
                    let _ = tokio::time::timeout(Duration::from_millis((i % 20) as u64), request.send()).await;
                }
                // Gone after the first part of the stream.
                1 => {
                    if let Ok(mut response) = request.send().await {
                        let _ = response.chunk().await;
                    }
                }
                // Gone as soon as the status line and headers arrive.
                _ => drop(request.send().await),
            }
        });
    }
    while let Some(done) = loads.join_next().await {
        done.expect("a page load task ends without panicking");
    }

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

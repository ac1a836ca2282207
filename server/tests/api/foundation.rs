//! Sign-in, sessions, first-run setup, configuration and operations.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use std::time::Duration;

on_both_backends!(
    setup_link_creates_the_first_administrator_once,
    sign_in_cookie_is_hardened_and_new_each_time,
    wrong_password_and_unknown_email_get_the_same_answer,
    idle_session_expires,
    absolute_timeout_ends_even_an_active_session,
    session_made_on_one_process_is_accepted_by_another,
    signing_out_ends_the_session,
    anonymous_page_load_goes_to_sign_in_and_back,
    healthz_answers_when_the_database_does,
    cross_origin_post_is_refused,
    unreadable_arguments_get_400_with_the_reason,
    create_admin_command_makes_a_working_account,
);

async fn setup_link_creates_the_first_administrator_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let link = server.setup_link.clone().expect("setup link printed while no user exists");
    let token = link.rsplit('/').next().unwrap();
    assert!(link.starts_with(&format!("{}/setup/", server.base)), "{link}");
    assert_eq!(token.len(), 43, "256 bits, base64url");

    let mut anon = server.client();
    let r = anon.call("setup_check", &[("token", token)]).await;
    assert_eq!(r.body, serde_json::json!(true));

    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.whoami().await.as_deref(), Some(ADMIN_EMAIL), "setup signs the admin in");

    // The link is single use.
    let r = anon.call("setup_check", &[("token", token)]).await;
    assert_eq!(r.body, serde_json::json!(false));
    let r = anon
        .call(
            "setup",
            &[
                ("token", token),
                ("email", "second@example.com"),
                ("first_name", ""),
                ("last_name", ""),
                ("password", ADMIN_PASSWORD),
                ("password_confirmation", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert!(r.body.to_string().contains("no longer valid"), "{:?}", r.body);

    // A restart with a user present prints no link.
    drop(server);
    let again = Server::start(&db).await;
    assert!(again.setup_link.is_none(), "{:?}", again.stdout_lines);
}

async fn sign_in_cookie_is_hardened_and_new_each_time(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;

    let mut c = server.client();
    let r = c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let cookie = r.set_cookie.expect("sign-in sets the session cookie");
    let lower = cookie.to_lowercase();
    assert!(lower.contains("httponly"), "{cookie}");
    assert!(lower.contains("samesite=lax"), "{cookie}");
    assert!(lower.contains("path=/"), "{cookie}");
    assert!(!lower.contains("secure"), "plain http public URL: no Secure flag: {cookie}");
    let first = c.cookie.clone().unwrap();

    // Signing in again (even with a session) gives a new id and ends the old one.
    let r = c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
    let second = c.cookie.clone().unwrap();
    assert_ne!(first, second, "session id changes at sign-in");
    let mut old = server.client();
    old.cookie = Some(first);
    assert_eq!(old.whoami().await, None, "the previous session id no longer works");
    assert_eq!(c.whoami().await.as_deref(), Some(ADMIN_EMAIL));

    // Behind an https public URL the cookie is Secure.
    drop(server);
    let https = Server::start_with(&db, &[("ROSTER_PUBLIC_URL", "https://roster.example.com")]).await;
    let mut c = https.client();
    // Browsers send the public origin; this client talks to the loopback address directly.
    let r = c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.set_cookie.unwrap().to_lowercase().contains("secure"));
}

async fn wrong_password_and_unknown_email_get_the_same_answer(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let mut c = server.client();
    let wrong = c.sign_in(ADMIN_EMAIL, "not the password at all").await;
    let unknown = c.sign_in("nobody@example.com", "not the password at all").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.body.to_string().contains("BadCredentials"), "{:?}", wrong.body);
    assert!(wrong.set_cookie.is_none() && unknown.set_cookie.is_none());
    // Email matching is case-insensitive.
    let r = c.sign_in(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn idle_session_expires(backend: Backend) {
    let db = TestDb::new(backend);
    let server =
        Server::start_with(&db, &[("ROSTER_SESSION_IDLE_TIMEOUT", "2s"), ("ROSTER_SESSION_ABSOLUTE_TIMEOUT", "1h")])
            .await;
    let mut c = set_up_admin(&server).await;
    assert!(c.whoami().await.is_some());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(c.whoami().await, None, "idle session is refused");
    let page = c.get("/account").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
}

async fn absolute_timeout_ends_even_an_active_session(backend: Backend) {
    let db = TestDb::new(backend);
    let server =
        Server::start_with(&db, &[("ROSTER_SESSION_IDLE_TIMEOUT", "2s"), ("ROSTER_SESSION_ABSOLUTE_TIMEOUT", "4s")])
            .await;
    let mut c = set_up_admin(&server).await;
    // Activity slides the idle timeout past its 2 s...
    for _ in 0..6 {
        assert!(c.whoami().await.is_some(), "active session within the absolute timeout");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // ...but not past the absolute 4 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(c.whoami().await, None, "absolute timeout ends the session");
}

async fn session_made_on_one_process_is_accepted_by_another(backend: Backend) {
    let db = TestDb::new(backend);
    let a = Server::start(&db).await;
    let b = Server::start(&db).await;
    let mut on_a = set_up_admin(&a).await;
    assert_eq!(on_a.whoami().await.as_deref(), Some(ADMIN_EMAIL));
    let mut on_b = b.client();
    on_b.cookie = on_a.cookie.clone();
    assert_eq!(on_b.whoami().await.as_deref(), Some(ADMIN_EMAIL), "node B accepts node A's session");
    // Signing out on B ends it on A.
    let r = on_b.call("sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_a.whoami().await, None);
}

async fn signing_out_ends_the_session(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut c = set_up_admin(&server).await;
    let kept = c.cookie.clone();
    let r = c.call("sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookie.unwrap().contains("Max-Age=0"), "cookie is cleared");
    let mut replay = server.client();
    replay.cookie = kept;
    assert_eq!(replay.whoami().await, None, "the old cookie is dead server-side");
    let r = replay.call("sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn anonymous_page_load_goes_to_sign_in_and_back(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let mut anon = server.client();
    let r = anon.get("/account?tab=password").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/signin?next=%2Faccount%3Ftab%3Dpassword");
    let r = anon.get("/").await;
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/signin");
    let r = anon
        .call("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "/account?tab=password")])
        .await;
    assert_eq!(r.body, serde_json::json!("/account?tab=password"));
    let r = anon
        .call("sign_in", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "https://evil.example/")])
        .await;
    assert_eq!(r.body, serde_json::json!("/"), "no open redirect");
    let page = anon.get("/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Account"), "signed-in page renders");
    let missing = anon.get("/no-such-page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.text().await.unwrap().contains("Page not found"));
}

async fn healthz_answers_when_the_database_does(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let r = server.client().get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

async fn cross_origin_post_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/sign_in", server.base))
        .header("Origin", "https://evil.example")
        .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD), ("next", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
}

async fn unreadable_arguments_get_400_with_the_reason(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    // An id that is not a number, and a missing argument: the function body never runs.
    let r = admin.call("set_user_enabled", &[("id", "abc"), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let message = r.body["Invalid"].as_str().unwrap_or_default();
    assert!(message.starts_with("The request could not be read"), "{:?}", r.body);
    let r = admin.call("set_user_enabled", &[("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.body["Invalid"].as_str().unwrap_or_default().contains("id"), "{:?}", r.body);
    // Nothing changed: the administrator can still sign in and act.
    assert!(admin.whoami().await.is_some());
}

async fn create_admin_command_makes_a_working_account(backend: Backend) {
    use std::io::Write;
    let db = TestDb::new(backend);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["create-admin", "--email", "ops@example.com", "--first-name", "Ops"])
        .env("ROSTER_DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough passphrase\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Server::start(&db).await;
    assert!(server.setup_link.is_none(), "no setup link once an admin exists");
    let mut c = server.client();
    assert_eq!(c.sign_in("ops@example.com", "a long enough passphrase").await.status, StatusCode::OK);

    // A too-short password is refused with the reason.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["create-admin", "--email", "short@example.com"])
        .env("ROSTER_DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"short\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));
}

#[test]
fn invalid_configuration_stops_the_start_naming_the_key() {
    let cases = [
        ("ROSTER_SESSION_IDLE_TIMEOUT", "soon", "session_idle_timeout"),
        ("ROSTER_DATABASE_URL", "mysql://localhost/x", "database_url"),
        ("ROSTER_PUBLIC_URL", "ftp://example.com", "public_url"),
        ("ROSTER_LISTEN", "not-an-address", "listen"),
        ("ROSTER_SMTP_URL", "http://mail.example.com", "smtp_url"),
    ];
    for (key, value, named) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .env(key, value)
            .env("ROSTER_DATABASE_URL", if key == "ROSTER_DATABASE_URL" { value } else { "sqlite::memory:" })
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(err.contains("invalid configuration") && err.contains(named), "{key}={value}: {err}");
    }
}

//! Sign-in, sessions, first-run setup, configuration and operations.

use crate::helpers::*;
use crate::on_both_backends;
use app::account::UpdateMyName;
use app::audit::{AuditQuery, ListAudit};
use app::auth::{Me, Setup, SetupCheck, SignIn, SignOut};
use app::error::AppError;
use app::users::{ListUsers, UpdateUser, UserPage, UserQuery};
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
    client_ip_comes_from_trusted_proxies_only,
    requests_for_another_host_are_refused,
    post_without_origin_or_fetch_metadata_must_be_json,
    sign_in_never_redirects_off_roster,
    names_refuse_control_and_bidi_characters,
    security_headers_are_present,
    static_files_are_sent_precompressed_when_accepted,
    hashed_files_are_kept_a_year_and_pages_are_not,
    pages_are_compressed_on_the_fly_above_a_threshold,
);

async fn setup_link_creates_the_first_administrator_once(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let link = server.setup_link.clone().expect("setup link printed while no user exists");
    let token = link.rsplit('/').next().unwrap();
    assert!(link.starts_with(&format!("{}/setup/", server.base)), "{link}");
    assert_eq!(token.len(), 43, "256 bits, base64url");

    let mut anon = server.client();
    let r = anon.send(SetupCheck { token: token.to_string() }).await;
    assert!(r.ok());

    let mut admin = set_up_admin(&server).await;
    assert_eq!(admin.whoami().await.as_deref(), Some(ADMIN_EMAIL), "setup signs the admin in");

    // The link is single use.
    let r = anon.send(SetupCheck { token: token.to_string() }).await;
    assert!(!r.ok());
    let r = anon
        .send(Setup {
            token: token.to_string(),
            email: "second@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            password: ADMIN_PASSWORD.into(),
            password_confirmation: ADMIN_PASSWORD.into(),
        })
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

    // Behind an https public URL the cookie is Secure and `__Host-` prefixed
    // (so no sibling subdomain can plant one), and only that name is read.
    drop(server);
    let https = Server::start_with(&db, &[("ROSTER_PUBLIC_URL", "https://roster.example.com")]).await;
    // Browsers send the public host and origin; this client talks to the loopback address directly.
    let public = [("Host", "roster.example.com"), ("Origin", "https://roster.example.com")];
    let c = https.client();
    let r = c
        .post_form_with(
            SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: Some(String::new()) },
            &public,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-roster_session="), "{cookie}");
    let lower = cookie.to_lowercase();
    assert!(lower.contains("; secure") && lower.contains("path=/") && !lower.contains("domain"), "{cookie}");
    let value = cookie.trim_start_matches("__Host-roster_session=").split(';').next().unwrap();
    for (name, signed_in) in [("__Host-roster_session", true), ("roster_session", false)] {
        let cookie = format!("{name}={value}");
        let r = c.post_form_with(Me {}, &[public[0], public[1], ("Cookie", &cookie)]).await;
        let body = r.text().await.unwrap();
        assert_eq!(
            body.contains(ADMIN_EMAIL),
            signed_in,
            "only the prefixed cookie is read over https: {name}: {body}"
        );
    }
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
    assert_eq!(wrong.err(), AppError::BadCredentials);
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
    let r = on_b.send(SignOut {}).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_a.whoami().await, None);
}

async fn signing_out_ends_the_session(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut c = set_up_admin(&server).await;
    let kept = c.cookie.clone();
    let r = c.send(SignOut {}).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.set_cookie.unwrap().contains("Max-Age=0"), "cookie is cleared");
    let mut replay = server.client();
    replay.cookie = kept;
    assert_eq!(replay.whoami().await, None, "the old cookie is dead server-side");
    let r = replay.send(SignOut {}).await;
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
        .send(SignIn {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            next: Some("/account?tab=password".into()),
        })
        .await;
    assert_eq!(r.ok(), "/account?tab=password");
    let r = anon
        .send(SignIn {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            next: Some("https://evil.example/".into()),
        })
        .await;
    assert_eq!(r.ok(), "/", "no open redirect");
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
    // (Raw: typed arguments cannot carry a malformed or missing field.)
    let r = admin.call_raw("set_user_enabled", &[("id", "abc"), ("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let message = r.invalid();
    assert!(message.starts_with("The request could not be read"), "{:?}", r.body);
    let r = admin.call_raw("set_user_enabled", &[("enabled", "false")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.invalid().contains("id"), "{:?}", r.body);
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

/// One failed sign-in (a new email each time, so only the per-IP count can
/// throttle) with these extra headers; the status.
async fn failed_sign_in(c: &Client, n: &mut u32, headers: &[(&str, &str)]) -> StatusCode {
    *n += 1;
    let email = format!("nobody{n}@example.com");
    let mut h = vec![("Origin", c.base.as_str())];
    h.extend_from_slice(headers);
    let args = SignIn { email, password: "not the password at all".into(), next: Some(String::new()) };
    c.post_form_with(args, &h).await.status()
}

async fn client_ip_comes_from_trusted_proxies_only(backend: Backend) {
    let db = TestDb::new(backend);
    let env = [("ROSTER_SIGNIN_IP_FREE_FAILURES", "1"), ("ROSTER_SIGNIN_FAILURE_WINDOW", "1h")];
    let n = &mut 0;

    // No trusted proxies (the default): a spoofed X-Forwarded-For or Forwarded
    // is ignored, and every "client" shares the peer's budget of one failure.
    let server = Server::start_with(&db, &env).await;
    let mut admin = set_up_admin(&server).await;
    let c = server.client();
    let xff = |ip: &'static str| [("X-Forwarded-For", ip)];
    assert_eq!(failed_sign_in(&c, n, &xff("203.0.113.1")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(failed_sign_in(&c, n, &xff("203.0.113.2")).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(failed_sign_in(&c, n, &[("Forwarded", "for=203.0.113.3")]).await, StatusCode::TOO_MANY_REQUESTS);
    let ips = audit_ips(&mut admin).await;
    assert_eq!(ips, ["127.0.0.1"], "the audit log records the peer, not the header");
    drop(server);

    // Behind a trusted proxy (the tests' loopback peer), each forwarded client
    // has its own budget; the right-most untrusted hop counts, not what the
    // client wrote to the left of it; an IPv6 client is counted by its /64.
    let mut env = env.to_vec();
    env.push(("ROSTER_TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8"));
    let db = TestDb::new(backend);
    let server = Server::start_with(&db, &env).await;
    let mut admin = set_up_admin(&server).await;
    let c = server.client();
    assert_eq!(failed_sign_in(&c, n, &xff("198.51.100.1, 10.0.0.5")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failed_sign_in(&c, n, &xff("192.0.2.99, 198.51.100.1")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same client, whatever it writes to the left"
    );
    assert_eq!(failed_sign_in(&c, n, &xff("198.51.100.2")).await, StatusCode::UNAUTHORIZED, "another client");
    let fwd = |v: &'static str| [("Forwarded", v)];
    assert_eq!(failed_sign_in(&c, n, &fwd(r#"for="[2001:db8:1:2::a]:4711""#)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        failed_sign_in(&c, n, &fwd("for=\"[2001:db8:1:2:ffff::b]\"")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the same /64"
    );
    assert_eq!(failed_sign_in(&c, n, &xff("2001:db8:1:3::a")).await, StatusCode::UNAUTHORIZED, "another /64");
    let ips = audit_ips(&mut admin).await;
    for ip in ["198.51.100.1", "198.51.100.2", "2001:db8:1:2::/64", "2001:db8:1:3::/64"] {
        assert!(ips.iter().any(|i| i == ip), "audit records the client {ip}: {ips:?}");
    }
    assert!(!ips.iter().any(|i| i == "10.0.0.5" || i == "192.0.2.99"), "{ips:?}");
}

/// The distinct IPs of the failed sign-ins in the audit log.
async fn audit_ips(admin: &mut Client) -> Vec<String> {
    let mut ips: Vec<String> = audit_entries(admin, "sign_in.failure").await.into_iter().map(|e| e.ip).collect();
    ips.sort();
    ips.dedup();
    ips
}

async fn requests_for_another_host_are_refused(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let admin = set_up_admin(&server).await;
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let rebound = format!("rebind.evil.example:{port}");
    // DNS rebinding: the attacker's name, Roster's address.
    let r = admin.get_with("/users", &[("Host", &rebound)]).await;
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(r.text().await.unwrap().contains(&server.base), "the message names the address to use");
    let origin = format!("http://{rebound}");
    let r = admin.post_form_with(Me {}, &[("Host", &rebound), ("Origin", &origin)]).await;
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(!r.text().await.unwrap().contains(ADMIN_EMAIL));
    // Another port is another origin.
    let r = admin.get_with("/signin", &[("Host", "127.0.0.1:1")]).await;
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    // The public host, and loopback names for a loopback public URL, are served.
    // (Bodies are read to the end: a page dropped mid-stream only adds noise to the server's log.)
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let r = admin.get_with("/users", &[("Host", &host)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{host}");
        assert!(r.text().await.unwrap().contains("<h1>Users</h1>"), "{host}");
    }
    // Load balancers probe /healthz by the node's own address.
    assert_eq!(admin.get_with("/healthz", &[("Host", "10.1.2.3:3000")]).await.status(), StatusCode::OK);

    // With an https public URL, only that host (default port) is served.
    drop(server);
    let https = Server::start_with(&db, &[("ROSTER_PUBLIC_URL", "https://roster.example.com")]).await;
    let c = https.client();
    for host in ["roster.example.com", "roster.example.com:443"] {
        let r = c.get_with("/signin", &[("Host", host)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{host}");
        assert!(r.text().await.unwrap().contains("Sign in"), "{host}");
    }
    assert_eq!(c.get("/signin").await.status(), StatusCode::MISDIRECTED_REQUEST, "the loopback address is not it");
}

async fn post_without_origin_or_fetch_metadata_must_be_json(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let mut admin = set_up_admin(&server).await;
    let args = || SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: Some(String::new()) };
    // A form post (what a cross-site <form> sends) without Origin or Sec-Fetch-Site.
    let anon = server.client();
    let r = anon.post_form_with(args(), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().contains("application/json"), "the refusal says what is accepted");
    let r = admin.post_form_with(SignOut {}, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(admin.whoami().await.is_some(), "the session survived");
    // Sec-Fetch-Site: same-origin, or an Origin, or a JSON body are accepted.
    let r = anon.post_form_with(args(), &[("Sec-Fetch-Site", "same-origin")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = anon.post_form_with(args(), &[("Sec-Fetch-Site", "cross-site")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body = serde_json::to_string(&ListAudit { query: AuditQuery::default() }).unwrap();
    let cookie = format!("roster_session={}", admin.cookie.clone().unwrap());
    let r = reqwest::Client::new()
        .post(format!("{}/api/list_audit", server.base))
        .header("Content-Type", "application/json")
        .header("Cookie", cookie)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a script's JSON call needs no Origin");
}

async fn sign_in_never_redirects_off_roster(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    set_up_admin(&server).await;
    let mut c = server.client();
    // What `/signin?next=/%09/evil.example/` and its cousins hand to sign_in.
    for evil in [
        "/\t/evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\n/evil.example",
        "//evil.example",
        "javascript:alert(1)",
    ] {
        let r = c
            .send(SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: Some(evil.to_string()) })
            .await;
        assert_eq!(r.ok(), "/", "next={evil:?}");
    }
    for (next, to) in [("/users?page=2", "/users?page=2"), ("/%2F%2Fevil.example", "/%2F%2Fevil.example")] {
        let r = c
            .send(SignIn { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), next: Some(next.to_string()) })
            .await;
        assert_eq!(r.ok(), to, "next={next:?}");
    }
    let r = c
        .send(SignIn {
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            next: Some(format!("{}/account", server.base)),
        })
        .await;
    assert_eq!(r.ok(), "/account", "an absolute URL on Roster itself is kept, as a path");
}

async fn names_refuse_control_and_bidi_characters(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let token = server.setup_link.clone().unwrap().rsplit('/').next().unwrap().to_string();
    let mut anon = server.client();
    let setup = |first: &str| Setup {
        token: token.clone(),
        email: ADMIN_EMAIL.into(),
        first_name: first.into(),
        last_name: "Admin".into(),
        password: ADMIN_PASSWORD.into(),
        password_confirmation: ADMIN_PASSWORD.into(),
    };
    let r = anon.send(setup("Ada\u{202E}nimda")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let message = r.invalid();
    assert!(message.starts_with("First name") && message.contains("U+202E"), "{:?}", r.body);
    let mut admin = set_up_admin(&server).await;

    let r = admin.send(UpdateMyName { first_name: "Ada".into(), last_name: "Ad\tmin".into() }).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let message = r.invalid();
    assert!(message.starts_with("Last name") && message.contains("control characters"), "{:?}", r.body);

    let id = admin.invite("named@example.com", &[]).await.ok();
    let update = |first: &str| UpdateUser {
        id,
        first_name: first.into(),
        last_name: String::new(),
        email: "named@example.com".into(),
        role_ids: vec![],
    };
    let r = admin.send(update("\u{2067}Mallory\u{2069}")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.invalid().starts_with("First name"), "{:?}", r.body);
    // Names in any script still pass.
    let r = admin.send(update("Nguyễn محمد")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = admin.send(UpdateMyName { first_name: "José".into(), last_name: "O'Brien".into() }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

async fn security_headers_are_present(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    let page = server.client().get("/signin").await;
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain http");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the page's nonce");
    let r = server.client().get("/healthz").await;
    assert_eq!(r.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    drop(server);
    let https = Server::start_with(&db, &[("ROSTER_PUBLIC_URL", "https://roster.example.com")]).await;
    let r = https.client().get("/signin").await;
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

/// A site as `cargo leptos build --release --precompress` with `hash-files`
/// leaves it: `pkg/roster.<hash>.{js,wasm,css}`, each with a brotli (`.br`) and
/// a gzip (`.gz`) copy, the hash file, and a file without a hash.
struct Site {
    dir: TempDir,
    js: String,
    wasm: String,
    css: String,
}

const WASM_HASH: &str = "k1vx0LqTmgGr-4Xe_wQ9Zw";

fn site_body(kind: &str) -> Vec<u8> {
    // Compressible, like real code: repeated text with some variety.
    (0..4000).map(|i| format!("{kind} line {} of a test asset;\n", i % 97)).collect::<String>().into_bytes()
}

fn make_site() -> Site {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("roster_site_{}_{}", std::process::id(), rand_suffix()));
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let (js, wasm, css) = (
        "roster.Jx1z9GZpTSh2cM0GZ7bF3A.js".to_string(),
        format!("roster.{WASM_HASH}.wasm"),
        "roster.Cs5wQ2nRk8hQ-1_aXb2c9Q.css".to_string(),
    );
    for (name, kind) in [(&js, "js"), (&wasm, "wasm"), (&css, "css"), (&"plain.css".to_string(), "plain")] {
        let body = site_body(kind);
        std::fs::write(pkg.join(name), &body).unwrap();
        let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
        br.write_all(&body).unwrap();
        std::fs::write(pkg.join(format!("{name}.br")), br.into_inner()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body).unwrap();
        std::fs::write(pkg.join(format!("{name}.gz")), gz.finish().unwrap()).unwrap();
    }
    std::fs::write(
        dir.join("hash.txt"),
        format!("js: Jx1z9GZpTSh2cM0GZ7bF3A\nwasm: {WASM_HASH}\ncss: Cs5wQ2nRk8hQ-1_aXb2c9Q\n"),
    )
    .unwrap();
    Site { dir: TempDir(dir), js, wasm, css }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

async fn start_on_site(db: &TestDb, site: &Site) -> Server {
    Server::start_with(db, &[("ROSTER_SITE_ROOT", site.dir.0.to_str().unwrap())]).await
}

/// GET with the given `Accept-Encoding` (none if empty); reqwest here decodes nothing.
async fn get_encoded(server: &Server, path: &str, accept: &str) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.base));
    if !accept.is_empty() {
        req = req.header(reqwest::header::ACCEPT_ENCODING, accept);
    }
    req.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join(", ")
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).unwrap();
    out
}

fn ungzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

async fn static_files_are_sent_precompressed_when_accepted(backend: Backend) {
    let db = TestDb::new(backend);
    let site = make_site();
    let server = start_on_site(&db, &site).await;
    let pkg = site.dir.0.join("pkg");
    for (name, kind) in [(&site.wasm, "wasm"), (&site.js, "js"), (&site.css, "css")] {
        let path = format!("/pkg/{name}");
        let original = site_body(kind);

        let r = get_encoded(&server, &path, "br").await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&r, "content-encoding"), "br", "{path}");
        assert!(header(&r, "vary").to_lowercase().contains("accept-encoding"), "{path}: {:?}", r.headers());
        let body = r.bytes().await.unwrap();
        assert_eq!(body.as_ref(), std::fs::read(pkg.join(format!("{name}.br"))).unwrap(), "{path}: the .br file");
        assert!(body.len() < original.len() / 4, "{path}: brotli is smaller");
        assert_eq!(unbrotli(&body), original, "{path}");

        let r = get_encoded(&server, &path, "gzip").await;
        assert_eq!(header(&r, "content-encoding"), "gzip", "{path}");
        assert_eq!(ungzip(&r.bytes().await.unwrap()), original, "{path}");

        let r = get_encoded(&server, &path, "").await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.headers().get("content-encoding").is_none(), "{path}: identity without Accept-Encoding");
        assert!(header(&r, "vary").to_lowercase().contains("accept-encoding"), "{path}");
        assert_eq!(r.bytes().await.unwrap().as_ref(), original, "{path}");
    }
    let r = get_encoded(&server, &format!("/pkg/{}", site.wasm), "br").await;
    assert_eq!(header(&r, "content-type"), "application/wasm");
    let r = get_encoded(&server, "/pkg/no-such-file.js", "br").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

async fn hashed_files_are_kept_a_year_and_pages_are_not(backend: Backend) {
    let db = TestDb::new(backend);
    let site = make_site();
    let server = start_on_site(&db, &site).await;

    // The page names the hashed files of this site (from its hash file).
    let page = get_encoded(&server, "/signin", "").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, "cache-control"), "no-cache", "HTML is asked for again every time");
    let html = page.text().await.unwrap();
    for name in [&site.js, &site.wasm, &site.css] {
        assert!(html.contains(&format!("/pkg/{name}")), "the page names {name}: {html}");
    }
    assert!(!html.contains("/pkg/roster.css") && !html.contains("/pkg/roster.wasm"), "no unhashed names");

    for name in [&site.js, &site.wasm, &site.css] {
        for accept in ["br", ""] {
            let r = get_encoded(&server, &format!("/pkg/{name}"), accept).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "cache-control"), "public, max-age=31536000, immutable", "{name} ({accept})");
        }
    }
    // A file without a content hash may change under the same name.
    let r = get_encoded(&server, "/pkg/plain.css", "br").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), "no-cache");
    let r = get_encoded(&server, "/pkg/roster.AAAAAAAAAAAAAAAAAAAAAA.wasm", "").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!header(&r, "cache-control").contains("immutable"), "a miss is not kept");
    let r = reqwest::Client::new()
        .post(format!("{}/api/me", server.base))
        .header("Origin", &server.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), "no-cache", "server-function answers are not kept");
}

async fn pages_are_compressed_on_the_fly_above_a_threshold(backend: Backend) {
    let db = TestDb::new(backend);
    let site = make_site();
    let server = start_on_site(&db, &site).await;
    let plain = get_encoded(&server, "/signin", "").await.text().await.unwrap();
    assert!(plain.len() > 1024, "the sign-in page is over the threshold");

    let r = get_encoded(&server, "/signin", "br").await;
    assert_eq!(header(&r, "content-encoding"), "br");
    assert!(header(&r, "vary").to_lowercase().contains("accept-encoding"));
    let html = String::from_utf8(unbrotli(&r.bytes().await.unwrap())).unwrap();
    assert!(html.contains("<form") && html.contains("</html>"), "the whole streamed page: {html}");
    assert_eq!(html.len(), plain.len(), "the same page, compressed");

    let r = get_encoded(&server, "/signin", "gzip").await;
    assert_eq!(header(&r, "content-encoding"), "gzip");
    assert!(String::from_utf8(ungzip(&r.bytes().await.unwrap())).unwrap().contains("<form"));

    // A small server-function answer is sent as it is.
    let r = reqwest::Client::new()
        .post(format!("{}/api/me", server.base))
        .header("Origin", &server.base)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header(reqwest::header::ACCEPT_ENCODING, "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-encoding").is_none(), "{:?}", r.headers());

    // A larger one (a page of users) is compressed.
    let mut admin = set_up_admin(&server).await;
    for i in 0..12 {
        let r = admin.invite(&format!("compressed.user{i}@example.com"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let query = ListUsers { query: UserQuery { sort: "email".into(), ..Default::default() } };
    let r = reqwest::Client::new()
        .post(format!("{}/api/list_users", server.base))
        .header("Origin", &server.base)
        .header("Content-Type", "application/json")
        .header("Cookie", format!("roster_session={}", admin.cookie.clone().unwrap()))
        .header(reqwest::header::ACCEPT_ENCODING, "gzip, br")
        .body(serde_json::to_string(&query).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let encoding = header(&r, "content-encoding");
    let bytes = r.bytes().await.unwrap();
    let json = match encoding.as_str() {
        "br" => unbrotli(&bytes),
        "gzip" => ungzip(&bytes),
        other => panic!("a page of users is compressed, got {other:?}"),
    };
    let page: UserPage = serde_json::from_slice(&json).unwrap();
    assert_eq!(page.rows.len(), 13, "{page:?}");
    assert!(json.len() > 1024 && bytes.len() < json.len() / 2, "{} of {} bytes", bytes.len(), json.len());
}

//! `/metrics`: off without `metrics_token`, behind its bearer token with it,
//! and what it reports moves with what happened (sign-ins by outcome,
//! requests by group and status, the outbox from the database, the pool).

use crate::helpers::*;
use reqwest::header::{CONTENT_TYPE, SET_COOKIE, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "monitoring-test-token-0123456789abcdef";

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// GET /metrics with this `Authorization` header, if any.
async fn get_metrics(server: &Server, authorization: Option<&str>) -> reqwest::Response {
    let headers: Vec<(&str, &str)> = authorization.map(|a| vec![("authorization", a)]).unwrap_or_default();
    server.client().get_with("/metrics", &headers).await
}

/// One scrape, read by a Prometheus text parser.
struct Metrics(prometheus_parse::Scrape);

impl Metrics {
    /// The value of the sample `name` whose labels are exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        use prometheus_parse::Value;
        self.0
            .samples
            .iter()
            .find(|s| {
                s.metric == name
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                other => panic!("{name} is not a single value: {other:?}"),
            })
    }

    /// [`Metrics::value`], which must be there.
    #[track_caller]
    fn must(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in {:#?}", self.0.samples))
    }

    /// A counter: 0 until its first event.
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or(0.0)
    }

    /// `roster_http_requests_total` by (group, status).
    fn requests(&self) -> HashMap<(String, String), f64> {
        let mut out = HashMap::new();
        for s in self.0.samples.iter().filter(|s| s.metric == "roster_http_requests_total") {
            let mut keys: Vec<&str> = s.labels.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(keys, ["group", "status"], "labels of {s:?}");
            let (group, status) = (s.labels.get("group").unwrap(), s.labels.get("status").unwrap());
            assert!(
                ["page", "api", "oidc", "static", "export", "probe", "metrics", "other"].contains(&group),
                "a group, never a path: {group}"
            );
            assert!(status.len() == 3 && status.parse::<u16>().is_ok(), "a status code: {status}");
            let prometheus_parse::Value::Counter(v) = s.value else { panic!("not a counter: {s:?}") };
            out.insert((group.to_string(), status.to_string()), v);
        }
        out
    }
}

/// Read Prometheus text strictly: every line is a comment the format knows
/// (`# HELP`, `# TYPE` with a known type), a sample whose value is a number,
/// or empty; then parse it.
fn parse(text: &str) -> Metrics {
    use prometheus_parse::LineInfo;
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    for line in text.lines() {
        match LineInfo::parse(line) {
            LineInfo::Doc { .. } | LineInfo::Empty => {}
            LineInfo::Type { sample_type, .. } => {
                assert_ne!(sample_type, prometheus_parse::SampleType::Untyped, "a known TYPE: {line}")
            }
            LineInfo::Sample { value, timestamp, .. } => {
                let v = value.to_ascii_lowercase();
                assert!(v.parse::<f64>().is_ok() || v == "nan" || v.ends_with("inf"), "a number: {line}");
                assert!(timestamp.is_none(), "no timestamps: {line}");
            }
            LineInfo::Ignored => panic!("not Prometheus text: {line:?}"),
        }
    }
    let lines = text.lines().map(|l| Ok(l.to_string()));
    Metrics(prometheus_parse::Scrape::parse(lines).expect("Prometheus text"))
}

/// Scrape with the token.
async fn scrape(server: &Server) -> Metrics {
    let r = get_metrics(server, Some(&bearer())).await;
    assert_eq!(r.status(), StatusCode::OK);
    let kind = r.headers().get(CONTENT_TYPE).unwrap().to_str().unwrap().to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    assert!(r.headers().get(SET_COOKIE).is_none(), "a scrape starts no session");
    parse(&r.text().await.unwrap())
}

async fn start(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut all = vec![("ROSTER_METRICS_TOKEN", TOKEN)];
    all.extend_from_slice(env);
    Server::start_with(db, &all).await
}

crate::on_both_backends!(
    metrics_are_not_served_without_a_token,
    metrics_need_the_bearer_token,
    sign_ins_are_counted_by_outcome,
    requests_are_counted_by_group_and_status,
    the_outbox_and_the_pool_are_read_at_scrape_time,
    abandoned_page_loads_are_counted_once_without_a_panic,
);

/// Deny by default: no `metrics_token`, no metrics, whatever is sent.
async fn metrics_are_not_served_without_a_token(backend: Backend) {
    let db = TestDb::new(backend);
    let server = Server::start(&db).await;
    for auth in [None, Some(bearer())] {
        let r = get_metrics(&server, auth.as_deref()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{auth:?}");
        assert!(!r.text().await.unwrap().contains("roster_"), "no metric leaks");
    }
    // A token too short to be safe stops the start, without echoing it.
    let out = Server::refuses_to_start(&db, &[("ROSTER_METRICS_TOKEN", "guessable-token")]);
    assert!(out.contains("metrics_token") && out.contains("at least 32"), "{out}");
    assert!(!out.contains("guessable-token"), "the token is not printed: {out}");
}

/// 401 with `WWW-Authenticate: Bearer` for a missing or wrong token; the
/// token itself is never logged, and no scrape makes a session.
async fn metrics_need_the_bearer_token(backend: Backend) {
    let db = TestDb::new(backend);
    let server = start(&db, &[("ROSTER_LOG", "info")]).await;
    let wrong = [
        "Bearer not-the-metrics-token-not-the-metrics-token".to_string(),
        format!("Bearer {}", &TOKEN[..TOKEN.len() - 1]),
        format!("Bearer {TOKEN}x"),
        format!("Basic {TOKEN}"),
        TOKEN.to_string(),
    ];
    let r = get_metrics(&server, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers().get(WWW_AUTHENTICATE).expect("a challenge").to_str().unwrap().to_string();
    assert!(challenge.starts_with("Bearer ") && !challenge.contains("error="), "{challenge}");
    assert!(!r.text().await.unwrap().contains("roster_"), "no metric without the token");
    for auth in &wrong {
        let r = get_metrics(&server, Some(auth)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth}");
        let challenge = r.headers().get(WWW_AUTHENTICATE).expect("a challenge").to_str().unwrap().to_string();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(!r.text().await.unwrap().contains("roster_"), "no metric with {auth}");
    }
    // The right token, its scheme in any case.
    let m = scrape(&server).await;
    assert!(m.0.docs.contains_key("roster_sign_ins_total"), "each metric has its HELP line");
    let r = get_metrics(&server, Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Prometheus scrapes a node by its own address, and cannot set Host;
    // the token guards /metrics whatever the Host, pages still need theirs.
    let c = server.client();
    let node = [("Host", "10.1.2.3:3000")];
    let r = c.get_with("/metrics", &[node[0], ("Authorization", &bearer())]).await;
    assert_eq!(r.status(), StatusCode::OK);
    parse(&r.text().await.unwrap());
    assert_eq!(c.get_with("/metrics", &node).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(c.get_with("/signin", &node).await.status(), StatusCode::MISDIRECTED_REQUEST);

    let sessions = scalar(&db, "SELECT COUNT(*) FROM sessions").await;
    assert_eq!(sessions, 0, "scrapes start no session");
    let log = server.log();
    assert!(log.contains("wrong bearer token"), "a wrong token is logged:\n{log}");
    assert!(!log.contains("metrics-token") && !log.contains(TOKEN), "no token in the log:\n{log}");
}

/// A failed sign-in, a locked account's refusal and a successful sign-in
/// move the counters of exactly those outcomes, the throttle's decisions and
/// the Argon2 waits (one verification each) by exactly as much.
async fn sign_ins_are_counted_by_outcome(backend: Backend) {
    let db = TestDb::new(backend);
    // The second failure in the window locks an account.
    let server = start(&db, &[("ROSTER_SIGNIN_FREE_FAILURES", "1"), ("ROSTER_SIGNIN_LOCKOUT_FAILURES", "2")]).await;
    let _admin = set_up_admin(&server).await;
    let before = scrape(&server).await;
    for outcome in ["success", "second_factor_required", "wrong_credentials", "locked", "throttled", "busy", "error"] {
        assert_eq!(before.must("roster_sign_ins_total", &[("outcome", outcome)]), 0.0, "{outcome} from the start");
    }

    let mut c = server.client();
    assert_eq!(c.sign_in("nobody@example.com", "not the password").await.status, StatusCode::UNAUTHORIZED);
    // Past the one second the throttle then asks to wait: the second failure locks.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(c.sign_in("nobody@example.com", "not the password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(c.sign_in("nobody@example.com", "not the password").await.status, StatusCode::UNAUTHORIZED);
    let r = c.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let after = scrape(&server).await;
    let moved = |name: &str, labels: &[(&str, &str)]| after.count(name, labels) - before.count(name, labels);
    let outcomes = [
        ("success", 1.0),
        ("second_factor_required", 0.0),
        ("wrong_credentials", 2.0),
        ("locked", 1.0),
        ("throttled", 0.0),
        ("busy", 0.0),
        ("error", 0.0),
    ];
    for (outcome, n) in outcomes {
        assert_eq!(moved("roster_sign_ins_total", &[("outcome", outcome)]), n, "sign-ins {outcome}");
    }
    for (decision, n) in [("allow", 3.0), ("wait", 0.0), ("locked", 1.0)] {
        let name = "roster_sign_in_throttle_decisions_total";
        assert_eq!(moved(name, &[("decision", decision)]), n, "throttle decisions {decision}");
    }
    // A locked account's refusal costs one verification too.
    assert_eq!(moved("roster_argon2_wait_seconds_count", &[]), 4.0, "one Argon2 job per attempt");
    assert_eq!(moved("roster_argon2_rejected_total", &[]), 0.0);
}

/// Each request is counted under its group and status, and timed.
async fn requests_are_counted_by_group_and_status(backend: Backend) {
    let db = TestDb::new(backend);
    let server = start(&db, &[]).await;
    let c = server.client();
    let before = scrape(&server).await;

    let mut made: HashMap<(String, String), f64> = HashMap::new();
    let mut note = |group: &str, status: StatusCode| {
        *made.entry((group.to_string(), status.as_u16().to_string())).or_default() += 1.0;
    };
    for (group, path) in [
        ("probe", "/healthz"),
        ("probe", "/readyz"),
        ("probe", "/healthz"),
        ("oidc", "/.well-known/openid-configuration"),
        ("static", "/pkg/no-such-file.js"),
        ("page", "/users"),
        ("page", "/signin"),
    ] {
        let r = c.get(path).await;
        let status = r.status();
        r.bytes().await.unwrap();
        note(group, status);
    }
    let mut api = server.client();
    note("api", api.sign_in("nobody@example.com", "not the password").await.status);
    let r = get_metrics(&server, None).await;
    note("metrics", r.status());
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let r = c.get_with("/users", &[("Host", &format!("rebind.evil.example:{port}"))]).await;
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
    note("page", r.status());
    // What the test expects to see, besides the statuses it saw.
    for key in [("probe", "200"), ("static", "404"), ("api", "401"), ("metrics", "401"), ("page", "421")] {
        assert!(made.contains_key(&(key.0.to_string(), key.1.to_string())), "{key:?} in {made:?}");
    }

    // A request is recorded as its response ends: wait (a bounded time) until all are in.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let after = loop {
        let m = scrape(&server).await;
        let (was, now) = (before.requests(), m.requests());
        let all_in = made.iter().all(|(k, n)| now.get(k).unwrap_or(&0.0) - was.get(k).unwrap_or(&0.0) >= *n);
        if all_in || std::time::Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (was, now) = (before.requests(), after.requests());
    for (key, n) in &made {
        let moved = now.get(key).copied().unwrap_or(0.0) - was.get(key).copied().unwrap_or(0.0);
        assert_eq!(moved, *n, "requests {key:?}: {now:?}");
    }
    // Nothing else moved but the scrapes themselves.
    for (key, count) in &now {
        if !made.contains_key(key) && key != &("metrics".to_string(), "200".to_string()) {
            assert_eq!(*count, was.get(key).copied().unwrap_or(0.0), "requests {key:?} moved unasked");
        }
    }
    // Timed: the probe group's histogram counted its three requests, in buckets.
    let timed = |m: &Metrics| m.count("roster_http_request_duration_seconds_count", &[("group", "probe")]);
    assert_eq!(timed(&after) - timed(&before), 3.0);
    let buckets = after
        .0
        .samples
        .iter()
        .find(|s| s.metric == "roster_http_request_duration_seconds" && s.labels.get("group") == Some("probe"))
        .expect("the probe group's histogram");
    let prometheus_parse::Value::Histogram(buckets) = &buckets.value else { panic!("a histogram: {buckets:?}") };
    let all = buckets.iter().find(|b| b.less_than.is_infinite()).expect("an +Inf bucket");
    assert_eq!(all.count, timed(&after));
    assert!(buckets.len() > 5, "buckets, not a summary: {buckets:?}");
}

/// The outbox gauges are read from the database at each scrape, so another
/// process's scrape shows an email this one queued; the pool and the
/// Argon2 queue are there too.
async fn the_outbox_and_the_pool_are_read_at_scrape_time(backend: Backend) {
    let db = TestDb::new(backend);
    // No SMTP server: an invitation stays queued.
    let server = start(&db, &[("ROSTER_ARGON2_QUEUE_LIMIT", "7")]).await;
    let mut admin = set_up_admin(&server).await;
    let other = start(&db, &[]).await;

    let m = scrape(&other).await;
    assert_eq!(m.must("roster_outbox_emails", &[("status", "queued")]), 0.0);
    assert_eq!(m.must("roster_outbox_oldest_queued_age_seconds", &[]), 0.0, "none queued");
    assert_eq!(m.must("roster_database_up", &[]), 1.0);

    let r = admin.invite("ann@example.com", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for s in [&server, &other] {
        let m = scrape(s).await;
        assert_eq!(m.must("roster_outbox_emails", &[("status", "queued")]), 1.0);
        assert_eq!(m.must("roster_outbox_emails", &[("status", "sending")]), 0.0);
        assert_eq!(m.must("roster_outbox_emails", &[("status", "failed")]), 0.0);
        let age = m.must("roster_outbox_oldest_queued_age_seconds", &[]);
        assert!((0.0..600.0).contains(&age), "queued just now: {age}");
    }

    // Written an hour ago, as far as the database says.
    execute(&db, "UPDATE emails SET created_at = created_at - 3600000").await;
    let age = scrape(&other).await.must("roster_outbox_oldest_queued_age_seconds", &[]);
    assert!((3600.0..4200.0).contains(&age), "an hour old: {age}");
    execute(&db, "UPDATE emails SET status = 'failed'").await;
    let m = scrape(&other).await;
    assert_eq!(m.must("roster_outbox_emails", &[("status", "queued")]), 0.0);
    assert_eq!(m.must("roster_outbox_emails", &[("status", "failed")]), 1.0);
    assert_eq!(m.must("roster_outbox_oldest_queued_age_seconds", &[]), 0.0, "none queued any more");

    // This process's pool.
    let m = scrape(&server).await;
    let max = m.must("roster_db_pool_max_connections", &[]);
    assert_eq!(max, if backend == Backend::Sqlite { 8.0 } else { 16.0 });
    let (idle, in_use) = (
        m.must("roster_db_pool_connections", &[("state", "idle")]),
        m.must("roster_db_pool_connections", &[("state", "in_use")]),
    );
    assert!(idle + in_use >= 1.0 && idle + in_use <= max, "idle {idle}, in use {in_use}");
    // The Argon2 queue, at rest.
    assert_eq!(m.must("roster_argon2_queue_limit", &[]), 7.0);
    assert_eq!(m.must("roster_argon2_jobs", &[("state", "waiting")]), 0.0);
    assert_eq!(m.must("roster_argon2_jobs", &[("state", "running")]), 0.0);
}

/// Page loads the browser abandons (before the answer, after its first
/// part, at its headers) leave no panic with the counting body in place
/// (the server's log is checked when it stops), and each one that reached
/// the server is counted once and timed once.
async fn abandoned_page_loads_are_counted_once_without_a_panic(backend: Backend) {
    const LOADS: usize = 300;
    const PAGES: &[&str] = &["/", "/users", "/roles", "/email-queue", "/audit-log", "/account", "/no-such-page"];
    let db = TestDb::new(backend);
    let server = start(&db, &[]).await;
    let admin = set_up_admin(&server).await;
    let cookie = format!("roster_session={}", admin.cookie.clone().expect("signed in"));
    let pages =
        |m: &Metrics| m.requests().iter().filter(|((group, _), _)| group == "page").map(|(_, n)| n).sum::<f64>();
    let timed = |m: &Metrics| m.count("roster_http_request_duration_seconds_count", &[("group", "page")]);
    let before = scrape(&server).await;

    abandon_page_loads(&server.base, &cookie, PAGES, LOADS, true).await;

    // Until the count stops moving (a bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = pages(&before);
    let after = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let m = scrape(&server).await;
        if pages(&m) == last || std::time::Instant::now() > deadline {
            break m;
        }
        last = pages(&m);
    };
    let counted = pages(&after) - pages(&before);
    // Two loads in three got an answer, so reached the server; the others
    // may not have, or left before the answer began (counted as 499).
    let answered = (0..LOADS).filter(|i| i % 3 != 0).count() as f64;
    assert!((answered..=LOADS as f64).contains(&counted), "{counted} page loads counted of {LOADS}");
    assert_eq!(timed(&after) - timed(&before), counted, "each counted load is timed once");
}

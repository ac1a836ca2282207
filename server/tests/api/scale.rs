//! Scale-out: several server processes on one database, and faults while they work.

use crate::helpers::*;
use app::registry::{AppId, Permission};
use app::roles::CreateRole;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Put `n` ready-to-send emails straight into the outbox (the workers are what is under test).
async fn queue_emails(db: &TestDb, n: usize) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = conn.begin().await.unwrap();
        let mut sql = String::from(
            "INSERT INTO emails (kind, to_addr, subject, body_text, body_html, message_id, status, attempts, \
             max_attempts, created_at, next_attempt_at) VALUES ",
        );
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| {
                format!(
                    "('invitation', 'bulk{i}@example.com', 'You have been invited to join Roster', 'Hello {i}', \
                     '<p>Hello {i}</p>', 'bulk-{i}@roster.test', 'queued', 0, 8, {now}, {now})"
                )
            })
            .collect();
        sql.push_str(&rows.join(", "));
        sqlx::query(&sql).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
}

fn message_ids(sink: &SmtpSink) -> Vec<String> {
    sink.messages().iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect()
}

async fn wait_until_all_sent(db: &TestDb, sink: &SmtpSink, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let distinct: HashSet<String> = message_ids(sink).into_iter().collect();
        if distinct.len() == n && scalar(db, "SELECT COUNT(*) FROM emails WHERE status <> 'sent'").await == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "only {} of {n} emails arrived in {within:?}", distinct.len());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_emails_from_two_nodes_arrive_exactly_once() {
    const N: usize = 10_000;
    let db = TestDb::new(Backend::Postgres);
    let sink = SmtpSink::start_lean();
    // Migrate first, then load the queue, then let two nodes drain it.
    drop(Server::start(&db).await);
    queue_emails(&db, N).await;
    let env = mail_env(&sink);
    let started = Instant::now();
    let mut a = Server::start_with(&db, &as_refs(&env)).await;
    let mut b = Server::start_with(&db, &as_refs(&env)).await;
    wait_until_all_sent(&db, &sink, N, Duration::from_secs(600)).await;
    let ids = message_ids(&sink);
    let counts = ids.iter().fold(HashMap::new(), |mut m, id| {
        *m.entry(id.clone()).or_insert(0) += 1;
        m
    });
    assert_eq!(ids.len(), N, "each email exactly once ({} duplicates)", ids.len() - counts.len());
    assert!(counts.values().all(|c| *c == 1));
    assert!(a.is_running() && b.is_running(), "no node crashed");
    println!("two nodes sent {N} emails in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_killing_nodes_while_they_send_loses_no_email() {
    // 3,000 in `make test`; `make bench` runs the full 10,000.
    let n = std::env::var("ROSTER_CHAOS_EMAILS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000usize);
    let db = TestDb::new(Backend::Postgres);
    let sink = SmtpSink::start_lean();
    drop(Server::start(&db).await);
    queue_emails(&db, n).await;
    let mut env = mail_env(&sink);
    env.push(("ROSTER_MAIL_LEASE".into(), "3s".into()));
    let mut nodes = [Server::start_with(&db, &as_refs(&env)).await, Server::start_with(&db, &as_refs(&env)).await];
    let mut in_flight_at_kills = 0usize;
    let mut kills = 0;
    // Kill -9 one node every couple of seconds while both send, and restart it.
    while sink.count() < n * 3 / 4 && kills < 10 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let victim = kills % 2;
        nodes[victim].kill();
        in_flight_at_kills += scalar(&db, "SELECT COUNT(*) FROM emails WHERE status = 'sending'").await as usize;
        kills += 1;
        nodes[victim] = Server::start_with(&db, &as_refs(&env)).await;
    }
    assert!(kills >= 2, "the run was too short to kill anything");
    let after_last_kill = Instant::now();
    // A claimed email whose node died is sent again once its lease ends: well within 2 minutes.
    wait_until_all_sent(&db, &sink, n, Duration::from_secs(120)).await;
    let duplicates = message_ids(&sink).len() - n;
    println!(
        "chaos: {n} emails, {kills} kills, {in_flight_at_kills} in flight at the kills, {duplicates} duplicates, drained {:?} after the last kill",
        after_last_kill.elapsed()
    );
    assert!(duplicates <= in_flight_at_kills, "{duplicates} duplicates > {in_flight_at_kills} in flight at the kills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_fifty_concurrent_writers_never_see_database_busy() {
    let db = TestDb::new(Backend::Sqlite);
    let server = Server::start_with(&db, UNTHROTTLED).await;
    let admin = set_up_admin(&server).await;
    let role = {
        let mut a = admin.clone();
        let r = a.send(CreateRole { name: "Load testers".into(), description: String::new() }).await;
        r.ok()
    };
    let stop = Instant::now() + Duration::from_secs(30);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..50usize {
        let mut c = admin.clone();
        let mut anon = server.client();
        tasks.spawn(async move {
            let (mut ok, mut failures) = (0usize, Vec::new());
            let mut i = 0usize;
            while Instant::now() < stop {
                let r = match (w + i) % 3 {
                    0 => c.invite(&format!("w{w}-{i}@example.com"), &[]).await.untyped(),
                    1 => anon.sign_in(ADMIN_EMAIL, "a wrong password for load").await.untyped(),
                    _ => {
                        let app = if i.is_multiple_of(2) { AppId::Users } else { AppId::EmailQueue };
                        set_grants(&mut c, role, &[(app, Permission::View)]).await.untyped()
                    }
                };
                // A wrong password is the expected answer to the sign-ins; anything 5xx is a failure.
                if r.status.is_server_error() {
                    failures.push(format!("{}: {}", r.status, r.body));
                } else {
                    ok += 1;
                }
                i += 1;
            }
            (ok, failures)
        });
    }
    let (mut ok, mut failures) = (0, Vec::new());
    while let Some(r) = tasks.join_next().await {
        let (o, f) = r.unwrap();
        ok += o;
        failures.extend(f);
    }
    println!("sqlite: {ok} writes by 50 concurrent writers in 30 s, {} failures", failures.len());
    assert!(failures.is_empty(), "{} requests failed, e.g. {:?}", failures.len(), &failures[..failures.len().min(3)]);
    assert!(ok > 100, "the writers barely ran: {ok}");
}

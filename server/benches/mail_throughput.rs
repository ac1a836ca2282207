//! Mail throughput: Roster's outbox worker (the real `server` binary, pooled
//! lettre transport, claiming from the database) against a bare lettre loop
//! sending the same messages over the same pool size, to the same local SMTP
//! server (aiosmtpd, in its lean mode: it records each message's id,
//! recipients and subject without MIME-parsing it), in the same run.
//!
//! Run: `cargo bench -p server --bench mail_throughput` (N via ROSTER_BENCH_MAILS).

// Test and benchmark code: a failed step panics with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/api/helpers.rs"]
mod helpers;

use helpers::*;
use lettre::message::MultiPart;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn count() -> usize {
    std::env::var("ROSTER_BENCH_MAILS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

async fn bare_lettre(sink: &SmtpSink, n: usize) -> f64 {
    let transport = Arc::new(
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
            .unwrap()
            .pool_config(PoolConfig::new().max_size(16))
            .build(),
    );
    let before = sink.count();
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (t, permit) = (transport.clone(), sem.clone().acquire_owned().await.unwrap());
        tasks.spawn(async move {
            let link = format!("http://127.0.0.1:3000/signup/{}", "x".repeat(43));
            let m = Message::builder()
                .from("Roster <roster@localhost>".parse().unwrap())
                .to(format!("bare{i}@example.com").parse().unwrap())
                .subject("You have been invited to join Roster")
                .multipart(MultiPart::alternative_plain_html(
                    format!("Hello,\n\nOpen this link to sign up:\n{link}\n"),
                    format!("<p>Hello,</p><p><a href=\"{link}\">Sign up</a></p>"),
                ))
                .unwrap();
            t.send(m).await.unwrap();
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    sink.wait_for_count(before + n, 120).await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn roster(backend: Backend, sink: &SmtpSink, n: usize) -> f64 {
    let db = TestDb::new(backend);
    let mut quiet = Server::start(&db).await;
    let admin = set_up_admin(&quiet).await;
    invite_many(&admin, "bench", n).await;
    quiet.kill();
    let before = sink.count();
    let env = [("ROSTER_SMTP_URL", sink.url()), ("ROSTER_MAIL_POLL_INTERVAL", "20ms".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start = Instant::now();
    let _sender = Server::start_with(&db, &env).await;
    sink.wait_for_count(before + n, 300).await;
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let n = count();
        let sink = SmtpSink::start_lean();
        // Warm the sink and the pool.
        bare_lettre(&sink, 50).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let bare = bare_lettre(&sink, n).await;
        let sqlite = roster(Backend::Sqlite, &sink, n).await;
        let postgres = roster(Backend::Postgres, &sink, n).await;
        println!("mail throughput, {n} messages each, to aiosmtpd on 127.0.0.1 (lean sink: records Message-ID, recipients, subject):");
        println!("  bare lettre loop (pool 16, 32 in flight): {bare:.0} msg/s");
        println!("  Roster worker, SQLite:                    {sqlite:.0} msg/s ({:.0} % of the loop)", 100.0 * sqlite / bare);
        println!("  Roster worker, PostgreSQL:                {postgres:.0} msg/s ({:.0} % of the loop)", 100.0 * postgres / bare);
    });
}

//! Does response time tell which accounts exist? Median response time of
//! sign-in (wrong password) and forgot password, for an existing and an
//! unknown email, over the real HTTP endpoints of the release `server`.
//! Requests alternate between the two emails so drift hits both alike.
//!
//! Run: `cargo bench -p server --bench enumeration_timing` (N via ROSTER_BENCH_REQUESTS, default 300).

// Test and benchmark code: a failed step panics with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/api/helpers.rs"]
mod helpers;

use app::auth::{ForgotPassword, SignIn};
use helpers::*;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

async fn timed<S: Args>(c: &mut Client, args: S) -> f64 {
    let t = Instant::now();
    let r = c.send(args).await;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(r.status.as_u16() == 200 || r.status.as_u16() == 401, "{}: {:?}", S::PATH, r.body);
    ms
}

/// A sign-in with a wrong password.
fn wrong_sign_in(email: &str) -> SignIn {
    SignIn { email: email.into(), password: "wrong password!".into(), next: Some(String::new()) }
}

fn forgot(email: &str) -> ForgotPassword {
    ForgotPassword { email: email.into() }
}

fn main() {
    let n: usize = std::env::var("ROSTER_BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let db = TestDb::new(Backend::Sqlite);
        // Throttling off for the measurement: it would answer repeated failures early.
        let server = Server::start_with(&db, UNTHROTTLED).await;
        set_up_admin(&server).await;
        let mut c = server.client();
        let unknown = "nobody.here@example.com";
        // Warm up.
        for _ in 0..10 {
            timed(&mut c, wrong_sign_in(ADMIN_EMAIL)).await;
            timed(&mut c, wrong_sign_in(unknown)).await;
        }
        let (mut si_known, mut si_unknown, mut fp_known, mut fp_unknown) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            si_known.push(timed(&mut c, wrong_sign_in(ADMIN_EMAIL)).await);
            si_unknown.push(timed(&mut c, wrong_sign_in(unknown)).await);
        }
        for _ in 0..n {
            fp_known.push(timed(&mut c, forgot(ADMIN_EMAIL)).await);
            fp_unknown.push(timed(&mut c, forgot(unknown)).await);
        }
        let (a, b) = (median(si_known), median(si_unknown));
        println!(
            "sign-in, wrong password, {n} requests each: existing {a:.2} ms, unknown {b:.2} ms, difference {:.2} ms",
            (a - b).abs()
        );
        let (a, b) = (median(fp_known), median(fp_unknown));
        println!(
            "forgot password, {n} requests each: existing {a:.2} ms, unknown {b:.2} ms, difference {:.2} ms",
            (a - b).abs()
        );
    });
}

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

async fn timed(c: &mut Client, endpoint: &str, args: &[(&str, &str)]) -> f64 {
    let t = Instant::now();
    let r = c.call(endpoint, args).await;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    assert!(r.status.as_u16() == 200 || r.status.as_u16() == 401, "{endpoint}: {:?}", r.body);
    ms
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
            timed(&mut c, "sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong password!"), ("next", "")]).await;
            timed(&mut c, "sign_in", &[("email", unknown), ("password", "wrong password!"), ("next", "")]).await;
        }
        let (mut si_known, mut si_unknown, mut fp_known, mut fp_unknown) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            si_known.push(
                timed(&mut c, "sign_in", &[("email", ADMIN_EMAIL), ("password", "wrong password!"), ("next", "")])
                    .await,
            );
            si_unknown.push(
                timed(&mut c, "sign_in", &[("email", unknown), ("password", "wrong password!"), ("next", "")]).await,
            );
        }
        for _ in 0..n {
            fp_known.push(timed(&mut c, "forgot_password", &[("email", ADMIN_EMAIL)]).await);
            fp_unknown.push(timed(&mut c, "forgot_password", &[("email", unknown)]).await);
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

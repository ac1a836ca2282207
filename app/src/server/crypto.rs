//! Tokens and password hashes.
//!
//! Tokens are 256 bits from the operating system's CSPRNG, shown to the user
//! once, and stored only as a SHA-256 hash. Password hashing is Argon2id with
//! OWASP's parameters, run on Roster's own threads (one per core) so it never
//! stalls the async threads, at most one computation per core at a time, each
//! verification reusing a pooled 19 MiB working memory, behind a queue of
//! bounded depth (see [`Passwords`]).

use crate::error::AppError;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A secret token as handed to a user (in a cookie or a link). Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// 32 bytes from the OS CSPRNG, base64url without padding (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accept only strings shaped like a token Roster made; anything else is refused
    /// before it reaches the database.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores: SHA-256, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

#[allow(clippy::expect_used, reason = "constant parameters within Argon2's bounds; every hashing test runs this")]
fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords off the async threads.
///
/// Argon2 is all CPU and memory bandwidth, so running more computations than
/// there are cores only makes each one slower (and a burst of sign-ins would
/// hold 19 MiB per waiting request). One long-lived thread per core takes
/// jobs from a queue: when a computation ends, the thread starts the next
/// queued one at once, without a round trip through the async runtime (with a
/// semaphore and `spawn_blocking`, the cores sat idle 8 % of the time between
/// computations under load: BENCHMARKS.md). Each thread keeps its 19 MiB
/// working memory for the next verification instead of allocating and
/// zeroing it every time.
///
/// The queue has a bound (`queue_limit` jobs waiting or running, by default
/// 64 per core): past it, a request is answered at once with
/// [`AppError::Busy`] (503 with `Retry-After`) instead of joining a queue
/// that would only grow under a flood.
#[derive(Clone)]
pub struct Passwords {
    /// A real hash of a random password, verified against when the email is unknown,
    /// so that an unknown account costs the same time as a wrong password.
    dummy_hash: Arc<String>,
    engine: Arc<HashEngine>,
}

/// A computation for an Argon2 thread, given that thread's working memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

struct HashEngine {
    jobs: std::sync::mpsc::Sender<Job>,
    /// Jobs queued or running.
    depth: Arc<AtomicUsize>,
    /// Jobs accepted that no thread has started yet.
    waiting: Arc<AtomicUsize>,
    limit: usize,
    threads: usize,
}

/// Counts a job out of the queue when it ends, however it ends.
struct Queued(Arc<AtomicUsize>);
impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a job as waiting from its acceptance until a thread starts it (or
/// it is dropped unstarted): dropped first thing in the job.
struct Waiting(Arc<AtomicUsize>);
impl Waiting {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}
impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The hashing queue right now (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueStats {
    /// Jobs accepted that wait for a thread.
    pub waiting: usize,
    /// Jobs a thread is computing.
    pub running: usize,
    /// Jobs queued or running, at most (`argon2_queue_limit`).
    pub limit: usize,
    /// Argon2 threads (one per core).
    pub threads: usize,
}

/// Roughly how long one Argon2id computation takes on a core (for `Retry-After`).
const JOB_MS: usize = 100;

/// Jobs per core the queue holds by default.
pub const DEFAULT_QUEUE_PER_CORE: usize = 64;

impl HashEngine {
    #[allow(
        clippy::expect_used,
        reason = "at start-up, before serving: without its threads Roster cannot sign anyone in"
    )]
    fn start(threads: usize, limit: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        // The lock is released before the job runs.
                        let next = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        let run = std::panic::AssertUnwindSafe(|| job(&mut memory));
                        if std::panic::catch_unwind(run).is_err() {
                            memory = Vec::new();
                        }
                    }
                })
                .expect("an Argon2 thread starts");
        }
        Self {
            jobs,
            depth: Arc::new(AtomicUsize::new(0)),
            waiting: Arc::new(AtomicUsize::new(0)),
            limit: limit.max(1),
            threads,
        }
    }

    /// `Busy` when the queue is full: seconds until it has likely drained.
    fn busy(&self, depth: usize) -> AppError {
        let secs = (depth.div_ceil(self.threads) * JOB_MS).div_ceil(1000).max(1);
        tracing::warn!(depth, limit = self.limit, "the Argon2 queue is full; answering 503");
        super::metrics::argon2_rejected();
        AppError::Busy(secs as u64)
    }

    fn stats(&self) -> QueueStats {
        let waiting = self.waiting.load(Ordering::Acquire);
        // Read apart, so a job may be between the two counts: never below zero.
        let running = self.depth.load(Ordering::Acquire).saturating_sub(waiting).min(self.threads);
        QueueStats { waiting, running, limit: self.limit, threads: self.threads }
    }

    /// `Err(Busy)` when a job would not be accepted now.
    fn ready(&self) -> Result<(), AppError> {
        let depth = self.depth.load(Ordering::Acquire);
        if depth >= self.limit {
            return Err(self.busy(depth));
        }
        Ok(())
    }

    /// Run `f` on an Argon2 thread and wait for its result: `Busy` when the
    /// queue is full, `Internal` if the job was lost.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let depth = self.depth.fetch_add(1, Ordering::AcqRel);
        let queued = Queued(self.depth.clone());
        if depth >= self.limit {
            return Err(self.busy(depth));
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let waiting = Waiting::new(&self.waiting);
        let accepted = std::time::Instant::now();
        let job: Job = Box::new(move |memory| {
            drop(waiting);
            super::metrics::argon2_wait(accepted.elapsed());
            let out = f(memory);
            // Out of the queue before the caller hears: it may ask at once.
            drop(queued);
            let _ = done.send(out);
        });
        let lost = || AppError::internal("password hashing", "the Argon2 job was lost");
        self.jobs.send(job).map_err(|_| lost())?;
        result.await.map_err(|_| lost())
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl Passwords {
    /// One thread per core and the default queue bound (64 jobs per core).
    pub async fn new() -> Self {
        Self::with_queue_limit(0).await
    }

    /// As [`Passwords::new`], with at most `queue_limit` jobs queued or running
    /// (0: the default, 64 per core).
    #[allow(
        clippy::expect_used,
        reason = "at start-up, before serving: a process that cannot start a thread or hash once cannot serve"
    )]
    pub async fn with_queue_limit(queue_limit: usize) -> Self {
        let cores = cores();
        let limit = if queue_limit == 0 { DEFAULT_QUEUE_PER_CORE * cores } else { queue_limit };
        let engine = Arc::new(HashEngine::start(cores, limit));
        let random = Token::generate();
        let dummy = engine
            .run(move |_| hash_blocking(random.expose()))
            .await
            .expect("the Argon2 threads run")
            .expect("hashing a random password works");
        Self { dummy_hash: Arc::new(dummy), engine }
    }

    /// `Err(AppError::Busy)` when the queue is full right now, so a caller can
    /// refuse before doing any other work. (A job may still be refused later.)
    pub fn ready(&self) -> Result<(), AppError> {
        self.engine.ready()
    }

    /// Jobs waiting and running now, and the bounds.
    pub fn queue(&self) -> QueueStats {
        self.engine.stats()
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_string();
        self.engine.run(move |_| hash_blocking(&password)).await?.map_err(|e| AppError::internal("hashing failed", e))
    }

    /// Verify `password` against `stored`, or against the dummy hash when there is
    /// no stored hash. Always does one full Argon2 verification, unless the
    /// queue is full (`Err(AppError::Busy)`, the same for every account).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, AppError> {
        let real = stored.is_some();
        let hash = stored.map(str::to_string).unwrap_or_else(|| self.dummy_hash.as_str().to_string());
        let password = password.to_string();
        let ok = self.engine.run(move |memory| verify_blocking(&password, &hash, memory)).await?;
        Ok(ok && real)
    }
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// What `PasswordVerifier::verify_password` does (algorithm, version and
/// parameters from the stored hash; constant-time comparison of the output),
/// computed in the caller's `memory`, grown as the parameters need.
fn verify_blocking(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        &mut memory[..],
    );
    // `Output`'s equality is constant-time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert!(Token::parse(a.expose()).is_some());
        assert!(Token::parse("short").is_none());
        assert!(Token::parse(&format!("{}!", &a.expose()[..42])).is_none());
        assert_eq!(a.hash().len(), 64);
        assert_ne!(a.hash(), a.expose());
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[tokio::test]
    async fn hashes_with_argon2id_owasp_parameters_and_verifies() {
        let p = Passwords::new().await;
        let h = p.hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(p.verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(!p.verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn pooled_memory_verification_agrees_with_the_argon2_crate() {
        use argon2::password_hash::PasswordVerifier;
        let p = Passwords::new().await;
        let h = p.hash("correct horse battery").await.unwrap();
        let parsed = PasswordHash::new(&h).unwrap();
        let mut memory = Vec::new();
        for (password, stored) in [("correct horse battery", h.as_str()), ("correct horse batterY", h.as_str())] {
            let crate_says = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
            assert_eq!(verify_blocking(password, stored, &mut memory), crate_says, "{password}");
        }
        // Reused memory gives the same answers; other parameters grow it.
        assert!(verify_blocking("correct horse battery", &h, &mut memory));
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8, 1, 1, None).unwrap())
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_blocking("pw", &small, &mut memory));
        assert!(!verify_blocking("pw", "$argon2id$v=19$m=19456,t=2,p=1$bm90IGEgaGFzaA", &mut memory));
        assert!(!verify_blocking("pw", "not a hash", &mut memory));
        // Concurrent verifications (more than there are cores) all complete.
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (p, h) = (p.clone(), h.clone());
                tokio::spawn(async move { p.verify("correct horse battery", Some(&h)).await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap());
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once_and_recovers() {
        let p = Passwords::with_queue_limit(2).await;
        let h = p.hash("correct horse battery").await.unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (p, h) = (p.clone(), h.clone());
                tokio::spawn(async move { p.verify("correct horse battery", Some(&h)).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(ok) => assert!(ok),
                Err(AppError::Busy(secs)) => {
                    assert!(secs >= 1);
                    busy += 1;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(busy >= 1, "twelve jobs at once overflow a queue of two");
        assert!(p.ready().is_ok(), "the queue drained");
        assert_eq!(
            p.queue(),
            QueueStats { waiting: 0, running: 0, limit: 2, threads: cores() },
            "nothing left counted"
        );
        assert!(p.verify("correct horse battery", Some(&h)).await.unwrap());
    }
}

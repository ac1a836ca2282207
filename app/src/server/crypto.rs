//! Tokens and password hashes.
//!
//! Tokens are 256 bits from the operating system's CSPRNG, shown to the user
//! once, and stored only as a SHA-256 hash. Password hashing is Argon2id with
//! OWASP's parameters, run on the blocking pool so it never stalls the async
//! threads.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;

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

fn argon2() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords off the async threads.
#[derive(Clone)]
pub struct Passwords {
    /// A real hash of a random password, verified against when the email is unknown,
    /// so that an unknown account costs the same time as a wrong password.
    dummy_hash: std::sync::Arc<String>,
}

impl Passwords {
    pub async fn new() -> Self {
        let random = Token::generate();
        let dummy = tokio::task::spawn_blocking(move || hash_blocking(random.expose()))
            .await
            .expect("hashing task does not panic")
            .expect("hashing a random password works");
        Self { dummy_hash: std::sync::Arc::new(dummy) }
    }

    pub async fn hash(&self, password: &str) -> Result<String, crate::error::AppError> {
        let password = password.to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(|e| crate::error::AppError::internal("hash task failed", e))?
            .map_err(|e| crate::error::AppError::internal("hashing failed", e))
    }

    /// Verify `password` against `stored`, or against the dummy hash when there is
    /// no stored hash. Always does one full Argon2 verification.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let real = stored.is_some();
        let hash = stored.map(str::to_string).unwrap_or_else(|| self.dummy_hash.as_str().to_string());
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .unwrap_or(false);
        ok && real
    }
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
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
        assert!(p.verify("correct horse battery", Some(&h)).await);
        assert!(!p.verify("wrong horse battery", Some(&h)).await);
        assert!(!p.verify("anything", None).await);
    }
}

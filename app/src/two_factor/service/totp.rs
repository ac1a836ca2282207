//! The authenticator app (TOTP, RFC 6238): its secret at rest (sealed), the
//! codes, and the step each may still spend.

use crate::domain::{Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::secret::{EncryptionKey, SecretString};
use crate::server::state::AppState;
use crate::two_factor::repo;
use sqlx::AnyConnection;
use totp_rs::{Algorithm, TOTP};

/// Seconds per TOTP time step.
pub(super) const STEP_SECS: i64 = 30;

/// Associated data of an authenticator secret's ciphertext.
pub(super) const PURPOSE: &str = "totp";

/// The key authenticator secrets are sealed with, and its tag in the stored
/// value: the encryption key (`key:`), which the server always has (from
/// `encryption_key`, or the key file beside an SQLite database), so new
/// secrets never go to the database's own key. Secrets that versions before
/// the key file sealed with a key kept in `install_keys` (`install:`) are
/// still read with it.
pub(super) async fn sealing_key(state: &AppState) -> AppResult<(&'static str, EncryptionKey)> {
    match &state.settings.encryption_key {
        Some(key) => Ok(("key:", key.clone())),
        None => Ok(("install:", install_key(&state.db).await?)),
    }
}

/// This installation's own key for authenticator secrets, made on first use.
pub(super) async fn install_key(db: &Db) -> AppResult<EncryptionKey> {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let fresh = base64::engine::general_purpose::STANDARD.encode(bytes);
    // Two nodes making it at once: the first insert wins and both read it.
    sqlx::query(
        "INSERT INTO install_keys (purpose, key_b64, created_at) VALUES ($1, $2, $3) ON CONFLICT (purpose) DO NOTHING",
    )
    .bind(PURPOSE)
    .bind(&fresh)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    let stored: String = sqlx::query_scalar("SELECT key_b64 FROM install_keys WHERE purpose = $1")
        .bind(PURPOSE)
        .fetch_one(&db.pool)
        .await?;
    EncryptionKey::from_base64(&stored).map_err(|e| AppError::internal("install key", e))
}

/// Encrypt a base32 secret for storage.
pub(super) async fn seal(state: &AppState, secret: &SecretString) -> AppResult<String> {
    let (tag, key) = sealing_key(state).await?;
    let sealed = key.encrypt(PURPOSE, secret).map_err(|e| AppError::internal("sealing a TOTP secret", e))?;
    Ok(format!("{tag}{sealed}"))
}

/// Open a stored secret with the key its tag names.
pub(super) async fn open(state: &AppState, stored: &str) -> AppResult<SecretString> {
    let (key, sealed) = if let Some(sealed) = stored.strip_prefix("key:") {
        let key = state.settings.encryption_key.clone().ok_or_else(|| {
            AppError::internal("opening a TOTP secret", "it was sealed with encryption_key, which is not configured")
        })?;
        (key, sealed)
    } else if let Some(sealed) = stored.strip_prefix("install:") {
        (install_key(&state.db).await?, sealed)
    } else {
        return Err(AppError::internal("opening a TOTP secret", "unknown format"));
    };
    key.decrypt(PURPOSE, sealed)
        .map_err(|_| AppError::internal("opening a TOTP secret", "the key does not open it (another key?)"))
}

/// The TOTP of a base32 secret for `account` (skew 0: [`matching_step`] tries the neighbours).
pub(super) fn totp_of(site_name: &str, secret_b32: &str, account: &str) -> AppResult<TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| AppError::internal("TOTP secret", format!("{e:?}")))?;
    // otpauth labels may not hold ':'.
    let issuer = site_name.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 0, STEP_SECS as u64, bytes, Some(issuer), account.replace(':', " "))
        .map_err(|e| AppError::internal("TOTP", format!("{e:?}")))
}

/// The time step `code` is valid for: now, one before or one after (clock drift).
pub(super) fn matching_step(totp: &TOTP, code: &str, now_ms: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_ms / 1000 / STEP_SECS;
    [now, now - 1, now + 1].into_iter().find(|&step| step >= 0 && totp.check(&code, (step * STEP_SECS) as u64))
}

/// Does this look like an authenticator code (six digits) rather than a recovery code?
pub(super) fn is_totp_code(code: &str) -> bool {
    let digits: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(u8::is_ascii_digit)
}

/// The time step `code` proves for `user_id`'s authenticator app in use (the
/// account is `email`), if it is right and later than the last one accepted.
pub(super) async fn unspent_step(
    state: &AppState,
    conn: &mut AnyConnection,
    user_id: UserId,
    email: &str,
    code: &str,
) -> AppResult<Option<i64>> {
    let Some(row) = repo::totp(conn, user_id, true).await? else { return Ok(None) };
    let secret = open(state, &row.secret).await?;
    let totp = totp_of(&state.settings.site_name, secret.expose(), email)?;
    Ok(matching_step(&totp, code, Timestamp::now().millis()).filter(|step| *step > row.last_step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_the_neighbours_only() {
        let secret = totp_rs::Secret::Raw(vec![7u8; 20]).to_encoded().to_string();
        let totp = totp_of("Roster", &secret, "a@example.com").unwrap();
        let now = 1_700_000_000_000i64;
        let step = now / 1000 / STEP_SECS;
        let code = totp.generate((step * STEP_SECS) as u64);
        assert_eq!(matching_step(&totp, &code, now), Some(step));
        assert_eq!(matching_step(&totp, &code, now + 30_000), Some(step), "one step late");
        assert_eq!(matching_step(&totp, &code, now - 30_000), Some(step), "one step early");
        assert_eq!(matching_step(&totp, &code, now + 90_000), None);
        assert_eq!(matching_step(&totp, "12345", now), None);
        assert!(is_totp_code(" 123 456 ") && !is_totp_code("abcde-fghjk"));
    }
}

//! The server side of two-factor sign-in. No HTTP, no HTML.
//!
//! - **Authenticator app** (TOTP, RFC 6238: SHA-1, 6 digits, 30 s, by
//!   `totp-rs`): [`begin_totp`] stores a fresh 160-bit secret not yet enabled
//!   and shows it once; [`enable_totp`] needs one valid code. The secret is
//!   stored encrypted ([`seal`]). A code is accepted for the current step or
//!   one step either side, and only for a step later than the last one
//!   accepted (`totp_credentials.last_step`, advanced by a conditional
//!   `UPDATE` in the sign-in's transaction), so no code works twice.
//! - **Recovery codes**: 10 codes of 50 random bits, stored as SHA-256,
//!   each spent by a conditional `UPDATE` (single use even under a race).
//! - **Second step** ([`second_step`]): the pending sign-in's token (cookie)
//!   names the user; every attempt is counted in the sign-in throttle on the
//!   account's key before it is checked, exactly like a password.

use super::{SecurityStatus, TotpSetup, UserFactors};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::error::{AppError, AppResult};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::secret::{EncryptionKey, SecretString};
use crate::server::state::{AppState, Settings};
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;
use totp_rs::{Algorithm, TOTP};

/// How long the half-signed-in state lasts.
pub const PENDING_MS: i64 = 5 * 60_000;
/// Seconds per TOTP time step.
const STEP_SECS: i64 = 30;
/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;
/// Associated data of an authenticator secret's ciphertext.
const PURPOSE: &str = "totp";

/// The second step's answer for a missing, expired or used pending sign-in.
pub fn expired() -> AppError {
    AppError::NotFound("This sign-in has expired or was already completed. Sign in again.".into())
}

/// The second step's answer for a code that is not right (whatever kind it was).
fn wrong_code() -> AppError {
    AppError::Invalid(
        "That code is not right. Enter the current code from your authenticator app, or a recovery code.".into(),
    )
}

// ---- the secret at rest ------------------------------------------------------

/// The key authenticator secrets are sealed with, and its tag in the stored
/// value: the encryption key (`key:`), which the server always has (from
/// `encryption_key`, or the key file beside an SQLite database), so new
/// secrets never go to the database's own key. Secrets that versions before
/// the key file sealed with a key kept in `install_keys` (`install:`) are
/// still read with it.
async fn sealing_key(state: &AppState) -> AppResult<(&'static str, EncryptionKey)> {
    match &state.settings.encryption_key {
        Some(key) => Ok(("key:", key.clone())),
        None => Ok(("install:", install_key(&state.db).await?)),
    }
}

/// This installation's own key for authenticator secrets, made on first use.
async fn install_key(db: &Db) -> AppResult<EncryptionKey> {
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
async fn seal(state: &AppState, secret: &SecretString) -> AppResult<String> {
    let (tag, key) = sealing_key(state).await?;
    let sealed = key.encrypt(PURPOSE, secret).map_err(|e| AppError::internal("sealing a TOTP secret", e))?;
    Ok(format!("{tag}{sealed}"))
}

/// Open a stored secret with the key its tag names.
async fn open(state: &AppState, stored: &str) -> AppResult<SecretString> {
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

// ---- TOTP ------------------------------------------------------------------------

/// The TOTP of a base32 secret for `account` (skew 0: [`matching_step`] tries the neighbours).
fn totp_of(site_name: &str, secret_b32: &str, account: &str) -> AppResult<TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| AppError::internal("TOTP secret", format!("{e:?}")))?;
    // otpauth labels may not hold ':'.
    let issuer = site_name.replace(':', " ");
    TOTP::new(Algorithm::SHA1, 6, 0, STEP_SECS as u64, bytes, Some(issuer), account.replace(':', " "))
        .map_err(|e| AppError::internal("TOTP", format!("{e:?}")))
}

/// The time step `code` is valid for: now, one before or one after (clock drift).
fn matching_step(totp: &TOTP, code: &str, now_ms: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_ms / 1000 / STEP_SECS;
    [now, now - 1, now + 1].into_iter().find(|&step| step >= 0 && totp.check(&code, (step * STEP_SECS) as u64))
}

/// Does this look like an authenticator code (six digits) rather than a recovery code?
fn is_totp_code(code: &str) -> bool {
    let digits: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.len() == 6 && digits.iter().all(u8::is_ascii_digit)
}

#[derive(sqlx::FromRow)]
struct TotpRow {
    secret: String,
    last_step: i64,
}

/// The user's authenticator (`enabled`: the one in use; else the one being set up).
async fn totp_row(conn: &mut AnyConnection, user_id: i64, enabled: bool) -> AppResult<Option<TotpRow>> {
    let sql = if enabled {
        "SELECT secret, last_step FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL"
    } else {
        "SELECT secret, last_step FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NULL"
    };
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(&mut *conn).await?)
}

/// The time step `code` proves for `user_id`'s authenticator app in use (the
/// account is `email`), if it is right and later than the last one accepted.
async fn unspent_step(
    state: &AppState,
    conn: &mut AnyConnection,
    user_id: i64,
    email: &str,
    code: &str,
) -> AppResult<Option<i64>> {
    let Some(row) = totp_row(conn, user_id, true).await? else { return Ok(None) };
    let secret = open(state, &row.secret).await?;
    let totp = totp_of(&state.settings.site_name, secret.expose(), email)?;
    Ok(matching_step(&totp, code, now_ms()).filter(|step| *step > row.last_step))
}

/// Spend `step` of `user_id`'s authenticator app: false when another request
/// spent it (or a later one) first, so no code works twice.
async fn spend_step(conn: &mut AnyConnection, user_id: i64, step: i64) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE totp_credentials SET last_step = $1 WHERE user_id = $2 AND last_step < $1 AND enabled_at IS NOT NULL",
    )
    .bind(step)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---- recovery codes --------------------------------------------------------------

/// Crockford's base32 alphabet: no I, L, O, U.
const CODE_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new recovery code: 10 characters (50 bits) from the OS CSPRNG, as `xxxxx-xxxxx`.
fn new_recovery_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..10).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The stored form of a typed recovery code: case, spaces and dashes ignored,
/// the letters people confuse read as Crockford does; SHA-256, hex.
fn recovery_hash(typed: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let norm: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        })
        .collect();
    (norm.len() == 10 && norm.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then(|| hex::encode(Sha256::digest(norm.as_bytes())))
}

/// Replace the user's recovery codes with 10 new ones; returns them (shown once).
pub(super) async fn replace_codes(conn: &mut AnyConnection, user_id: i64) -> AppResult<Vec<String>> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    let now = now_ms();
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    for code in &codes {
        let hash = recovery_hash(code).ok_or_else(|| AppError::internal("recovery code", "not its own shape"))?;
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(codes)
}

// ---- status ----------------------------------------------------------------------

/// Has the user a second factor in use (an authenticator app or a passkey)?
pub async fn has_second_factor(conn: &mut AnyConnection, user_id: i64) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL) \
              + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS n",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Has the user an authenticator app in use?
pub(super) async fn totp_enabled(conn: &mut AnyConnection, user_id: i64) -> AppResult<bool> {
    Ok(totp_row(conn, user_id, true).await?.is_some())
}

/// Does one of the user's roles require a second factor?
pub(super) async fn required(conn: &mut AnyConnection, user_id: i64) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND r.require_two_factor",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

async fn codes_left(conn: &mut AnyConnection, user_id: i64) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?)
}

pub async fn status(state: &AppState, user_id: i64) -> AppResult<SecurityStatus> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(SecurityStatus {
        totp_enabled: totp_enabled(&mut conn, user_id).await?,
        passkeys: super::passkeys::list(&mut conn, user_id).await?,
        recovery_codes_left: codes_left(&mut conn, user_id).await?,
        required: required(&mut conn, user_id).await?,
    })
}

// ---- the Security tab ------------------------------------------------------------

/// A fresh secret for the caller, replacing one not yet enabled. Refused
/// while an authenticator is in use (disable it first): its secret is never shown again.
pub async fn begin_totp(state: &AppState, me: &Principal) -> AppResult<TotpSetup> {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = totp_rs::Secret::Raw(bytes.to_vec()).to_encoded().to_string();
    let totp = totp_of(&state.settings.site_name, &secret, &me.email)?;
    let uri = totp.get_url();
    let sealed = seal(state, &SecretString::new(secret.clone())).await?;
    let mut tx = state.db.begin_write().await?;
    if totp_enabled(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict(
            "An authenticator app is already set up. Remove it first to set up another.".into(),
        ));
    }
    sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(me.user_id).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO totp_credentials (user_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(me.user_id)
        .bind(&sealed)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::internal("QR code", e))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(TotpSetup { secret, uri, qr_svg })
}

/// Enable the authenticator being set up, with one valid code. The first
/// second factor also gets 10 recovery codes, returned here and never again.
pub async fn enable_totp(state: &AppState, me: &Principal, code: &str) -> AppResult<Vec<String>> {
    // Read and open the secret before the write transaction (opening may
    // read the install key, and SQLite has one writer).
    let mut conn = state.db.pool.acquire().await?;
    let row = totp_row(&mut conn, me.user_id, false).await?.ok_or_else(|| {
        AppError::Conflict("There is no authenticator app being set up. Start again with Set up.".into())
    })?;
    drop(conn);
    let secret = open(state, &row.secret).await?;
    let totp = totp_of(&state.settings.site_name, secret.expose(), &me.email)?;
    let Some(step) = matching_step(&totp, code, now_ms()) else {
        return Err(AppError::Invalid(
            "That code is not right. Enter the 6-digit code your authenticator app shows now.".into(),
        ));
    };
    let mut tx = state.db.begin_write().await?;
    let first = !has_second_factor(&mut tx, me.user_id).await?;
    // The confirming code is spent too: it will not sign in.
    let enabled = sqlx::query(
        "UPDATE totp_credentials SET enabled_at = $1, last_step = $2 \
         WHERE user_id = $3 AND secret = $4 AND enabled_at IS NULL",
    )
    .bind(now_ms())
    .bind(step)
    .bind(me.user_id)
    .bind(&row.secret)
    .execute(&mut *tx)
    .await?;
    if enabled.rows_affected() != 1 {
        return Err(AppError::Conflict(
            "This setup was replaced or finished in another window. Start again with Set up.".into(),
        ));
    }
    let actor = Actor::of(me);
    record(&mut tx, &actor, Event::new(AuditAction::TwoFactorTotpEnabled).user(me.user_id, &me.email)).await?;
    let codes = if first {
        let codes = replace_codes(&mut tx, me.user_id).await?;
        record(&mut tx, &actor, Event::new(AuditAction::TwoFactorRecoveryCodesGenerated).user(me.user_id, &me.email))
            .await?;
        codes
    } else {
        Vec::new()
    };
    notify(&mut tx, &state.settings, TemplateKind::AuthenticatorAdded, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Refuse unless `password` is the caller's (counted in the sign-in throttle).
pub(super) async fn confirm_password(state: &AppState, me: &Principal, password: &str) -> AppResult<()> {
    if crate::account::service::verify_own_password(state, me, password).await? {
        // A password typed with the request is a fresh authentication.
        crate::server::session::mark_authenticated(&state.db, &me.session_hash).await?;
        Ok(())
    } else {
        Err(AppError::Invalid("The password is incorrect.".into()))
    }
}

/// "Confirm it's you": `password`, or else `code` from the caller's
/// authenticator app, each counted in the sign-in throttle on the account's
/// key like a sign-in (a stolen session gets no more guesses than the sign-in
/// page gives). A right one makes the session's authentication fresh; an
/// authenticator code spends its time step, as at sign-in.
pub async fn confirm_identity(state: &AppState, me: &Principal, password: &str, code: &str) -> AppResult<()> {
    use crate::auth::throttle::{self, Verdict};
    if !password.is_empty() {
        return confirm_password(state, me, password).await;
    }
    if code.trim().is_empty() {
        return Err(AppError::Invalid("Enter your password, or a code from your authenticator app.".into()));
    }
    let key = me.email.to_lowercase();
    let actor = Actor::of(me);
    let reservation = match throttle::check_and_reserve(&state.db, &state.settings.throttle, &key, &actor.ip).await? {
        Verdict::Allow(r) => r,
        Verdict::Wait(secs) | Verdict::Locked(secs) => return Err(AppError::Throttled(secs)),
    };
    let mut conn = state.db.pool.acquire().await?;
    let step = unspent_step(state, &mut conn, me.user_id, &me.email, code).await?;
    drop(conn);
    if let Some(step) = step {
        let mut tx = state.db.begin_write().await?;
        if spend_step(&mut tx, me.user_id, step).await? {
            crate::auth::throttle::clear(&mut tx, &key).await?;
            tx.commit().await?;
            crate::server::session::mark_authenticated(&state.db, &me.session_hash).await?;
            return Ok(());
        }
    }
    let account =
        crate::auth::service::Account { id: me.user_id, email: me.email.clone(), password_hash: None, enabled: true };
    let event = Event::new(AuditAction::SignInFailure).user(me.user_id, &me.email).details("wrong confirmation code");
    crate::auth::service::record_failed_check(state, &actor, Some(event), &reservation, Some(&account)).await?;
    Err(AppError::Invalid(
        "That code is not right. Enter the current code from your authenticator app, or your password.".into(),
    ))
}

/// Remove the caller's authenticator app (and, with no second factor left, the
/// recovery codes). Refused while a role requires a second factor and it is the last one.
pub async fn disable_totp(state: &AppState, me: &Principal, password: &str) -> AppResult<()> {
    confirm_password(state, me, password).await?;
    let mut tx = state.db.begin_write().await?;
    if !totp_enabled(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict("No authenticator app is set up.".into()));
    }
    let last = super::passkeys::count(&mut tx, me.user_id).await? == 0;
    if last && required(&mut tx, me.user_id).await? {
        return Err(AppError::NotAllowed(
            "A role of yours requires two-factor sign-in, so the authenticator app cannot be removed. \
             Add a passkey first, or ask an administrator to reset it if you lost it."
                .into(),
        ));
    }
    sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(me.user_id).execute(&mut *tx).await?;
    if last {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(me.user_id).execute(&mut *tx).await?;
    }
    record(&mut tx, &Actor::of(me), Event::new(AuditAction::TwoFactorTotpDisabled).user(me.user_id, &me.email)).await?;
    notify(&mut tx, &state.settings, TemplateKind::AuthenticatorRemoved, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(())
}

/// 10 new recovery codes for the caller; the old ones stop working.
pub async fn regenerate_codes(state: &AppState, me: &Principal, password: &str) -> AppResult<Vec<String>> {
    confirm_password(state, me, password).await?;
    let mut tx = state.db.begin_write().await?;
    if !has_second_factor(&mut tx, me.user_id).await? {
        return Err(AppError::Conflict(
            "Recovery codes come with a second factor: add a passkey or set up an authenticator app first.".into(),
        ));
    }
    let codes = replace_codes(&mut tx, me.user_id).await?;
    record(
        &mut tx,
        &Actor::of(me),
        Event::new(AuditAction::TwoFactorRecoveryCodesGenerated)
            .user(me.user_id, &me.email)
            .details("the old codes stopped working"),
    )
    .await?;
    notify(&mut tx, &state.settings, TemplateKind::RecoveryCodesGenerated, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Queue a security notice to the owner (`kind`: a second factor added or
/// removed, new recovery codes, a recovery code used, reset).
pub(super) async fn notify(
    conn: &mut AnyConnection,
    settings: &Settings,
    kind: TemplateKind,
    user_id: i64,
    to: &str,
) -> AppResult<()> {
    crate::mail::notify_owner(conn, settings, kind, user_id, to, &[]).await
}

// ---- signing in ------------------------------------------------------------------

/// Record the half-signed-in state for `user_id` (in the sign-in's
/// transaction) and return the token for its cookie. Expired ones are purged.
pub async fn start_pending(conn: &mut AnyConnection, user_id: i64) -> AppResult<Token> {
    let now = now_ms();
    sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1").bind(now).execute(&mut *conn).await?;
    let token = Token::generate();
    sqlx::query("INSERT INTO pending_sign_ins (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token.hash())
        .bind(user_id)
        .bind(now)
        .bind(now + PENDING_MS)
        .execute(&mut *conn)
        .await?;
    Ok(token)
}

/// The cookie naming a pending sign-in: HttpOnly, SameSite=Strict, 5 minutes.
pub fn pending_cookie(settings: &Settings, token: &Token) -> String {
    cookie::Cookie::build((settings.pending_cookie_name(), token.expose().to_string()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::milliseconds(PENDING_MS))
        .build()
        .to_string()
}

/// A `Set-Cookie` value that removes the pending sign-in's cookie.
pub fn clear_pending_cookie(settings: &Settings) -> String {
    cookie::Cookie::build((settings.pending_cookie_name(), ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(settings.cookie_secure())
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// A pending sign-in still owed its second step.
#[derive(sqlx::FromRow)]
pub(super) struct Pending {
    pub(super) user_id: i64,
    pub(super) email: String,
    pub(super) email_norm: String,
}

/// The pending sign-in `token` names, unexpired, of an enabled account.
pub(super) async fn pending(state: &AppState, token: &Token) -> AppResult<Pending> {
    sqlx::query_as(
        "SELECT p.user_id, u.email, u.email_norm FROM pending_sign_ins p JOIN users u ON u.id = p.user_id \
         WHERE p.token_hash = $1 AND p.expires_at > $2 AND u.enabled",
    )
    .bind(token.hash())
    .bind(now_ms())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(expired)
}

/// Which second factor proved the sign-in.
pub(super) enum Proof {
    Totp(i64),
    Recovery(i64),
    Passkey(Box<super::passkeys::Use>),
}

/// The second step: `code` is an authenticator code or a recovery code. The
/// attempt is counted in the sign-in throttle (the account's key and the
/// client's IP) before it is checked; a right code spends itself, ends the
/// pending sign-in, clears the failures and starts the session, in one
/// transaction.
pub async fn second_step(state: &AppState, token: &Token, code: &str) -> AppResult<crate::auth::service::SignedIn> {
    let pending = pending(state, token).await?;
    let actor = Actor::anonymous(&pending.email);
    let reservation = reserve_second_step(state, &pending, &actor).await?;
    let mut conn = state.db.pool.acquire().await?;
    let proof = if is_totp_code(code) {
        unspent_step(state, &mut conn, pending.user_id, &pending.email, code).await?.map(Proof::Totp)
    } else {
        match recovery_hash(code) {
            Some(hash) => {
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(pending.user_id)
                .bind(hash)
                .fetch_optional(&mut *conn)
                .await?;
                id.map(Proof::Recovery)
            }
            None => None,
        }
    };
    drop(conn);
    if let Some(proof) = proof {
        if let Some(signed_in) = complete(state, token, &pending, &actor, proof).await? {
            return Ok(signed_in);
        }
    }
    tracing::info!(user_id = pending.user_id, "second sign-in step refused");
    let account = crate::auth::service::Account {
        id: pending.user_id,
        email: pending.email.clone(),
        password_hash: None,
        enabled: true,
    };
    let event =
        Event::new(AuditAction::SignInFailure).user(pending.user_id, &pending.email).details("wrong second-step code");
    crate::auth::service::record_failed_second_step(state, &actor, event, &reservation, &account, &pending.email_norm)
        .await?;
    Err(wrong_code())
}

/// Count a second-step attempt before it is checked: refused while failed
/// second steps keep the account locked (the longer lock of
/// [`throttle::second_step_locked`](crate::auth::throttle::second_step_locked)),
/// else as the sign-in throttle decides.
pub(super) async fn reserve_second_step(
    state: &AppState,
    pending: &Pending,
    actor: &Actor,
) -> AppResult<crate::auth::throttle::Reservation> {
    use crate::auth::throttle::{self, Verdict};
    if let Some(secs) = throttle::second_step_locked(&state.db, &pending.email_norm).await? {
        return Err(AppError::Throttled(secs));
    }
    match throttle::check_and_reserve(&state.db, &state.settings.throttle, &pending.email_norm, &actor.ip).await? {
        Verdict::Allow(r) => Ok(r),
        Verdict::Wait(secs) | Verdict::Locked(secs) => Err(AppError::Throttled(secs)),
    }
}

/// Spend the proof and start the session, or `None` when another request
/// spent the code first (a replay).
pub(super) async fn complete(
    state: &AppState,
    token: &Token,
    pending: &Pending,
    actor: &Actor,
    proof: Proof,
) -> AppResult<Option<crate::auth::service::SignedIn>> {
    use crate::server::session::{self, client};
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let (spent, how) = match &proof {
        Proof::Totp(step) => (spend_step(&mut tx, pending.user_id, *step).await?, "authenticator app".to_string()),
        Proof::Recovery(id) => {
            let r = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
                .bind(now)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
            (r.rows_affected() == 1, "recovery code".to_string())
        }
        Proof::Passkey(used) => (used.record(&mut tx).await?, used.label()),
    };
    if !spent {
        return Ok(None);
    }
    let ended = sqlx::query("DELETE FROM pending_sign_ins WHERE token_hash = $1 AND expires_at > $2")
        .bind(token.hash())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if ended.rows_affected() != 1 {
        return Err(expired());
    }
    crate::auth::throttle::clear(&mut tx, &pending.email_norm).await?;
    crate::auth::throttle::clear_second_step_locks(&mut tx, &pending.email_norm).await?;
    let me = Actor { id: Some(pending.user_id), ..actor.clone() };
    if matches!(proof, Proof::Recovery(_)) {
        let left = codes_left(&mut tx, pending.user_id).await?;
        record(
            &mut tx,
            &me,
            Event::new(AuditAction::TwoFactorRecoveryCodeUsed)
                .user(pending.user_id, &pending.email)
                .details(format!("{left} recovery codes left")),
        )
        .await?;
        notify(&mut tx, &state.settings, TemplateKind::RecoveryCodeUsed, pending.user_id, &pending.email).await?;
    }
    record(
        &mut tx,
        &me,
        Event::new(AuditAction::SignInSuccess)
            .user(pending.user_id, &pending.email_norm)
            .details(format!("second step: {how}")),
    )
    .await?;
    let cookie = session::create_in(&mut tx, &state.settings, pending.user_id, &client()).await?;
    tx.commit().await?;
    Ok(Some(crate::auth::service::SignedIn { user_id: pending.user_id, cookie }))
}

// ---- roles ----------------------------------------------------------------------

/// Does role `id` require its members to use a second factor?
pub async fn role_requires(conn: &mut AnyConnection, id: i64) -> AppResult<bool> {
    let flag: Option<crate::server::sql::Flag> =
        sqlx::query_scalar("SELECT require_two_factor FROM roles WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(flag.is_some_and(bool::from))
}

/// Require (or stop requiring) a second factor of role `id`'s members. The
/// built-in Administrator role is an administrator's to change, and a role
/// that grants more than the caller holds too (the hand-out rule).
pub async fn set_role_requirement(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: i64,
    required: bool,
) -> AppResult<()> {
    let caller = access.principal();
    let mut tx = state.db.begin_write().await?;
    #[derive(sqlx::FromRow)]
    struct Head {
        name: String,
        builtin: Option<crate::grants::Builtin>,
    }
    let head: Head = sqlx::query_as("SELECT name, builtin FROM roles WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::NotFound("This role no longer exists.".into()))?;
    if head.builtin.is_some() && !caller.is_admin {
        return Err(AppError::NotAllowed(
            "Only an administrator may change what the Administrator role requires.".into(),
        ));
    }
    // The hand-out rule: a role that grants more than the caller holds is not
    // theirs to loosen (nor to tighten on its members).
    if crate::grants::check_can_hand_out(&mut tx, caller, &[id]).await.is_err() {
        return Err(AppError::NotAllowed(
            "This role grants something you do not have, so only an administrator may change what it requires.".into(),
        ));
    }
    sqlx::query("UPDATE roles SET require_two_factor = $1 WHERE id = $2")
        .bind(required)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        &Actor::of(caller),
        Event::new(AuditAction::RoleTwoFactorRequired).target("role", id, head.name).details(if required {
            "members must use a second factor"
        } else {
            "no longer required"
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---- administrators --------------------------------------------------------------

/// Which factors user `id` has (never a secret).
pub async fn factors_of(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    id: i64,
) -> AppResult<UserFactors> {
    let mut conn = state.db.pool.acquire().await?;
    crate::grants::user_email(&mut conn, id).await?;
    Ok(UserFactors {
        totp_enabled: totp_enabled(&mut conn, id).await?,
        passkeys: super::passkeys::count(&mut conn, id).await?,
        recovery_codes_left: codes_left(&mut conn, id).await?,
        required: required(&mut conn, id).await?,
    })
}

/// Remove user `id`'s second factors and recovery codes, end their sessions
/// and pending sign-ins, and email them. The rule of `grants::check_may_manage`
/// applies: only an administrator resets an administrator.
pub async fn reset(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: i64) -> AppResult<()> {
    let caller = access.principal();
    let mut tx = state.db.begin_write().await?;
    let email = crate::grants::user_email(&mut tx, id).await?;
    crate::grants::check_may_manage(&mut tx, caller, id).await?;
    let totp = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM webauthn_challenges WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM pending_sign_ins WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    record(
        &mut tx,
        &Actor::of(caller),
        Event::new(AuditAction::TwoFactorReset).user(id, &email).details(format!(
            "authenticator app removed: {}; {} passkeys removed; {} recovery codes removed; {} sessions ended",
            if totp.rows_affected() > 0 { "yes" } else { "none set up" },
            passkeys.rows_affected(),
            codes.rows_affected(),
            ended.rows_affected()
        )),
    )
    .await?;
    notify(&mut tx, &state.settings, TemplateKind::TwoFactorReset, id, &email).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_crockford_characters_read_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11, "{code}");
        let hash = recovery_hash(&code).unwrap();
        assert_eq!(recovery_hash(&code.to_uppercase()), Some(hash.clone()));
        assert_eq!(recovery_hash(&format!(" {} ", code.replace('-', " "))), Some(hash));
        assert_eq!(recovery_hash("0000000000"), recovery_hash("oOoOo-OoOoO"));
        assert_eq!(recovery_hash("123456"), None);
        assert_eq!(recovery_hash("uuuuu-uuuuu"), None, "U is not in the alphabet");
        assert_ne!(new_recovery_code(), new_recovery_code());
    }

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

//! Sign-in and first-run setup, without any HTTP or HTML.

use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::password_policy::NewPassword;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::state::AppState;
use sqlx::Row;

/// Check an email and password. Always runs one Argon2 verification, against a
/// dummy hash when the account does not exist, so timing tells nothing.
/// Returns the user id, or `BadCredentials` whatever the cause.
pub async fn check_credentials(state: &AppState, email: &str, password: &str) -> AppResult<i64> {
    let norm = email.trim().to_lowercase();
    let row = sqlx::query("SELECT id, password_hash, enabled FROM users WHERE email_norm = $1")
        .bind(&norm)
        .fetch_optional(&state.db.pool)
        .await?;
    let (id, hash, enabled) = match row {
        Some(r) => (
            r.try_get::<i64, _>("id")?,
            r.try_get::<Option<String>, _>("password_hash")?,
            r.try_get::<i64, _>("enabled")? == 1,
        ),
        None => (0, None, false),
    };
    let verified = state.passwords.verify(password, hash.as_deref()).await;
    if verified && enabled {
        Ok(id)
    } else {
        tracing::info!(known = id != 0, "sign-in refused");
        Err(AppError::BadCredentials)
    }
}

pub async fn user_count(db: &Db) -> AppResult<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&db.pool).await?.try_get("n")?)
}

/// Create a Global administrator. Used by first-run setup and `server create-admin`.
/// With `only_if_first`, refuses when any user exists (the check and the insert
/// share one transaction, so two setup requests cannot both win).
pub async fn create_admin(
    db: &Db,
    password_hash: &str,
    email: &EmailAddress,
    first_name: &str,
    last_name: &str,
    only_if_first: bool,
) -> AppResult<i64> {
    let mut tx = db.begin_write().await?;
    if only_if_first {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&mut *tx).await?.try_get("n")?;
        if n > 0 {
            return Err(AppError::Conflict("Roster is already set up. Sign in instead.".into()));
        }
    }
    let exists = sqlx::query("SELECT id FROM users WHERE email_norm = $1")
        .bind(email.normalized())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(AppError::Conflict(format!("A user with the email {email} already exists.")));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO users (email, email_norm, first_name, last_name, password_hash, enabled, created_at, name_sort) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7) RETURNING id",
    )
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(first_name.trim())
    .bind(last_name.trim())
    .bind(password_hash)
    .bind(now_ms())
    .bind(crate::server::name_sort(first_name, last_name))
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE builtin = 'administrator'")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Parse and hash, then create the administrator.
pub async fn create_admin_with_password(
    state: &AppState,
    email: &str,
    password: &str,
    confirmation: &str,
    first_name: &str,
    last_name: &str,
    only_if_first: bool,
) -> AppResult<i64> {
    let email = EmailAddress::parse(email).map_err(AppError::Invalid)?;
    for (label, v) in [("First name", first_name), ("Last name", last_name)] {
        crate::domain::check_person_name(label, v).map_err(AppError::Invalid)?;
    }
    let password = check_new_password(state, password, confirmation, email.as_str(), first_name, last_name)?;
    let hash = state.passwords.hash(password.expose()).await?;
    create_admin(&state.db, &hash, &email, first_name, last_name, only_if_first).await
}

/// Sign-in with throttling and audit: the throttle is checked first (a locked
/// account answers exactly like a wrong password, after the same Argon2 work),
/// then the credentials; the outcome is counted and recorded.
/// A successful sign-in: who, and the new session's cookie.
pub struct SignedIn {
    pub user_id: i64,
    pub cookie: String,
}

/// Check throttling and credentials; on success, clear the failures, record
/// the sign-in and start a new session in one write transaction.
pub async fn sign_in_checked(state: &AppState, email: &str, password: &str) -> AppResult<SignedIn> {
    use super::throttle::{self, Verdict};
    use crate::audit::service::{record, record_now, Actor, Event};
    use crate::server::session::{self, client};
    let key = email.trim().to_lowercase();
    let actor = Actor::anonymous(email);
    let s = &state.settings.throttle;
    let failures = match throttle::check(&state.db, s, &key, &actor.ip).await? {
        Verdict::Allow { failures } => failures,
        Verdict::Wait(secs) => return Err(AppError::Throttled(secs)),
        Verdict::Locked => {
            state.passwords.verify(password, None).await;
            record_now(&state.db, &actor, Event::new("sign_in.lockout").details("refused: account locked")).await?;
            return Err(AppError::BadCredentials);
        }
    };
    match check_credentials(state, email, password).await {
        Ok(id) => {
            let mut tx = state.db.begin_write().await?;
            // Failures older than the lockout horizon no longer count, and go at the next purge.
            if failures > 0 {
                throttle::clear(&mut tx, &key).await?;
            }
            record(&mut tx, &Actor { id: Some(id), ..actor.clone() }, Event::new("sign_in.success").user(id, &key))
                .await?;
            let cookie = session::create_in(&mut tx, &state.settings, id, &client()).await?;
            tx.commit().await?;
            Ok(SignedIn { user_id: id, cookie })
        }
        Err(AppError::BadCredentials) => {
            let locked_now = throttle::record_failure(&state.db, s, &key, &actor.ip).await?;
            record_now(&state.db, &actor, Event::new("sign_in.failure")).await?;
            if locked_now {
                record_now(&state.db, &actor, Event::new("sign_in.lockout").details("account locked")).await?;
            }
            Err(AppError::BadCredentials)
        }
        Err(e) => Err(e),
    }
}

// ---- forgot / reset password -------------------------------------------------------

/// Queue a reset email if the account exists and is enabled. The caller answers
/// the same way, at once, whatever happens here.
pub async fn request_reset(state: &AppState, email: &str, ip: String) -> AppResult<()> {
    use crate::audit::service::{record, Actor, Event};
    use crate::server::crypto::Token;
    let norm = email.trim().to_lowercase();
    let mut tx = state.db.begin_write().await?;
    let row =
        sqlx::query("SELECT id, email FROM users WHERE email_norm = $1 AND enabled = 1 AND password_hash IS NOT NULL")
            .bind(&norm)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else { return Ok(()) };
    let (id, to): (i64, String) = (row.try_get("id")?, row.try_get("email")?);
    let now = now_ms();
    // Only the newest link works.
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let token = Token::generate();
    sqlx::query("INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(token.hash())
        .bind(now)
        .bind(now + 3_600_000)
        .execute(&mut *tx)
        .await?;
    let link = state.settings.link(&format!("/reset/{}", token.expose()));
    let mail = crate::mail::templates::password_reset(id, &to, &state.settings.site_name, &link);
    crate::mail::enqueue(&mut tx, &state.settings, &mail).await?;
    let actor = Actor { id: None, email: to.clone(), ip };
    record(&mut tx, &actor, Event::new("password.reset_requested").user(id, &to)).await?;
    tx.commit().await?;
    Ok(())
}

fn reset_gone() -> AppError {
    AppError::NotFound("This password reset link is no longer valid. Ask for a new one from the Sign in page.".into())
}

/// The account a valid reset token belongs to: (id, email, first name, last name).
pub async fn reset_account(state: &AppState, token: &str) -> AppResult<(i64, String, String, String)> {
    let token = crate::server::crypto::Token::parse(token).ok_or_else(reset_gone)?;
    let r = sqlx::query(
        "SELECT u.id, u.email, u.first_name, u.last_name FROM password_resets p JOIN users u ON u.id = p.user_id \
         WHERE p.token_hash = $1 AND p.used_at IS NULL AND p.expires_at > $2 AND u.enabled = 1",
    )
    .bind(token.hash())
    .bind(now_ms())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(reset_gone)?;
    Ok((r.try_get("id")?, r.try_get("email")?, r.try_get("first_name")?, r.try_get("last_name")?))
}

/// Set a new password with a reset token, once; ends every session of the user.
pub async fn reset_password(state: &AppState, token: &str, password: &str, confirmation: &str) -> AppResult<()> {
    use crate::audit::service::{record, Actor, Event};
    let (id, email, first, last) = reset_account(state, token).await?;
    let password = check_new_password(state, password, confirmation, &email, &first, &last)?;
    let hash = state.passwords.hash(password.expose()).await?;
    let token = crate::server::crypto::Token::parse(token).ok_or_else(reset_gone)?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let used = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token.hash())
    .execute(&mut *tx)
    .await?;
    if used.rows_affected() != 1 {
        return Err(reset_gone());
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(&hash).bind(id).execute(&mut *tx).await?;
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
    record(
        &mut tx,
        &Actor::anonymous(&email),
        Event::new("password.reset").user(id, &email).details(format!("{} sessions ended", ended.rows_affected())),
    )
    .await?;
    super::throttle::clear(&mut tx, &email.to_lowercase()).await?;
    tx.commit().await?;
    Ok(())
}

/// The one check for a new password (`password_policy::Policy::parse` with
/// Roster's configured minimum and the person's own details).
pub fn check_new_password(
    state: &AppState,
    password: &str,
    confirmation: &str,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> AppResult<NewPassword> {
    crate::server::policy::parse(state, password, confirmation, email, first_name, last_name)
}

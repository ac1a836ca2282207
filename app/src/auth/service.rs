//! Sign-in and first-run setup, without any HTTP or HTML.

use crate::domain::{EmailAddress, NewPassword};
use crate::error::{AppError, AppResult};
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
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?)
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
    let password = NewPassword::parse_confirmed(password, confirmation).map_err(AppError::Invalid)?;
    let hash = state.passwords.hash(password.expose()).await?;
    create_admin(&state.db, &hash, &email, first_name, last_name, only_if_first).await
}

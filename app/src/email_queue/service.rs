//! Reading and managing the outbox. Sending lives in `crate::mail` and the worker.

use super::{Attempt, EmailDetail, EmailPage, EmailRow, EmailStatus, NOT_CONFIGURED};
use crate::audit::service::{record_now, Actor, Event};
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Permission};
use crate::server::access::Access;
use crate::server::now_ms;
use crate::server::sql::Args;
use crate::server::state::AppState;
use sqlx::any::AnyRow;
use sqlx::Row;

pub const PAGE_SIZE: i64 = 50;

const COLUMNS: &str = "id, to_addr, subject, status, attempts, created_at, next_attempt_at, last_error";

fn row(r: &AnyRow, smtp_configured: bool) -> AppResult<EmailRow> {
    let status = EmailStatus::from_row(&r.try_get::<String, _>("status")?, smtp_configured);
    let mut last_error: Option<String> = r.try_get("last_error")?;
    if status == EmailStatus::NotSent && last_error.is_none() {
        last_error = Some(NOT_CONFIGURED.to_string());
    }
    Ok(EmailRow {
        id: r.try_get("id")?,
        to: r.try_get("to_addr")?,
        subject: r.try_get("subject")?,
        status,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        next_attempt_at: matches!(status, EmailStatus::Queued).then(|| r.try_get("next_attempt_at")).transpose()?,
        last_error,
    })
}

fn not_found() -> AppError {
    AppError::NotFound("This email is no longer in the queue. It may have been deleted or purged.".into())
}

/// Newest first, keyset-paged on the id.
pub async fn list(access: Access<'_>, state: &AppState, status: &str, before: Option<i64>) -> AppResult<EmailPage> {
    access.require(AppId::EmailQueue, Permission::View)?;
    let mut args = Args::default();
    let mut sql = format!("SELECT {COLUMNS} FROM emails WHERE 1 = 1");
    if let Some(s) = EmailStatus::FILTERS.into_iter().find(|s| s.key() == status) {
        sql.push_str(&format!(" AND status = {}", args.text(s.key())));
    }
    if let Some(b) = before {
        sql.push_str(&format!(" AND id < {}", args.int(b)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", args.int(PAGE_SIZE + 1)));
    let rows = args.bind(sqlx::query(&sql)).fetch_all(&state.db.pool).await?;
    let smtp = state.settings.smtp_configured;
    let mut out = rows.iter().take(PAGE_SIZE as usize).map(|r| row(r, smtp)).collect::<AppResult<Vec<_>>>()?;
    let next = (rows.len() as i64 > PAGE_SIZE).then(|| out.last().map(|r| r.id)).flatten();
    out.truncate(PAGE_SIZE as usize);
    Ok(EmailPage { rows: out, next, smtp_configured: smtp })
}

pub async fn detail(access: Access<'_>, state: &AppState, id: i64) -> AppResult<EmailDetail> {
    access.require(AppId::EmailQueue, Permission::View)?;
    let r = sqlx::query(&format!(
        "SELECT {COLUMNS}, message_id, max_attempts, sent_at, body_text, body_html FROM emails WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(not_found)?;
    let attempts = sqlx::query("SELECT attempted_at, error FROM email_attempts WHERE email_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&state.db.pool)
        .await?
        .iter()
        .map(|a| Ok(Attempt { at: a.try_get("attempted_at")?, error: a.try_get("error")? }))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(EmailDetail {
        row: row(&r, state.settings.smtp_configured)?,
        message_id: r.try_get("message_id")?,
        max_attempts: r.try_get("max_attempts")?,
        sent_at: r.try_get("sent_at")?,
        body_text: r.try_get("body_text")?,
        body_html: r.try_get("body_html")?,
        attempts,
    })
}

/// Queue a failed or sent email again, with a fresh set of attempts.
pub async fn resend(access: Access<'_>, state: &AppState, id: i64) -> AppResult<()> {
    access.require(AppId::EmailQueue, Permission::Update)?;
    let r = sqlx::query(
        "UPDATE emails SET status = 'queued', attempts = 0, next_attempt_at = $1, lease_until = NULL, \
         last_error = NULL, sent_at = NULL WHERE id = $2 AND status IN ('failed', 'sent')",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&state.db.pool)
    .await?;
    if r.rows_affected() == 0 {
        let exists = sqlx::query("SELECT id FROM emails WHERE id = $1").bind(id).fetch_optional(&state.db.pool).await?;
        return Err(match exists {
            Some(_) => AppError::Conflict("Only failed or sent emails can be resent; this one is still queued.".into()),
            None => not_found(),
        });
    }
    let to = recipient(state, id).await?;
    record_now(&state.db, &Actor::of(access.principal()), Event::new("email.resent").target("email", id, to)).await?;
    tracing::info!(email_id = id, by = access.principal().user_id, "email resend queued");
    Ok(())
}

pub async fn delete(access: Access<'_>, state: &AppState, id: i64) -> AppResult<()> {
    access.require(AppId::EmailQueue, Permission::Delete)?;
    let to = recipient(state, id).await.unwrap_or_default();
    let r = sqlx::query("DELETE FROM emails WHERE id = $1 AND status <> 'sending'")
        .bind(id)
        .execute(&state.db.pool)
        .await?;
    if r.rows_affected() == 0 {
        let exists = sqlx::query("SELECT id FROM emails WHERE id = $1").bind(id).fetch_optional(&state.db.pool).await?;
        return Err(match exists {
            Some(_) => AppError::Conflict("This email is being sent right now. Try again in a moment.".into()),
            None => not_found(),
        });
    }
    record_now(&state.db, &Actor::of(access.principal()), Event::new("email.deleted").target("email", id, to)).await?;
    tracing::info!(email_id = id, by = access.principal().user_id, "email deleted");
    Ok(())
}

async fn recipient(state: &AppState, id: i64) -> AppResult<String> {
    let r = sqlx::query("SELECT to_addr FROM emails WHERE id = $1").bind(id).fetch_optional(&state.db.pool).await?;
    match r {
        Some(r) => Ok(r.try_get("to_addr")?),
        None => Err(not_found()),
    }
}

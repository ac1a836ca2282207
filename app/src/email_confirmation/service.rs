//! The one home of `email_confirmations` and of what makes `users.email_verified`
//! false: minting a link (only the SHA-256 of its 256-bit token is stored)
//! with its email, sending a new one, and confirming. No HTTP, no HTML.
//!
//! `email_verified` is true only while the person who signs in to the account
//! has proved control of its address: signing up from the invitation sent to
//! it (`invitations::service::accept`), setting a password through a reset
//! link sent to it (`auth::service::reset_password`), or following the
//! link [`email_changed`] sent to it. An email change ends the invitation and
//! reset links sent to the old address (`invitations::service::end_pending_links`),
//! so whichever of those is used later was sent to the current address.

use super::types::{PendingConfirmation, PATH};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::grants::{check_may_manage, user_gone};
use crate::mail::{self, templates};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::crypto::Token;
use crate::server::now_ms;
use crate::server::state::{AppState, Settings};
use crate::settings::template::TemplateKind;
use crate::users::repo as users;
use sqlx::AnyConnection;

/// How long a confirmation link works: 7 days, as the person may read the
/// new mailbox only later; following it needs their password as well.
pub const LINK_TTL_MS: i64 = 7 * 24 * 3_600_000;

/// The email of `user_id` just changed to `email`, in the caller's
/// transaction: the address is unconfirmed from now on and earlier links stop
/// working. Someone who has signed up is sent a link to `email`; before that,
/// the invitation (sent to the new address by Resend invitation) proves it.
/// Returns whether a link was queued.
pub(crate) async fn email_changed(
    conn: &mut AnyConnection,
    settings: &Settings,
    actor: &Actor,
    user_id: UserId,
    email: &str,
) -> AppResult<bool> {
    if users::mark_unverified(conn, user_id).await? == Some(true) {
        send(conn, settings, actor, user_id, email).await?;
        return Ok(true);
    }
    end_links(conn, user_id).await?;
    Ok(false)
}

/// End the user's unused links, mint one for `email`, queue its email and
/// record it. Returns the email's id.
async fn send(
    conn: &mut AnyConnection,
    settings: &Settings,
    actor: &Actor,
    user_id: UserId,
    email: &str,
) -> AppResult<i64> {
    end_links(conn, user_id).await?;
    let (now, token) = (now_ms(), Token::generate());
    sqlx::query(
        "INSERT INTO email_confirmations (user_id, token_hash, new_email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(token.hash())
    .bind(email)
    .bind(now)
    .bind(now + LINK_TTL_MS)
    .execute(&mut *conn)
    .await?;
    let url = settings.link(&format!("{PATH}{}", token.expose()));
    let link = templates::ExpiringLink { url: &url, expires_at: now + LINK_TTL_MS, valid_ms: LINK_TTL_MS };
    let mail =
        templates::with_expiring_link(conn, settings, TemplateKind::EmailConfirmation, user_id, email, &link).await?;
    let email_id = mail::enqueue(conn, settings, &mail).await?;
    record(conn, actor, Event::new(AuditAction::EmailConfirmationSent).user(user_id, email)).await?;
    Ok(email_id)
}

/// Only the newest link works.
async fn end_links(conn: &mut AnyConnection, user_id: UserId) -> AppResult<()> {
    sqlx::query("UPDATE email_confirmations SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Send confirmation link (Users Update, on someone the caller may manage):
/// a new link to the user's address, while it is unconfirmed and they have
/// signed up.
pub async fn resend(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: UserId) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let users::AddressState { email, signed_up, email_verified } =
        users::address_state(&mut tx, id).await?.ok_or_else(user_gone)?;
    if email_verified {
        return Err(AppError::Conflict("This email address is already confirmed.".into()));
    }
    if !signed_up {
        return Err(AppError::Conflict(
            "This user has not signed up yet: signing up from the invitation confirms the address.".into(),
        ));
    }
    let email_id = send(&mut tx, &state.settings, &Actor::of(access.principal()), id, &email).await?;
    tx.commit().await?;
    tracing::info!(user_id = id.get(), by = access.principal().user_id.get(), "email confirmation link sent");
    Ok(email_id)
}

fn link_gone() -> AppError {
    AppError::NotFound(
        "This confirmation link is no longer valid: it was already used, it expired, or the email address changed \
         since. An administrator can send a new one."
            .into(),
    )
}

/// A link that still works: unused, unexpired, its account enabled, and its
/// address still the account's.
#[derive(sqlx::FromRow)]
struct Pending {
    user_id: UserId,
    new_email: String,
    email_norm: String,
}

async fn pending(conn: &mut AnyConnection, token: &Token) -> AppResult<Pending> {
    let found: Option<Pending> = sqlx::query_as(
        "SELECT c.user_id, c.new_email, u.email_norm FROM email_confirmations c JOIN users u ON u.id = c.user_id \
         WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2 AND u.enabled",
    )
    .bind(token.hash())
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    found.filter(|p| p.new_email.to_lowercase() == p.email_norm).ok_or_else(link_gone)
}

/// What the Confirm email page shows for `token`, to `me` (if signed in).
pub async fn pending_info(state: &AppState, me: Option<&Principal>, token: &str) -> AppResult<PendingConfirmation> {
    let token = Token::parse(token).ok_or_else(link_gone)?;
    let link = pending(&mut *state.db.pool.acquire().await?, &token).await?;
    Ok(PendingConfirmation { owner_signed_in: me.is_some_and(|p| p.user_id == link.user_id), email: link.new_email })
}

/// Follow the link, signed in as its account's owner: the address is
/// confirmed and the link spent.
pub async fn confirm(state: &AppState, me: &Principal, token: &str) -> AppResult<String> {
    let token = Token::parse(token).ok_or_else(link_gone)?;
    let mut tx = state.db.begin_write().await?;
    let link = pending(&mut tx, &token).await?;
    if link.user_id != me.user_id {
        tracing::info!(user_id = me.user_id.get(), "email confirmation refused: the link is another account's");
        return Err(AppError::NotAllowed(format!(
            "This link confirms the email address of another account. Sign out, then sign in as {} to confirm it.",
            link.new_email
        )));
    }
    let now = now_ms();
    let spent = sqlx::query(
        "UPDATE email_confirmations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(token.hash())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Only while the address is still the one the link was sent to.
    let confirmed = users::mark_verified(&mut tx, me.user_id, &link.email_norm).await?;
    if spent != 1 || !confirmed {
        return Err(link_gone());
    }
    record(&mut tx, &Actor::of(me), Event::new(AuditAction::EmailConfirmed).user(me.user_id, &link.new_email)).await?;
    tx.commit().await?;
    tracing::info!(user_id = me.user_id.get(), "email address confirmed");
    Ok(link.new_email)
}

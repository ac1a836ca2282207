//! The invitation life cycle: mint (with its email), resend, revoke, end on an
//! email change, and the public sign-up that uses the link. No HTTP, no HTML.

use super::types::Invited;
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::PersonName;
use crate::error::{AppError, AppResult};
use crate::grants::{check_may_manage, user_gone};
use crate::mail::{self, templates};
use crate::server::access::{apps, perms, Access};
use crate::server::crypto::Token;
use crate::server::sql::{in_list, Args};
use crate::server::state::{AppState, Settings};
use crate::server::{name_sort, now_ms};
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;

/// Revoke any pending invitation, mint a new one and queue its email, all in the caller's transaction.
pub(crate) async fn mint(conn: &mut AnyConnection, settings: &Settings, user_id: i64, email: &str) -> AppResult<i64> {
    sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let first_name: Option<String> = sqlx::query_scalar("SELECT first_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    let first_name = first_name.unwrap_or_default();
    let email_ids = mint_for_new(conn, settings, &[NewInvitee { user_id, email, first_name: &first_name }]).await?;
    email_ids.get(&user_id).copied().ok_or_else(|| AppError::internal("mint", "no invitation email queued"))
}

/// A person to invite who has no pending invitation.
pub(crate) struct NewInvitee<'a> {
    pub user_id: i64,
    pub email: &'a str,
    pub first_name: &'a str,
}

/// Mint invitations and queue their emails for people with no pending
/// invitation (created in the caller's transaction, or whose pending one
/// [`mint`] just revoked), in a few statements for all of them: the import
/// invites hundreds at once. Returns each person's invitation email id.
pub(crate) async fn mint_for_new(
    conn: &mut AnyConnection,
    settings: &Settings,
    people: &[NewInvitee<'_>],
) -> AppResult<std::collections::HashMap<i64, i64>> {
    if people.is_empty() {
        return Ok(Default::default());
    }
    let (now, ttl) = (now_ms(), settings.invitation_ttl.as_millis() as i64);
    let template = templates::InForce::load(conn, TemplateKind::Invitation).await?;
    let mut hashes = Vec::with_capacity(people.len());
    let mut mails = Vec::with_capacity(people.len());
    for p in people {
        let token = Token::generate();
        let url = settings.link(&format!("/signup/{}", token.expose()));
        let link = templates::ExpiringLink { url: &url, expires_at: now + ttl, valid_ms: ttl };
        mails.push(template.with_expiring_link(settings, p.user_id, p.email, p.first_name, &link)?);
        hashes.push((p.user_id, token.hash()));
    }
    let email_ids = mail::enqueue_many(conn, settings, &mails).await?;
    let mut args = Args::default();
    let (created, expires) = (args.int(now), args.int(now + ttl));
    let values = args.rows(&hashes, |a, (user, hash)| {
        let email = a.opt_int(email_ids.get(user).copied());
        vec![a.int(*user), a.text(hash.as_str()), created.clone(), expires.clone(), email]
    });
    let sql =
        format!("INSERT INTO invitations (user_id, token_hash, created_at, expires_at, email_id) VALUES {values}");
    args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    let mut args = Args::default();
    let expires = args.int(now + ttl);
    let ids: Vec<i64> = people.iter().map(|p| p.user_id).collect();
    let sql = format!("UPDATE users SET invite_expires_at = {expires} WHERE id IN {}", in_list(&mut args, &ids));
    args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(email_ids)
}

/// End every pending invitation and password-reset link of a user. Returns
/// whether a pending invitation was revoked.
pub(crate) async fn end_pending_links(conn: &mut AnyConnection, user_id: i64) -> AppResult<bool> {
    let now = now_ms();
    let invitations = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query("UPDATE password_resets SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    if invitations > 0 {
        sqlx::query("UPDATE users SET invite_expires_at = NULL WHERE id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(invitations > 0)
}

async fn pending_user_email(conn: &mut AnyConnection, id: i64) -> AppResult<String> {
    let (email, password_hash): (String, Option<String>) =
        sqlx::query_as("SELECT email, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(user_gone)?;
    if password_hash.is_some() {
        return Err(AppError::Conflict("This user has already signed up; there is no invitation to change.".into()));
    }
    Ok(email)
}

/// A fresh link; the old one stops working.
pub async fn resend(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: i64) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let email = pending_user_email(&mut tx, id).await?;
    let email_id = mint(&mut tx, &state.settings, id, &email).await?;
    record(&mut tx, &Actor::of(access.principal()), Event::new(AuditAction::InvitationResent).user(id, &email)).await?;
    tx.commit().await?;
    tracing::info!(user_id = id, by = access.principal().user_id, "invitation resent");
    Ok(email_id)
}

pub async fn revoke(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: i64) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let email = pending_user_email(&mut tx, id).await?;
    let now = now_ms();
    sqlx::query("UPDATE invitations SET revoked_at = $1 WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE users SET invite_expires_at = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
    record(&mut tx, &Actor::of(access.principal()), Event::new(AuditAction::InvitationRevoked).user(id, &email))
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = id, by = access.principal().user_id, "invitation revoked");
    Ok(())
}

// ---- sign-up (public, with the invitation's token) ----------------------------------

fn invitation_gone() -> AppError {
    AppError::NotFound("This invitation is no longer valid. Ask your administrator to send a new one.".into())
}

/// Who a valid token invites.
pub async fn invited(state: &AppState, token: &str) -> AppResult<Invited> {
    let token = Token::parse(token).ok_or_else(invitation_gone)?;
    sqlx::query_as(
        "SELECT u.email, u.first_name, u.last_name FROM invitations i JOIN users u ON u.id = i.user_id \
         WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 \
         AND u.enabled AND u.password_hash IS NULL",
    )
    .bind(token.hash())
    .bind(now_ms())
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or_else(invitation_gone)
}

/// Use the invitation: set the password (and the name, when given) and mark
/// the link used, once. The invitation went to the account's address (an
/// email change revokes it), so using it proves the address: `email_verified`.
pub async fn accept(
    state: &AppState,
    token: &str,
    name: Option<&PersonName>,
    password: &str,
    confirmation: &str,
) -> AppResult<i64> {
    let token = Token::parse(token).ok_or_else(invitation_gone)?;
    let invited = invited(state, token.expose()).await?;
    let name = match name {
        Some(name) => name.clone(),
        None => PersonName::parse(&invited.first_name, &invited.last_name).map_err(AppError::Invalid)?,
    };
    let email = invited.email;
    let password = crate::server::policy::parse(state, password, confirmation, &email, name.first(), name.last())?;
    let hash = state.passwords.hash(password.expose()).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let user_id: i64 = sqlx::query_scalar(
        "UPDATE invitations SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1 RETURNING user_id",
    )
    .bind(now)
    .bind(token.hash())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(invitation_gone)?;
    let r = sqlx::query(
        "UPDATE users SET password_hash = $1, invite_expires_at = NULL, first_name = $2, last_name = $3, name_sort = $4, \
         email_verified = TRUE WHERE id = $5 AND password_hash IS NULL AND enabled",
    )
    .bind(&hash)
    .bind(name.first())
    .bind(name.last())
    .bind(name_sort(name.first(), name.last()))
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(invitation_gone());
    }
    record(&mut tx, &Actor::anonymous(&email), Event::new(AuditAction::InvitationAccepted).user(user_id, &email))
        .await?;
    tx.commit().await?;
    tracing::info!(user_id, "invitation accepted");
    Ok(user_id)
}

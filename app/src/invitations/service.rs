//! The invitation life cycle: mint (with its email), resend, revoke, end on an
//! email change, and the public sign-up that uses the link. No HTTP, no HTML.

use super::repo::{self, NewInvitation};
use super::types::Invited;
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{PersonName, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::grants::{check_may_manage, user_gone};
use crate::mail::{self, templates};
use crate::server::access::{apps, perms, Access};
use crate::server::crypto::Token;
use crate::server::state::{AppState, Settings};
use crate::settings::template::TemplateKind;
use crate::users::repo as users;
use sqlx::AnyConnection;

/// Revoke any pending invitation, mint a new one and queue its email, all in the caller's transaction.
pub(crate) async fn mint(
    conn: &mut AnyConnection,
    settings: &Settings,
    user_id: UserId,
    email: &str,
) -> AppResult<i64> {
    repo::revoke_pending(conn, user_id, Timestamp::now()).await?;
    let first_name = users::first_name(conn, user_id).await?.unwrap_or_default();
    let email_ids = mint_for_new(conn, settings, &[NewInvitee { user_id, email, first_name: &first_name }]).await?;
    email_ids.get(&user_id).copied().ok_or_else(|| AppError::internal("mint", "no invitation email queued"))
}

/// A person to invite who has no pending invitation.
pub(crate) struct NewInvitee<'a> {
    pub user_id: UserId,
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
) -> AppResult<std::collections::HashMap<UserId, i64>> {
    if people.is_empty() {
        return Ok(Default::default());
    }
    let now = Timestamp::now();
    let expires = now.plus(settings.invitation_ttl);
    let ttl = settings.invitation_ttl.as_millis() as i64;
    let template = templates::InForce::load(conn, TemplateKind::Invitation).await?;
    let mut hashes = Vec::with_capacity(people.len());
    let mut mails = Vec::with_capacity(people.len());
    for p in people {
        let token = Token::generate();
        let url = settings.link(&format!("/signup/{}", token.expose()));
        let link = templates::ExpiringLink { url: &url, expires_at: expires.millis(), valid_ms: ttl };
        mails.push(template.with_expiring_link(settings, p.user_id, p.email, p.first_name, &link)?);
        hashes.push((p.user_id, token.hash()));
    }
    let email_ids = mail::enqueue_many(conn, settings, &mails).await?;
    let invitations: Vec<NewInvitation> = hashes
        .into_iter()
        .map(|(user_id, token_hash)| NewInvitation { user_id, token_hash, email_id: email_ids.get(&user_id).copied() })
        .collect();
    repo::insert_many(conn, &invitations, now, expires).await?;
    let ids: Vec<UserId> = people.iter().map(|p| p.user_id).collect();
    users::set_invitation_expiry(conn, &ids, expires).await?;
    Ok(email_ids)
}

/// End every pending invitation and password-reset link of a user. Returns
/// whether a pending invitation was revoked.
pub(crate) async fn end_pending_links(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    let now = Timestamp::now();
    let revoked = repo::revoke_working(conn, user_id, now).await?;
    crate::auth::repo::end_unused(conn, user_id, now).await?;
    if revoked {
        users::clear_invitation_expiry(conn, &[user_id]).await?;
    }
    Ok(revoked)
}

async fn pending_user_email(conn: &mut AnyConnection, id: UserId) -> AppResult<String> {
    let users::AddressState { email, signed_up, .. } = users::address_state(conn, id).await?.ok_or_else(user_gone)?;
    if signed_up {
        return Err(AppError::Conflict("This user has already signed up; there is no invitation to change.".into()));
    }
    Ok(email)
}

/// A fresh link; the old one stops working.
pub async fn resend(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: UserId) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let email = pending_user_email(&mut tx, id).await?;
    let email_id = mint(&mut tx, &state.settings, id, &email).await?;
    record(&mut tx, &Actor::of(access.principal()), Event::new(AuditAction::InvitationResent).user(id, &email)).await?;
    tx.commit().await?;
    tracing::info!(user_id = id.get(), by = access.principal().user_id.get(), "invitation resent");
    Ok(email_id)
}

pub async fn revoke(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: UserId) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let email = pending_user_email(&mut tx, id).await?;
    repo::revoke_pending(&mut tx, id, Timestamp::now()).await?;
    users::clear_invitation_expiry(&mut tx, &[id]).await?;
    record(&mut tx, &Actor::of(access.principal()), Event::new(AuditAction::InvitationRevoked).user(id, &email))
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = id.get(), by = access.principal().user_id.get(), "invitation revoked");
    Ok(())
}

// ---- sign-up (public, with the invitation's token) ----------------------------------

fn invitation_gone() -> AppError {
    AppError::NotFound("This invitation is no longer valid. Ask your administrator to send a new one.".into())
}

/// Who a valid token invites.
pub async fn invited(state: &AppState, token: &str) -> AppResult<Invited> {
    let token = Token::parse(token).ok_or_else(invitation_gone)?;
    repo::invited(&mut *state.db.pool.acquire().await?, &token.hash(), Timestamp::now())
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
) -> AppResult<UserId> {
    let token = Token::parse(token).ok_or_else(invitation_gone)?;
    let invited = invited(state, token.expose()).await?;
    let name = match name {
        Some(name) => name.clone(),
        None => PersonName::parse(&invited.first_name, &invited.last_name).map_err(AppError::Invalid)?,
    };
    let email = invited.email;
    let password = crate::server::policy::parse(state, password, confirmation, &email, name.first(), name.last())?;
    let hash = state.passwords.hash(password.expose()).await?;
    let mut tx = state.db.begin_write().await?;
    let user_id = repo::spend(&mut tx, &token.hash(), Timestamp::now()).await?.ok_or_else(invitation_gone)?;
    if !users::sign_up(&mut tx, user_id, &hash, &name).await? {
        return Err(invitation_gone());
    }
    record(&mut tx, &Actor::anonymous(&email), Event::new(AuditAction::InvitationAccepted).user(user_id, &email))
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = user_id.get(), "invitation accepted");
    Ok(user_id)
}

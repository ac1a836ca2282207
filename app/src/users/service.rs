//! The Users application's service: list, invite, edit, enable/disable and
//! the invitation life cycle. No HTTP, no HTML.

use super::repo;
use super::types::{Delivery, RoleOption, UpdateOutcome, UserDetail, UserPage, UserQuery, UserRow, UserStatus};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{EmailAddress, PersonName, RoleId, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::grants::{check_may_manage, is_last_admin, user_email, user_gone};
use crate::roles::repo::role_ids_of;
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::db::is_unique_violation;
use crate::server::session;
use crate::server::state::AppState;
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;
use std::collections::HashMap;

pub const PAGE_SIZE: i64 = 25;

pub async fn list(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    q: &UserQuery,
) -> AppResult<UserPage> {
    let rows = {
        let mut conn = state.db.pool.acquire().await?;
        repo::page(&mut conn, state.db.backend, q, Timestamp::now(), PAGE_SIZE).await?
    };
    let mut out = Vec::new();
    let mut cursor_of_last = None;
    for r in rows.iter().take(PAGE_SIZE as usize) {
        cursor_of_last = Some(format!("{}:{}", r.id, r.sort_key));
        out.push(UserRow {
            id: r.id,
            email: r.email.clone(),
            full_name: format!("{} {}", r.first_name.trim(), r.last_name.trim()).trim().to_string(),
            status: r.status,
            roles: vec![],
            last_sign_in_at: r.last_sign_in_at,
            delivery: None,
            locked: false,
            email_verified: r.email_verified,
        });
    }
    let next = if rows.len() as i64 > PAGE_SIZE { cursor_of_last } else { None };

    let ids: Vec<UserId> = out.iter().map(|u| u.id).collect();
    if !ids.is_empty() {
        let mut roles = roles_of(state, &ids).await?;
        let mut delivery = deliveries_of(state, &ids).await?;
        let keys: Vec<String> = out.iter().map(|u| u.email.to_lowercase()).collect();
        let locked = crate::credentials::throttle::locked(&state.db, &state.settings.throttle, &keys).await?;
        for u in &mut out {
            u.locked = locked.contains(&u.email.to_lowercase());
            u.roles = roles.remove(&u.id).unwrap_or_default();
            if matches!(u.status, UserStatus::Invited | UserStatus::InvitationExpired) {
                u.delivery = delivery.remove(&u.id);
            }
        }
    }
    let smtp_configured = crate::mail::smtp::configured(&state.db, &state.settings).await?;
    Ok(UserPage { rows: out, next, smtp_configured })
}

async fn roles_of(state: &AppState, ids: &[UserId]) -> AppResult<HashMap<UserId, Vec<String>>> {
    crate::roles::repo::role_names_by_user(&mut *state.db.pool.acquire().await?, ids).await
}

/// The delivery state of each user's latest invitation email.
async fn deliveries_of(state: &AppState, ids: &[UserId]) -> AppResult<HashMap<UserId, Delivery>> {
    let mut map = HashMap::new();
    let smtp_configured = crate::mail::smtp::configured(&state.db, &state.settings).await?;
    let rows = crate::mail::outbox::invitation_emails(&state.db, ids).await?;
    for (user_id, email_id, status, error) in rows {
        let state = status.shown(smtp_configured);
        map.insert(user_id, Delivery { email_id, state, error });
    }
    Ok(map)
}

/// Every role, and for each one the caller may not hand out, why not.
pub async fn roles(access: Access<'_, apps::Users, perms::View>, state: &AppState) -> AppResult<Vec<RoleOption>> {
    let mut conn = state.db.pool.acquire().await?;
    let roles = crate::roles::repo::all_by_name(&mut conn).await?;
    let mut refusals = crate::grants::hand_out_refusals(&mut conn, access.principal()).await?;
    Ok(roles
        .into_iter()
        .map(|r| RoleOption {
            refusal: refusals.remove(&r.id),
            id: r.id,
            name: r.name,
            description: r.description,
            builtin: r.builtin.is_some(),
        })
        .collect())
}

/// Check the chosen roles exist, and that the caller may hand them out.
async fn check_roles(conn: &mut AnyConnection, caller: &Principal, role_ids: &[RoleId]) -> AppResult<()> {
    if role_ids.is_empty() {
        return Ok(());
    }
    let found = crate::roles::repo::existing(conn, role_ids).await?;
    if found.len() != role_ids.len() {
        return Err(AppError::Invalid(
            "One of the chosen roles no longer exists. Reload the page and try again.".into(),
        ));
    }
    // No privilege escalation: only what the caller holds (never Administrator, unless they are one).
    crate::grants::check_can_hand_out(conn, caller, role_ids).await
}

async fn set_roles(conn: &mut AnyConnection, user_id: UserId, role_ids: &[RoleId]) -> AppResult<()> {
    crate::roles::repo::take_all(conn, user_id).await?;
    crate::roles::repo::give(conn, user_id, role_ids).await
}

fn duplicate(email: &EmailAddress) -> AppError {
    AppError::Conflict(format!("A user with the email {email} already exists."))
}

/// New user: the user row, their roles, the invitation and its email, in one transaction.
pub async fn invite(
    access: Access<'_, apps::Users, perms::Create>,
    state: &AppState,
    email: &EmailAddress,
    name: &PersonName,
    role_ids: &[RoleId],
) -> AppResult<UserId> {
    let mut tx = state.db.begin_write().await?;
    check_roles(&mut tx, access.principal(), role_ids).await?;
    if repo::id_by_email(&mut tx, email).await?.is_some() {
        return Err(duplicate(email));
    }
    let id = repo::insert(&mut tx, email, name, None, Timestamp::now()).await.map_err(|e| {
        if is_unique_violation(&e) {
            duplicate(email)
        } else {
            e.into()
        }
    })?;
    set_roles(&mut tx, id, role_ids).await?;
    crate::invitations::service::mint(&mut tx, &state.settings, id, email.as_str()).await?;
    let roles = role_names(&mut tx, role_ids).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::InvitationSent).user(id, email.as_str()).details(match name.full().as_str() {
            "" => format!("roles: {roles}"),
            full => format!("name: {full}; roles: {roles}"),
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = id.get(), by = access.principal().user_id.get(), "user invited");
    Ok(id)
}

pub async fn detail(
    access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    id: UserId,
) -> AppResult<UserDetail> {
    let mut conn = state.db.pool.acquire().await?;
    let r = repo::record(&mut conn, id, Timestamp::now()).await?.ok_or_else(user_gone)?;
    let role_ids = role_ids_of(&mut conn, id).await?;
    let manage_refusal = match check_may_manage(&mut conn, access.principal(), id).await {
        Ok(()) => None,
        Err(AppError::NotAllowed(why)) => Some(why),
        Err(e) => return Err(e),
    };
    drop(conn);
    let delivery = deliveries_of(state, &[id]).await?.remove(&id);
    let key = r.email.to_lowercase();
    let locked = crate::credentials::throttle::locked(&state.db, &state.settings.throttle, std::slice::from_ref(&key))
        .await?
        .contains(&key);
    Ok(UserDetail {
        locked,
        id,
        email: r.email,
        first_name: r.first_name,
        last_name: r.last_name,
        enabled: r.enabled,
        status: r.status,
        role_ids,
        last_sign_in_at: r.last_sign_in_at,
        created_at: r.created_at,
        invitation_expires_at: r.invite_expires_at,
        delivery,
        email_verified: r.email_verified,
        manage_refusal,
    })
}

pub struct GeneralInfo<'a> {
    pub name: &'a PersonName,
    pub email: &'a EmailAddress,
}

pub async fn update(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    id: UserId,
    info: &GeneralInfo<'_>,
    role_ids: &[RoleId],
) -> AppResult<UpdateOutcome> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let repo::Named { first_name: first_before, last_name: last_before, email: email_before } =
        repo::named(&mut tx, id).await?.ok_or_else(user_gone)?;
    // Changing one's own email changes where one's password resets go: like
    // adding a factor, it needs a recent sign-in or confirmation.
    let email_changed = email_before.to_lowercase() != info.email.normalized();
    let me = access.principal();
    if id == me.user_id && email_changed {
        me.require_fresh(state.settings.fresh_sign_in)?;
    }
    let roles_before = role_ids_of(&mut tx, id).await?;
    if repo::email_taken_by_other(&mut tx, info.email, id).await? {
        return Err(duplicate(info.email));
    }
    check_roles(&mut tx, access.principal(), role_ids).await?;
    let admin_role = crate::roles::repo::administrator_id(&mut tx).await?;
    let had_admin = crate::roles::repo::holds(&mut tx, id, admin_role).await?;
    let keeps_admin = role_ids.contains(&admin_role);
    if had_admin && !keeps_admin {
        if !access.principal().is_admin {
            return Err(AppError::Forbidden);
        }
        if is_last_admin(&mut tx, id).await? {
            return Err(AppError::Conflict(
                "This is the last Global administrator. Give the Administrator role to someone else first.".into(),
            ));
        }
    }
    repo::set_name_and_email(&mut tx, id, info.name, info.email).await.map_err(|e| {
        if is_unique_violation(&e) {
            duplicate(info.email)
        } else {
            e.into()
        }
    })?;
    // A link sent to the old address must not keep working for whoever reads that mailbox.
    let invitation_revoked = email_changed && crate::invitations::service::end_pending_links(&mut tx, id).await?;
    // The new address is unconfirmed until its owner follows the link sent to it.
    let confirmation_sent = email_changed && {
        let actor = Actor::of(access.principal());
        crate::email_confirmation::service::email_changed(&mut tx, &state.settings, &actor, id, info.email.as_str())
            .await?
    };
    set_roles(&mut tx, id, role_ids).await?;
    let (names_before, names_after) = (role_names(&mut tx, &roles_before).await?, role_names(&mut tx, role_ids).await?);
    let diff = crate::audit::service::diff(&[
        ("first name", &first_before, info.name.first()),
        ("last name", &last_before, info.name.last()),
        ("email", &email_before, info.email.as_str()),
        ("roles", &names_before, &names_after),
    ]);
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::UserUpdated).user(id, info.email.as_str()).details(diff),
    )
    .await?;
    if invitation_revoked {
        let event =
            Event::new(AuditAction::InvitationRevoked).user(id, info.email.as_str()).details("the email changed");
        record(&mut tx, &Actor::of(access.principal()), event).await?;
    }
    // The old address hears of it, so its owner can act if they did not ask
    // for it. Not while the person has not signed up: their account is not
    // in use yet, and the old address was likely a mistake.
    if email_changed && repo::signed_up(&mut tx, id).await? {
        let new_email = [("new_email", info.email.as_str().to_string())];
        crate::mail::notify_owner(&mut tx, &state.settings, TemplateKind::EmailChanged, id, &email_before, &new_email)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = id.get(), by = access.principal().user_id.get(), "user updated");
    Ok(UpdateOutcome { invitation_revoked, confirmation_sent })
}

/// Enable or disable a user. Disabling ends every session of theirs at once,
/// on every server process (sessions live in the database).
pub async fn set_enabled(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    id: UserId,
    enabled: bool,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    if !enabled && is_last_admin(&mut tx, id).await? {
        return Err(AppError::Conflict("This is the last enabled Global administrator and cannot be disabled.".into()));
    }
    if !repo::set_enabled(&mut tx, id, enabled).await? {
        return Err(user_gone());
    }
    let mut details = String::new();
    if !enabled {
        let ended = session::end_all_for_user(&mut tx, id).await?;
        details = format!("{ended} sessions ended");
    }
    let email = user_email(&mut tx, id).await?;
    let action = if enabled { AuditAction::UserEnabled } else { AuditAction::UserDisabled };
    record(&mut tx, &Actor::of(access.principal()), Event::new(action).user(id, &email).details(details)).await?;
    tx.commit().await?;
    tracing::info!(user_id = id.get(), enabled, by = access.principal().user_id.get(), "user enabled changed");
    Ok(())
}

/// "A, B" for the audit trail.
async fn role_names(conn: &mut AnyConnection, role_ids: &[RoleId]) -> AppResult<String> {
    Ok(crate::roles::repo::names_of(conn, role_ids).await?.join(", "))
}

/// End every session of another user (Users Update).
pub async fn end_sessions_of(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    id: UserId,
) -> AppResult<u64> {
    let mut tx = state.db.begin_write().await?;
    let email = user_email(&mut tx, id).await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let ended = session::end_all_for_user(&mut tx, id).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::SessionEnded)
            .user(id, &email)
            .details(format!("{ended} sessions ended by an administrator")),
    )
    .await?;
    tx.commit().await?;
    Ok(ended)
}

/// Lift a sign-in lockout (Users Update).
pub async fn unlock(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: UserId) -> AppResult<()> {
    let mut conn = state.db.pool.acquire().await?;
    let email = user_email(&mut conn, id).await?;
    check_may_manage(&mut conn, access.principal(), id).await?;
    crate::credentials::throttle::clear(&mut conn, &email.to_lowercase()).await?;
    crate::credentials::throttle::clear_second_step_locks(&mut conn, &email.to_lowercase()).await?;
    record(&mut conn, &Actor::of(access.principal()), Event::new(AuditAction::UserUnlocked).user(id, &email)).await?;
    Ok(())
}

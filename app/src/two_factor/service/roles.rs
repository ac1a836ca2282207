//! The rule that a role may require a second factor.

use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::RoleId;
use crate::error::{AppError, AppResult};
use crate::roles::repo;
use crate::server::access::{apps, perms, Access};
use crate::server::state::AppState;

/// Require (or stop requiring) a second factor of role `id`'s members. The
/// built-in Administrator role is an administrator's to change, and a role
/// that grants more than the caller holds too (the hand-out rule).
pub async fn set_role_requirement(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: RoleId,
    required: bool,
) -> AppResult<()> {
    let caller = access.principal();
    let mut tx = state.db.begin_write().await?;
    let head =
        repo::find(&mut tx, id).await?.ok_or_else(|| AppError::NotFound("This role no longer exists.".into()))?;
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
    repo::set_require_two_factor(&mut tx, id, required).await?;
    record(
        &mut tx,
        &Actor::of(caller),
        Event::new(AuditAction::RoleTwoFactorRequired).target("role", id.get(), head.name).details(if required {
            "members must use a second factor"
        } else {
            "no longer required"
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

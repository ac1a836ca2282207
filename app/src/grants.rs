//! Who holds what, and the rules for changing it, in one place that Users,
//! Roles, the Email queue and the session middleware all use:
//!
//! - what the built-in Administrator role holds ([`every_grant`]);
//! - loading a person's grants at each request ([`load`]);
//! - the hand-out rule: nobody but an administrator gives a role that grants
//!   more than they hold ([`check_can_hand_out`]);
//! - administrators are changed only by administrators, and nobody acts on
//!   someone who holds more than they do ([`check_may_manage`]);
//! - the last enabled administrator stays ([`is_last_admin`]).

use crate::domain::{RoleId, UserId};
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Grant, Permission, APPLICATIONS};
use crate::roles::repo;
use crate::roles::types::Builtin;
use crate::server::access::Principal;
use crate::server::db::Db;
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap};

/// Every (application, permission) the registry declares: what the Administrator
/// holds of Roster's own (see [`every_grant_with_registered`] for all of it).
pub fn every_grant() -> Vec<Grant> {
    APPLICATIONS.iter().flat_map(|a| a.permissions.iter().map(|p| (a.id, *p))).collect()
}

/// Everything the Administrator holds: Roster's own applications and every
/// registered one, all four permissions.
pub async fn every_grant_with_registered(conn: &mut AnyConnection) -> AppResult<Vec<Grant>> {
    let mut all = every_grant();
    all.extend(every_registered_grant(conn).await?);
    Ok(all)
}

/// Every (registered application, permission): what the Administrator holds besides Roster's own.
pub async fn every_registered_grant(conn: &mut AnyConnection) -> AppResult<Vec<Grant>> {
    let ids = crate::applications::repo::ids(conn).await?;
    Ok(ids.into_iter().flat_map(|id| Permission::ALL.map(|p| (AppId::Registered(id), p))).collect())
}

/// What [`load`] reads of one user.
pub struct Held {
    pub is_admin: bool,
    pub grants: BTreeSet<Grant>,
    /// One of their roles requires two-factor sign-in (`two_factor`).
    pub two_factor_required: bool,
}

/// One indexed query: the user's roles, what they grant, and whether one
/// requires two-factor sign-in.
pub async fn load(db: &Db, user_id: UserId) -> AppResult<Held> {
    let mut conn = db.pool.acquire().await?;
    load_on(&mut conn, user_id).await
}

/// [`load`] for the session middleware, and whether the user owes a second
/// factor: one of their roles requires one and they have none set up.
pub async fn load_for_session(db: &Db, user_id: UserId) -> AppResult<(Held, bool)> {
    let held = load(db, user_id).await?;
    // Only members of a role that requires a second factor pay for this query.
    let two_factor_setup_owed = held.two_factor_required
        && !crate::credentials::has_second_factor(&mut *db.pool.acquire().await?, user_id).await?;
    Ok((held, two_factor_setup_owed))
}

/// [`load`] on a connection the caller holds (inside its transaction: taking
/// a second connection from the pool while holding SQLite's write lock let
/// concurrent callers exhaust the pool, each waiting for the other).
pub async fn load_on(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Held> {
    let mut held = Held { is_admin: false, grants: BTreeSet::new(), two_factor_required: false };
    for row in repo::grants_held_by(conn, user_id).await? {
        held.is_admin |= row.grant.is_administrator();
        held.two_factor_required |= row.require_two_factor;
        held.grants.extend(row.grant.grant());
    }
    Ok(held)
}

/// Refuse, unless the caller is a Global administrator, to give out any of
/// `role_ids` that grants something the caller does not hold (the
/// Administrator role grants everything).
pub async fn check_can_hand_out(conn: &mut AnyConnection, principal: &Principal, role_ids: &[RoleId]) -> AppResult<()> {
    if principal.is_admin || role_ids.is_empty() {
        return Ok(());
    }
    for r in repo::grants_of_roles(conn, role_ids).await? {
        if r.is_administrator() {
            return Err(AppError::Forbidden);
        }
        if let Some((app, permission)) = r.grant() {
            if !principal.can(app, permission) {
                tracing::info!(
                    user_id = principal.user_id.get(),
                    app = %app.key(),
                    "refused to hand out a role beyond the caller's own access"
                );
                return Err(AppError::Forbidden);
            }
        }
    }
    Ok(())
}

/// For every role `caller` may not hand out, why not (the rule of
/// [`check_can_hand_out`], for all roles in one query): the role pickers show
/// it beside the role.
pub async fn hand_out_refusals(conn: &mut AnyConnection, caller: &Principal) -> AppResult<HashMap<RoleId, String>> {
    let mut out = HashMap::new();
    if caller.is_admin {
        return Ok(out);
    }
    let rows = repo::grants_by_role(conn).await?;
    let names = crate::applications::repo::names(conn).await?;
    for repo::RoleGrant { id, grant } in rows {
        let why = if grant.is_administrator() {
            Some("Only a Global administrator can give the Administrator role.".to_string())
        } else {
            grant
                .grant()
                .filter(|(app, p)| !caller.can(*app, *p))
                .map(|(app, p)| format!("It grants {}: {}, which you do not have.", app.name(&names), p.label()))
        };
        if let Some(why) = why {
            out.entry(id).or_insert(why);
        }
    }
    Ok(out)
}

/// Is `user_id` an enabled administrator, and is there no other one?
/// The one last-administrator guard: Users and Roles both ask it, inside the
/// write transaction that would take the administrator away.
///
/// On PostgreSQL, READ COMMITTED would let two such transactions both count
/// "another administrator remains" and both commit. Locking the Administrator
/// role row first makes the second wait for the first; its count, a new
/// statement with a new snapshot, then sees the first one's change. SQLite's
/// `BEGIN IMMEDIATE` already serialises writers.
pub async fn is_last_admin(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    repo::lock_administrator(conn).await?;
    let others = repo::other_active_administrators(conn, user_id).await?;
    Ok(repo::holds_administrator(conn, user_id).await? && others == 0)
}

/// What a non-administrator is told when the target is an administrator.
pub const ADMIN_PROTECTED: &str = "Only a Global administrator can change a Global administrator's account, \
     sessions, sign-in lockout, invitation or roles.";

/// What a non-administrator is told when the target holds access they do not.
pub const BEYOND_YOUR_ACCESS: &str = "You can only change people whose roles you could give yourself: this person \
     has access that you do not have. Ask a Global administrator.";

/// Every action on another person's account asks this first. Administrators
/// are changed only by administrators; and nobody but an administrator acts on
/// someone whose roles grant more than the caller holds (the hand-out rule,
/// [`check_can_hand_out`]), or changing that person's email and asking for a
/// reset would hand the caller their access.
pub async fn check_may_manage(conn: &mut AnyConnection, caller: &Principal, user_id: UserId) -> AppResult<()> {
    if caller.is_admin {
        return Ok(());
    }
    if repo::holds_administrator(conn, user_id).await? {
        tracing::info!(
            user_id = caller.user_id.get(),
            target = user_id.get(),
            "refused: the target is an administrator"
        );
        return Err(AppError::NotAllowed(ADMIN_PROTECTED.into()));
    }
    if !could_have_given(conn, caller, user_id).await? {
        tracing::info!(
            user_id = caller.user_id.get(),
            target = user_id.get(),
            "refused: the target holds more than the caller"
        );
        return Err(AppError::NotAllowed(BEYOND_YOUR_ACCESS.into()));
    }
    Ok(())
}

/// [`check_may_manage`] for many people at once (bulk actions): for each of
/// `user_ids` the caller may not act on, the reason, the same words the
/// single actions answer with. The same two rules, read in two queries
/// whatever the number of people: holders of the Administrator role are
/// refused to non-administrators ([`ADMIN_PROTECTED`]), and so are holders
/// of any role the caller could not hand out ([`hand_out_refusals`], the rule
/// of [`check_can_hand_out`]; [`BEYOND_YOUR_ACCESS`]).
pub async fn unmanageable(
    conn: &mut AnyConnection,
    caller: &Principal,
    user_ids: &[UserId],
) -> AppResult<HashMap<UserId, &'static str>> {
    let mut out = HashMap::new();
    if caller.is_admin || user_ids.is_empty() {
        return Ok(out);
    }
    let refused = hand_out_refusals(conn, caller).await?;
    for h in repo::holdings(conn, user_ids).await? {
        if h.builtin == Some(Builtin::Administrator) {
            out.insert(h.user_id, ADMIN_PROTECTED);
        } else if refused.contains_key(&h.role_id) {
            out.entry(h.user_id).or_insert(BEYOND_YOUR_ACCESS);
        }
    }
    Ok(out)
}

/// Could `caller` have given `user_id` every role they hold? (The hand-out
/// rule, [`check_can_hand_out`], applied to that person's roles.)
pub async fn could_have_given(conn: &mut AnyConnection, caller: &Principal, user_id: UserId) -> AppResult<bool> {
    let roles = repo::role_ids_of(conn, user_id).await?;
    Ok(check_can_hand_out(conn, caller, &roles).await.is_ok())
}

// ---- the person a rule is about ---------------------------------------------------

pub fn user_gone() -> AppError {
    AppError::NotFound("This user does not exist. They may have been deleted.".into())
}

/// User `id`'s address, or [`user_gone`].
pub async fn user_email(conn: &mut AnyConnection, id: UserId) -> AppResult<String> {
    crate::users::repo::email(conn, id).await?.ok_or_else(user_gone)
}

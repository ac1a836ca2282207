//! The Roles application's service: roles, their grants and members, and
//! effective access. No HTTP, no HTML.
//!
//! No privilege escalation: a caller who is not a Global administrator can
//! only hand out what they hold themselves, whether by ticking a permission in
//! a role or by giving someone a role (`crate::grants::check_can_hand_out`).

use super::repo::{self, MemberRow, NamedGrant};
use super::types::{AccessLine, EffectiveAccess, Grant, Member, RoleDetail, RoleName, RoleSummary};
use crate::applications::repo as applications;
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{ApplicationId, RoleId, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::grants::{check_can_hand_out, check_may_manage, every_grant_with_registered, is_last_admin, user_email};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::db::Db;
use crate::server::state::AppState;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};

const CANDIDATES_LIMIT: i64 = 20;

fn role_gone() -> AppError {
    AppError::NotFound("This role does not exist. It may have been deleted.".into())
}

fn builtin_refused() -> AppError {
    AppError::Conflict(
        "The built-in Administrator role cannot be changed or deleted: it always has every permission of every application."
            .into(),
    )
}

fn duplicate(name: &RoleName) -> AppError {
    AppError::Conflict(format!("A role named {name} already exists."))
}

/// "Users: View, Email queue: View", for the audit log.
fn describe(grants: &[Grant], names: &HashMap<ApplicationId, String>) -> String {
    if grants.is_empty() {
        return "nothing".into();
    }
    grants.iter().map(|(a, p)| format!("{}: {}", a.name(names), p.label())).collect::<Vec<_>>().join(", ")
}

/// Role `id`, or NotFound.
async fn role(conn: &mut AnyConnection, id: RoleId) -> AppResult<repo::Role> {
    repo::find(conn, id).await?.ok_or_else(role_gone)
}

pub async fn list(_access: Access<'_, apps::Roles, perms::View>, state: &AppState) -> AppResult<Vec<RoleSummary>> {
    repo::summaries(&mut *state.db.pool.acquire().await?).await
}

pub async fn detail(
    access: Access<'_, apps::Roles, perms::View>,
    state: &AppState,
    id: RoleId,
) -> AppResult<RoleDetail> {
    let mut conn = state.db.pool.acquire().await?;
    let role = role(&mut conn, id).await?;
    let builtin = role.is_administrator();
    let grants = if builtin {
        every_grant_with_registered(&mut conn).await?
    } else {
        repo::grants_of(&mut conn, id).await?.into_iter().collect()
    };
    let applications = applications::tiles(&mut conn).await?;
    let members = repo::members(&mut conn, id).await?;
    let members = with_manageable(&mut conn, access.principal(), members).await?;
    let may_hand_out = check_can_hand_out(&mut conn, access.principal(), &[id]).await.is_ok();
    Ok(RoleDetail {
        id,
        name: role.name,
        description: role.description,
        builtin,
        grants,
        members,
        applications,
        require_two_factor: role.require_two_factor,
        may_hand_out,
    })
}

/// `rows` as members, each marked with whether `caller` may change their
/// roles (the rule of `check_may_manage`, for all of them in two queries).
async fn with_manageable(conn: &mut AnyConnection, caller: &Principal, rows: Vec<MemberRow>) -> AppResult<Vec<Member>> {
    let ids: Vec<UserId> = rows.iter().map(|r| r.id).collect();
    let refused = crate::grants::unmanageable(conn, caller, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let manageable = !refused.contains_key(&r.id);
            Member { manageable, ..Member::from(r) }
        })
        .collect())
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            user_id: r.id,
            full_name: format!("{} {}", r.first_name.trim(), r.last_name.trim()).trim().to_string(),
            email: r.email,
            enabled: r.enabled,
            manageable: false,
        }
    }
}

/// A new role that grants nothing yet.
pub async fn create(
    access: Access<'_, apps::Roles, perms::Create>,
    state: &AppState,
    name: &RoleName,
    description: &str,
) -> AppResult<RoleId> {
    let mut tx = state.db.begin_write().await?;
    if repo::name_taken(&mut tx, name, None).await? {
        return Err(duplicate(name));
    }
    let id = insert_role(&mut tx, name, description).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleCreated).target("role", id.get(), name.as_str()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id.get(), by = access.principal().user_id.get(), "role created");
    Ok(id)
}

/// The role row; its name must be free (a clash found only here is still a clear error).
async fn insert_role(conn: &mut AnyConnection, name: &RoleName, description: &str) -> AppResult<RoleId> {
    repo::insert(conn, name, description, Timestamp::now()).await?.ok_or_else(|| duplicate(name))
}

pub async fn update(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: RoleId,
    name: &RoleName,
    description: &str,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    let old = role(&mut tx, id).await?;
    if old.is_administrator() {
        return Err(builtin_refused());
    }
    if repo::name_taken(&mut tx, name, Some(id)).await? || !repo::rename(&mut tx, id, name, description).await? {
        return Err(duplicate(name));
    }
    let diff = crate::audit::service::diff(&[
        ("name", &old.name, name.as_str()),
        ("description", &old.description, description),
    ]);
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleUpdated).target("role", id.get(), name.as_str()).details(diff),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id.get(), by = access.principal().user_id.get(), "role renamed or described");
    Ok(())
}

/// Replace a role's grants with `grants` (already normalized: View implied).
/// A caller who is not an administrator may take away anything but add only
/// what they hold themselves. Members get the change at their next request.
pub async fn set_permissions(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: RoleId,
    grants: &[Grant],
) -> AppResult<()> {
    let principal = access.principal();
    let mut tx = state.db.begin_write().await?;
    let role = role(&mut tx, id).await?;
    if role.is_administrator() {
        return Err(builtin_refused());
    }
    let before = repo::grants_of(&mut tx, id).await?;
    let names = applications::names(&mut tx).await?;
    if grants.iter().any(|(app, _)| matches!(app, AppId::Registered(a) if !names.contains_key(a))) {
        return Err(AppError::Invalid(
            "One of these applications does not exist any more. Reload the page and try again.".into(),
        ));
    }
    if let Some((app, permission)) = grants.iter().find(|g| !before.contains(g) && !principal.can(g.0, g.1)) {
        tracing::info!(
            user_id = principal.user_id.get(),
            app = %app.key(),
            permission = permission.as_str(),
            "refused to grant a permission the caller does not hold"
        );
        return Err(AppError::Forbidden);
    }
    repo::clear_grants(&mut tx, id).await?;
    repo::insert_grants(&mut tx, id, grants).await?;
    let before: Vec<Grant> = before.into_iter().collect();
    let details = format!("{} → {}", describe(&before, &names), describe(grants, &names));
    record(
        &mut tx,
        &Actor::of(principal),
        Event::new(AuditAction::RolePermissionsChanged).target("role", id.get(), role.name).details(details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id.get(), by = principal.user_id.get(), grants = grants.len(), "role permissions saved");
    Ok(())
}

/// Delete a role that is not built in; returns how many users lost it.
pub async fn delete(access: Access<'_, apps::Roles, perms::Delete>, state: &AppState, id: RoleId) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    let role = role(&mut tx, id).await?;
    if role.is_administrator() {
        return Err(builtin_refused());
    }
    let members = repo::member_count(&mut tx, id).await?;
    // Explicit rather than relying on ON DELETE CASCADE alone.
    repo::take_from_everyone(&mut tx, id).await?;
    repo::delete(&mut tx, id).await?;
    let details = format!("{members} members lost it");
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleDeleted).target("role", id.get(), role.name).details(details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id.get(), members, by = access.principal().user_id.get(), "role deleted");
    Ok(members)
}

/// Users without the role whose email or name matches `search`.
pub async fn candidates(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    role_id: RoleId,
    search: &str,
) -> AppResult<Vec<Member>> {
    let mut conn = state.db.pool.acquire().await?;
    let rows = repo::candidates(&mut conn, role_id, search, CANDIDATES_LIMIT).await?;
    with_manageable(&mut conn, access.principal(), rows).await
}

/// Give a role to a user (`member`) or take it away. The caller must be
/// allowed to manage the user; giving needs the role to be one the caller may
/// hand out; only an administrator takes the Administrator role away, and never
/// from the last one. Nothing changes, and nothing is recorded, when the user
/// already is (or is not) a member.
pub async fn set_member(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    role_id: RoleId,
    user_id: UserId,
    member: bool,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    let role = role(&mut tx, role_id).await?;
    let email = user_email(&mut tx, user_id).await?;
    check_may_manage(&mut tx, access.principal(), user_id).await?;
    let changed = if member {
        check_can_hand_out(&mut tx, access.principal(), &[role_id]).await?;
        let held = repo::holds(&mut tx, user_id, role_id).await?;
        if !held {
            repo::give(&mut tx, user_id, &[role_id]).await?;
        }
        !held
    } else {
        if role.is_administrator() {
            if !access.principal().is_admin {
                return Err(AppError::Forbidden);
            }
            if is_last_admin(&mut tx, user_id).await? {
                return Err(AppError::Conflict(
                    "This is the last Global administrator. Give the Administrator role to someone else first.".into(),
                ));
            }
        }
        repo::take(&mut tx, user_id, role_id).await?
    };
    if changed {
        let what = if member { "added" } else { "removed" };
        let event = Event::new(AuditAction::RoleMembersChanged)
            .target("role", role_id.get(), role.name)
            .details(format!("{what} {email}"));
        record(&mut tx, &Actor::of(access.principal()), event).await?;
    }
    tx.commit().await?;
    tracing::info!(
        role_id = role_id.get(),
        user_id = user_id.get(),
        member,
        by = access.principal().user_id.get(),
        "role membership changed"
    );
    Ok(())
}

/// Each permission a user holds, and which of their roles grant it.
pub async fn effective_access(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    user_id: UserId,
) -> AppResult<EffectiveAccess> {
    let mut conn = state.db.pool.acquire().await?;
    user_email(&mut conn, user_id).await?;
    let rows = repo::named_grants_held_by(&mut conn, user_id).await?;
    let everything = every_grant_with_registered(&mut conn).await?;
    let app_names = applications::names(&mut conn).await?;
    let mut by: BTreeMap<Grant, Vec<String>> = BTreeMap::new();
    let mut is_admin = false;
    for NamedGrant { name, grant: r } in rows {
        let grants = if r.is_administrator() {
            is_admin = true;
            everything.clone()
        } else {
            r.grant().into_iter().collect()
        };
        for g in grants {
            let names = by.entry(g).or_default();
            if !names.contains(&name) {
                names.push(name.clone());
            }
        }
    }
    let lines = by
        .into_iter()
        // A grant of an application deleted since is no access at all.
        .filter(|((app, _), _)| !matches!(app, AppId::Registered(id) if !app_names.contains_key(id)))
        .map(|((app, permission), granted_by)| AccessLine {
            app,
            app_name: app.name(&app_names),
            permission,
            granted_by,
        })
        .collect();
    Ok(EffectiveAccess { is_admin, lines })
}

/// The demo roles `server seed-demo` creates, so a newcomer can try the
/// restricted Dashboard at once.
pub const DEMO_ROLES: &[(&str, &str, &[Grant])] = &[
    (
        "Digital Channel Manager",
        "Looks after the people and the email of the digital channels.",
        &[(AppId::Users, Permission::View), (AppId::EmailQueue, Permission::View)],
    ),
    ("Content Editor", "Sees who is who, nothing more.", &[(AppId::Users, Permission::View)]),
];

/// Create the demo roles that do not exist yet (by name, regardless of case).
/// An existing role of the same name is left as it is. Returns each role's
/// name and whether it was created now.
pub async fn seed_demo(db: &Db) -> AppResult<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for (name, description, grants) in DEMO_ROLES {
        let name = RoleName::parse(name).map_err(AppError::Invalid)?;
        let grants = super::types::normalize_grants(grants).map_err(AppError::Invalid)?;
        let mut tx = db.begin_write().await?;
        if repo::name_taken(&mut tx, &name, None).await? {
            out.push((name.to_string(), false));
            continue;
        }
        let id = insert_role(&mut tx, &name, description).await?;
        repo::insert_grants(&mut tx, id, &grants).await?;
        let actor = Actor { email: "server seed-demo".into(), ..Actor::default() };
        let event = Event::new(AuditAction::RoleCreated)
            .target("role", id.get(), name.as_str())
            .details(describe(&grants, &HashMap::new()));
        record(&mut tx, &actor, event).await?;
        tx.commit().await?;
        out.push((name.to_string(), true));
    }
    Ok(out)
}

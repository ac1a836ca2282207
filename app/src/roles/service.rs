//! The Roles application's service: roles, their grants and members, and
//! effective access. No HTTP, no HTML.
//!
//! No privilege escalation: a caller who is not a Global administrator can
//! only hand out what they hold themselves, whether by ticking a permission in
//! a role or by giving someone a role (`crate::grants::check_can_hand_out`).

use super::types::{AccessLine, EffectiveAccess, Grant, Member, RoleDetail, RoleName, RoleSummary};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::grants::{
    check_can_hand_out, check_may_manage, every_grant_with_registered, give_roles, grant_of, is_last_admin, user_email,
    Builtin, GrantRow,
};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::db::is_unique_violation;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::sql::{like_pattern, Args};
use crate::server::state::AppState;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
fn describe(grants: &[Grant], names: &HashMap<i64, String>) -> String {
    if grants.is_empty() {
        return "nothing".into();
    }
    grants.iter().map(|(a, p)| format!("{}: {}", a.name(names), p.label())).collect::<Vec<_>>().join(", ")
}

/// The role's name and whether it is the built-in Administrator, or NotFound.
async fn role_head(conn: &mut AnyConnection, id: i64) -> AppResult<(String, bool)> {
    let (name, builtin): (String, Option<Builtin>) = sqlx::query_as("SELECT name, builtin FROM roles WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(role_gone)?;
    Ok((name, builtin == Some(Builtin::Administrator)))
}

/// What a role grants as stored (keys the registry no longer knows are skipped).
async fn stored_grants(conn: &mut AnyConnection, id: i64) -> AppResult<BTreeSet<Grant>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT application, permission FROM role_permissions WHERE role_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.iter().filter_map(|(app, permission)| grant_of(app, permission)).collect())
}

async fn insert_grants(conn: &mut AnyConnection, id: i64, grants: &[Grant]) -> AppResult<()> {
    for (app, permission) in grants {
        sqlx::query("INSERT INTO role_permissions (role_id, application, permission) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(app.key().into_owned())
            .bind(permission.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn list(_access: Access<'_, apps::Roles, perms::View>, state: &AppState) -> AppResult<Vec<RoleSummary>> {
    let roles: Vec<RoleSummary> = sqlx::query_as(
        "SELECT r.id, r.name, r.description, r.builtin IS NOT NULL AS builtin, \
         (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS member_count \
         FROM roles r ORDER BY CASE WHEN r.builtin IS NULL THEN 1 ELSE 0 END, r.name_norm",
    )
    .fetch_all(&state.db.pool)
    .await?;
    Ok(roles)
}

pub async fn detail(access: Access<'_, apps::Roles, perms::View>, state: &AppState, id: i64) -> AppResult<RoleDetail> {
    let mut conn = state.db.pool.acquire().await?;
    let (name, description, builtin): (String, String, Option<Builtin>) =
        sqlx::query_as("SELECT name, description, builtin FROM roles WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(role_gone)?;
    let builtin = builtin == Some(Builtin::Administrator);
    let grants = if builtin {
        every_grant_with_registered(&mut conn).await?
    } else {
        stored_grants(&mut conn, id).await?.into_iter().collect()
    };
    let applications = crate::applications::service::all_tiles(&mut conn).await?;
    let members: Vec<MemberRow> = sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.enabled FROM user_roles ur \
         JOIN users u ON u.id = ur.user_id WHERE ur.role_id = $1 ORDER BY u.email_norm",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let members = with_manageable(&mut conn, access.principal(), members).await?;
    let require_two_factor = crate::two_factor::service::role_requires(&mut conn, id).await?;
    let may_hand_out = check_can_hand_out(&mut conn, access.principal(), &[id]).await.is_ok();
    Ok(RoleDetail { id, name, description, builtin, grants, members, applications, require_two_factor, may_hand_out })
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

/// A user as the member lists read them.
type MemberRow = crate::grants::PersonRow;

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

async fn name_taken(conn: &mut AnyConnection, name: &RoleName, except: i64) -> AppResult<bool> {
    Ok(crate::server::sql::name_taken(conn, crate::server::sql::Named::Roles, &name.normalized(), except).await?)
}

/// A new role that grants nothing yet.
pub async fn create(
    access: Access<'_, apps::Roles, perms::Create>,
    state: &AppState,
    name: &RoleName,
    description: &str,
) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    if name_taken(&mut tx, name, 0).await? {
        return Err(duplicate(name));
    }
    let id = insert_role(&mut tx, name, description).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleCreated).target("role", id, name.as_str()),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id, by = access.principal().user_id.get(), "role created");
    Ok(id)
}

/// The role row; its name must be free (a clash found only here is still a clear error).
async fn insert_role(conn: &mut AnyConnection, name: &RoleName, description: &str) -> AppResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO roles (name, name_norm, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name.as_str())
    .bind(name.normalized())
    .bind(description)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { duplicate(name) } else { e.into() })
}

pub async fn update(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: i64,
    name: &RoleName,
    description: &str,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    if role_head(&mut tx, id).await?.1 {
        return Err(builtin_refused());
    }
    if name_taken(&mut tx, name, id).await? {
        return Err(duplicate(name));
    }
    let (old_name, old_description): (String, String) =
        sqlx::query_as("SELECT name, description FROM roles WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
    sqlx::query("UPDATE roles SET name = $1, name_norm = $2, description = $3 WHERE id = $4")
        .bind(name.as_str())
        .bind(name.normalized())
        .bind(description)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { duplicate(name) } else { e.into() })?;
    let diff = crate::audit::service::diff(&[
        ("name", &old_name, name.as_str()),
        ("description", &old_description, description),
    ]);
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleUpdated).target("role", id, name.as_str()).details(diff),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id, by = access.principal().user_id.get(), "role renamed or described");
    Ok(())
}

/// Replace a role's grants with `grants` (already normalized: View implied).
/// A caller who is not an administrator may take away anything but add only
/// what they hold themselves. Members get the change at their next request.
pub async fn set_permissions(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    id: i64,
    grants: &[Grant],
) -> AppResult<()> {
    let principal = access.principal();
    let mut tx = state.db.begin_write().await?;
    let (name, builtin) = role_head(&mut tx, id).await?;
    if builtin {
        return Err(builtin_refused());
    }
    let before = stored_grants(&mut tx, id).await?;
    let registered: Vec<i64> =
        grants.iter().filter_map(|(app, _)| if let AppId::Registered(a) = app { Some(*a) } else { None }).collect();
    if !crate::applications::service::unknown(&mut tx, &registered).await?.is_empty() {
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
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *tx).await?;
    insert_grants(&mut tx, id, grants).await?;
    let before: Vec<Grant> = before.into_iter().collect();
    let names = crate::applications::service::names(&mut tx).await?;
    let details = format!("{} → {}", describe(&before, &names), describe(grants, &names));
    record(
        &mut tx,
        &Actor::of(principal),
        Event::new(AuditAction::RolePermissionsChanged).target("role", id, name).details(details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id, by = principal.user_id.get(), grants = grants.len(), "role permissions saved");
    Ok(())
}

/// Delete a role that is not built in; returns how many users lost it.
pub async fn delete(access: Access<'_, apps::Roles, perms::Delete>, state: &AppState, id: i64) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    let (name, builtin) = role_head(&mut tx, id).await?;
    if builtin {
        return Err(builtin_refused());
    }
    let members = crate::grants::member_count(&mut tx, id).await?;
    // Explicit rather than relying on ON DELETE CASCADE alone.
    crate::grants::take_from_all(&mut tx, id).await?;
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM roles WHERE id = $1").bind(id).execute(&mut *tx).await?;
    let details = format!("{members} members lost it");
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::RoleDeleted).target("role", id, name).details(details),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(role_id = id, members, by = access.principal().user_id.get(), "role deleted");
    Ok(members)
}

/// Users without the role whose email or name matches `search`.
pub async fn candidates(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    role_id: i64,
    search: &str,
) -> AppResult<Vec<Member>> {
    let mut args = Args::default();
    let role = args.int(role_id);
    let mut sql = format!(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.enabled FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND ur.role_id = {role})"
    );
    if !search.trim().is_empty() {
        let p = args.text(like_pattern(search));
        sql.push_str(&format!(" AND (u.email_norm LIKE {p} ESCAPE '\\' OR u.name_sort LIKE {p} ESCAPE '\\')"));
    }
    let limit = args.int(CANDIDATES_LIMIT);
    sql.push_str(&format!(" ORDER BY u.email_norm LIMIT {limit}"));
    let rows: Vec<MemberRow> = args.bind(sqlx::query_as(&sql)).fetch_all(&state.db.pool).await?;
    with_manageable(&mut *state.db.pool.acquire().await?, access.principal(), rows).await
}

/// Give a role to a user (`member`) or take it away. The caller must be
/// allowed to manage the user; giving needs the role to be one the caller may
/// hand out; only an administrator takes the Administrator role away, and never
/// from the last one. Nothing changes, and nothing is recorded, when the user
/// already is (or is not) a member.
pub async fn set_member(
    access: Access<'_, apps::Roles, perms::Update>,
    state: &AppState,
    role_id: i64,
    user_id: UserId,
    member: bool,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    let (name, builtin) = role_head(&mut tx, role_id).await?;
    let email = user_email(&mut tx, user_id).await?;
    check_may_manage(&mut tx, access.principal(), user_id).await?;
    let changed = if member {
        check_can_hand_out(&mut tx, access.principal(), &[role_id]).await?;
        let held = crate::grants::holds_role(&mut tx, user_id, role_id).await?;
        if !held {
            give_roles(&mut tx, user_id, &[role_id]).await?;
        }
        !held
    } else {
        if builtin {
            if !access.principal().is_admin {
                return Err(AppError::Forbidden);
            }
            if is_last_admin(&mut tx, user_id).await? {
                return Err(AppError::Conflict(
                    "This is the last Global administrator. Give the Administrator role to someone else first.".into(),
                ));
            }
        }
        crate::grants::take_role(&mut tx, user_id, role_id).await?
    };
    if changed {
        let what = if member { "added" } else { "removed" };
        let event = Event::new(AuditAction::RoleMembersChanged)
            .target("role", role_id, name)
            .details(format!("{what} {email}"));
        record(&mut tx, &Actor::of(access.principal()), event).await?;
    }
    tx.commit().await?;
    tracing::info!(
        role_id,
        user_id = user_id.get(),
        member,
        by = access.principal().user_id.get(),
        "role membership changed"
    );
    Ok(())
}

/// A role's name beside one of its grants.
#[derive(sqlx::FromRow)]
struct NamedGrant {
    name: String,
    #[sqlx(flatten)]
    grant: GrantRow,
}

/// Each permission a user holds, and which of their roles grant it.
pub async fn effective_access(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    user_id: UserId,
) -> AppResult<EffectiveAccess> {
    let mut conn = state.db.pool.acquire().await?;
    user_email(&mut conn, user_id).await?;
    let rows: Vec<NamedGrant> = sqlx::query_as(
        "SELECT r.name, r.builtin, rp.application, rp.permission FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id LEFT JOIN role_permissions rp ON rp.role_id = r.id \
         WHERE ur.user_id = $1 ORDER BY r.name_norm",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let everything = every_grant_with_registered(&mut conn).await?;
    let app_names = crate::applications::service::names(&mut conn).await?;
    let mut by: BTreeMap<Grant, Vec<String>> = BTreeMap::new();
    let mut is_admin = false;
    for NamedGrant { name, grant: r } in rows {
        let grants = if r.builtin == Some(Builtin::Administrator) {
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
        if name_taken(&mut tx, &name, 0).await? {
            out.push((name.to_string(), false));
            continue;
        }
        let id = insert_role(&mut tx, &name, description).await?;
        insert_grants(&mut tx, id, &grants).await?;
        let actor = Actor { email: "server seed-demo".into(), ..Actor::default() };
        let event = Event::new(AuditAction::RoleCreated)
            .target("role", id, name.as_str())
            .details(describe(&grants, &HashMap::new()));
        record(&mut tx, &actor, event).await?;
        tx.commit().await?;
        out.push((name.to_string(), true));
    }
    Ok(out)
}

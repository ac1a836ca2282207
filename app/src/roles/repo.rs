//! Every statement on `roles`, `role_permissions` and `user_roles`: the
//! roles, what each grants, and who holds which. Each function runs on the
//! connection its caller holds, inside the caller's transaction when there is
//! one; the rules for changing them (the hand-out rule, the last
//! administrator) are in `crate::grants`, the Roles application's in its
//! service.

use super::types::{Builtin, RoleName, RoleSummary};
use crate::domain::{RoleId, Timestamp, UserId};
use crate::error::AppResult;
use crate::registry::{grant_of, AppId, Grant};
use crate::server::db::is_unique_violation;
use crate::server::sql::{in_list, like_pattern, Args, Backend, Flag};
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap, HashSet};

/// `(a, b, c)` placeholders for an `IN` list of role ids.
fn role_list(args: &mut Args, ids: &[RoleId]) -> String {
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    in_list(args, &raw)
}

// ---- roles ------------------------------------------------------------------------

/// A `roles` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub builtin: Option<Builtin>,
    /// Members must use a second factor (`two_factor`).
    #[sqlx(try_from = "Flag")]
    pub require_two_factor: bool,
}

impl Role {
    /// The built-in Administrator role?
    pub fn is_administrator(&self) -> bool {
        self.builtin == Some(Builtin::Administrator)
    }
}

const COLUMNS: &str = "id, name, description, builtin, require_two_factor";

/// Role `id`, if it exists.
pub async fn find(conn: &mut AnyConnection, id: RoleId) -> AppResult<Option<Role>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM roles WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Every role, by name.
pub async fn all_by_name(conn: &mut AnyConnection) -> AppResult<Vec<Role>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM roles ORDER BY name_norm")).fetch_all(&mut *conn).await?)
}

/// The Roles list: the built-in roles first, then by name, each with how many hold it.
pub async fn summaries(conn: &mut AnyConnection) -> AppResult<Vec<RoleSummary>> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.name, r.description, r.builtin IS NOT NULL AS builtin, \
         (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS member_count \
         FROM roles r ORDER BY CASE WHEN r.builtin IS NULL THEN 1 ELSE 0 END, r.name_norm",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Every role's name, by id.
pub async fn names(conn: &mut AnyConnection) -> AppResult<HashMap<RoleId, String>> {
    let rows: Vec<(RoleId, String)> = sqlx::query_as("SELECT id, name FROM roles").fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

/// The names of the roles `ids`, sorted.
pub async fn names_of(conn: &mut AnyConnection, ids: &[RoleId]) -> AppResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let list = role_list(&mut args, ids);
    let sql = format!("SELECT name FROM roles WHERE id IN {list} ORDER BY name");
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?)
}

/// Which of `ids` are roles.
pub async fn existing(conn: &mut AnyConnection, ids: &[RoleId]) -> AppResult<Vec<RoleId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let list = role_list(&mut args, ids);
    let sql = format!("SELECT id FROM roles WHERE id IN {list}");
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?)
}

/// The id of the built-in Administrator role.
pub async fn administrator_id(conn: &mut AnyConnection) -> AppResult<RoleId> {
    Ok(sqlx::query_scalar("SELECT id FROM roles WHERE builtin = $1")
        .bind(Builtin::Administrator)
        .fetch_one(&mut *conn)
        .await?)
}

/// Where a write transaction's rule reads before it writes (the last
/// administrator), lock the Administrator role row until it ends, so that a
/// second such transaction waits for the first. A no-op where the write
/// transaction is already the only writer (`Backend::row_locks`).
pub async fn lock_administrator(conn: &mut AnyConnection) -> AppResult<()> {
    if Backend::of(conn).row_locks() {
        sqlx::query("SELECT id FROM roles WHERE builtin = $1 FOR UPDATE")
            .bind(Builtin::Administrator)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Has another role than `except` this name (regardless of case)?
pub async fn name_taken(conn: &mut AnyConnection, name: &RoleName, except: Option<RoleId>) -> AppResult<bool> {
    let found: Option<RoleId> = sqlx::query_scalar("SELECT id FROM roles WHERE name_norm = $1 AND id <> $2")
        .bind(name.normalized())
        .bind(except.map_or(0, RoleId::get))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// A new role that grants nothing; `None` when another role has the name.
pub async fn insert(
    conn: &mut AnyConnection,
    name: &RoleName,
    description: &str,
    created_at: Timestamp,
) -> AppResult<Option<RoleId>> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO roles (name, name_norm, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name.as_str())
    .bind(name.normalized())
    .bind(description)
    .bind(created_at)
    .fetch_one(&mut *conn)
    .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Rename and describe role `id`; `false` when another role has the name.
pub async fn rename(conn: &mut AnyConnection, id: RoleId, name: &RoleName, description: &str) -> AppResult<bool> {
    let updated = sqlx::query("UPDATE roles SET name = $1, name_norm = $2, description = $3 WHERE id = $4")
        .bind(name.as_str())
        .bind(name.normalized())
        .bind(description)
        .bind(id)
        .execute(&mut *conn)
        .await;
    match updated {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Require (or not) a second factor of role `id`'s members.
pub async fn set_require_two_factor(conn: &mut AnyConnection, id: RoleId, required: bool) -> AppResult<()> {
    sqlx::query("UPDATE roles SET require_two_factor = $1 WHERE id = $2")
        .bind(required)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Delete role `id` with its grants (who holds it: [`take_from_everyone`] first).
pub async fn delete(conn: &mut AnyConnection, id: RoleId) -> AppResult<()> {
    // Explicit rather than relying on ON DELETE CASCADE alone.
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM roles WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

// ---- what roles grant (role_permissions) ------------------------------------------

/// A role and one of its permissions (none for a role that grants nothing),
/// as the grant queries read them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub builtin: Option<Builtin>,
    pub application: Option<String>,
    pub permission: Option<String>,
}

impl GrantRow {
    /// The built-in Administrator role's row (it grants everything, stored or not)?
    pub fn is_administrator(&self) -> bool {
        self.builtin == Some(Builtin::Administrator)
    }

    /// The grant, if the row has one the registry still knows.
    pub fn grant(&self) -> Option<Grant> {
        grant_of(self.application.as_deref()?, self.permission.as_deref()?)
    }
}

/// What role `id` grants as stored (keys the registry no longer knows are skipped).
pub async fn grants_of(conn: &mut AnyConnection, id: RoleId) -> AppResult<BTreeSet<Grant>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT application, permission FROM role_permissions WHERE role_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.iter().filter_map(|(app, permission)| grant_of(app, permission)).collect())
}

/// Add `grants` to what role `id` grants.
pub async fn insert_grants(conn: &mut AnyConnection, id: RoleId, grants: &[Grant]) -> AppResult<()> {
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

/// Take every grant of role `id` (before saving the new set).
pub async fn clear_grants(conn: &mut AnyConnection, id: RoleId) -> AppResult<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// Take every grant of `app` from every role (the application is being
/// deleted); how many there were.
pub async fn remove_application(conn: &mut AnyConnection, app: AppId) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM role_permissions WHERE application = $1")
        .bind(app.key().into_owned())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// The names of the roles that grant `grant`, the built-in ones (which grant
/// everything) first, then by name.
pub async fn names_granting(conn: &mut AnyConnection, grant: Grant) -> AppResult<Vec<String>> {
    let (app, permission) = grant;
    Ok(sqlx::query_scalar(
        "SELECT r.name FROM roles r WHERE r.builtin IS NOT NULL OR EXISTS (SELECT 1 FROM role_permissions rp \
         WHERE rp.role_id = r.id AND rp.application = $1 AND rp.permission = $2) \
         ORDER BY CASE WHEN r.builtin IS NULL THEN 1 ELSE 0 END, r.name_norm",
    )
    .bind(app.key().into_owned())
    .bind(permission.as_str())
    .fetch_all(&mut *conn)
    .await?)
}

/// What the roles `ids` grant, a row per grant.
pub async fn grants_of_roles(conn: &mut AnyConnection, ids: &[RoleId]) -> AppResult<Vec<GrantRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let list = role_list(&mut args, ids);
    let sql = format!(
        "SELECT r.builtin, rp.application, rp.permission FROM roles r \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id WHERE r.id IN {list}"
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// A role's id beside one of its grants.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleGrant {
    pub id: RoleId,
    #[sqlx(flatten)]
    pub grant: GrantRow,
}

/// What every role grants, by role id.
pub async fn grants_by_role(conn: &mut AnyConnection) -> AppResult<Vec<RoleGrant>> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.builtin, rp.application, rp.permission FROM roles r \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id ORDER BY r.id",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// One grant of a role a user holds, and whether that role requires a second factor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldGrant {
    #[sqlx(flatten)]
    pub grant: GrantRow,
    #[sqlx(try_from = "Flag")]
    pub require_two_factor: bool,
}

/// What `user_id`'s roles grant (one indexed query: the session middleware
/// asks it at every request).
pub async fn grants_held_by(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<HeldGrant>> {
    Ok(sqlx::query_as(
        "SELECT r.builtin, rp.application, rp.permission, r.require_two_factor FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id \
         WHERE ur.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// A role's name beside one of its grants.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NamedGrant {
    pub name: String,
    #[sqlx(flatten)]
    pub grant: GrantRow,
}

/// What `user_id`'s roles grant, each grant beside its role's name, by role name.
pub async fn named_grants_held_by(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<NamedGrant>> {
    Ok(sqlx::query_as(
        "SELECT r.name, r.builtin, rp.application, rp.permission FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id LEFT JOIN role_permissions rp ON rp.role_id = r.id \
         WHERE ur.user_id = $1 ORDER BY r.name_norm",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?)
}

// ---- who holds which role (user_roles) --------------------------------------------

/// The roles a user holds.
pub async fn role_ids_of(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<RoleId>> {
    Ok(sqlx::query_scalar("SELECT role_id FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// The names of the roles a user holds, by name.
pub async fn role_names_of(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.name_norm",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// The names of the roles each of `user_ids` holds, sorted (absent: none).
pub async fn role_names_by_user(
    conn: &mut AnyConnection,
    user_ids: &[UserId],
) -> AppResult<HashMap<UserId, Vec<String>>> {
    let mut map: HashMap<UserId, Vec<String>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(map);
    }
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let sql = format!(
        "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id IN {list} ORDER BY r.name"
    );
    let rows: Vec<(UserId, String)> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    for (user_id, name) in rows {
        map.entry(user_id).or_default().push(name);
    }
    Ok(map)
}

/// A role a user holds, and whether it is built in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Holding {
    pub user_id: UserId,
    pub role_id: RoleId,
    pub builtin: Option<Builtin>,
}

/// Every role each of `user_ids` holds.
pub async fn holdings(conn: &mut AnyConnection, user_ids: &[UserId]) -> AppResult<Vec<Holding>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let sql = format!(
        "SELECT ur.user_id, ur.role_id, r.builtin FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id IN {list}"
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// Every (user, role) pair of `user_ids` (one statement: callers pass a bounded chunk).
pub async fn role_pairs_of(conn: &mut AnyConnection, user_ids: &[UserId]) -> AppResult<Vec<(UserId, RoleId)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let sql = format!("SELECT user_id, role_id FROM user_roles WHERE user_id IN {}", in_list(&mut args, user_ids));
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// Does `user_id` hold role `role_id`?
pub async fn holds(conn: &mut AnyConnection, user_id: UserId, role_id: RoleId) -> AppResult<bool> {
    let held = sqlx::query_scalar::<_, i64>("SELECT 1 AS x FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(user_id)
        .bind(role_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(held.is_some())
}

/// Does `user_id` hold the built-in Administrator role (enabled or not, signed up or not)?
pub async fn holds_administrator(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    Ok(sqlx::query(
        "SELECT 1 AS x FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND r.builtin = $2",
    )
    .bind(user_id)
    .bind(Builtin::Administrator)
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

/// Does one of `user_id`'s roles require a second factor?
pub async fn requires_two_factor(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id = $1 AND r.require_two_factor",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// How many people hold role `role_id`.
pub async fn member_count(conn: &mut AnyConnection, role_id: RoleId) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM user_roles WHERE role_id = $1")
        .bind(role_id)
        .fetch_one(&mut *conn)
        .await?)
}

/// Which of `user_ids` hold role `role_id`.
pub async fn holders(conn: &mut AnyConnection, role_id: RoleId, user_ids: &[UserId]) -> AppResult<HashSet<UserId>> {
    if user_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let role = args.int(role_id.get());
    let list = in_list(&mut args, user_ids);
    let sql = format!("SELECT user_id FROM user_roles WHERE role_id = {role} AND user_id IN {list}");
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Which of `user_ids` hold the Administrator role.
pub async fn administrator_holders(conn: &mut AnyConnection, user_ids: &[UserId]) -> AppResult<HashSet<UserId>> {
    if user_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let admin = args.text(Builtin::Administrator.as_str());
    let list = in_list(&mut args, user_ids);
    let sql = format!(
        "SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = {admin} AND ur.user_id IN {list}"
    );
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// How many enabled, signed-up people other than `user_id` hold the
/// Administrator role (the last-administrator rule, `grants::is_last_admin`).
pub async fn other_active_administrators(conn: &mut AnyConnection, user_id: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = $1 AND u.enabled AND u.password_hash IS NOT NULL AND u.id <> $2",
    )
    .bind(Builtin::Administrator)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Give `user_id` the roles `role_ids` (none of which they hold yet).
pub async fn give(conn: &mut AnyConnection, user_id: UserId, role_ids: &[RoleId]) -> AppResult<()> {
    let pairs: Vec<(UserId, RoleId)> = role_ids.iter().map(|&role| (user_id, role)).collect();
    give_many(conn, &pairs).await
}

/// [`give`] for many (user, role) pairs, a thousand to a statement.
pub async fn give_many(conn: &mut AnyConnection, pairs: &[(UserId, RoleId)]) -> AppResult<()> {
    for chunk in pairs.chunks(1000) {
        let mut args = Args::default();
        let values = args.rows(chunk, |a, &(user, role)| vec![a.int(user.get()), a.int(role.get())]);
        let sql = format!("INSERT INTO user_roles (user_id, role_id) VALUES {values}");
        args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Give `user_id` the Administrator role (the first user, at setup).
pub async fn give_administrator(conn: &mut AnyConnection, user_id: UserId) -> AppResult<()> {
    sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE builtin = $2")
        .bind(user_id)
        .bind(Builtin::Administrator)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Take role `role_id` from `user_id`; whether they held it.
pub async fn take(conn: &mut AnyConnection, user_id: UserId, role_id: RoleId) -> AppResult<bool> {
    let r = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(user_id)
        .bind(role_id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Take every role of `user_id` (before giving the new set).
pub async fn take_all(conn: &mut AnyConnection, user_id: UserId) -> AppResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}

/// Take role `role_id` from everyone who holds it (the role is being deleted).
pub async fn take_from_everyone(conn: &mut AnyConnection, role_id: RoleId) -> AppResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE role_id = $1").bind(role_id).execute(&mut *conn).await?;
    Ok(())
}

// ---- a role's members (user_roles joined to users) --------------------------------

/// A person as a role's member lists read them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
}

/// Who holds role `role_id`, by email.
pub async fn members(conn: &mut AnyConnection, role_id: RoleId) -> AppResult<Vec<MemberRow>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.enabled FROM user_roles ur \
         JOIN users u ON u.id = ur.user_id WHERE ur.role_id = $1 ORDER BY u.email_norm",
    )
    .bind(role_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Up to `limit` people who do not hold role `role_id` and whose email or
/// name contains `search` (everyone when it is blank), by email.
pub async fn candidates(
    conn: &mut AnyConnection,
    role_id: RoleId,
    search: &str,
    limit: i64,
) -> AppResult<Vec<MemberRow>> {
    let mut args = Args::default();
    let role = args.int(role_id.get());
    let mut sql = format!(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.enabled FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND ur.role_id = {role})"
    );
    if !search.trim().is_empty() {
        let p = args.text(like_pattern(search));
        sql.push_str(&format!(" AND (u.email_norm LIKE {p} ESCAPE '\\' OR u.name_sort LIKE {p} ESCAPE '\\')"));
    }
    let limit = args.int(limit);
    sql.push_str(&format!(" ORDER BY u.email_norm LIMIT {limit}"));
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

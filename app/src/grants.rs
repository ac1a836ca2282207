//! Who holds what, and the rules for changing it, in one place that Users,
//! Roles, the Email queue and the session middleware all use:
//!
//! - the built-in Administrator role ([`ADMINISTRATOR`], [`every_grant`]);
//! - loading a person's grants at each request ([`load`]);
//! - the hand-out rule: nobody but an administrator gives a role that grants
//!   more than they hold ([`check_can_hand_out`]);
//! - administrators are changed only by administrators, and nobody acts on
//!   someone who holds more than they do ([`check_may_manage`]);
//! - the last enabled administrator stays ([`is_last_admin`]).

use crate::domain::UserId;
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Grant, Permission, APPLICATIONS};
use crate::server::access::Principal;
use crate::server::db::Db;
use crate::server::sql::{in_list, Args, Backend};
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashSet};

/// The `roles.builtin` value of the Administrator role.
pub const ADMINISTRATOR: &str = "administrator";

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
pub async fn every_registered_grant(conn: &mut AnyConnection) -> AppResult<Vec<(AppId, Permission)>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM applications ORDER BY id").fetch_all(&mut *conn).await?;
    Ok(ids.into_iter().flat_map(|id| Permission::ALL.map(|p| (AppId::Registered(id), p))).collect())
}

/// Each registered application's name, by id (to name grants in messages and the audit log).
pub async fn registered_names(conn: &mut AnyConnection) -> AppResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM applications").fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

/// A role and one of its permissions (none for a role that grants nothing),
/// as the grant queries read them.
#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    pub builtin: Option<Builtin>,
    pub application: Option<String>,
    pub permission: Option<String>,
}

impl GrantRow {
    /// The grant, if the row has one the registry still knows.
    pub fn grant(&self) -> Option<Grant> {
        grant_of(self.application.as_deref()?, self.permission.as_deref()?)
    }
}

/// What `roles.builtin` holds for a role Roster defines itself (NULL for the organization's own roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The Global administrator: every permission of every application.
    Administrator,
}

impl Builtin {
    /// The value stored in `roles.builtin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Administrator => ADMINISTRATOR,
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        (word == ADMINISTRATOR).then_some(Self::Administrator)
    }
}

crate::words_column!(Builtin, "built-in role", Builtin::parse, Builtin::as_str);

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
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        grant: GrantRow,
        #[sqlx(try_from = "crate::server::sql::Flag")]
        require_two_factor: bool,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT r.builtin, rp.application, rp.permission, r.require_two_factor FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id \
         WHERE ur.user_id = $1",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut held = Held { is_admin: false, grants: BTreeSet::new(), two_factor_required: false };
    for row in rows {
        held.is_admin |= row.grant.builtin == Some(Builtin::Administrator);
        held.two_factor_required |= row.require_two_factor;
        held.grants.extend(row.grant.grant());
    }
    Ok(held)
}

/// A stored (application, permission) pair, if the registry still knows both.
pub fn grant_of(app: &str, permission: &str) -> Option<Grant> {
    Some((AppId::from_key(app)?, Permission::parse(permission)?))
}

/// Refuse, unless the caller is a Global administrator, to give out any of
/// `role_ids` that grants something the caller does not hold (the
/// Administrator role grants everything).
pub async fn check_can_hand_out(conn: &mut AnyConnection, principal: &Principal, role_ids: &[i64]) -> AppResult<()> {
    if principal.is_admin || role_ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, role_ids);
    let sql = format!(
        "SELECT r.builtin, rp.application, rp.permission FROM roles r \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id WHERE r.id IN {list}"
    );
    let rows: Vec<GrantRow> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    for r in rows {
        if r.builtin == Some(Builtin::Administrator) {
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
pub async fn hand_out_refusals(
    conn: &mut AnyConnection,
    caller: &Principal,
) -> AppResult<std::collections::HashMap<i64, String>> {
    #[derive(sqlx::FromRow)]
    struct RoleGrant {
        id: i64,
        #[sqlx(flatten)]
        grant: GrantRow,
    }
    let mut out = std::collections::HashMap::new();
    if caller.is_admin {
        return Ok(out);
    }
    let rows: Vec<RoleGrant> = sqlx::query_as(
        "SELECT r.id, r.builtin, rp.application, rp.permission FROM roles r \
         LEFT JOIN role_permissions rp ON rp.role_id = r.id ORDER BY r.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let names = registered_names(conn).await?;
    for RoleGrant { id, grant } in rows {
        let why = if grant.builtin == Some(Builtin::Administrator) {
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
    if Backend::of(conn).row_locks() {
        sqlx::query("SELECT id FROM roles WHERE builtin = $1 FOR UPDATE")
            .bind(Builtin::Administrator)
            .execute(&mut *conn)
            .await?;
    }
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) AS n FROM users u JOIN user_roles ur ON ur.user_id = u.id \
         JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = $1 AND u.enabled AND u.password_hash IS NOT NULL AND u.id <> $2",
    )
    .bind(Builtin::Administrator)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(holds_admin_role(conn, user_id).await? && others == 0)
}

/// Does `user_id` hold the built-in Administrator role (enabled or not, signed up or not)?
pub async fn holds_admin_role(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
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
    if holds_admin_role(conn, user_id).await? {
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
) -> AppResult<std::collections::HashMap<UserId, &'static str>> {
    let mut out = std::collections::HashMap::new();
    if caller.is_admin || user_ids.is_empty() {
        return Ok(out);
    }
    let refused = hand_out_refusals(conn, caller).await?;
    #[derive(sqlx::FromRow)]
    struct Held {
        user_id: UserId,
        role_id: i64,
        builtin: Option<Builtin>,
    }
    let mut args = Args::default();
    let list = in_list(&mut args, user_ids);
    let sql = format!(
        "SELECT ur.user_id, ur.role_id, r.builtin FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE ur.user_id IN {list}"
    );
    let held: Vec<Held> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    for h in held {
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
    let roles = role_ids_of(conn, user_id).await?;
    Ok(check_can_hand_out(conn, caller, &roles).await.is_ok())
}

// ---- the person a rule is about ---------------------------------------------------

/// A person as the rules and lists read them: who, and whether they are enabled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PersonRow {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "crate::server::sql::Flag")]
    pub enabled: bool,
}

/// The roles a user holds.
pub async fn role_ids_of(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<i64>> {
    Ok(sqlx::query_scalar("SELECT role_id FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?)
}

pub fn user_gone() -> AppError {
    AppError::NotFound("This user does not exist. They may have been deleted.".into())
}

/// Give `user_id` the roles `role_ids` (none of which they hold yet), in the caller's transaction.
pub async fn give_roles(conn: &mut AnyConnection, user_id: UserId, role_ids: &[i64]) -> AppResult<()> {
    let pairs: Vec<(UserId, i64)> = role_ids.iter().map(|&role| (user_id, role)).collect();
    give_roles_many(conn, &pairs).await
}

/// [`give_roles`] for many (user, role) pairs in one statement.
pub async fn give_roles_many(conn: &mut AnyConnection, pairs: &[(UserId, i64)]) -> AppResult<()> {
    for chunk in pairs.chunks(1000) {
        let mut args = crate::server::sql::Args::default();
        let values = args.rows(chunk, |a, &(user, role)| vec![a.int(user.get()), a.int(role)]);
        let sql = format!("INSERT INTO user_roles (user_id, role_id) VALUES {values}");
        args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Give the first user the Administrator role (setup), in the caller's transaction.
pub async fn give_admin_role(conn: &mut AnyConnection, user_id: UserId) -> AppResult<()> {
    sqlx::query("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE builtin = $2")
        .bind(user_id)
        .bind(Builtin::Administrator)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Does `user_id` hold role `role_id`?
pub async fn holds_role(conn: &mut AnyConnection, user_id: UserId, role_id: i64) -> AppResult<bool> {
    let held = sqlx::query_scalar::<_, i64>("SELECT 1 AS x FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(user_id)
        .bind(role_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(held.is_some())
}

/// Take role `role_id` from `user_id`; whether they held it.
pub async fn take_role(conn: &mut AnyConnection, user_id: UserId, role_id: i64) -> AppResult<bool> {
    let r = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
        .bind(user_id)
        .bind(role_id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Take every role of `user_id` (before giving the new set).
pub async fn take_all_roles(conn: &mut AnyConnection, user_id: UserId) -> AppResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}

/// How many people hold role `role_id`.
pub async fn member_count(conn: &mut AnyConnection, role_id: i64) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM user_roles WHERE role_id = $1")
        .bind(role_id)
        .fetch_one(&mut *conn)
        .await?)
}

/// Take role `role_id` from everyone who holds it (the role is being deleted).
pub async fn take_from_all(conn: &mut AnyConnection, role_id: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM user_roles WHERE role_id = $1").bind(role_id).execute(&mut *conn).await?;
    Ok(())
}

/// Which of `ids` hold role `role_id`.
pub async fn holders(conn: &mut AnyConnection, role_id: i64, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let role = args.int(role_id);
    let list = in_list(&mut args, ids);
    let sql = format!("SELECT user_id FROM user_roles WHERE role_id = {role} AND user_id IN {list}");
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Which of `ids` hold the Administrator role.
pub async fn admin_holders(conn: &mut AnyConnection, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let admin = args.text(Builtin::Administrator.as_str());
    let list = in_list(&mut args, ids);
    let sql = format!(
        "SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = {admin} AND ur.user_id IN {list}"
    );
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Every (user, role) pair of `ids` (one statement: callers pass a bounded chunk).
pub async fn role_pairs_of(conn: &mut AnyConnection, ids: &[UserId]) -> AppResult<Vec<(UserId, i64)>> {
    let mut args = Args::default();
    let sql = format!("SELECT user_id, role_id FROM user_roles WHERE user_id IN {}", in_list(&mut args, ids));
    Ok(args.bind(sqlx::query_as::<_, (UserId, i64)>(&sql)).fetch_all(&mut *conn).await?)
}

/// User `id`'s address, or [`user_gone`].
pub async fn user_email(conn: &mut AnyConnection, id: UserId) -> AppResult<String> {
    crate::users::repo::email(conn, id).await?.ok_or_else(user_gone)
}

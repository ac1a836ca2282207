//! Bulk actions on users: enable, disable, add or remove a role, resend or
//! revoke the invitation, end sessions, for the ticked rows or for every
//! user the list's search and filters match (read here, never sent by the
//! browser).
//!
//! The users are taken in batches of [`BATCH`], each in its own short write
//! transaction, so sign-ins and other writes wait at most one batch. Each user
//! is checked against the single action's rules: administrators are changed
//! only by administrators and nobody acts on someone holding more than they do
//! ([`grants::unmanageable`], the set form of `check_may_manage`), the last
//! enabled administrator stays ([`grants::is_last_admin`], asked for each
//! administrator in turn, inside the batch), roles are given only within the
//! hand-out rule ([`grants::hand_out_refusals`]). Everyone changed gets the
//! single action's audit entry; the bulk action gets one more.

use super::service::selection;
use super::{thousands, BulkAction, BulkOutcome, BulkSelection, Skipped, BULK_MAX_IDS};
use crate::audit::service::{record, Actor, Event};
use crate::error::{AppError, AppResult};
use crate::grants;
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::now_ms;
use crate::server::sql::{in_list, Args, Flag};
use crate::server::state::AppState;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Users per write transaction (see BENCHMARKS.md for how long one holds the lock).
pub const BATCH: usize = 500;

const OWN_ACCOUNT: &str = "your own account is changed from Account, not from a bulk action";
const LAST_ADMIN: &str = "the last enabled Global administrator";
const GONE: &str = "no longer exists";

/// The ids a selection holds now, in id order.
async fn selected_ids(state: &AppState, sel: &BulkSelection) -> AppResult<Vec<i64>> {
    match sel {
        BulkSelection::Ids(ids) => {
            if ids.len() > BULK_MAX_IDS {
                return Err(AppError::Invalid(format!(
                    "Tick at most {} users, or use Select all matching.",
                    thousands(BULK_MAX_IDS as u64)
                )));
            }
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        }
        BulkSelection::Matching(q) => {
            let s = selection(state.db.backend, q);
            let sql = format!("SELECT u.id FROM users u WHERE 1 = 1{} ORDER BY u.id", s.conditions);
            Ok(s.args.bind(sqlx::query_scalar(&sql)).fetch_all(&state.db.pool).await?)
        }
    }
}

/// How many users the selection holds.
pub async fn count(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    sel: &BulkSelection,
) -> AppResult<u64> {
    match sel {
        BulkSelection::Ids(_) => Ok(selected_ids(state, sel).await?.len() as u64),
        BulkSelection::Matching(q) => {
            let s = selection(state.db.backend, q);
            let sql = format!("SELECT COUNT(*) AS n FROM users u WHERE 1 = 1{}", s.conditions);
            let n: i64 = s.args.bind(sqlx::query_scalar(&sql)).fetch_one(&state.db.pool).await?;
            Ok(n.max(0) as u64)
        }
    }
}

/// One selected user as a batch reads them.
#[derive(sqlx::FromRow)]
struct Target {
    id: i64,
    email: String,
    #[sqlx(try_from = "Flag")]
    enabled: bool,
    #[sqlx(try_from = "Flag")]
    signed_up: bool,
    invite_expires_at: Option<i64>,
}

/// The role a role action is about.
struct RoleTarget {
    id: i64,
    name: String,
    administrator: bool,
}

async fn role_target(conn: &mut AnyConnection, caller: &Principal, id: i64, giving: bool) -> AppResult<RoleTarget> {
    #[derive(sqlx::FromRow)]
    struct Row {
        name: String,
        builtin: Option<grants::Builtin>,
    }
    let row: Row = sqlx::query_as("SELECT name, builtin FROM roles WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AppError::NotFound("This role does not exist. It may have been deleted.".into()))?;
    if giving {
        if let Some(why) = grants::hand_out_refusals(conn, caller).await?.remove(&id) {
            return Err(AppError::NotAllowed(format!("You cannot give the role {}: {why}", row.name)));
        }
    }
    Ok(RoleTarget { id, name: row.name, administrator: row.builtin == Some(grants::Builtin::Administrator) })
}

/// Tally of one run.
#[derive(Default)]
struct Tally {
    changed: u64,
    skipped: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn skip(&mut self, why: &'static str) {
        *self.skipped.entry(why).or_default() += 1;
    }
}

pub async fn run(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    sel: &BulkSelection,
    action: BulkAction,
) -> AppResult<BulkOutcome> {
    let caller = access.principal();
    let actor = Actor::of(caller);
    let role = match action {
        BulkAction::AddRole(id) | BulkAction::RemoveRole(id) => {
            let mut conn = state.db.pool.acquire().await?;
            Some(role_target(&mut conn, caller, id, matches!(action, BulkAction::AddRole(_))).await?)
        }
        _ => None,
    };
    let ids = selected_ids(state, sel).await?;
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    // The longest a batch held the write lock: what a sign-in may wait.
    let mut longest = std::time::Duration::ZERO;
    for batch in ids.chunks(BATCH) {
        let mut tx = state.db.begin_write().await?;
        let held = std::time::Instant::now();
        run_batch(&mut tx, state, caller, &actor, action, role.as_ref(), batch, &mut tally).await?;
        tx.commit().await?;
        longest = longest.max(held.elapsed());
    }
    let mut skipped: Vec<Skipped> =
        tally.skipped.iter().map(|(reason, count)| Skipped { reason: reason.to_string(), count: *count }).collect();
    skipped.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
    let outcome = BulkOutcome { selected: ids.len() as u64, changed: tally.changed, skipped };
    let role_name = role.as_ref().map(|r| format!(" {}", r.name)).unwrap_or_default();
    let mut details = format!(
        "{}{role_name}: {} selected, {} changed",
        action.verb(),
        thousands(outcome.selected),
        thousands(outcome.changed)
    );
    for s in &outcome.skipped {
        details.push_str(&format!(", {} skipped: {}", thousands(s.count), s.reason));
    }
    if let BulkSelection::Matching(q) = sel {
        details.push_str(&format!(
            " (matching search \"{}\", status \"{}\", role \"{}\")",
            q.search.trim(),
            q.status,
            q.role
        ));
    }
    let mut conn = state.db.pool.acquire().await?;
    record(&mut conn, &actor, Event::new("users.bulk").details(details)).await?;
    tracing::info!(
        by = caller.user_id,
        selected = outcome.selected,
        changed = outcome.changed,
        ms = started.elapsed().as_millis() as u64,
        longest_batch_ms = longest.as_millis() as u64,
        "bulk action on users"
    );
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn run_batch(
    conn: &mut AnyConnection,
    state: &AppState,
    caller: &Principal,
    actor: &Actor,
    action: BulkAction,
    role: Option<&RoleTarget>,
    batch: &[i64],
    tally: &mut Tally,
) -> AppResult<()> {
    let mut args = Args::default();
    let list = in_list(&mut args, batch);
    let sql = format!(
        "SELECT id, email, enabled, password_hash IS NOT NULL AS signed_up, invite_expires_at FROM users \
         WHERE id IN {list} ORDER BY id"
    );
    let targets: Vec<Target> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    for _ in targets.len()..batch.len() {
        tally.skip(GONE);
    }
    let found: Vec<i64> = targets.iter().map(|t| t.id).collect();
    let refused = grants::unmanageable(conn, caller, &found).await?;
    let admins = holders_of_admin(conn, &found).await?;
    let with_role: HashSet<i64> = match role {
        Some(r) => holders(conn, r.id, &found).await?,
        None => HashSet::new(),
    };
    let sessions = match action {
        BulkAction::Disable | BulkAction::EndSessions => session_counts(conn, &found).await?,
        _ => HashMap::new(),
    };
    // Who this batch changes, after each rule.
    let mut chosen: Vec<&Target> = Vec::new();
    for t in &targets {
        if t.id == caller.user_id {
            tally.skip(OWN_ACCOUNT);
            continue;
        }
        if let Some(why) = refused.get(&t.id) {
            tally.skip(why);
            continue;
        }
        let already = match action {
            BulkAction::Enable => t.enabled.then_some("already enabled"),
            BulkAction::Disable => (!t.enabled).then_some("already disabled"),
            BulkAction::AddRole(_) => with_role.contains(&t.id).then_some("already have the role"),
            BulkAction::RemoveRole(_) => (!with_role.contains(&t.id)).then_some("do not have the role"),
            BulkAction::ResendInvitation | BulkAction::RevokeInvitation if t.signed_up => {
                Some("already signed up: there is no invitation to change")
            }
            BulkAction::RevokeInvitation => t.invite_expires_at.is_none().then_some("no invitation to revoke"),
            BulkAction::ResendInvitation => None,
            BulkAction::EndSessions => (!sessions.contains_key(&t.id)).then_some("no sessions to end"),
        };
        if let Some(why) = already {
            tally.skip(why);
            continue;
        }
        // Taking away an administrator: one at a time, each asked after the
        // previous one's change, so that two in one batch cannot both count
        // on the other.
        let takes_admin_away = match action {
            BulkAction::Disable => admins.contains(&t.id),
            BulkAction::RemoveRole(_) => role.is_some_and(|r| r.administrator),
            _ => false,
        };
        if takes_admin_away {
            if grants::is_last_admin(conn, t.id).await? {
                tally.skip(LAST_ADMIN);
                continue;
            }
            apply(conn, state, actor, action, role, &[t], &sessions).await?;
            tally.changed += 1;
            continue;
        }
        chosen.push(t);
    }
    apply(conn, state, actor, action, role, &chosen, &sessions).await?;
    tally.changed += chosen.len() as u64;
    Ok(())
}

/// Make the change for `targets` (already checked) and write each one's audit entry.
async fn apply(
    conn: &mut AnyConnection,
    state: &AppState,
    actor: &Actor,
    action: BulkAction,
    role: Option<&RoleTarget>,
    targets: &[&Target],
    sessions: &HashMap<i64, i64>,
) -> AppResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = targets.iter().map(|t| t.id).collect();
    let mut args = Args::default();
    let list = in_list(&mut args, &ids);
    let now = now_ms();
    match action {
        BulkAction::Enable | BulkAction::Disable => {
            let enable = action == BulkAction::Enable;
            let flag = if enable { "TRUE" } else { "FALSE" };
            args.bind(sqlx::query(&format!("UPDATE users SET enabled = {flag} WHERE id IN {list}")))
                .execute(&mut *conn)
                .await?;
            if !enable {
                args.bind(sqlx::query(&format!("DELETE FROM sessions WHERE user_id IN {list}")))
                    .execute(&mut *conn)
                    .await?;
            }
            for t in targets {
                let e = if enable {
                    Event::new("user.enabled").user(t.id, &t.email).details("bulk action")
                } else {
                    let n = sessions.get(&t.id).copied().unwrap_or(0);
                    Event::new("user.disabled")
                        .user(t.id, &t.email)
                        .details(format!("{n} sessions ended (bulk action)"))
                };
                record(conn, actor, e).await?;
            }
        }
        BulkAction::AddRole(_) | BulkAction::RemoveRole(_) => {
            let Some(role) = role else { return Ok(()) };
            let adding = matches!(action, BulkAction::AddRole(_));
            for t in targets {
                let sql = if adding {
                    "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2)"
                } else {
                    "DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2"
                };
                sqlx::query(sql).bind(t.id).bind(role.id).execute(&mut *conn).await?;
                let change = if adding { "added" } else { "removed" };
                let e = Event::new("user.updated")
                    .user(t.id, &t.email)
                    .details(format!("roles: {change} {} (bulk action)", role.name));
                record(conn, actor, e).await?;
            }
        }
        BulkAction::ResendInvitation => {
            for t in targets {
                crate::invitations::service::mint(conn, &state.settings, t.id, &t.email).await?;
                record(conn, actor, Event::new("invitation.resent").user(t.id, &t.email).details("bulk action"))
                    .await?;
            }
        }
        BulkAction::RevokeInvitation => {
            let nowp = args.int(now);
            args.bind(sqlx::query(&format!(
                "UPDATE invitations SET revoked_at = {nowp} WHERE user_id IN {list} AND used_at IS NULL \
                 AND revoked_at IS NULL"
            )))
            .execute(&mut *conn)
            .await?;
            let mut users = Args::default();
            let list = in_list(&mut users, &ids);
            users
                .bind(sqlx::query(&format!("UPDATE users SET invite_expires_at = NULL WHERE id IN {list}")))
                .execute(&mut *conn)
                .await?;
            for t in targets {
                record(conn, actor, Event::new("invitation.revoked").user(t.id, &t.email).details("bulk action"))
                    .await?;
            }
        }
        BulkAction::EndSessions => {
            args.bind(sqlx::query(&format!("DELETE FROM sessions WHERE user_id IN {list}")))
                .execute(&mut *conn)
                .await?;
            for t in targets {
                let n = sessions.get(&t.id).copied().unwrap_or(0);
                let e = Event::new("session.ended")
                    .user(t.id, &t.email)
                    .details(format!("{n} sessions ended by an administrator (bulk action)"));
                record(conn, actor, e).await?;
            }
        }
    }
    Ok(())
}

/// Which of `ids` hold the Administrator role.
async fn holders_of_admin(conn: &mut AnyConnection, ids: &[i64]) -> AppResult<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    let sql = format!(
        "SELECT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
         WHERE r.builtin = 'administrator' AND ur.user_id IN {list}"
    );
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// Which of `ids` hold role `role_id`.
async fn holders(conn: &mut AnyConnection, role_id: i64, ids: &[i64]) -> AppResult<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut args = Args::default();
    let role = args.int(role_id);
    let list = in_list(&mut args, ids);
    let sql = format!("SELECT user_id FROM user_roles WHERE role_id = {role} AND user_id IN {list}");
    Ok(args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// How many sessions each of `ids` has (absent: none).
async fn session_counts(conn: &mut AnyConnection, ids: &[i64]) -> AppResult<HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    let sql = format!("SELECT user_id, COUNT(*) AS n FROM sessions WHERE user_id IN {list} GROUP BY user_id");
    let rows: Vec<(i64, i64)> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

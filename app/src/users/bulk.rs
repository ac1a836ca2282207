//! Bulk actions on users: enable, disable, add or remove a role, resend or
//! revoke the invitation, end sessions, for the ticked rows or for every
//! user the list's search and filters match (read here, never sent by the
//! browser).
//!
//! The users are taken in batches (`bulk_batch_size`, 500 by default; see
//! BENCHMARKS.md for how long one holds the lock), each in its own short write
//! transaction, with a pause as long between two on SQLite, so that sign-ins
//! and other writes get the lock between batches. Each user
//! is checked against the single action's rules: administrators are changed
//! only by administrators and nobody acts on someone holding more than they do
//! ([`grants::unmanageable`], the set form of `check_may_manage`), the last
//! enabled administrator stays ([`grants::is_last_admin`], asked for each
//! administrator in turn, inside the batch), roles are given only within the
//! hand-out rule ([`grants::hand_out_refusals`]), and before every batch the
//! starter's own right is read again ([`still_allowed`]). Everyone changed gets the
//! single action's audit entry; the bulk action gets one more.
//!
//! The work is a job (`bulk_jobs`): [`start`] answers at once with its id,
//! a task works through the batches and records the progress in each batch's
//! transaction, and [`job`] reads it back from any server process.

use super::repo::{self, BulkTarget as Target};
use super::types::{thousands, BulkAction, BulkJob, BulkJobState, BulkOutcome, BulkSelection, Skipped, BULK_MAX_IDS};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{RoleId, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::grants;
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::now_ms;
use crate::server::session;
use crate::server::state::AppState;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// `bulk_jobs.status`: where a job stands, as stored (the browser sees
/// [`BulkJobState`], which also tells a stalled job from a running one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkJobStatus {
    Running,
    Finished,
    Failed,
}

impl BulkJobStatus {
    pub const ALL: [Self; 3] = [Self::Running, Self::Finished, Self::Failed];

    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

crate::words_column!(BulkJobStatus, "bulk job status", BulkJobStatus::parse, BulkJobStatus::as_str);

const OWN_ACCOUNT: &str = "your own account is changed from Account, not from a bulk action";
const LAST_ADMIN: &str = "the last enabled Global administrator";
const GONE: &str = "no longer exists";

/// The ids a selection holds now, in id order.
async fn selected_ids(state: &AppState, sel: &BulkSelection) -> AppResult<Vec<UserId>> {
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
            repo::matching_ids(&mut *state.db.pool.acquire().await?, state.db.backend, q).await
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
            repo::count_matching(&mut *state.db.pool.acquire().await?, state.db.backend, q).await
        }
    }
}

/// The role a role action is about.
struct RoleTarget {
    id: RoleId,
    name: String,
    administrator: bool,
}

async fn role_target(conn: &mut AnyConnection, caller: &Principal, id: RoleId, giving: bool) -> AppResult<RoleTarget> {
    let row = crate::roles::repo::find(conn, id)
        .await?
        .ok_or_else(|| AppError::NotFound("This role does not exist. It may have been deleted.".into()))?;
    if giving {
        if let Some(why) = grants::hand_out_refusals(conn, caller).await?.remove(&id) {
            return Err(AppError::NotAllowed(format!("You cannot give the role {}: {why}", row.name)));
        }
    }
    Ok(RoleTarget { id, administrator: row.is_administrator(), name: row.name })
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

    /// The outcome so far, skipped reasons most frequent first.
    fn outcome(&self, selected: usize) -> BulkOutcome {
        let mut skipped: Vec<Skipped> =
            self.skipped.iter().map(|(reason, count)| Skipped { reason: reason.to_string(), count: *count }).collect();
        skipped.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        BulkOutcome { selected: selected as u64, changed: self.changed, skipped }
    }
}

/// Start a job: check what can be refused at once (the role, the number of
/// ticked rows), read the ids, record the job, and work on it in the
/// background. Answers the job's id.
pub async fn start(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    sel: &BulkSelection,
    action: BulkAction,
) -> AppResult<i64> {
    let caller = access.principal().clone();
    let actor = Actor::of(&caller);
    let role = match action {
        BulkAction::AddRole(id) | BulkAction::RemoveRole(id) => {
            let mut conn = state.db.pool.acquire().await?;
            Some(role_target(&mut conn, &caller, id, matches!(action, BulkAction::AddRole(_))).await?)
        }
        _ => None,
    };
    let ids = selected_ids(state, sel).await?;
    let description = action
        .question(ids.len() as u64, role.as_ref().map_or("", |r| r.name.as_str()))
        .trim_end_matches('?')
        .to_string();
    let now = now_ms();
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (actor_id, description, total, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(caller.user_id)
    .bind(&description)
    .bind(ids.len() as i64)
    .bind(BulkJobStatus::Running)
    .bind(now)
    .fetch_one(&state.db.pool)
    .await?;
    let query = match sel {
        BulkSelection::Matching(q) => {
            format!(" (matching search \"{}\", status \"{}\", role \"{}\")", q.search.trim(), q.status, q.role)
        }
        BulkSelection::Ids(_) => String::new(),
    };
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = work(&caller, &actor, &state, job, &ids, action, role.as_ref(), &query).await {
            tracing::error!(job, error = %e, "bulk action failed");
            let why = match e {
                AppError::Internal => {
                    "Something went wrong on the server; the users done so far stay done.".to_string()
                }
                e => e.to_string(),
            };
            let failed = sqlx::query("UPDATE bulk_jobs SET status = $1, error = $2, updated_at = $3 WHERE id = $4")
                .bind(BulkJobStatus::Failed)
                .bind(why)
                .bind(now_ms())
                .bind(job)
                .execute(&state.db.pool)
                .await;
            if let Err(e) = failed {
                tracing::error!(job, error = %e, "could not record the bulk action's failure");
            }
        }
    });
    Ok(job)
}

/// The job's work, batch after batch; progress is written in each batch's transaction.
#[allow(clippy::too_many_arguments)]
async fn work(
    caller: &Principal,
    actor: &Actor,
    state: &AppState,
    job: i64,
    ids: &[UserId],
    action: BulkAction,
    role: Option<&RoleTarget>,
    query: &str,
) -> AppResult<()> {
    let started = std::time::Instant::now();
    let mut tally = Tally::default();
    // The longest a batch held the write lock: what a sign-in may wait.
    let mut longest = std::time::Duration::ZERO;
    let mut done = 0usize;
    for batch in ids.chunks(state.settings.bulk_batch_size.max(1)) {
        let mut tx = state.db.begin_write().await?;
        let held = std::time::Instant::now();
        // The request checked Users Update; every batch checks it again, with
        // the starter's grants as they are now, so a job stops when its
        // starter is disabled or loses the right, and hands out roles only
        // within what they still hold.
        let now = still_allowed(&mut tx, caller, done, ids.len()).await?;
        let access = now.authorize::<apps::Users, perms::Update>().map_err(|_| lost_right(done, ids.len()))?;
        run_batch(&mut tx, state, access.principal(), actor, action, role, batch, &mut tally).await?;
        done += batch.len();
        let outcome = tally.outcome(ids.len());
        sqlx::query("UPDATE bulk_jobs SET done = $1, changed = $2, skipped = $3, updated_at = $4 WHERE id = $5")
            .bind(done as i64)
            .bind(outcome.changed as i64)
            .bind(skipped_json(&outcome.skipped))
            .bind(now_ms())
            .bind(job)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let took = held.elapsed();
        longest = longest.max(took);
        // SQLite has one writer, and a writer waiting for it (a sign-in) polls
        // with growing sleeps: batches back to back kept it waiting for
        // seconds at 1M users (BENCHMARKS.md). Leave the lock free for as
        // long as the batch held it, so others get in between two batches.
        if state.db.backend.one_writer() {
            tokio::time::sleep(took).await;
        }
        if !state.settings.bulk_batch_pause.is_zero() {
            tokio::time::sleep(state.settings.bulk_batch_pause).await;
        }
    }
    let outcome = tally.outcome(ids.len());
    let role_name = role.map(|r| format!(" {}", r.name)).unwrap_or_default();
    let mut details = format!(
        "{}{role_name}: {} selected, {} changed",
        action.verb(),
        thousands(outcome.selected),
        thousands(outcome.changed)
    );
    for s in &outcome.skipped {
        details.push_str(&format!(", {} skipped: {}", thousands(s.count), s.reason));
    }
    details.push_str(query);
    let mut tx = state.db.begin_write().await?;
    record(&mut tx, actor, Event::new(AuditAction::UsersBulk).details(details)).await?;
    sqlx::query("UPDATE bulk_jobs SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(BulkJobStatus::Finished)
        .bind(now_ms())
        .bind(job)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        by = caller.user_id.get(),
        job,
        selected = outcome.selected,
        changed = outcome.changed,
        ms = started.elapsed().as_millis() as u64,
        longest_batch_ms = longest.as_millis() as u64,
        "bulk action on users"
    );
    Ok(())
}

/// The job's starter as they are now: their grants read again, or
/// [`lost_right`] when they were disabled (or deleted) meanwhile.
async fn still_allowed(
    conn: &mut AnyConnection,
    caller: &Principal,
    done: usize,
    total: usize,
) -> AppResult<Principal> {
    if repo::enabled(conn, caller.user_id).await? != Some(true) {
        return Err(lost_right(done, total));
    }
    let held = crate::grants::load_on(conn, caller.user_id).await?;
    Ok(Principal { is_admin: held.is_admin, grants: held.grants, ..caller.clone() })
}

/// A job stopped because its starter may no longer change users.
fn lost_right(done: usize, total: usize) -> AppError {
    AppError::NotAllowed(format!(
        "Stopped after {} of {} users: whoever started this action was disabled or no longer has Users Update. \
         The users done so far stay done.",
        thousands(done as u64),
        thousands(total as u64)
    ))
}

fn skipped_json(skipped: &[Skipped]) -> String {
    let pairs: Vec<(&str, u64)> = skipped.iter().map(|s| (s.reason.as_str(), s.count)).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

/// A job that is still "running" but has not moved for this long was on a
/// server process that stopped.
const STALLED_MS: i64 = 120_000;

pub fn job_gone() -> AppError {
    AppError::NotFound("This bulk action is not one of yours, or it no longer exists.".into())
}

/// One of the caller's jobs (`id`), or their latest of the last hour (`None`).
pub async fn job(
    access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    id: Option<i64>,
) -> AppResult<Option<BulkJob>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        description: String,
        total: i64,
        done: i64,
        changed: i64,
        skipped: String,
        status: BulkJobStatus,
        error: Option<String>,
        updated_at: i64,
    }
    let now = now_ms();
    let columns = "id, description, total, done, changed, skipped, status, error, updated_at";
    let row: Option<Row> = match id {
        Some(id) => {
            sqlx::query_as(&format!("SELECT {columns} FROM bulk_jobs WHERE id = $1 AND actor_id = $2"))
                .bind(id)
                .bind(access.principal().user_id)
                .fetch_optional(&state.db.pool)
                .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {columns} FROM bulk_jobs WHERE actor_id = $1 AND created_at > $2 ORDER BY id DESC LIMIT 1"
            ))
            .bind(access.principal().user_id)
            .bind(now - 3_600_000)
            .fetch_optional(&state.db.pool)
            .await?
        }
    };
    let Some(r) = row else { return Ok(None) };
    let pairs: Vec<(String, u64)> = serde_json::from_str(&r.skipped).unwrap_or_default();
    let outcome = BulkOutcome {
        selected: r.total.max(0) as u64,
        changed: r.changed.max(0) as u64,
        skipped: pairs.into_iter().map(|(reason, count)| Skipped { reason, count }).collect(),
    };
    let state = match r.status {
        BulkJobStatus::Finished => BulkJobState::Finished,
        BulkJobStatus::Running if now - r.updated_at > STALLED_MS => BulkJobState::Failed(format!(
            "The server stopped during this action after {} of {} users; those stay done. Run it again for the rest.",
            thousands(r.done.max(0) as u64),
            thousands(outcome.selected)
        )),
        BulkJobStatus::Running => BulkJobState::Running,
        BulkJobStatus::Failed => BulkJobState::Failed(r.error.unwrap_or_else(|| "The action stopped.".into())),
    };
    Ok(Some(BulkJob { id: r.id, description: r.description, state, done: r.done.max(0) as u64, outcome }))
}

#[allow(clippy::too_many_arguments)]
async fn run_batch(
    conn: &mut AnyConnection,
    state: &AppState,
    caller: &Principal,
    actor: &Actor,
    action: BulkAction,
    role: Option<&RoleTarget>,
    batch: &[UserId],
    tally: &mut Tally,
) -> AppResult<()> {
    let targets = repo::bulk_targets(conn, batch).await?;
    for _ in targets.len()..batch.len() {
        tally.skip(GONE);
    }
    let found: Vec<UserId> = targets.iter().map(|t| t.id).collect();
    let refused = grants::unmanageable(conn, caller, &found).await?;
    let admins = crate::roles::repo::administrator_holders(conn, &found).await?;
    let with_role: HashSet<UserId> = match role {
        Some(r) => crate::roles::repo::holders(conn, r.id, &found).await?,
        None => HashSet::new(),
    };
    let sessions = match action {
        BulkAction::Disable | BulkAction::EndSessions => session::count_for_users(conn, &found).await?,
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
    sessions: &HashMap<UserId, i64>,
) -> AppResult<()> {
    if targets.is_empty() {
        return Ok(());
    }
    let ids: Vec<UserId> = targets.iter().map(|t| t.id).collect();
    match action {
        BulkAction::Enable | BulkAction::Disable => {
            let enable = action == BulkAction::Enable;
            repo::set_enabled_many(conn, &ids, enable).await?;
            if !enable {
                session::end_all_for_users(conn, &ids).await?;
            }
            for t in targets {
                let e = if enable {
                    Event::new(AuditAction::UserEnabled).user(t.id, &t.email).details("bulk action")
                } else {
                    let n = sessions.get(&t.id).copied().unwrap_or(0);
                    Event::new(AuditAction::UserDisabled)
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
                if adding {
                    crate::roles::repo::give(conn, t.id, &[role.id]).await?;
                } else {
                    crate::roles::repo::take(conn, t.id, role.id).await?;
                }
                let change = if adding { "added" } else { "removed" };
                let e = Event::new(AuditAction::UserUpdated)
                    .user(t.id, &t.email)
                    .details(format!("roles: {change} {} (bulk action)", role.name));
                record(conn, actor, e).await?;
            }
        }
        BulkAction::ResendInvitation => {
            for t in targets {
                crate::invitations::service::mint(conn, &state.settings, t.id, &t.email).await?;
                record(
                    conn,
                    actor,
                    Event::new(AuditAction::InvitationResent).user(t.id, &t.email).details("bulk action"),
                )
                .await?;
            }
        }
        BulkAction::RevokeInvitation => {
            crate::invitations::repo::revoke_pending_many(conn, &ids, Timestamp::now()).await?;
            repo::clear_invitation_expiry(conn, &ids).await?;
            for t in targets {
                record(
                    conn,
                    actor,
                    Event::new(AuditAction::InvitationRevoked).user(t.id, &t.email).details("bulk action"),
                )
                .await?;
            }
        }
        BulkAction::EndSessions => {
            session::end_all_for_users(conn, &ids).await?;
            for t in targets {
                let n = sessions.get(&t.id).copied().unwrap_or(0);
                let e = Event::new(AuditAction::SessionEnded)
                    .user(t.id, &t.email)
                    .details(format!("{n} sessions ended by an administrator (bulk action)"));
                record(conn, actor, e).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_statuses_round_trip_through_their_words() {
        for s in BulkJobStatus::ALL {
            assert_eq!(BulkJobStatus::parse(s.as_str()), Some(s), "{s:?}");
        }
        assert_eq!(BulkJobStatus::parse("Running"), None);
        assert_eq!(BulkJobStatus::parse(""), None);
    }
}

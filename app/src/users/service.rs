//! The Users application's service: list, invite, edit, enable/disable and
//! the invitation life cycle. No HTTP, no HTML.

use super::types::{Delivery, RoleOption, UpdateOutcome, UserDetail, UserPage, UserQuery, UserRow, UserStatus};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{EmailAddress, PersonName, RoleId};
use crate::error::{AppError, AppResult};
use crate::grants::{check_may_manage, is_last_admin, user_email, user_gone};
use crate::roles::repo::role_ids_of;
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::db::is_unique_violation;
use crate::server::db::Backend;
use crate::server::session;
use crate::server::sql::{like_pattern, Args, Flag};
use crate::server::state::AppState;
use crate::server::{name_sort, now_ms};
use crate::settings::template::TemplateKind;
use sqlx::AnyConnection;
use std::collections::HashMap;

pub const PAGE_SIZE: i64 = 25;

/// The status expression; `$now` is the placeholder for the current time.
fn status_sql(now: &str) -> String {
    format!(
        "CASE WHEN NOT u.enabled THEN 'disabled' WHEN u.password_hash IS NOT NULL THEN 'active' \
         WHEN u.invite_expires_at > {now} THEN 'invited' ELSE 'expired' END"
    )
}

enum SortKey {
    Text(&'static str),
    Int(&'static str),
}

fn sort_key(sort: &str) -> (SortKey, bool) {
    let desc = sort.starts_with('-');
    let key = match sort.trim_start_matches('-') {
        "name" => SortKey::Text("u.name_sort"),
        "created" => SortKey::Int("u.created_at"),
        "last_sign_in" => SortKey::Int("COALESCE(u.last_sign_in_at, 0)"),
        _ => SortKey::Text("u.email_norm"),
    };
    (key, desc)
}

/// How a search term selects users (docs/design.md, "Users search").
enum Search {
    /// A case-insensitive substring of the email or the name, `%` and `_`
    /// literal, as a condition on `u`. It reads the trigram index (migration
    /// 0005): PostgreSQL's pg_trgm GIN indexes serve the `LIKE` as written;
    /// SQLite asks its FTS5 trigram table, whose phrase query is the same
    /// substring match. `probe` (SQLite): the same match as a `LIKE`, for
    /// reading the first rows in page order (see `list`).
    Substring { cond: String, probe: Option<String> },
    /// 1–2 characters have no trigram: the users whose email or name
    /// *begins* with the term, as two ranges of the `email_norm` and
    /// `name_sort` indexes (`>= term`, `< term` with its last character
    /// incremented: both columns are lower case, compared by code point).
    /// `initial` (PostgreSQL, 1 character): the same two matches written on
    /// the first character (`substr(u.email_norm, 1, 1) = $n`), which the
    /// initials' indexes (migrations 0017, 0018) read in another sort key's order.
    Prefix { email: String, name: String, initial: Option<(String, String)> },
}

fn search_filter(backend: Backend, args: &mut Args, search: &str) -> Search {
    let term = search.trim().to_lowercase();
    let chars = term.chars().count();
    if chars <= 2 {
        if let Some(upper) = prefix_upper_bound(&term) {
            let (lo, hi) = (args.text(term.clone()), args.text(upper));
            let initial = (backend.has_initial_indexes() && chars == 1).then(|| {
                let (e, n) = (args.text(term.clone()), args.text(term.clone()));
                (format!(" AND substr(u.email_norm, 1, 1) = {e}"), format!(" AND substr(u.name_sort, 1, 1) = {n}"))
            });
            return Search::Prefix {
                email: format!(" AND u.email_norm >= {lo} AND u.email_norm < {hi}"),
                name: format!(" AND u.name_sort >= {lo} AND u.name_sort < {hi}"),
                initial,
            };
        }
    }
    let like = |args: &mut Args| {
        let p = args.text(like_pattern(&term));
        format!(" AND (u.email_norm LIKE {p} ESCAPE '\\' OR u.name_sort LIKE {p} ESCAPE '\\')")
    };
    if backend.has_users_fts() && chars >= 3 {
        let p = args.text(fts_phrase(&term));
        let cond = format!(" AND u.id IN (SELECT rowid FROM users_fts WHERE users_fts MATCH {p})");
        return Search::Substring { cond, probe: Some(like(args)) };
    }
    Search::Substring { cond: like(args), probe: None }
}

/// The smallest string above every string that begins with `prefix`: its
/// last character incremented (`"zo"` → `"zp"`). `None` if there is none.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// Rows read in page order before a frequent term's query gives up on that
/// order (`list`): a few milliseconds at most.
const PROBE_ROWS: i64 = 2000;

/// The sort keys that have an index to read in order (the last sign-in has none).
const INDEXED_KEYS: [&str; 3] = ["u.email_norm", "u.name_sort", "u.created_at"];

/// An FTS5 query that is one quoted phrase: every character is literal text
/// for the tokenizer (`"` doubled), so `*`, `-`, `:`, `(`, `AND` … mean nothing.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The status and role filters of `q` as conditions on `u` (`status`: the
/// expression of [`status_sql`]).
fn filter_conditions(args: &mut Args, q: &UserQuery, status: &str) -> String {
    let mut sql = String::new();
    if let Some(st) = UserStatus::parse(&q.status) {
        let p = args.text(st.key());
        sql.push_str(&format!(" AND {status} = {p}"));
    }
    if let Ok(role) = q.role.parse::<i64>() {
        let p = args.int(role);
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND ur.role_id = {p})"
        ));
    }
    sql
}

/// Every user the Users list shows for `q` (its search, status and role
/// filters; not its page), as one query for export and bulk actions.
pub(crate) struct Selection {
    pub args: Args,
    /// `AND …` conditions on `users u`.
    pub conditions: String,
    /// The status expression (a column the query may select).
    pub status: String,
    /// `ORDER BY …`: the list's order (its sort key, then the id).
    pub order: String,
}

/// The users `q` matches, in the list's order: the same search
/// ([`search_filter`]) and filters ([`filter_conditions`]) as [`list`]. A
/// prefix search is its two ranges joined by `OR`; a substring search the
/// trigram condition.
pub(crate) fn selection(backend: Backend, q: &UserQuery) -> Selection {
    let mut args = Args::default();
    let now_p = args.int(now_ms());
    let status = status_sql(&now_p);
    let mut conditions = match (!q.search.trim().is_empty()).then(|| search_filter(backend, &mut args, &q.search)) {
        None => String::new(),
        Some(Search::Prefix { email, name, .. }) => format!(" AND ((1 = 1{email}) OR (1 = 1{name}))"),
        Some(Search::Substring { cond, .. }) => cond,
    };
    conditions.push_str(&filter_conditions(&mut args, q, &status));
    let (key, desc) = sort_key(&q.sort);
    let (SortKey::Text(key_expr) | SortKey::Int(key_expr)) = key;
    let dir = if desc { "DESC" } else { "ASC" };
    Selection { args, conditions, status, order: format!(" ORDER BY {key_expr} {dir}, u.id {dir}") }
}

/// A row of the Users list as the query returns it.
#[derive(sqlx::FromRow)]
struct Listed {
    id: i64,
    email: String,
    first_name: String,
    last_name: String,
    last_sign_in_at: Option<i64>,
    status: UserStatus,
    #[sqlx(try_from = "Flag")]
    email_verified: bool,
    /// The sort column as text, for the keyset cursor.
    sort_key: String,
}

/// One user as the detail page reads them.
#[derive(sqlx::FromRow)]
struct Record {
    email: String,
    first_name: String,
    last_name: String,
    #[sqlx(try_from = "Flag")]
    enabled: bool,
    last_sign_in_at: Option<i64>,
    created_at: i64,
    invite_expires_at: Option<i64>,
    status: UserStatus,
    #[sqlx(try_from = "Flag")]
    email_verified: bool,
}

pub async fn list(
    _access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    q: &UserQuery,
) -> AppResult<UserPage> {
    let now = now_ms();
    let mut args = Args::default();
    let now_p = args.int(now);
    let status = status_sql(&now_p);
    let (key, desc) = sort_key(&q.sort);
    let key_expr = match key {
        SortKey::Text(e) | SortKey::Int(e) => e,
    };
    let columns = format!(
        "u.id, u.email, u.first_name, u.last_name, u.last_sign_in_at, {status} AS status, u.email_verified, \
         CAST({key_expr} AS TEXT) AS sort_key"
    );
    let search = (!q.search.trim().is_empty()).then(|| search_filter(state.db.backend, &mut args, &q.search));
    let filters = filter_conditions(&mut args, q, &status);
    let mut sql = String::new();
    if let Some((id, value)) = q.after.split_once(':') {
        let id: i64 = id.parse().map_err(|_| AppError::Invalid("The page link is not valid.".into()))?;
        let v = match key {
            SortKey::Text(_) => args.text(value),
            SortKey::Int(_) => {
                args.int(value.parse().map_err(|_| AppError::Invalid("The page link is not valid.".into()))?)
            }
        };
        let idp = args.int(id);
        let op = if desc { "<" } else { ">" };
        // The leading `key >= v` (or `<=`) is implied by the OR after it, but
        // only it gives the planner a range on the sort index: without it
        // both SQLite and PostgreSQL read the index from its start, so a deep
        // page cost as much as the number of rows before it.
        sql.push_str(&format!(
            " AND {key_expr} {op}= {v} AND ({key_expr} {op} {v} OR ({key_expr} = {v} AND u.id {op} {idp}))"
        ));
    }
    let cursor = sql;
    let dir = if desc { "DESC" } else { "ASC" };
    let limit = args.int(PAGE_SIZE + 1);
    let order = format!(" ORDER BY {key_expr} {dir}, u.id {dir} LIMIT {limit}");
    let rows: Vec<Listed> = match &search {
        None => {
            let sql = format!("SELECT {columns} FROM users u WHERE 1 = 1{filters}{cursor}{order}");
            args.bind(sqlx::query_as(&sql)).fetch_all(&state.db.pool).await?
        }
        // Each range gives its own first page, and the page is the first rows
        // of both: the work follows the matches' index entries, never the
        // table. A range on the sort key's own column is read in order from
        // its index; the other is read from its covering index (migration
        // 0010) and sorted. Its sort key is written `|| ''` / `+ 0` so that
        // the planner cannot walk the sort key's index filtering rows instead:
        // when the matches sit together (`zo…` emails are all near the end by
        // email), that reads most of the table to find a few of them. One
        // character on PostgreSQL matches up to an eighth of the users (`j`):
        // there the other range is read in page order from an index on its
        // first character and the sort key (migrations 0017, 0018), 26 entries
        // instead of the whole range.
        Some(Search::Prefix { email, name, initial }) => {
            let branch = |range: &str, column: &str, initial: Option<&str>| {
                let (range, key) = match (initial, &key) {
                    _ if key_expr == column => (range, key_expr.to_string()),
                    (Some(initial), _) if INDEXED_KEYS.contains(&key_expr) => (initial, key_expr.to_string()),
                    (_, SortKey::Text(e)) => (range, format!("{e} || ''")),
                    (_, SortKey::Int(e)) => (range, format!("{e} + 0")),
                };
                format!(
                    "SELECT id FROM (SELECT u.id FROM users u WHERE 1 = 1{range}{filters}{cursor} \
                     ORDER BY {key} {dir}, u.id {dir} LIMIT {limit}) AS b"
                )
            };
            let (email_initial, name_initial) = initial.as_ref().map(|(e, n)| (e.as_str(), n.as_str())).unzip();
            let sql = format!(
                "SELECT {columns} FROM users u WHERE u.id IN ({} UNION ALL {}){order}",
                branch(email, "u.email_norm", email_initial),
                branch(name, "u.name_sort", name_initial)
            );
            args.bind(sqlx::query_as(&sql)).fetch_all(&state.db.pool).await?
        }
        // A frequent term fills a page from the first rows in page order,
        // where reading all its matches and sorting them would take long
        // (~5 % of 1M users on SQLite: 70 ms): read at most PROBE_ROWS rows in
        // order first (for a sort key with an index), and search the index
        // only if they hold no full page.
        Some(Search::Substring { cond, probe }) => {
            let mut found = None;
            if let (Some(like), true) = (probe, INDEXED_KEYS.contains(&key_expr)) {
                let sql = format!(
                    "SELECT {columns} FROM (SELECT * FROM users u WHERE 1 = 1{cursor} \
                     ORDER BY {key_expr} {dir}, u.id {dir} LIMIT {PROBE_ROWS}) u WHERE 1 = 1{like}{filters}{order}"
                );
                let rows: Vec<Listed> = args.bind(sqlx::query_as(&sql)).fetch_all(&state.db.pool).await?;
                found = (rows.len() as i64 > PAGE_SIZE).then_some(rows);
            }
            match found {
                Some(rows) => rows,
                None => {
                    let sql = format!("SELECT {columns} FROM users u WHERE 1 = 1{cond}{filters}{cursor}{order}");
                    args.bind(sqlx::query_as(&sql)).fetch_all(&state.db.pool).await?
                }
            }
        }
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

    let ids: Vec<i64> = out.iter().map(|u| u.id).collect();
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

async fn roles_of(state: &AppState, ids: &[i64]) -> AppResult<HashMap<i64, Vec<String>>> {
    crate::roles::repo::role_names_by_user(&mut *state.db.pool.acquire().await?, ids).await
}

/// The delivery state of each user's latest invitation email.
async fn deliveries_of(state: &AppState, ids: &[i64]) -> AppResult<HashMap<i64, Delivery>> {
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

async fn set_roles(conn: &mut AnyConnection, user_id: i64, role_ids: &[RoleId]) -> AppResult<()> {
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
) -> AppResult<i64> {
    let mut tx = state.db.begin_write().await?;
    check_roles(&mut tx, access.principal(), role_ids).await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email_norm = $1")
        .bind(email.normalized())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        return Err(duplicate(email));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, email_norm, first_name, last_name, name_sort, enabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING id",
    )
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name.first())
    .bind(name.last())
    .bind(name_sort(name.first(), name.last()))
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| if is_unique_violation(&e) { duplicate(email) } else { e.into() })?;
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
    tracing::info!(user_id = id, by = access.principal().user_id, "user invited");
    Ok(id)
}

pub async fn detail(access: Access<'_, apps::Users, perms::View>, state: &AppState, id: i64) -> AppResult<UserDetail> {
    let mut args = Args::default();
    let now_p = args.int(now_ms());
    let idp = args.int(id);
    let sql = format!(
        "SELECT u.email, u.first_name, u.last_name, u.enabled, u.last_sign_in_at, u.created_at, \
         u.invite_expires_at, {} AS status, u.email_verified FROM users u WHERE u.id = {idp}",
        status_sql(&now_p)
    );
    let r: Record = args.bind(sqlx::query_as(&sql)).fetch_optional(&state.db.pool).await?.ok_or_else(user_gone)?;
    let mut conn = state.db.pool.acquire().await?;
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
    id: i64,
    info: &GeneralInfo<'_>,
    role_ids: &[RoleId],
) -> AppResult<UpdateOutcome> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    let (first_before, last_before, email_before): (String, String, String) =
        sqlx::query_as("SELECT first_name, last_name, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(user_gone)?;
    // Changing one's own email changes where one's password resets go: like
    // adding a factor, it needs a recent sign-in or confirmation.
    let email_changed = email_before.to_lowercase() != info.email.normalized();
    let me = access.principal();
    if id == me.user_id && email_changed {
        me.require_fresh(state.settings.fresh_sign_in)?;
    }
    let roles_before = role_ids_of(&mut tx, id).await?;
    let clash: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email_norm = $1 AND id <> $2")
        .bind(info.email.normalized())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if clash.is_some() {
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
    sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, email = $3, email_norm = $4, name_sort = $5 WHERE id = $6",
    )
    .bind(info.name.first())
    .bind(info.name.last())
    .bind(info.email.as_str())
    .bind(info.email.normalized())
    .bind(name_sort(info.name.first(), info.name.last()))
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| if is_unique_violation(&e) { duplicate(info.email) } else { e.into() })?;
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
    if email_changed && signed_up(&mut tx, id).await? {
        let new_email = [("new_email", info.email.as_str().to_string())];
        crate::mail::notify_owner(&mut tx, &state.settings, TemplateKind::EmailChanged, id, &email_before, &new_email)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = id, by = access.principal().user_id, "user updated");
    Ok(UpdateOutcome { invitation_revoked, confirmation_sent })
}

/// Has user `id` signed up (chosen a password)?
async fn signed_up(conn: &mut AnyConnection, id: i64) -> AppResult<bool> {
    let found = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE id = $1 AND password_hash IS NOT NULL")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Enable or disable a user. Disabling ends every session of theirs at once,
/// on every server process (sessions live in the database).
pub async fn set_enabled(
    access: Access<'_, apps::Users, perms::Update>,
    state: &AppState,
    id: i64,
    enabled: bool,
) -> AppResult<()> {
    let mut tx = state.db.begin_write().await?;
    check_may_manage(&mut tx, access.principal(), id).await?;
    if !enabled && is_last_admin(&mut tx, id).await? {
        return Err(AppError::Conflict("This is the last enabled Global administrator and cannot be disabled.".into()));
    }
    let r = sqlx::query("UPDATE users SET enabled = $1 WHERE id = $2").bind(enabled).bind(id).execute(&mut *tx).await?;
    if r.rows_affected() == 0 {
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
    tracing::info!(user_id = id, enabled, by = access.principal().user_id, "user enabled changed");
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
    id: i64,
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
pub async fn unlock(access: Access<'_, apps::Users, perms::Update>, state: &AppState, id: i64) -> AppResult<()> {
    let mut conn = state.db.pool.acquire().await?;
    let email = user_email(&mut conn, id).await?;
    check_may_manage(&mut conn, access.principal(), id).await?;
    crate::credentials::throttle::clear(&mut conn, &email.to_lowercase()).await?;
    crate::credentials::throttle::clear_second_step_locks(&mut conn, &email.to_lowercase()).await?;
    record(&mut conn, &Actor::of(access.principal()), Event::new(AuditAction::UserUnlocked).user(id, &email)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_phrases_are_quoted_and_literal() {
        assert_eq!(fts_phrase("laura"), "\"laura\"");
        assert_eq!(fts_phrase("o\"brien*"), "\"o\"\"brien*\"");
        let mut args = Args::default();
        let Search::Substring { cond, probe: Some(like) } = search_filter(Backend::Sqlite, &mut args, " Laur ") else {
            panic!("3 characters or more: a substring, on SQLite with a LIKE for the probe")
        };
        assert!(cond.contains("users_fts MATCH $1") && like.contains("LIKE $2"), "{cond} {like}");
        let Search::Prefix { email, name, initial: None } = search_filter(Backend::Sqlite, &mut args, "La") else {
            panic!("2 characters: a prefix")
        };
        assert!(email.contains("u.email_norm >= $3 AND u.email_norm < $4"), "{email}");
        assert!(name.contains("u.name_sort >= $3 AND u.name_sort < $4"), "{name}");
        let Search::Substring { cond, probe: None } = search_filter(Backend::Postgres, &mut args, "laura") else {
            panic!("PostgreSQL: the trigram LIKE alone")
        };
        assert!(cond.contains("LIKE $5"), "{cond}");
        let Search::Prefix { initial: None, .. } = search_filter(Backend::Postgres, &mut args, "ja") else {
            panic!("PostgreSQL, 2 characters: the ranges alone")
        };
        let Search::Prefix { email, initial: Some((by_email, by_name)), .. } =
            search_filter(Backend::Postgres, &mut args, " J")
        else {
            panic!("PostgreSQL, 1 character: the ranges and the initials")
        };
        assert!(email.contains("u.email_norm >= $8 AND u.email_norm < $9"), "{email}");
        assert_eq!(by_email, " AND substr(u.email_norm, 1, 1) = $10");
        assert_eq!(by_name, " AND substr(u.name_sort, 1, 1) = $11");
        let Search::Prefix { initial: None, .. } = search_filter(Backend::Sqlite, &mut args, "j") else {
            panic!("SQLite, 1 character: the ranges alone")
        };
    }

    #[test]
    fn a_prefix_range_ends_just_above_the_prefix() {
        assert_eq!(prefix_upper_bound("zo").as_deref(), Some("zp"));
        assert_eq!(prefix_upper_bound("z").as_deref(), Some("{"));
        assert_eq!(prefix_upper_bound("é").as_deref(), Some("ê"));
        assert_eq!(prefix_upper_bound("a\u{d7ff}").as_deref(), Some("a\u{e000}"), "past the surrogates");
        assert_eq!(prefix_upper_bound(&char::MAX.to_string()), None);
        assert_eq!(prefix_upper_bound(""), None);
    }
}

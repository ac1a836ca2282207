//! Every statement on `users`: the Users list and the selections its search
//! and filters make (bulk actions, the export), one user's record, and what
//! the other applications read and change of a user (sign-in, sign-up,
//! resets, Account, confirmations, OpenID Connect). Each function runs on the
//! connection or transaction it is given, so the caller keeps its transaction.
//!
//! The list and its selections join `user_roles` and `roles` in (the role
//! filter, the export's role names); the reads that join `users` into another
//! aggregate's query are listed in `scripts/tables.toml` (`joined_in`).

use super::types::{UserQuery, UserStatus};
use crate::domain::{EmailAddress, PersonName, Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::server::db::Backend;
use crate::server::name_sort;
use crate::server::sql::{in_list, in_list_text, like_pattern, Args, Flag};
use futures_util::stream::BoxStream;
use sqlx::{AnyConnection, AnyPool};
use std::collections::HashMap;

// ---- the Users list ----------------------------------------------------------------

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
    /// reading the first rows in page order (see `page`).
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
/// order (`page`): a few milliseconds at most.
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
struct Selection {
    args: Args,
    /// `AND …` conditions on `users u`.
    conditions: String,
    /// The status expression (a column the query may select).
    status: String,
    /// `ORDER BY …`: the list's order (its sort key, then the id).
    order: String,
}

/// The users `q` matches, in the list's order: the same search
/// ([`search_filter`]) and filters ([`filter_conditions`]) as [`page`]. A
/// prefix search is its two ranges joined by `OR`; a substring search the
/// trigram condition.
fn selection(backend: Backend, q: &UserQuery, now: Timestamp) -> Selection {
    let mut args = Args::default();
    let now_p = args.int(now.millis());
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

/// A row of the Users list as [`page`] reads it.
#[derive(sqlx::FromRow)]
pub struct Listed {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub last_sign_in_at: Option<Timestamp>,
    pub status: UserStatus,
    #[sqlx(try_from = "Flag")]
    pub email_verified: bool,
    /// The sort column as text, for the keyset cursor (`id:sort_key`).
    pub sort_key: String,
}

/// One page of the Users list for `q` (its search, filters, sort and the
/// cursor `q.after`), as of `now`: up to `size + 1` rows, the one beyond the
/// page saying there is a next one.
pub async fn page(
    conn: &mut AnyConnection,
    backend: Backend,
    q: &UserQuery,
    now: Timestamp,
    size: i64,
) -> AppResult<Vec<Listed>> {
    let mut args = Args::default();
    let now_p = args.int(now.millis());
    let status = status_sql(&now_p);
    let (key, desc) = sort_key(&q.sort);
    let key_expr = match key {
        SortKey::Text(e) | SortKey::Int(e) => e,
    };
    let columns = format!(
        "u.id, u.email, u.first_name, u.last_name, u.last_sign_in_at, {status} AS status, u.email_verified, \
         CAST({key_expr} AS TEXT) AS sort_key"
    );
    let search = (!q.search.trim().is_empty()).then(|| search_filter(backend, &mut args, &q.search));
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
    let limit = args.int(size + 1);
    let order = format!(" ORDER BY {key_expr} {dir}, u.id {dir} LIMIT {limit}");
    let rows: Vec<Listed> = match &search {
        None => {
            let sql = format!("SELECT {columns} FROM users u WHERE 1 = 1{filters}{cursor}{order}");
            args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?
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
            args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?
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
                let rows: Vec<Listed> = args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?;
                found = (rows.len() as i64 > size).then_some(rows);
            }
            match found {
                Some(rows) => rows,
                None => {
                    let sql = format!("SELECT {columns} FROM users u WHERE 1 = 1{cond}{filters}{cursor}{order}");
                    args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?
                }
            }
        }
    };
    Ok(rows)
}

/// The ids of every user `q` matches (its search and filters, not its page), in id order.
pub async fn matching_ids(conn: &mut AnyConnection, backend: Backend, q: &UserQuery) -> AppResult<Vec<UserId>> {
    let s = selection(backend, q, Timestamp::now());
    let sql = format!("SELECT u.id FROM users u WHERE 1 = 1{} ORDER BY u.id", s.conditions);
    Ok(s.args.bind(sqlx::query_scalar(&sql)).fetch_all(&mut *conn).await?)
}

/// How many users `q` matches (its search and filters, not its page).
pub async fn count_matching(conn: &mut AnyConnection, backend: Backend, q: &UserQuery) -> AppResult<u64> {
    let s = selection(backend, q, Timestamp::now());
    let sql = format!("SELECT COUNT(*) AS n FROM users u WHERE 1 = 1{}", s.conditions);
    let n: i64 = s.args.bind(sqlx::query_scalar(&sql)).fetch_one(&mut *conn).await?;
    Ok(n.max(0) as u64)
}

// ---- the export --------------------------------------------------------------------

/// Separates role names inside the export's query (the ASCII unit separator:
/// no role name holds it).
const ROLE_SEPARATOR: &str = "\u{1f}";

/// One user as the export reads them.
#[derive(sqlx::FromRow)]
pub struct Exported {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub status: UserStatus,
    roles: Option<String>,
    pub created_at: Timestamp,
    pub last_sign_in_at: Option<Timestamp>,
}

impl Exported {
    /// The names of the user's roles, in no particular order.
    pub fn role_names(&self) -> Vec<&str> {
        self.roles.as_deref().unwrap_or("").split(ROLE_SEPARATOR).filter(|r| !r.is_empty()).collect()
    }
}

/// The export's one query: every user `q` matches, or only the users `only`
/// (in `q`'s sort), each with the names of their roles. Built once, read as
/// a stream ([`ExportQuery::rows`]) so that a million users never sit in memory.
pub struct ExportQuery {
    args: Args,
    sql: String,
}

pub fn export_query(backend: Backend, q: &UserQuery, only: Option<&[UserId]>) -> ExportQuery {
    let now = Timestamp::now();
    let mut sel = match only {
        None => selection(backend, q, now),
        Some(ids) => {
            let mut sel = selection(backend, &UserQuery { sort: q.sort.clone(), ..UserQuery::default() }, now);
            let list: Vec<String> = ids.iter().map(|&id| sel.args.int(id.get())).collect();
            sel.conditions.push_str(&format!(" AND u.id IN ({})", list.join(", ")));
            sel
        }
    };
    let sep = sel.args.text(ROLE_SEPARATOR);
    let names = backend.string_agg("r.name", &sep);
    let roles =
        format!("(SELECT {names} FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id)");
    let sql = format!(
        "SELECT u.email, u.first_name, u.last_name, {} AS status, {roles} AS roles, u.created_at, u.last_sign_in_at \
         FROM users u WHERE 1 = 1{}{}",
        sel.status, sel.conditions, sel.order
    );
    ExportQuery { args: sel.args, sql }
}

impl ExportQuery {
    /// The users, in order, as they are read.
    pub fn rows<'a>(&'a self, pool: &'a AnyPool) -> BoxStream<'a, Result<Exported, sqlx::Error>> {
        self.args.bind(sqlx::query_as::<_, Exported>(&self.sql)).fetch(pool)
    }
}

// ---- one user ----------------------------------------------------------------------

/// How many users there are.
pub async fn count(conn: &mut AnyConnection) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM users").fetch_one(&mut *conn).await?)
}

/// The user whose address is `email` (compared normalized), if any.
pub async fn id_by_email(conn: &mut AnyConnection, email: &EmailAddress) -> AppResult<Option<UserId>> {
    Ok(sqlx::query_scalar("SELECT id FROM users WHERE email_norm = $1")
        .bind(email.normalized())
        .fetch_optional(&mut *conn)
        .await?)
}

/// Has another user than `id` the address `email`?
pub async fn email_taken_by_other(conn: &mut AnyConnection, email: &EmailAddress, id: UserId) -> AppResult<bool> {
    let clash: Option<UserId> = sqlx::query_scalar("SELECT id FROM users WHERE email_norm = $1 AND id <> $2")
        .bind(email.normalized())
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(clash.is_some())
}

/// Which of the normalized addresses `keys` are users', with their ids (one
/// statement: callers pass a bounded chunk).
pub async fn ids_by_emails(conn: &mut AnyConnection, keys: &[String]) -> AppResult<Vec<(String, UserId)>> {
    let mut args = Args::default();
    let sql = format!("SELECT email_norm, id FROM users WHERE email_norm IN {}", in_list_text(&mut args, keys));
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

/// Add an enabled user: invited (no password yet) or, with `password_hash`,
/// signed up. The error is the database's, so that the caller can tell a
/// taken address (`is_unique_violation`) from the rest.
pub async fn insert(
    conn: &mut AnyConnection,
    email: &EmailAddress,
    name: &PersonName,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<UserId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (email, email_norm, first_name, last_name, name_sort, password_hash, enabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) RETURNING id",
    )
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name.first())
    .bind(name.last())
    .bind(name_sort(name.first(), name.last()))
    .bind(password_hash)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
}

/// A person to add as invited (the import adds hundreds at once).
pub struct NewUser<'a> {
    pub email: &'a EmailAddress,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

/// Add `people` as enabled, invited users in one statement; their ids, by normalized address.
pub async fn insert_many(
    conn: &mut AnyConnection,
    people: &[NewUser<'_>],
    now: Timestamp,
) -> AppResult<HashMap<String, UserId>> {
    if people.is_empty() {
        return Ok(HashMap::new());
    }
    let mut args = Args::default();
    let now = args.int(now.millis());
    let values = args.rows(people, |a, p| {
        let sort = name_sort(p.first_name, p.last_name);
        vec![
            a.text(p.email.as_str()),
            a.text(p.email.normalized()),
            a.text(p.first_name),
            a.text(p.last_name),
            "TRUE".into(),
            now.clone(),
            a.text(sort),
        ]
    });
    let sql = format!(
        "INSERT INTO users (email, email_norm, first_name, last_name, enabled, created_at, name_sort) \
         VALUES {values} RETURNING email_norm, id"
    );
    Ok(args.bind(sqlx::query_as::<_, (String, UserId)>(&sql)).fetch_all(&mut *conn).await?.into_iter().collect())
}

/// One user as the detail page reads them.
#[derive(sqlx::FromRow)]
pub struct Record {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    pub last_sign_in_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub invite_expires_at: Option<Timestamp>,
    pub status: UserStatus,
    #[sqlx(try_from = "Flag")]
    pub email_verified: bool,
}

/// User `id` as the detail page shows them, with their status as of `now`.
pub async fn record(conn: &mut AnyConnection, id: UserId, now: Timestamp) -> AppResult<Option<Record>> {
    let mut args = Args::default();
    let now_p = args.int(now.millis());
    let idp = args.int(id.get());
    let sql = format!(
        "SELECT u.email, u.first_name, u.last_name, u.enabled, u.last_sign_in_at, u.created_at, \
         u.invite_expires_at, {} AS status, u.email_verified FROM users u WHERE u.id = {idp}",
        status_sql(&now_p)
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_optional(&mut *conn).await?)
}

/// A user's address and name.
#[derive(sqlx::FromRow)]
pub struct Named {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// User `id`'s address and name, if they exist.
pub async fn named(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<Named>> {
    Ok(sqlx::query_as("SELECT email, first_name, last_name FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// User `id`'s address, if they exist.
pub async fn email(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT email FROM users WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?)
}

/// User `id`'s first name, if they exist (emails greet people by it).
pub async fn first_name(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT first_name FROM users WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?)
}

/// Is user `id` enabled (`None`: there is no such user)?
pub async fn enabled(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<bool>> {
    let found: Option<Flag> =
        sqlx::query_scalar("SELECT enabled FROM users WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    Ok(found.map(bool::from))
}

/// Has user `id` signed up (chosen a password)?
pub async fn signed_up(conn: &mut AnyConnection, id: UserId) -> AppResult<bool> {
    let found = sqlx::query_scalar::<_, UserId>("SELECT id FROM users WHERE id = $1 AND password_hash IS NOT NULL")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Change user `id`'s name and address. The error is the database's, so that
/// the caller can tell a taken address (`is_unique_violation`) from the rest.
pub async fn set_name_and_email(
    conn: &mut AnyConnection,
    id: UserId,
    name: &PersonName,
    email: &EmailAddress,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET first_name = $1, last_name = $2, email = $3, email_norm = $4, name_sort = $5 WHERE id = $6",
    )
    .bind(name.first())
    .bind(name.last())
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(name_sort(name.first(), name.last()))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Change user `id`'s name.
pub async fn set_name(conn: &mut AnyConnection, id: UserId, name: &PersonName) -> AppResult<()> {
    sqlx::query("UPDATE users SET first_name = $1, last_name = $2, name_sort = $3 WHERE id = $4")
        .bind(name.first())
        .bind(name.last())
        .bind(name_sort(name.first(), name.last()))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Enable or disable user `id`; whether they exist.
pub async fn set_enabled(conn: &mut AnyConnection, id: UserId, enabled: bool) -> AppResult<bool> {
    let r =
        sqlx::query("UPDATE users SET enabled = $1 WHERE id = $2").bind(enabled).bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() > 0)
}

/// Enable or disable each of `ids`.
pub async fn set_enabled_many(conn: &mut AnyConnection, ids: &[UserId], enabled: bool) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    let flag = if enabled { "TRUE" } else { "FALSE" };
    args.bind(sqlx::query(&format!("UPDATE users SET enabled = {flag} WHERE id IN {list}")))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One selected user as a bulk action's batch reads them.
#[derive(sqlx::FromRow)]
pub struct BulkTarget {
    pub id: UserId,
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    #[sqlx(try_from = "Flag")]
    pub signed_up: bool,
    pub invite_expires_at: Option<Timestamp>,
}

/// Those of `ids` that exist, in id order (one statement: callers pass a bounded batch).
pub async fn bulk_targets(conn: &mut AnyConnection, ids: &[UserId]) -> AppResult<Vec<BulkTarget>> {
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    let sql = format!(
        "SELECT id, email, enabled, password_hash IS NOT NULL AS signed_up, invite_expires_at FROM users \
         WHERE id IN {list} ORDER BY id"
    );
    Ok(args.bind(sqlx::query_as(&sql)).fetch_all(&mut *conn).await?)
}

// ---- sign-in and passwords -----------------------------------------------------------

/// An account as a password check sees it.
#[derive(sqlx::FromRow)]
pub struct Account {
    pub id: UserId,
    pub email: String,
    pub password_hash: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
}

/// The account whose normalized address is `key`, if any.
pub async fn account_by_key(conn: &mut AnyConnection, key: &str) -> AppResult<Option<Account>> {
    Ok(sqlx::query_as("SELECT id, email, password_hash, enabled FROM users WHERE email_norm = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?)
}

/// User `id`'s password hash (`None`: not signed up, or no such user).
pub async fn password_hash(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<String>> {
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    Ok(found.flatten())
}

/// The enabled, signed-up user whose address is `email` (a password reset
/// goes only to them): their id and address as stored.
pub async fn reset_recipient(conn: &mut AnyConnection, email: &EmailAddress) -> AppResult<Option<(UserId, String)>> {
    Ok(sqlx::query_as("SELECT id, email FROM users WHERE email_norm = $1 AND enabled AND password_hash IS NOT NULL")
        .bind(email.normalized())
        .fetch_optional(&mut *conn)
        .await?)
}

/// Store user `id`'s new password hash.
pub async fn set_password(conn: &mut AnyConnection, id: UserId, hash: &str) -> AppResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id).execute(&mut *conn).await?;
    Ok(())
}

/// Store the password hash set through a link sent to user `id`'s address,
/// which proves the address (`email_verified`).
pub async fn set_password_by_link(conn: &mut AnyConnection, id: UserId, hash: &str) -> AppResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1, email_verified = TRUE WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// User `id` signed in at `at`.
pub async fn record_sign_in(conn: &mut AnyConnection, id: UserId, at: Timestamp) -> AppResult<()> {
    sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2").bind(at).bind(id).execute(&mut *conn).await?;
    Ok(())
}

// ---- invitations -------------------------------------------------------------------

/// Each of `ids` has an invitation pending until `expires`.
pub async fn set_invitation_expiry(conn: &mut AnyConnection, ids: &[UserId], expires: Timestamp) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let expires = args.int(expires.millis());
    let sql = format!("UPDATE users SET invite_expires_at = {expires} WHERE id IN {}", in_list(&mut args, ids));
    args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(())
}

/// None of `ids` has an invitation pending any more.
pub async fn clear_invitation_expiry(conn: &mut AnyConnection, ids: &[UserId]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let list = in_list(&mut args, ids);
    args.bind(sqlx::query(&format!("UPDATE users SET invite_expires_at = NULL WHERE id IN {list}")))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sign user `id` up from their invitation: the password, the name, no
/// invitation pending, and the address proved (the invitation went to it).
/// Whether it happened (not when they signed up meanwhile or were disabled).
pub async fn sign_up(conn: &mut AnyConnection, id: UserId, hash: &str, name: &PersonName) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE users SET password_hash = $1, invite_expires_at = NULL, first_name = $2, last_name = $3, name_sort = $4, \
         email_verified = TRUE WHERE id = $5 AND password_hash IS NULL AND enabled",
    )
    .bind(hash)
    .bind(name.first())
    .bind(name.last())
    .bind(name_sort(name.first(), name.last()))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---- email confirmation ------------------------------------------------------------

/// User `id`'s address is unconfirmed from now on. Whether they have signed
/// up (`None`: there is no such user).
pub async fn mark_unverified(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<bool>> {
    let signed_up: Option<Flag> =
        sqlx::query_scalar("UPDATE users SET email_verified = FALSE WHERE id = $1 RETURNING password_hash IS NOT NULL")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(signed_up.map(bool::from))
}

/// User `id`'s address proved, if it is still `email_norm`; whether it was.
pub async fn mark_verified(conn: &mut AnyConnection, id: UserId, email_norm: &str) -> AppResult<bool> {
    let r = sqlx::query("UPDATE users SET email_verified = TRUE WHERE id = $1 AND email_norm = $2")
        .bind(id)
        .bind(email_norm)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Where a user's address stands.
#[derive(sqlx::FromRow)]
pub struct AddressState {
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub signed_up: bool,
    #[sqlx(try_from = "Flag")]
    pub email_verified: bool,
}

/// User `id`'s address, whether they signed up and whether the address is proved.
pub async fn address_state(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<AddressState>> {
    Ok(sqlx::query_as("SELECT email, password_hash IS NOT NULL AS signed_up, email_verified FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

// ---- OpenID Connect ----------------------------------------------------------------

/// A person as the claims about them read them.
#[derive(sqlx::FromRow)]
pub struct Profile {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// Whether they proved control of `email` (see `email_confirmation::service`).
    #[sqlx(try_from = "Flag")]
    pub email_verified: bool,
}

/// User `id` as the claims about them read them, if they exist.
pub async fn profile(conn: &mut AnyConnection, id: UserId) -> AppResult<Option<Profile>> {
    Ok(sqlx::query_as("SELECT id, email, first_name, last_name, enabled, email_verified FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
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

//! Writing and reading the audit log. Entries are only ever inserted: there is
//! no update or delete anywhere in Roster.

pub use super::types::AuditAction;
use super::types::{AuditEntry, AuditPage, AuditQuery};
use crate::domain::UserId;
use crate::error::AppResult;
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::session::client;
use crate::server::sql::{like_pattern, Args};
use sqlx::AnyConnection;

pub const PAGE_SIZE: i64 = 50;

/// Who acted, and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<UserId>,
    pub email: String,
    pub ip: String,
}

impl Actor {
    /// The signed-in caller of the current request.
    pub fn of(p: &Principal) -> Self {
        Self { id: Some(p.user_id), email: p.email.clone(), ip: client().ip }
    }

    /// Someone not signed in (a sign-in attempt, a sign-up, a reset), named by what they typed.
    pub fn anonymous(email: &str) -> Self {
        Self { id: None, email: email.trim().chars().take(254).collect(), ip: client().ip }
    }
}

/// What happened, to what.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: AuditAction,
    pub target_type: &'static str,
    pub target_id: Option<i64>,
    pub target_label: String,
    /// Free text, e.g. a before/after diff.
    pub details: String,
}

impl Event {
    pub fn new(action: AuditAction) -> Self {
        Self { action, target_type: "", target_id: None, target_label: String::new(), details: String::new() }
    }
    pub fn user(mut self, id: UserId, email: &str) -> Self {
        self.target_type = "user";
        self.target_id = Some(id.get());
        self.target_label = email.to_string();
        self
    }
    pub fn target(mut self, kind: &'static str, id: i64, label: impl Into<String>) -> Self {
        self.target_type = kind;
        self.target_id = Some(id);
        self.target_label = label.into();
        self
    }
    pub fn details(mut self, d: impl Into<String>) -> Self {
        self.details = d.into();
        self
    }
}

/// Record inside the caller's transaction, so the entry and the change commit together.
pub async fn record(conn: &mut AnyConnection, actor: &Actor, e: Event) -> AppResult<()> {
    record_many(conn, actor, std::slice::from_ref(&e)).await
}

/// [`record`] for many events of one actor in one statement (the import
/// writes one per person, hundreds in one transaction).
pub async fn record_many(conn: &mut AnyConnection, actor: &Actor, events: &[Event]) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut args = Args::default();
    let (at, id, email, ip) =
        (args.int(now_ms()), args.opt_int(actor.id.map(UserId::get)), args.text(&actor.email), args.text(&actor.ip));
    let values = args.rows(events, |a, e| {
        let (action, target_type) = (a.text(e.action.as_str()), a.text(e.target_type));
        let (target_id, label, details) = (a.opt_int(e.target_id), a.text(&e.target_label), a.text(&e.details));
        vec![at.clone(), id.clone(), email.clone(), ip.clone(), action, target_type, target_id, label, details]
    });
    let sql = format!(
        "INSERT INTO audit_log (at, actor_id, actor_email, ip, action, target_type, target_id, target_label, details) \
         VALUES {values}"
    );
    args.bind(sqlx::query(&sql)).execute(&mut *conn).await?;
    Ok(())
}

/// Record on its own (for events with no other write, such as a failed sign-in).
pub async fn record_now(db: &Db, actor: &Actor, e: Event) -> AppResult<()> {
    let mut conn = db.pool.acquire().await?;
    record(&mut conn, actor, e).await
}

/// "field: before → after" lines for the fields that changed.
pub fn diff(fields: &[(&str, &str, &str)]) -> String {
    fields
        .iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name}: {a:?} → {b:?}"))
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn list(_access: Access<'_, apps::AuditLog, perms::View>, db: &Db, q: &AuditQuery) -> AppResult<AuditPage> {
    let mut args = Args::default();
    let mut sql = String::from(
        "SELECT id, at, actor_id, actor_email, ip, action, target_type, target_id, target_label, details \
         FROM audit_log WHERE 1 = 1",
    );
    if !q.actor.trim().is_empty() {
        sql.push_str(&format!(" AND LOWER(actor_email) LIKE {} ESCAPE '\\'", args.text(like_pattern(&q.actor))));
    }
    if !q.target.trim().is_empty() {
        sql.push_str(&format!(" AND LOWER(target_label) LIKE {} ESCAPE '\\'", args.text(like_pattern(&q.target))));
    }
    if !q.action.trim().is_empty() {
        // A word that is no action matches no entry.
        let Some(action) = AuditAction::parse(q.action.trim()) else {
            return Ok(AuditPage { entries: Vec::new(), next: None });
        };
        sql.push_str(&format!(" AND action = {}", args.text(action.as_str())));
    }
    if let Some(from) = q.from {
        sql.push_str(&format!(" AND at >= {}", args.int(from)));
    }
    if let Some(to) = q.to {
        sql.push_str(&format!(" AND at < {}", args.int(to)));
    }
    if let Some(before) = q.before {
        sql.push_str(&format!(" AND id < {}", args.int(before)));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", args.int(PAGE_SIZE + 1)));
    let mut entries: Vec<AuditEntry> = args.bind(sqlx::query_as(&sql)).fetch_all(&db.pool).await?;
    let more = entries.len() as i64 > PAGE_SIZE;
    entries.truncate(PAGE_SIZE as usize);
    let next = more.then(|| entries.last().map(|e| e.id)).flatten();
    Ok(AuditPage { entries, next })
}

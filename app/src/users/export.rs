//! Users → Export to CSV: every user the Users list matches (its search,
//! filters and sort, `repo::export_query`), or only the ticked ones
//! (`ids=3,5,8`, in the list's sort), streamed as it is read, so a million
//! users never sit in memory. `GET /users/export.csv?search=…&status=…&role=…&sort=…`
//! (a download, so an axum route beside the pages rather than a server
//! function), behind the same session and Users View as the list.

use super::csv::CsvOut;
use super::repo::{self, Exported};
use super::types::{thousands, UserQuery, BULK_MAX_IDS};
use crate::audit::service::{record_now, Actor, AuditAction, Event};
use crate::domain::{Timestamp, UserId};
use crate::error::AppError;
use crate::server::access::{apps, perms, Access, Authorized};
use crate::server::session::{ClientInfo, Refused};
use crate::server::state::AppState;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::{Stream, StreamExt};

/// The columns, in order.
pub const HEADINGS: [&str; 7] = ["Email", "First name", "Last name", "Status", "Roles", "Created", "Last sign-in"];

/// Rows per piece sent to the browser (about 50 KiB).
const ROWS_PER_PIECE: usize = 500;

/// What to export: the list's query, or, with `ids`, only those users.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    #[serde(flatten)]
    pub list: UserQuery,
    /// The ticked users' ids, comma-separated; empty for every match.
    pub ids: String,
}

/// Which users an export holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportSet {
    Matching(UserQuery),
    /// These users (at most [`BULK_MAX_IDS`]), in the order `sort` names.
    Ticked {
        ids: Vec<UserId>,
        sort: String,
    },
}

impl ExportSet {
    /// Which users, in words, for the audit log.
    fn describe(&self) -> String {
        match self {
            ExportSet::Ticked { ids, .. } => format!("{} ticked users", ids.len()),
            ExportSet::Matching(q) => {
                let filters: Vec<String> = [("search", &q.search), ("status", &q.status), ("role", &q.role)]
                    .into_iter()
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(k, v)| format!("{k} \"{v}\""))
                    .collect();
                if filters.is_empty() {
                    "every user".to_string()
                } else {
                    format!("users matching {}", filters.join(", "))
                }
            }
        }
    }
}

impl ExportQuery {
    /// Read the query, or say what is wrong with it.
    pub fn parse(self) -> Result<ExportSet, String> {
        if self.ids.trim().is_empty() {
            return Ok(ExportSet::Matching(self.list));
        }
        let ids = self
            .ids
            .split(',')
            .map(|id| id.trim().parse::<i64>().map(UserId::new).map_err(|_| format!("\"{id}\" is not a user id.")))
            .collect::<Result<Vec<_>, _>>()?;
        if ids.len() > BULK_MAX_IDS {
            return Err(format!(
                "Export at most {} ticked users, or use Select all matching.",
                thousands(BULK_MAX_IDS as u64)
            ));
        }
        Ok(ExportSet::Ticked { ids, sort: self.list.sort })
    }
}

/// One user's cells, in the order of [`HEADINGS`].
fn cells(user: &Exported) -> [String; 7] {
    let mut roles = user.role_names();
    roles.sort_by_key(|r| r.to_lowercase());
    [
        user.email.clone(),
        user.first_name.clone(),
        user.last_name.clone(),
        user.status.label().to_string(),
        roles.join("; "),
        crate::time::iso_time(user.created_at.millis()),
        user.last_sign_in_at.map(|t| crate::time::iso_time(t.millis())).unwrap_or_default(),
    ]
}

/// The CSV of every user `q` matches, in pieces: a byte order mark (so that
/// spreadsheets read the names as UTF-8) and the header first. Reading runs
/// on its own task, a few pieces ahead of the network; it stops when the
/// download is abandoned.
pub fn stream(
    access: Access<'_, apps::Users, perms::View>,
    state: &AppState,
    what: &ExportSet,
    ip: String,
) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let me = access.principal();
    let actor = Actor { id: Some(me.user_id), email: me.email.clone(), ip };
    let described = what.describe();
    let db = state.db.clone();
    let query = match what {
        ExportSet::Matching(q) => repo::export_query(state.db.backend, q, None),
        ExportSet::Ticked { ids, sort } => {
            repo::export_query(state.db.backend, &UserQuery { sort: sort.clone(), ..UserQuery::default() }, Some(ids))
        }
    };
    let pool = state.db.pool.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut out = CsvOut::default();
        let mut piece = b"\xEF\xBB\xBF".to_vec();
        let mut rows = 0usize;
        let mut written = out.record(HEADINGS);
        let mut read = query.rows(&pool);
        while written.is_ok() {
            match read.next().await {
                None => break,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "users export: reading failed");
                    written = Err(std::io::Error::other("reading the users failed"));
                }
                Some(Ok(user)) => {
                    let cells = cells(&user);
                    written = out.record(cells.iter().map(String::as_str));
                    rows += 1;
                    if rows.is_multiple_of(ROWS_PER_PIECE) {
                        match out.take() {
                            Ok(bytes) => {
                                piece.extend(bytes);
                                if tx.send(Ok(std::mem::take(&mut piece))).await.is_err() {
                                    tracing::info!(rows, "users export abandoned by the browser");
                                    audit(&db, &actor, &described, rows, "; the download was abandoned").await;
                                    return;
                                }
                            }
                            Err(e) => written = Err(e),
                        }
                    }
                }
            }
        }
        let last = written.and_then(|()| out.take()).map(|bytes| {
            piece.extend(bytes);
            piece
        });
        if last.is_ok() {
            tracing::info!(rows, "users exported");
            audit(&db, &actor, &described, rows, "").await;
        } else {
            audit(&db, &actor, &described, rows, "; the export failed part-way").await;
        }
        let _ = tx.send(last).await;
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|piece| (piece, rx)) })
}

/// Record an export: who, which users, how many rows left Roster.
async fn audit(db: &crate::server::db::Db, actor: &Actor, described: &str, rows: usize, how: &str) {
    let event = Event::new(AuditAction::UsersExported).details(format!("{rows} rows: {described}{how}"));
    if let Err(e) = record_now(db, actor, event).await {
        tracing::error!(error = %e, "users export: the audit entry could not be written");
    }
}

/// `GET /users/export.csv`: the download, named after today's date.
pub async fn download(
    State(state): State<AppState>,
    viewer: Authorized<apps::Users, perms::View>,
    client: Option<Extension<ClientInfo>>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let what = match q.parse() {
        Ok(what) => what,
        Err(why) => return Refused(AppError::Invalid(why)).into_response(),
    };
    let ip = client.map(|Extension(c)| c.ip).unwrap_or_default();
    let access = viewer.access();
    let body = axum::body::Body::from_stream(stream(access, &state, &what, ip));
    let day: String = crate::time::iso_time(Timestamp::now().millis()).chars().take(10).collect();
    let disposition = format!("attachment; filename=\"users-{day}.csv\"");
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!(user_id = access.principal().user_id.get(), "users export started");
    res
}

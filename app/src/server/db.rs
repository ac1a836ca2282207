//! One pool, two backends. SQLite (WAL) is the embedded default; a
//! `postgres://` URL switches to PostgreSQL. Queries use `$N` placeholders,
//! which both drivers accept, and only portable types (i64, text, bytes).

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Connection, Executor};
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

pub use super::sql::Backend;

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL must start with sqlite: or postgres://")]
    UnknownScheme,
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

/// How long a request waits for a connection before it is told the database
/// does not answer (`AppError::Unavailable`, 503). On PostgreSQL, while the
/// server is down, every wait lasts this long: a few seconds, not a hang. On
/// SQLite the wait is only for a free connection under load (the file is
/// always there), so it is longer.
fn acquire_timeout(backend: Backend) -> Duration {
    match backend {
        Backend::Sqlite => Duration::from_secs(10),
        Backend::Postgres => Duration::from_secs(5),
    }
}

impl Db {
    /// Connect, apply migrations, and return the pool.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url).ok_or(DbError::UnknownScheme)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(acquire_timeout(backend))
            // A connection that died while idle (the server restarted) is
            // found out and replaced before a request gets it.
            .test_before_acquire(true)
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    // sqlx counts the transactions it opened. When SQLite ends
                    // one by itself (a COMMIT refused on a full disk rolls it
                    // back), the count stays up, the dropped transaction's
                    // ROLLBACK fails, and every later `BEGIN IMMEDIATE` on this
                    // connection would fail: close such a connection instead of
                    // reusing it. (A ROLLBACK queued by a dropped transaction
                    // runs before the ping, so only a stuck count remains.)
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                             PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(DbError::Connect)?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(DbError::Migrate)?;
        Ok(Self { pool, backend })
    }

    /// Start a transaction that will write. On SQLite it takes the write lock
    /// up front (`BEGIN IMMEDIATE`), so concurrent writers wait for each other
    /// (busy timeout) instead of failing when a read lock cannot be upgraded.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// `true` when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The file of an SQLite database URL; `None` for another backend or an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if Backend::from_url(url) != Some(Backend::Sqlite) {
        return None;
    }
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Make sure the SQLite file can be created: its directory exists and the
/// URL asks for read-write-create.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !path.is_empty() && path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir { path: path.to_string(), source })?;
            }
        }
    }
    let query = if query.contains("mode=") {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// A unique constraint refused the write (a duplicate email or role name that
/// slipped past the check before it).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(prepare_sqlite_url("sqlite::memory:").unwrap(), "sqlite://:memory:?mode=rwc");
        assert_eq!(
            prepare_sqlite_url("sqlite://:memory:?cache=shared").unwrap(),
            "sqlite://:memory:?cache=shared&mode=rwc"
        );
        assert_eq!(Backend::from_url("postgresql://x/y"), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("mysql://x/y"), None);
        assert_eq!(sqlite_file("sqlite://data/roster.db?mode=rwc").unwrap(), std::path::Path::new("data/roster.db"));
        assert_eq!(sqlite_file("sqlite:///var/lib/roster.db").unwrap(), std::path::Path::new("/var/lib/roster.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }
}

//! The migrations this binary carries (the same files `app::server::db`
//! applies at start), to compare with those a database has applied: a
//! backup's before it is restored (`backup`), the live database's for
//! `/readyz` (`probes`).

use app::server::db::Backend;
use sqlx::migrate::Migrator;

static SQLITE: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("../migrations/postgres");

pub fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// The versions this binary applies, in order.
pub fn versions(backend: Backend) -> Vec<i64> {
    migrator(backend).iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect()
}

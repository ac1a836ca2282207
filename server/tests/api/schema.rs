//! The two dialects' migrations describe one schema: the same tables, with the
//! same columns and the same nullability, once both are applied by a real server.

use crate::helpers::*;
use sqlx::{Connection, Row};
use std::collections::BTreeMap;

/// Tables only one dialect has, by design: SQLite searches users through an
/// FTS5 trigram table (and its shadow tables), PostgreSQL through pg_trgm
/// indexes on `users` itself (migration 0005).
const DIALECT_ONLY: &[&str] =
    &["users_fts", "users_fts_config", "users_fts_content", "users_fts_data", "users_fts_docsize", "users_fts_idx"];

/// table → column → nullable
type Schema = BTreeMap<String, BTreeMap<String, bool>>;

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .filter(|t| !DIALECT_ONLY.contains(&t.as_str()))
    .collect();
    let mut schema = Schema::new();
    for table in tables {
        let columns = sqlx::query(&format!("PRAGMA table_info({table})")).fetch_all(&mut conn).await.unwrap();
        let cols = schema.entry(table).or_default();
        for c in columns {
            let (name, notnull, pk): (String, i64, i64) = (c.get("name"), c.get("notnull"), c.get("pk"));
            // An INTEGER PRIMARY KEY is the rowid: never NULL, whatever table_info says.
            cols.insert(name, notnull == 0 && pk == 0);
        }
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for r in rows {
        let (t, c, n): (String, String, String) = (r.get("t"), r.get("c"), r.get("n"));
        schema.entry(t).or_default().insert(c, n == "YES");
    }
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_agree() {
    let (lite, pg) = (TestDb::new(Backend::Sqlite), TestDb::new(Backend::Postgres));
    // A real server applies each dialect's migrations.
    let (_a, _b) = (Server::start(&lite).await, Server::start(&pg).await);
    let (lite_schema, pg_schema) = (sqlite_schema(&lite.url).await, postgres_schema(&pg.url).await);
    assert!(lite_schema.contains_key("users") && lite_schema.len() >= 10, "{lite_schema:?}");
    let tables = |s: &Schema| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(tables(&lite_schema), tables(&pg_schema), "the same tables");
    for (table, cols) in &lite_schema {
        assert_eq!(cols, &pg_schema[table], "{table}: the same columns and nullability (column → nullable)");
    }
}

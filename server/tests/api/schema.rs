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

crate::on_both_backends!(existing_accounts_keep_a_verified_address_only_if_proved_since_its_last_change);

/// Migration 0022 on a database that already has people: only an address
/// proved (a sign-up from the invitation, a reset through the emailed link)
/// after its last change stays verified.
async fn existing_accounts_keep_a_verified_address_only_if_proved_since_its_last_change(backend: Backend) {
    let db = TestDb::new(backend);
    let dialect = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    // The migrations before 0022, applied as a release before it did.
    let before = std::env::temp_dir().join(unique("roster_migrations"));
    let _cleanup = TempDir(before.clone());
    std::fs::create_dir_all(&before).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dialect);
    for entry in std::fs::read_dir(&all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.as_str() < "0022" {
            std::fs::copy(&path, before.join(&name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let url = match backend {
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(before.as_path()).await.unwrap().run(&pool).await.unwrap();
    // (email, signed up, audit entries about them (action, details), oldest first)
    type Person<'a> = (&'a str, bool, &'a [(&'a str, &'a str)]);
    let people: &[Person] = &[
        ("invited@example.com", true, &[("invitation.accepted", "")]),
        (
            "changed@example.com",
            true,
            &[("invitation.accepted", ""), ("user.updated", "email: \"a@example.com\" → \"changed@example.com\"")],
        ),
        (
            "renamed-and-changed@example.com",
            true,
            &[("invitation.accepted", ""), ("user.updated", "first name: \"A\" → \"B\"; email: \"a\" → \"b\"")],
        ),
        ("renamed@example.com", true, &[("invitation.accepted", ""), ("user.updated", "first name: \"A\" → \"B\"")]),
        (
            "reset-after-change@example.com",
            true,
            &[("invitation.accepted", ""), ("user.updated", "email: \"a\" → \"b\""), ("password.reset", "")],
        ),
        ("first-admin@example.com", true, &[]),
        ("pending@example.com", false, &[("invitation.sent", "")]),
    ];
    for (email, signed_up, events) in people {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, email_norm, first_name, last_name, password_hash, enabled, created_at) \
             VALUES ($1, $1, '', '', $2, TRUE, 1) RETURNING id",
        )
        .bind(*email)
        .bind(signed_up.then_some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"))
        .fetch_one(&pool)
        .await
        .unwrap();
        for (action, details) in *events {
            sqlx::query(
                "INSERT INTO audit_log (at, action, target_type, target_id, target_label, details) \
                 VALUES (1, $1, 'user', $2, $3, $4)",
            )
            .bind(*action)
            .bind(id)
            .bind(*email)
            .bind(*details)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    pool.close().await;

    let _server = Server::start(&db).await;
    let verified =
        |email: &str| format!("SELECT CASE WHEN email_verified THEN 1 ELSE 0 END FROM users WHERE email = '{email}'");
    for (email, expected) in [
        ("invited@example.com", 1),
        ("changed@example.com", 0),
        ("renamed-and-changed@example.com", 0),
        ("renamed@example.com", 1),
        ("reset-after-change@example.com", 1),
        ("first-admin@example.com", 0),
        ("pending@example.com", 0),
    ] {
        assert_eq!(scalar(&db, &verified(email)).await, expected, "{email}");
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM email_confirmations").await, 0);
}

//! Every statement on `applications`: the registered applications, their
//! client ids and the SHA-256 of their secrets. Each function runs on the
//! connection its caller holds, inside the caller's transaction when there is
//! one. What roles grant on an application is `role_permissions`, in
//! `crate::roles::repo`.

use super::types::{AppName, AppTile, ApplicationSummary, ClientType, Colour, Mark, RedirectUri, ValidApplication};
use crate::domain::{ApplicationId, Timestamp};
use crate::error::AppResult;
use crate::server::crypto::Token;
use crate::server::db::is_unique_violation;
use crate::server::sql::Flag;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Redirect URIs as a column stores them: one per line.
pub fn join_uris(uris: &[RedirectUri]) -> String {
    uris.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n")
}

/// The redirect URIs of a column, one per line.
pub fn split_uris(stored: &str) -> Vec<String> {
    stored.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// A row of `applications`, as the detail and the edits read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Stored {
    pub id: ApplicationId,
    pub name: String,
    pub description: String,
    pub mark: Mark,
    pub colour: Colour,
    pub launch_url: String,
    /// One per line ([`split_uris`]).
    pub redirect_uris: String,
    /// One per line ([`split_uris`]).
    pub post_logout_redirect_uris: String,
    pub client_type: ClientType,
    pub client_id: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, name, description, icon AS mark, color AS colour, launch_url, redirect_uris, \
     post_logout_redirect_uris, client_type, client_id, enabled, created_at, updated_at";

/// Application `id`, if it exists.
pub async fn find(conn: &mut AnyConnection, id: ApplicationId) -> AppResult<Option<Stored>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The Applications list, by name.
pub async fn summaries(conn: &mut AnyConnection) -> AppResult<Vec<ApplicationSummary>> {
    Ok(sqlx::query_as(
        "SELECT id, name, description, icon AS mark, color AS colour, client_id, client_type, enabled \
         FROM applications ORDER BY name_norm",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Every registered application (enabled or not) as a tile, by name.
pub async fn tiles(conn: &mut AnyConnection) -> AppResult<Vec<AppTile>> {
    Ok(sqlx::query_as(
        "SELECT id, name, description, icon AS mark, color AS colour, launch_url, enabled \
         FROM applications ORDER BY name_norm",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Every registered application's id, in order.
pub async fn ids(conn: &mut AnyConnection) -> AppResult<Vec<ApplicationId>> {
    Ok(sqlx::query_scalar("SELECT id FROM applications ORDER BY id").fetch_all(&mut *conn).await?)
}

/// Each registered application's name, by id.
pub async fn names(conn: &mut AnyConnection) -> AppResult<HashMap<ApplicationId, String>> {
    let rows: Vec<(ApplicationId, String)> =
        sqlx::query_as("SELECT id, name FROM applications").fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

/// Has another application than `except` this name (regardless of case)?
pub async fn name_taken(conn: &mut AnyConnection, name: &AppName, except: Option<ApplicationId>) -> AppResult<bool> {
    let found: Option<ApplicationId> =
        sqlx::query_scalar("SELECT id FROM applications WHERE name_norm = $1 AND id <> $2")
            .bind(name.normalized())
            .bind(except.map_or(0, ApplicationId::get))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// The values of the first six columns both the INSERT and the UPDATE name:
/// name, name_norm, description, icon, color, launch_url.
fn detail_values(app: &ValidApplication) -> [String; 6] {
    [
        app.name.as_str().to_string(),
        app.name.normalized(),
        app.description.clone(),
        app.mark.key().to_string(),
        app.colour.key().to_string(),
        app.launch_url.as_str().to_string(),
    ]
}

/// Register `app` (an OpenID Connect client, enabled); `None` when another
/// application has its name.
pub async fn insert(
    conn: &mut AnyConnection,
    app: &ValidApplication,
    client_id: &str,
    secret_hash: Option<String>,
    at: Timestamp,
) -> AppResult<Option<ApplicationId>> {
    let mut insert = sqlx::query_scalar(
        "INSERT INTO applications (name, name_norm, description, icon, color, launch_url, protocol, client_type, \
         client_id, secret_hash, redirect_uris, post_logout_redirect_uris, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'oidc', $7, $8, $9, $10, $11, TRUE, $12, $12) RETURNING id",
    );
    for value in detail_values(app) {
        insert = insert.bind(value);
    }
    let inserted = insert
        .bind(app.client_type.key())
        .bind(client_id)
        .bind(secret_hash)
        .bind(join_uris(&app.redirect_uris))
        .bind(join_uris(&app.post_logout_redirect_uris))
        .bind(at)
        .fetch_one(&mut *conn)
        .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Change application `id`'s details (not its client type); `false` when
/// another application has the name.
pub async fn update(
    conn: &mut AnyConnection,
    id: ApplicationId,
    app: &ValidApplication,
    at: Timestamp,
) -> AppResult<bool> {
    let mut update = sqlx::query(
        "UPDATE applications SET name = $1, name_norm = $2, description = $3, icon = $4, color = $5, \
         launch_url = $6, redirect_uris = $7, post_logout_redirect_uris = $8, updated_at = $9 WHERE id = $10",
    );
    for value in detail_values(app) {
        update = update.bind(value);
    }
    let updated = update
        .bind(join_uris(&app.redirect_uris))
        .bind(join_uris(&app.post_logout_redirect_uris))
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await;
    match updated {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Enable or disable application `id`.
pub async fn set_enabled(conn: &mut AnyConnection, id: ApplicationId, enabled: bool, at: Timestamp) -> AppResult<()> {
    sqlx::query("UPDATE applications SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(enabled)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Store the SHA-256 of application `id`'s new client secret.
pub async fn set_secret_hash(conn: &mut AnyConnection, id: ApplicationId, hash: &str, at: Timestamp) -> AppResult<()> {
    sqlx::query("UPDATE applications SET secret_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Delete application `id` (its grants: `roles::repo::remove_application` first).
pub async fn delete(conn: &mut AnyConnection, id: ApplicationId) -> AppResult<()> {
    sqlx::query("DELETE FROM applications WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

// ---- as the OpenID Connect provider reads them ------------------------------------

/// A registered application as the provider reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Client {
    pub id: ApplicationId,
    pub name: String,
    pub client_id: String,
    pub client_type: ClientType,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
}

impl Client {
    /// Exact match, character for character: no prefix, no case folding, no normalising.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.lines().any(|u| u == uri)
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.lines().any(|u| u == uri)
    }

    /// Does `secret` match? A public client has none, so nothing matches.
    pub fn secret_matches(&self, secret: &str) -> bool {
        let Some(stored) = &self.secret_hash else { return false };
        // Both sides are SHA-256 of a high-entropy secret: comparing the
        // hashes leaks nothing usable about the secret.
        Token::parse(secret).is_some_and(|t| &t.hash() == stored)
    }
}

/// The application with this client id (OpenID Connect ones only).
pub async fn client(conn: &mut AnyConnection, client_id: &str) -> AppResult<Option<Client>> {
    Ok(sqlx::query_as(
        "SELECT id, name, client_id, client_type, secret_hash, redirect_uris, post_logout_redirect_uris, enabled \
         FROM applications WHERE client_id = $1 AND protocol = 'oidc'",
    )
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The client id of application `id`, if it exists and is enabled.
pub async fn enabled_client_id(conn: &mut AnyConnection, id: ApplicationId) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT client_id FROM applications WHERE id = $1 AND enabled = TRUE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

//! The Applications service: registered applications, their client
//! secrets, and the tiles a person sees. No HTTP, no HTML.
//!
//! A client secret is 256 bits from the OS CSPRNG (`crypto::Token`), returned
//! once to the caller who created or rotated it, and stored only as its
//! SHA-256: nobody can read it back, not even an administrator.

use super::types::{
    AppName, AppTile, ApplicationDetail, ApplicationSummary, ClientType, Colour, Credentials, Mark, ValidApplication,
};
use crate::audit::service::{diff, record, Actor, AuditAction, Event};
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::crypto::Token;
use crate::server::db::{is_unique_violation, Db};
use crate::server::now_ms;
use crate::server::sql::Flag;
use rand::rngs::OsRng;
use rand::RngCore;
use sqlx::AnyConnection;

fn gone() -> AppError {
    AppError::NotFound("This application does not exist. It may have been deleted.".into())
}

fn duplicate(name: &AppName) -> AppError {
    AppError::Conflict(format!("An application named {name} already exists."))
}

/// A client id: 128 random bits, hex. Not a secret, but not guessable either.
fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn join(uris: &[super::types::RedirectUri]) -> String {
    uris.iter().map(|u| u.as_str()).collect::<Vec<_>>().join("\n")
}

/// The key of a registered application in `role_permissions`.
pub fn grant_key(id: i64) -> String {
    AppId::Registered(id).key().into_owned()
}

/// A row of `applications`, as the detail and the edits read it.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    description: String,
    mark: Mark,
    colour: Colour,
    launch_url: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    client_type: ClientType,
    client_id: String,
    #[sqlx(try_from = "Flag")]
    enabled: bool,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, name, description, icon AS mark, color AS colour, launch_url, redirect_uris, \
     post_logout_redirect_uris, client_type, client_id, enabled, created_at, updated_at";

async fn row(conn: &mut AnyConnection, id: i64) -> AppResult<Row> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(gone)
}

fn split(s: &str) -> Vec<String> {
    s.lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

pub async fn list(_access: Access<'_, apps::Applications, perms::View>, db: &Db) -> AppResult<Vec<ApplicationSummary>> {
    Ok(sqlx::query_as(
        "SELECT id, name, description, icon AS mark, color AS colour, client_id, client_type, enabled \
         FROM applications ORDER BY name_norm",
    )
    .fetch_all(&db.pool)
    .await?)
}

pub async fn detail(
    _access: Access<'_, apps::Applications, perms::View>,
    db: &Db,
    id: i64,
) -> AppResult<ApplicationDetail> {
    let mut conn = db.pool.acquire().await?;
    let r = row(&mut conn, id).await?;
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.name FROM roles r WHERE r.builtin IS NOT NULL OR EXISTS (SELECT 1 FROM role_permissions rp \
         WHERE rp.role_id = r.id AND rp.application = $1 AND rp.permission = 'view') \
         ORDER BY CASE WHEN r.builtin IS NULL THEN 1 ELSE 0 END, r.name_norm",
    )
    .bind(grant_key(id))
    .fetch_all(&mut *conn)
    .await?;
    Ok(ApplicationDetail {
        id: r.id,
        name: r.name,
        description: r.description,
        mark: r.mark,
        colour: r.colour,
        launch_url: r.launch_url,
        redirect_uris: split(&r.redirect_uris),
        post_logout_redirect_uris: split(&r.post_logout_redirect_uris),
        client_type: r.client_type,
        client_id: r.client_id,
        enabled: r.enabled,
        created_at: r.created_at,
        updated_at: r.updated_at,
        roles,
    })
}

async fn name_taken(conn: &mut AnyConnection, name: &AppName, except: i64) -> AppResult<bool> {
    Ok(crate::server::sql::name_taken(conn, crate::server::sql::Named::Applications, &name.normalized(), except)
        .await?)
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

/// Register an application; a confidential one gets its secret, returned here once.
pub async fn create(
    access: Access<'_, apps::Applications, perms::Create>,
    db: &Db,
    app: &ValidApplication,
) -> AppResult<Credentials> {
    let secret = (app.client_type == ClientType::Confidential).then(Token::generate);
    let client_id = new_client_id();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    if name_taken(&mut tx, &app.name, 0).await? {
        return Err(duplicate(&app.name));
    }
    let mut insert = sqlx::query_scalar::<_, i64>(
        "INSERT INTO applications (name, name_norm, description, icon, color, launch_url, protocol, client_type, \
         client_id, secret_hash, redirect_uris, post_logout_redirect_uris, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'oidc', $7, $8, $9, $10, $11, TRUE, $12, $12) RETURNING id",
    );
    for value in detail_values(app) {
        insert = insert.bind(value);
    }
    let id = insert
        .bind(app.client_type.key())
        .bind(&client_id)
        .bind(secret.as_ref().map(Token::hash))
        .bind(join(&app.redirect_uris))
        .bind(join(&app.post_logout_redirect_uris))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { duplicate(&app.name) } else { e.into() })?;
    let details = format!(
        "{} client; launch URL {}; redirect URIs: {}",
        app.client_type.key(),
        app.launch_url.as_str(),
        join(&app.redirect_uris).replace('\n', ", ")
    );
    let event =
        Event::new(AuditAction::ApplicationCreated).target("application", id, app.name.as_str()).details(details);
    commit_with(tx, access.principal(), event, "application registered").await?;
    Ok(Credentials { id, client_id, client_secret: secret.map(|s| s.expose().to_string()) })
}

/// Record `event` (about an application) as the caller's, commit, and log `what`.
async fn commit_with(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    by: &crate::server::access::Principal,
    event: Event,
    what: &'static str,
) -> AppResult<()> {
    let id = event.target_id;
    record(&mut tx, &Actor::of(by), event).await?;
    tx.commit().await?;
    tracing::info!(application_id = id, by = by.user_id.get(), "{what}");
    Ok(())
}

/// Change an application's details. The client type stays what it was
/// created as (a public client has no secret to start from).
pub async fn update(
    access: Access<'_, apps::Applications, perms::Update>,
    db: &Db,
    id: i64,
    app: &ValidApplication,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if name_taken(&mut tx, &app.name, id).await? {
        return Err(duplicate(&app.name));
    }
    let mut update = sqlx::query(
        "UPDATE applications SET name = $1, name_norm = $2, description = $3, icon = $4, color = $5, \
         launch_url = $6, redirect_uris = $7, post_logout_redirect_uris = $8, updated_at = $9 WHERE id = $10",
    );
    for value in detail_values(app) {
        update = update.bind(value);
    }
    update
        .bind(join(&app.redirect_uris))
        .bind(join(&app.post_logout_redirect_uris))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| if is_unique_violation(&e) { duplicate(&app.name) } else { e.into() })?;
    let details = diff(&[
        ("name", &old.name, app.name.as_str()),
        ("description", &old.description, &app.description),
        ("icon", old.mark.key(), app.mark.key()),
        ("colour", old.colour.key(), app.colour.key()),
        ("launch URL", &old.launch_url, app.launch_url.as_str()),
        ("redirect URIs", &old.redirect_uris, &join(&app.redirect_uris)),
        ("post-logout redirect URIs", &old.post_logout_redirect_uris, &join(&app.post_logout_redirect_uris)),
    ]);
    let event =
        Event::new(AuditAction::ApplicationUpdated).target("application", id, app.name.as_str()).details(details);
    commit_with(tx, access.principal(), event, "application changed").await
}

/// Disable or enable. Disabled: no tile, and sign-ins to it are refused at
/// the next request (every check reads the row).
pub async fn set_enabled(
    access: Access<'_, apps::Applications, perms::Update>,
    db: &Db,
    id: i64,
    enabled: bool,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if old.enabled == enabled {
        return Ok(());
    }
    sqlx::query("UPDATE applications SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(enabled)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let action = if enabled { AuditAction::ApplicationEnabled } else { AuditAction::ApplicationDisabled };
    record(&mut tx, &Actor::of(access.principal()), Event::new(action).target("application", id, old.name)).await?;
    tx.commit().await?;
    tracing::info!(
        application_id = id,
        enabled,
        by = access.principal().user_id.get(),
        "application enabled or disabled"
    );
    Ok(())
}

/// A new secret for a confidential client, returned once; the old one stops working now.
pub async fn rotate_secret(
    access: Access<'_, apps::Applications, perms::Update>,
    db: &Db,
    id: i64,
) -> AppResult<Credentials> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if old.client_type != ClientType::Confidential {
        return Err(AppError::Conflict(
            "This is a public client: it has no client secret (it signs in with PKCE alone).".into(),
        ));
    }
    let secret = Token::generate();
    sqlx::query("UPDATE applications SET secret_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(secret.hash())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::ApplicationSecretRotated).target("application", id, old.name),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application_id = id, by = access.principal().user_id.get(), "client secret rotated");
    Ok(Credentials { id, client_id: old.client_id, client_secret: Some(secret.expose().to_string()) })
}

/// Delete an application: its tile, its grants in every role, and its sign-ins.
pub async fn delete(access: Access<'_, apps::Applications, perms::Delete>, db: &Db, id: i64) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    let roles = sqlx::query("DELETE FROM role_permissions WHERE application = $1")
        .bind(grant_key(id))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM applications WHERE id = $1").bind(id).execute(&mut *tx).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::ApplicationDeleted)
            .target("application", id, old.name)
            .details(format!("{roles} role permissions removed")),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application_id = id, by = access.principal().user_id.get(), "application deleted");
    Ok(())
}

/// The enabled registered applications `p` may View, for the Dashboard.
pub async fn tiles_for(p: &Principal, db: &Db) -> AppResult<Vec<AppTile>> {
    let all = all_tiles(&mut *db.pool.acquire().await?).await?;
    Ok(all.into_iter().filter(|t| t.enabled && p.can(AppId::Registered(t.id), Permission::View)).collect())
}

/// Every registered application (enabled or not), by name: the role matrix and preview.
pub async fn all_tiles(conn: &mut AnyConnection) -> AppResult<Vec<AppTile>> {
    Ok(sqlx::query_as(
        "SELECT id, name, description, icon AS mark, color AS colour, launch_url, enabled \
         FROM applications ORDER BY name_norm",
    )
    .fetch_all(&mut *conn)
    .await?)
}

pub use crate::grants::{every_registered_grant, registered_names as names};

/// Which of `ids` are not registered applications (a role may grant only ones that exist).
pub async fn unknown(conn: &mut AnyConnection, ids: &[i64]) -> AppResult<Vec<i64>> {
    let known = names(conn).await?;
    Ok(ids.iter().copied().filter(|id| !known.contains_key(id)).collect())
}

//! The Applications service: registered applications, their client
//! secrets, and the tiles a person sees. No HTTP, no HTML.
//!
//! A client secret is 256 bits from the OS CSPRNG (`crypto::Token`), returned
//! once to the caller who created or rotated it, and stored only as its
//! SHA-256: nobody can read it back, not even an administrator.

use super::repo::{self, join_uris, split_uris};
use super::types::{
    AppName, AppTile, ApplicationDetail, ApplicationSummary, ClientType, Credentials, ValidApplication,
};
use crate::audit::service::{diff, record, Actor, AuditAction, Event};
use crate::domain::{ApplicationId, Timestamp};
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Permission};
use crate::server::access::{apps, perms, Access, Principal};
use crate::server::crypto::Token;
use crate::server::db::Db;
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

/// Application `id`, or NotFound.
async fn row(conn: &mut AnyConnection, id: ApplicationId) -> AppResult<repo::Stored> {
    repo::find(conn, id).await?.ok_or_else(gone)
}

pub async fn list(_access: Access<'_, apps::Applications, perms::View>, db: &Db) -> AppResult<Vec<ApplicationSummary>> {
    repo::summaries(&mut *db.pool.acquire().await?).await
}

pub async fn detail(
    _access: Access<'_, apps::Applications, perms::View>,
    db: &Db,
    id: ApplicationId,
) -> AppResult<ApplicationDetail> {
    let mut conn = db.pool.acquire().await?;
    let r = row(&mut conn, id).await?;
    let roles = crate::roles::repo::names_granting(&mut conn, (AppId::Registered(id), Permission::View)).await?;
    Ok(ApplicationDetail {
        id: r.id,
        name: r.name,
        description: r.description,
        mark: r.mark,
        colour: r.colour,
        launch_url: r.launch_url,
        redirect_uris: split_uris(&r.redirect_uris),
        post_logout_redirect_uris: split_uris(&r.post_logout_redirect_uris),
        client_type: r.client_type,
        client_id: r.client_id,
        enabled: r.enabled,
        created_at: r.created_at,
        updated_at: r.updated_at,
        roles,
    })
}

/// Register an application; a confidential one gets its secret, returned here once.
pub async fn create(
    access: Access<'_, apps::Applications, perms::Create>,
    db: &Db,
    app: &ValidApplication,
) -> AppResult<Credentials> {
    let secret = (app.client_type == ClientType::Confidential).then(Token::generate);
    let client_id = new_client_id();
    let mut tx = db.begin_write().await?;
    if repo::name_taken(&mut tx, &app.name, None).await? {
        return Err(duplicate(&app.name));
    }
    let id = repo::insert(&mut tx, app, &client_id, secret.as_ref().map(Token::hash), Timestamp::now())
        .await?
        .ok_or_else(|| duplicate(&app.name))?;
    let details = format!(
        "{} client; launch URL {}; redirect URIs: {}",
        app.client_type.key(),
        app.launch_url.as_str(),
        join_uris(&app.redirect_uris).replace('\n', ", ")
    );
    let event =
        Event::new(AuditAction::ApplicationCreated).target("application", id.get(), app.name.as_str()).details(details);
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
    id: ApplicationId,
    app: &ValidApplication,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if repo::name_taken(&mut tx, &app.name, Some(id)).await?
        || !repo::update(&mut tx, id, app, Timestamp::now()).await?
    {
        return Err(duplicate(&app.name));
    }
    let details = diff(&[
        ("name", &old.name, app.name.as_str()),
        ("description", &old.description, &app.description),
        ("icon", old.mark.key(), app.mark.key()),
        ("colour", old.colour.key(), app.colour.key()),
        ("launch URL", &old.launch_url, app.launch_url.as_str()),
        ("redirect URIs", &old.redirect_uris, &join_uris(&app.redirect_uris)),
        ("post-logout redirect URIs", &old.post_logout_redirect_uris, &join_uris(&app.post_logout_redirect_uris)),
    ]);
    let event =
        Event::new(AuditAction::ApplicationUpdated).target("application", id.get(), app.name.as_str()).details(details);
    commit_with(tx, access.principal(), event, "application changed").await
}

/// Disable or enable. Disabled: no tile, and sign-ins to it are refused at
/// the next request (every check reads the row).
pub async fn set_enabled(
    access: Access<'_, apps::Applications, perms::Update>,
    db: &Db,
    id: ApplicationId,
    enabled: bool,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if old.enabled == enabled {
        return Ok(());
    }
    repo::set_enabled(&mut tx, id, enabled, Timestamp::now()).await?;
    let action = if enabled { AuditAction::ApplicationEnabled } else { AuditAction::ApplicationDisabled };
    let event = Event::new(action).target("application", id.get(), old.name);
    record(&mut tx, &Actor::of(access.principal()), event).await?;
    tx.commit().await?;
    tracing::info!(
        application_id = id.get(),
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
    id: ApplicationId,
) -> AppResult<Credentials> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    if old.client_type != ClientType::Confidential {
        return Err(AppError::Conflict(
            "This is a public client: it has no client secret (it signs in with PKCE alone).".into(),
        ));
    }
    let secret = Token::generate();
    repo::set_secret_hash(&mut tx, id, &secret.hash(), Timestamp::now()).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::ApplicationSecretRotated).target("application", id.get(), old.name),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application_id = id.get(), by = access.principal().user_id.get(), "client secret rotated");
    Ok(Credentials { id, client_id: old.client_id, client_secret: Some(secret.expose().to_string()) })
}

/// Delete an application: its tile, its grants in every role, and its sign-ins.
pub async fn delete(
    access: Access<'_, apps::Applications, perms::Delete>,
    db: &Db,
    id: ApplicationId,
) -> AppResult<()> {
    let mut tx = db.begin_write().await?;
    let old = row(&mut tx, id).await?;
    let roles = crate::roles::repo::remove_application(&mut tx, AppId::Registered(id)).await?;
    repo::delete(&mut tx, id).await?;
    record(
        &mut tx,
        &Actor::of(access.principal()),
        Event::new(AuditAction::ApplicationDeleted)
            .target("application", id.get(), old.name)
            .details(format!("{roles} role permissions removed")),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application_id = id.get(), by = access.principal().user_id.get(), "application deleted");
    Ok(())
}

/// The enabled registered applications `p` may View, for the Dashboard.
pub async fn tiles_for(p: &Principal, db: &Db) -> AppResult<Vec<AppTile>> {
    let all = repo::tiles(&mut *db.pool.acquire().await?).await?;
    Ok(all.into_iter().filter(|t| t.enabled && p.can(AppId::Registered(t.id), Permission::View)).collect())
}

//! The provider's steps, without HTTP: who the client is, whether a person
//! may sign in to it, codes, tokens and claims. Everything is read from and
//! written to the database, so each step can run on any node.

use super::claims::{ScopedClaims, Scopes};
use super::keys;
use crate::applications::types::ClientType;
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{ApplicationId, UserId};
use crate::error::{AppError, AppResult};
use crate::registry::{AppId, Permission};
use crate::server::access::Principal;
use crate::server::crypto::Token;
use crate::server::db::Db;
use crate::server::now_ms;
use crate::server::state::AppState;
use crate::users::repo::Profile as Person;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How long an authorization code works.
pub const CODE_TTL_MS: i64 = 60_000;

pub use crate::applications::repo::Client;

/// The application with this client id (OpenID Connect ones only).
pub async fn client(db: &Db, client_id: &str) -> AppResult<Option<Client>> {
    crate::applications::repo::client(&mut *db.pool.acquire().await?, client_id).await
}

/// What the authorization request asks, once its client and redirect URI are known good.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    /// What is granted (`claims::Scopes::to_scope`).
    pub scope: String,
}

/// May `p` sign in to `client` now? (Enabled application, View on it.)
pub fn may_sign_in(p: &Principal, client: &Client) -> bool {
    // Someone who owes a second factor is sent to set it up before anything
    // (the middleware redirects their page loads); this says no as well.
    client.enabled && !p.two_factor_setup_owed && p.can(AppId::Registered(client.id), Permission::View)
}

/// Issue a code for `p` (already allowed): returns the code, shown once in
/// the redirect. Its `auth_time` is when `p` last authenticated.
pub async fn issue_code(
    db: &Db,
    p: &Principal,
    client: &Client,
    req: &AuthorizeRequest,
    ip: &str,
) -> AppResult<String> {
    let code = Token::generate();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, application_id, user_id, redirect_uri, code_challenge, nonce, ip, \
         auth_time, expires_at, scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(code.hash())
    .bind(client.id)
    .bind(p.user_id)
    .bind(&req.redirect_uri)
    .bind(&req.code_challenge)
    .bind(req.nonce.as_deref())
    .bind(ip)
    .bind(p.authenticated_at)
    .bind(now + CODE_TTL_MS)
    .bind(&req.scope)
    .execute(&db.pool)
    .await?;
    Ok(code.expose().to_string())
}

/// How the client authenticated at the token endpoint.
pub struct ClientAuth {
    pub client_id: String,
    /// None: no secret sent (a public client).
    pub secret: Option<String>,
}

/// An OAuth error answered by the token or userinfo endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Unknown client, wrong or missing secret, disabled application (401).
    InvalidClient,
    /// Unknown, expired, used or mismatched code, or wrong PKCE verifier (400).
    InvalidGrant(&'static str),
    /// Not an authorization_code request (400).
    UnsupportedGrantType,
    /// A required parameter is missing (400).
    InvalidRequest(&'static str),
    /// The bearer token at userinfo is not (or no longer) good (401).
    InvalidToken,
    Internal,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::Internal => "server_error",
        }
    }
    pub fn description(&self) -> &'static str {
        match self {
            Self::InvalidClient => "Client authentication failed.",
            Self::InvalidGrant(why) | Self::InvalidRequest(why) => why,
            Self::UnsupportedGrantType => "Only grant_type=authorization_code is supported.",
            Self::InvalidToken => "The access token is not valid.",
            Self::Internal => "Something went wrong on the server.",
        }
    }
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::Internal => 500,
            _ => 400,
        }
    }
}

impl From<AppError> for TokenError {
    fn from(_: AppError) -> Self {
        Self::Internal
    }
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        AppError::from(e).into()
    }
}

/// The token endpoint's answer.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    /// What was granted.
    pub scope: String,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    application_id: ApplicationId,
    user_id: UserId,
    redirect_uri: String,
    code_challenge: Option<String>,
    nonce: Option<String>,
    ip: String,
    auth_time: i64,
    expires_at: i64,
    scope: String,
}

/// Check the client: its secret (confidential), or that it sent none and is public.
async fn authenticate_client(db: &Db, auth: &ClientAuth) -> Result<Client, TokenError> {
    let Some(client) = client(db, &auth.client_id).await? else {
        tracing::info!("token request from an unknown client");
        return Err(TokenError::InvalidClient);
    };
    let ok = match (client.client_type, &auth.secret) {
        (ClientType::Confidential, Some(secret)) => client.secret_matches(secret),
        (ClientType::Public, None) => true,
        _ => false,
    };
    if !ok {
        tracing::info!(application_id = client.id.get(), "token request with a wrong or missing client secret");
        return Err(TokenError::InvalidClient);
    }
    if !client.enabled {
        tracing::info!(application_id = client.id.get(), "token request for a disabled application");
        return Err(TokenError::InvalidClient);
    }
    Ok(client)
}

/// Exchange a code: single use (a second use revokes what the first issued),
/// bound to the client, the redirect URI and the PKCE challenge, 60 s.
pub async fn exchange(
    state: &AppState,
    auth: &ClientAuth,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let db = &state.db;
    let client = authenticate_client(db, auth).await?;
    let Some(code) = Token::parse(code) else {
        return Err(TokenError::InvalidGrant("The code is not valid."));
    };
    let code_hash = code.hash();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    // Claim the code: only one exchange can set used_at.
    let claimed: Option<CodeRow> = sqlx::query_as(
        "UPDATE oidc_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
         RETURNING application_id, user_id, redirect_uri, code_challenge, nonce, ip, auth_time, expires_at, scope",
    )
    .bind(now)
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = claimed else {
        // Used before (or never issued): revoke whatever the first use issued.
        let revoked = sqlx::query("DELETE FROM oidc_access_tokens WHERE code_hash = $1")
            .bind(&code_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if revoked > 0 {
            tracing::warn!(
                application_id = client.id.get(),
                revoked,
                "authorization code used twice: its tokens revoked"
            );
        }
        return Err(TokenError::InvalidGrant("The code is not valid, has expired, or was already used."));
    };
    // From here the code is spent whatever the answer: commit that first.
    let refusal = if row.application_id != client.id {
        Some("The code was issued to another client.")
    } else if row.expires_at < now {
        Some("The code is not valid, has expired, or was already used.")
    } else if row.redirect_uri != redirect_uri {
        Some("The redirect_uri does not match the authorization request.")
    } else {
        match (&row.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce_matches(challenge, verifier) => None,
            (Some(_), _) => Some("The code_verifier does not match the code_challenge."),
            (None, _) => Some("No code_challenge was sent with the authorization request."),
        }
    };
    if let Some(why) = refusal {
        tx.commit().await?;
        tracing::info!(application_id = client.id.get(), why, "code exchange refused");
        return Err(TokenError::InvalidGrant(why));
    }
    // The person may have been disabled or lost View since the code was issued.
    let person = person(&mut tx, row.user_id).await?;
    let Some(person) = person.filter(|p| p.enabled) else {
        tx.commit().await?;
        return Err(TokenError::InvalidGrant("The person can no longer sign in."));
    };
    let crate::grants::Held { is_admin, grants, .. } = crate::grants::load_on(&mut tx, row.user_id).await?;
    let app = AppId::Registered(client.id);
    if !(is_admin || grants.contains(&(app, Permission::View))) {
        tx.commit().await?;
        return Err(TokenError::InvalidGrant("The person may no longer open this application."));
    }
    let ttl = state.settings.oidc_access_token_ttl.as_secs() as i64;
    let access = Token::generate();
    sqlx::query(
        "INSERT INTO oidc_access_tokens (token_hash, code_hash, application_id, user_id, expires_at, scope) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(access.hash())
    .bind(&code_hash)
    .bind(client.id)
    .bind(row.user_id)
    .bind(now + ttl * 1000)
    .bind(&row.scope)
    .execute(&mut *tx)
    .await?;
    let actor = Actor { id: Some(row.user_id), email: person.email.clone(), ip: row.ip.clone() };
    let event = Event::new(AuditAction::ApplicationSignedIn)
        .target("application", client.id.get(), client.name.clone())
        .details(format!("signed in to {}", client.name));
    record(&mut tx, &actor, event).await?;
    tx.commit().await?;

    let claims = ScopedClaims::of(claims(db, &person, client.id, is_admin, &grants).await?, Scopes::parse(&row.scope));
    let iat = now / 1000;
    let id_claims = IdToken {
        iss: state.settings.origin(),
        sub: person.id.to_string(),
        aud: client.client_id.clone(),
        exp: iat + state.settings.oidc_id_token_ttl.as_secs() as i64,
        iat,
        auth_time: row.auth_time / 1000,
        nonce: row.nonce,
        at_hash: at_hash(access.expose()),
        claims,
    };
    let key = keys::current(db, &state.settings).await?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let id_token = jsonwebtoken::encode(&header, &id_claims, &key.key)
        .map_err(|e| TokenError::from(AppError::internal("signing an ID token", e)))?;
    tracing::info!(application_id = client.id.get(), user_id = person.id.get(), "signed in to an application");
    Ok(TokenResponse {
        access_token: access.expose().to_string(),
        token_type: "Bearer",
        expires_in: ttl,
        id_token,
        scope: Scopes::parse(&row.scope).to_scope(),
    })
}

/// RFC 7636: BASE64URL(SHA256(verifier)) == challenge; a verifier is 43 to 128 unreserved characters.
fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    shaped && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// OIDC Core 3.1.3.6: the left half of the access token's SHA-256, base64url.
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The person the claims are about, if they exist.
async fn person(conn: &mut sqlx::AnyConnection, user_id: UserId) -> AppResult<Option<Person>> {
    crate::users::repo::profile(conn, user_id).await
}

/// The claims about the person, in the ID token and at userinfo.
#[derive(Debug, Serialize)]
pub struct PersonClaims {
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub given_name: String,
    pub family_name: String,
    /// The names of the person's roles.
    pub roles: Vec<String>,
    /// This application's permissions for this person: `["view", "update"]`.
    pub permissions: Vec<&'static str>,
}

#[derive(Serialize)]
struct IdToken {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    at_hash: String,
    #[serde(flatten)]
    claims: ScopedClaims,
}

async fn claims(
    db: &Db,
    person: &Person,
    application: ApplicationId,
    is_admin: bool,
    grants: &std::collections::BTreeSet<(AppId, Permission)>,
) -> AppResult<PersonClaims> {
    let roles = crate::roles::repo::role_names_of(&mut *db.pool.acquire().await?, person.id).await?;
    let app = AppId::Registered(application);
    let permissions = Permission::ALL
        .into_iter()
        .filter(|p| is_admin || grants.contains(&(app, *p)))
        .map(Permission::as_str)
        .collect();
    let name = format!("{} {}", person.first_name.trim(), person.last_name.trim()).trim().to_string();
    Ok(PersonClaims {
        email: person.email.clone(),
        // True only once the person proved control of this very address:
        // signed up from the invitation or reset the password through a link
        // sent to it, or confirmed it after it changed.
        email_verified: person.email_verified,
        name: if name.is_empty() { person.email.clone() } else { name },
        given_name: person.first_name.trim().to_string(),
        family_name: person.last_name.trim().to_string(),
        roles,
        permissions,
    })
}

/// Userinfo's answer: the claims, read now, for the token's own application.
#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub sub: String,
    /// The application the token was issued to (its client id).
    pub aud: String,
    #[serde(flatten)]
    pub claims: ScopedClaims,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    application_id: ApplicationId,
    user_id: UserId,
    expires_at: i64,
    scope: String,
}

/// The person behind a bearer token, for the application it was issued to,
/// as they are now: refused when the token expired or was revoked, the
/// application is disabled, or the person is disabled or lost View.
pub async fn userinfo(db: &Db, bearer: &str) -> Result<UserInfo, TokenError> {
    let Some(token) = Token::parse(bearer) else { return Err(TokenError::InvalidToken) };
    let row: Option<TokenRow> = sqlx::query_as(
        "SELECT application_id, user_id, expires_at, scope FROM oidc_access_tokens WHERE token_hash = $1",
    )
    .bind(token.hash())
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row.filter(|r| r.expires_at > now_ms()) else { return Err(TokenError::InvalidToken) };
    let mut conn = db.pool.acquire().await?;
    let client_id = crate::applications::repo::enabled_client_id(&mut conn, row.application_id).await?;
    let Some(client_id) = client_id else { return Err(TokenError::InvalidToken) };
    let Some(person) = person(&mut conn, row.user_id).await?.filter(|p| p.enabled) else {
        return Err(TokenError::InvalidToken);
    };
    drop(conn);
    let crate::grants::Held { is_admin, grants, .. } = crate::grants::load(db, row.user_id).await?;
    if !(is_admin || grants.contains(&(AppId::Registered(row.application_id), Permission::View))) {
        return Err(TokenError::InvalidToken);
    }
    let claims =
        ScopedClaims::of(claims(db, &person, row.application_id, is_admin, &grants).await?, Scopes::parse(&row.scope));
    Ok(UserInfo { sub: person.id.to_string(), aud: client_id, claims })
}

/// Who an `id_token_hint` names, if Roster signed it (expired or not): (user id, client id).
pub async fn hint(state: &AppState, id_token: &str) -> Option<(UserId, String)> {
    #[derive(serde::Deserialize)]
    struct Hint {
        sub: String,
        aud: String,
    }
    let header = jsonwebtoken::decode_header(id_token).ok()?;
    let key = keys::decoding_key(&state.db, &state.settings, header.kid.as_deref()?).await.ok()??;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_issuer(&[state.settings.origin()]);
    v.set_required_spec_claims(&["sub", "aud", "iss"]);
    let data = jsonwebtoken::decode::<Hint>(id_token, &key, &v).ok()?;
    Some((UserId::new(data.claims.sub.parse().ok()?), data.claims.aud))
}

/// Delete codes and tokens that expired long ago (called now and then).
pub async fn purge(db: &Db) -> AppResult<()> {
    let cutoff = now_ms() - 24 * 3600 * 1000;
    sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1").bind(cutoff).execute(&db.pool).await?;
    sqlx::query("DELETE FROM oidc_access_tokens WHERE expires_at < $1").bind(cutoff).execute(&db.pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_follows_rfc_7636() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", verifier));
        assert!(!pkce_matches(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"
        ));
        assert!(!pkce_matches("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "short"));
    }
}

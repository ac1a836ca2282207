//! Passkeys (WebAuthn), the server side of the ceremonies. No HTTP, no HTML;
//! the signatures, challenges and origins are checked by `webauthn-rs`.
//!
//! - **State in the database**: every ceremony's webauthn-rs state is a
//!   `webauthn_challenges` row (5 minutes, only its token's SHA-256 stored),
//!   bound to the user (registration), to the pending sign-in (second step)
//!   or to nobody (a discoverable sign-in), and deleted by the step that
//!   finishes it (`DELETE … RETURNING`), so each step may land on another
//!   node and no challenge is answered twice. Each owner (the client's
//!   address for a sign-in, which anyone may start; the user; the pending
//!   sign-in) keeps only its newest few ([`open_per_owner`]).
//! - **Registration** asks for a discoverable credential (resident key) with
//!   user verification; its WebAuthn user id is one random UUID per person
//!   (`passkeys.user_handle`).
//! - **Sign in with a passkey** (discoverable, user verification required)
//!   is a whole sign-in: the authenticator proved possession and the person.
//!   It is counted in the sign-in throttle like a password (on the account's
//!   key when the credential is known, and the client's IP), refuses disabled
//!   accounts, and answers every refusal with the one
//!   [`AppError::PasskeyRefused`], so it tells nothing about which accounts
//!   or credentials exist.
//! - **Second step**: a person with a passkey may use it after their password,
//!   in place of a code; only their own passkeys are offered and accepted.
//! - **Signature counters**: a counter that does not go up (a cloned
//!   authenticator, a replay) is refused, by webauthn-rs against the stored
//!   credential and again by the conditional `UPDATE` that records the use.

use super::repo::{self, Challenge, NewChallenge, NewPasskey, Pending, StoredPasskey};
use super::service as two_factor;
use super::types::{PasskeyCeremony, PasskeyInfo};
use crate::audit::service::{record, Actor, AuditAction, Event};
use crate::domain::{Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::server::access::Principal;
use crate::server::crypto::Token;
use crate::server::state::{AppState, Settings};
use crate::settings::template::TemplateKind;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sqlx::AnyConnection;
use std::time::Duration;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a ceremony may take, start to finish.
pub const CEREMONY: Duration = Duration::from_secs(5 * 60);
/// Longest passkey name, in characters.
pub const NAME_MAX_CHARS: usize = 100;

const REGISTER: &str = "register";
const SIGN_IN: &str = "sign_in";
const SECOND_STEP: &str = "second_step";

/// The one answer to a passkey that did not sign in, whatever the cause.
fn refused() -> AppError {
    AppError::PasskeyRefused
}

// ---- the relying party -------------------------------------------------------------

/// The relying party: `public_url`'s host and origin. Browsers refuse an IP
/// address as a relying party id, so a loopback address (a developer's or a
/// test's server) is served as `localhost` on the same port.
pub fn relying_party(settings: &Settings) -> AppResult<Webauthn> {
    let public = &settings.public_url;
    let loopback = match public.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    let mut origin = Url::parse(&settings.origin()).map_err(|e| AppError::internal("passkeys: origin", e))?;
    if loopback {
        origin.set_host(Some("localhost")).map_err(|e| AppError::internal("passkeys: origin", e))?;
    }
    let rp_id =
        match origin.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            _ => return Err(AppError::Conflict(
                "Passkeys need Roster's public_url to be a domain name: browsers refuse passkeys for an IP address."
                    .into(),
            )),
        };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(&settings.site_name).timeout(CEREMONY).build())
        .map_err(|e| AppError::internal("passkeys: relying party", e))
}

// ---- ceremonies ----------------------------------------------------------------------

/// A registration's state and the WebAuthn user id it gave the authenticator.
#[derive(serde::Serialize, serde::Deserialize)]
struct Registration {
    handle: Uuid,
    state: PasskeyRegistration,
}

/// How many unfinished ceremonies one owner keeps: a sign-in with a passkey
/// is started by anyone, so its owner is the client's address, which many
/// people behind one network share; a registration's owner is the user and
/// a second step's the pending sign-in, one person each. Starting one more
/// drops the owner's oldest, so asking again and again cannot fill the table.
fn open_per_owner(purpose: &str) -> i64 {
    match purpose {
        SIGN_IN => 100,
        _ => 5,
    }
}

/// Record a ceremony's state and return its token. Expired ceremonies are
/// purged, and the owner's oldest beyond [`open_per_owner`].
async fn store(
    conn: &mut AnyConnection,
    purpose: &str,
    owner: &str,
    user_id: Option<UserId>,
    pending_hash: Option<&str>,
    name: Option<&str>,
    state: &impl serde::Serialize,
) -> AppResult<Token> {
    let now = Timestamp::now();
    repo::purge_expired_challenges(conn, now).await?;
    repo::keep_newest_challenges(conn, purpose, owner, open_per_owner(purpose) - 1).await?;
    let state = serde_json::to_string(state).map_err(|e| AppError::internal("passkeys: state", e))?;
    let token = Token::generate();
    let new = NewChallenge {
        token_hash: &token.hash(),
        purpose,
        owner,
        user_id,
        pending_hash,
        name,
        state: &state,
        created_at: now,
        expires_at: now.plus(CEREMONY),
    };
    repo::insert_challenge(conn, &new).await?;
    Ok(token)
}

/// Spend the ceremony `token` names, if it is one of `purpose` and has not
/// expired. Deleted whether or not what follows succeeds: a challenge is
/// answered once.
async fn take(state: &AppState, token: &str, purpose: &str) -> AppResult<Option<Challenge>> {
    let Some(token) = Token::parse(token) else { return Ok(None) };
    let mut tx = state.db.begin_write().await?;
    let row = repo::take_challenge(&mut tx, &token.hash(), purpose).await?;
    tx.commit().await?;
    Ok(row.filter(|c| c.expires_at > Timestamp::now()))
}

fn state_of<T: serde::de::DeserializeOwned>(ceremony: &Challenge) -> AppResult<T> {
    serde_json::from_str(&ceremony.state).map_err(|e| AppError::internal("passkeys: stored state", e))
}

fn to_json(value: &impl serde::Serialize) -> AppResult<String> {
    serde_json::to_string(value).map_err(|e| AppError::internal("passkeys: options", e))
}

fn ceremony(token: Token, options: String) -> PasskeyCeremony {
    PasskeyCeremony { ceremony: token.expose().to_string(), options }
}

// ---- stored passkeys -----------------------------------------------------------------

impl StoredPasskey {
    fn passkey(&self) -> AppResult<Passkey> {
        serde_json::from_str(&self.passkey).map_err(|e| AppError::internal("passkeys: stored passkey", e))
    }
}

/// The passkey whose credential id (raw bytes) is `id`, if any.
async fn by_credential(conn: &mut AnyConnection, id: &[u8]) -> AppResult<Option<StoredPasskey>> {
    repo::passkey_by_credential(conn, &URL_SAFE_NO_PAD.encode(id)).await
}

/// The user's passkeys as the Security tab lists them, oldest first.
pub async fn list(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<PasskeyInfo>> {
    Ok(repo::passkeys_listed(conn, user_id)
        .await?
        .into_iter()
        .map(|r| PasskeyInfo {
            id: r.id,
            name: r.name,
            created_at: r.created_at.millis(),
            last_used_at: r.last_used_at.map(Timestamp::millis),
        })
        .collect())
}

/// The user's passkeys as webauthn-rs reads them, and their WebAuthn user id (if they have any).
async fn passkeys_of(conn: &mut AnyConnection, user_id: UserId) -> AppResult<(Vec<Passkey>, Option<String>)> {
    let rows = repo::passkeys_stored(conn, user_id).await?;
    let handle = rows.first().map(|(_, h)| h.clone());
    let keys = rows
        .iter()
        .map(|(p, _)| serde_json::from_str(p).map_err(|e| AppError::internal("passkeys: stored passkey", e)))
        .collect::<AppResult<Vec<Passkey>>>()?;
    Ok((keys, handle))
}

/// A passkey's name: trimmed, 1 to 100 characters, no control characters.
fn parse_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::Invalid("Give the passkey a name, such as \"Work laptop\".".into()));
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(AppError::Invalid(format!("A passkey name has at most {NAME_MAX_CHARS} characters.")));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::Invalid("A passkey name cannot hold control characters.".into()));
    }
    Ok(name.to_string())
}

/// Is `new` a signature counter that may follow `stored`? Authenticators
/// that keep no counter always say 0; any other must go up.
fn counter_advances(stored: i64, new: u32) -> bool {
    (new == 0 && stored == 0) || i64::from(new) > stored
}

/// Record a use of passkey `row` (its counter and backup state, from
/// `result`), unless another request recorded one since it was read.
async fn record_use(
    conn: &mut AnyConnection,
    row: &StoredPasskey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> AppResult<bool> {
    let mut passkey = row.passkey()?;
    passkey.update_credential(result);
    let passkey = serde_json::to_string(&passkey).map_err(|e| AppError::internal("passkeys: passkey", e))?;
    repo::record_passkey_use(conn, row.id, &passkey, i64::from(result.counter()), row.sign_count, Timestamp::now())
        .await
}

// ---- the Security tab ------------------------------------------------------------------

/// Start adding a passkey named `name` for the caller: the options for
/// `navigator.credentials.create`. Their existing passkeys are excluded (one
/// per authenticator).
pub async fn begin_registration(state: &AppState, me: &Principal, name: &str) -> AppResult<PasskeyCeremony> {
    let name = parse_name(name)?;
    let webauthn = relying_party(&state.settings)?;
    let mut conn = state.db.pool.acquire().await?;
    let (existing, handle) = passkeys_of(&mut conn, me.user_id).await?;
    drop(conn);
    let handle = match handle {
        Some(h) => Uuid::parse_str(&h).map_err(|e| AppError::internal("passkeys: user handle", e))?,
        None => Uuid::new_v4(),
    };
    let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
    let (options, registration): (CreationChallengeResponse, PasskeyRegistration) = webauthn
        .start_passkey_registration(handle, &me.email, &me.display_name(), Some(exclude))
        .map_err(|e| AppError::internal("passkeys: start registration", e))?;
    // Discoverable (a resident key), so that Sign in with a passkey needs no
    // email. webauthn-rs checks neither way; its passkey options say "discouraged".
    let mut options = serde_json::to_value(&options).map_err(|e| AppError::internal("passkeys: options", e))?;
    options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
    options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
    let mut tx = state.db.begin_write().await?;
    let token = store(
        &mut tx,
        REGISTER,
        &format!("user:{}", me.user_id),
        Some(me.user_id),
        None,
        Some(&name),
        &Registration { handle, state: registration },
    )
    .await?;
    tx.commit().await?;
    Ok(ceremony(token, to_json(&options)?))
}

/// Finish adding a passkey with the browser's answer (`credential.toJSON()`).
/// The first second factor also gets 10 recovery codes, returned here and never again.
pub async fn finish_registration(
    state: &AppState,
    me: &Principal,
    token: &str,
    credential: &str,
) -> AppResult<Vec<String>> {
    let expired =
        || AppError::Conflict("Adding this passkey took too long or was already finished. Start again.".into());
    let credential: RegisterPublicKeyCredential = serde_json::from_str(credential)
        .map_err(|_| AppError::Invalid("The browser's answer could not be read. Try again.".into()))?;
    let ceremony = take(state, token, REGISTER).await?.ok_or_else(expired)?;
    if ceremony.user_id != Some(me.user_id) {
        return Err(expired());
    }
    let Registration { handle, state: registration } = state_of(&ceremony)?;
    let name = ceremony.name.clone().unwrap_or_default();
    let webauthn = relying_party(&state.settings)?;
    let passkey = webauthn.finish_passkey_registration(&credential, &registration).map_err(|e| {
        tracing::info!(user_id = me.user_id.get(), cause = %e, "passkey registration refused");
        AppError::Invalid(
            "The passkey was not accepted. Use an authenticator that verifies you (a PIN, fingerprint or face) and try again."
                .into(),
        )
    })?;
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id());
    let stored = serde_json::to_string(&passkey).map_err(|e| AppError::internal("passkeys: passkey", e))?;
    let mut tx = state.db.begin_write().await?;
    if repo::passkey_registered(&mut tx, &credential_id).await? {
        return Err(AppError::Conflict("This passkey is already registered.".into()));
    }
    let first = !two_factor::has_second_factor(&mut tx, me.user_id).await?;
    let new = NewPasskey {
        user_id: me.user_id,
        credential_id: &credential_id,
        user_handle: &handle.to_string(),
        name: &name,
        passkey: &stored,
        created_at: Timestamp::now(),
    };
    let id = repo::insert_passkey(&mut tx, &new).await?;
    let actor = Actor::of(me);
    record(
        &mut tx,
        &actor,
        Event::new(AuditAction::TwoFactorPasskeyAdded)
            .user(me.user_id, &me.email)
            .details(format!("passkey {id}: {name}")),
    )
    .await?;
    let codes = if first {
        let codes = two_factor::replace_codes(&mut tx, me.user_id).await?;
        record(&mut tx, &actor, Event::new(AuditAction::TwoFactorRecoveryCodesGenerated).user(me.user_id, &me.email))
            .await?;
        codes
    } else {
        Vec::new()
    };
    two_factor::notify(&mut tx, &state.settings, TemplateKind::PasskeyAdded, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(codes)
}

fn not_found() -> AppError {
    AppError::NotFound("This passkey no longer exists.".into())
}

/// Rename one of the caller's passkeys.
pub async fn rename(state: &AppState, me: &Principal, id: i64, name: &str) -> AppResult<()> {
    let name = parse_name(name)?;
    let mut tx = state.db.begin_write().await?;
    let old = repo::passkey_name(&mut tx, id, me.user_id).await?.ok_or_else(not_found)?;
    repo::rename_passkey(&mut tx, id, &name).await?;
    record(
        &mut tx,
        &Actor::of(me),
        Event::new(AuditAction::TwoFactorPasskeyRenamed)
            .user(me.user_id, &me.email)
            .details(format!("passkey {id}: {old} → {name}")),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Remove one of the caller's passkeys; asks for the password. Refused when
/// a role requires a second factor and it is the last one. With no second
/// factor left, the recovery codes go too.
pub async fn remove(state: &AppState, me: &Principal, id: i64, password: &str) -> AppResult<()> {
    two_factor::confirm_password(state, me, password).await?;
    let mut tx = state.db.begin_write().await?;
    let name = repo::passkey_name(&mut tx, id, me.user_id).await?.ok_or_else(not_found)?;
    let others = repo::passkey_count(&mut tx, me.user_id).await? - 1
        + i64::from(two_factor::totp_enabled(&mut tx, me.user_id).await?);
    if others == 0 && two_factor::required(&mut tx, me.user_id).await? {
        return Err(AppError::NotAllowed(
            "A role of yours requires two-factor sign-in, so your last second factor cannot be removed. \
             Add another passkey or an authenticator app first."
                .into(),
        ));
    }
    repo::delete_passkey(&mut tx, id).await?;
    if others == 0 {
        repo::delete_recovery_codes(&mut tx, me.user_id).await?;
    }
    record(
        &mut tx,
        &Actor::of(me),
        Event::new(AuditAction::TwoFactorPasskeyRemoved)
            .user(me.user_id, &me.email)
            .details(format!("passkey {id}: {name}")),
    )
    .await?;
    two_factor::notify(&mut tx, &state.settings, TemplateKind::PasskeyRemoved, me.user_id, &me.email).await?;
    tx.commit().await?;
    Ok(())
}

// ---- signing in --------------------------------------------------------------------------

/// Start a sign-in with a discoverable passkey: the options for
/// `navigator.credentials.get` (no email: the authenticator offers its
/// passkeys for this site).
pub async fn begin_sign_in(state: &AppState) -> AppResult<PasskeyCeremony> {
    let webauthn = relying_party(&state.settings)?;
    let (options, auth) =
        webauthn.start_discoverable_authentication().map_err(|e| AppError::internal("passkeys: start sign-in", e))?;
    let mut tx = state.db.begin_write().await?;
    let owner = format!("ip:{}", crate::server::session::client().ip);
    let token = store(&mut tx, SIGN_IN, &owner, None, None, None, &auth).await?;
    tx.commit().await?;
    Ok(ceremony(token, to_json(&options)?))
}

/// Finish a sign-in with a passkey alone. Every refusal (unknown credential,
/// another account's user id, a disabled account, an expired or spent
/// challenge, a bad signature, a counter that went back) answers
/// [`AppError::PasskeyRefused`] and is counted in the sign-in throttle.
pub async fn finish_sign_in(
    state: &AppState,
    token: &str,
    credential: &str,
) -> AppResult<crate::credentials::SignedIn> {
    use crate::credentials::throttle::{self, Verdict};
    let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(credential) else {
        return Err(refused());
    };
    let mut conn = state.db.pool.acquire().await?;
    let row = by_credential(&mut conn, credential.get_credential_id()).await?;
    drop(conn);
    // Counted on the account's key when the credential is known, else on the
    // credential's own; always on the client's IP.
    let key = match &row {
        Some(r) => r.email_norm.clone(),
        None => format!("passkey:{}", URL_SAFE_NO_PAD.encode(credential.get_credential_id()).get(..43).unwrap_or("")),
    };
    let actor = Actor::anonymous(row.as_ref().map(|r| r.email.as_str()).unwrap_or("(unknown passkey)"));
    let reservation = match throttle::check_and_reserve(&state.db, &state.settings.throttle, &key, &actor.ip).await? {
        Verdict::Allow(r) => r,
        Verdict::Wait(secs) => return Err(AppError::Throttled(secs)),
        Verdict::Locked(_) => return Err(refused()),
    };
    let ceremony = take(state, token, SIGN_IN).await?;
    let verified = match (row.as_ref(), ceremony) {
        (Some(row), Some(ceremony)) if row.enabled => verify_discoverable(state, row, &ceremony, &credential)?,
        _ => None,
    };
    if let (Some(row), Some(result)) = (row.as_ref(), verified) {
        use crate::server::session::client;
        let mut tx = state.db.begin_write().await?;
        if record_use(&mut tx, row, &result).await? {
            throttle::clear(&mut tx, &key).await?;
            let me = Actor { id: Some(row.user_id), ..actor.clone() };
            record(
                &mut tx,
                &me,
                Event::new(AuditAction::SignInSuccess)
                    .user(row.user_id, &row.email_norm)
                    .details(format!("passkey {}: {}", row.id, row.name)),
            )
            .await?;
            let cookie = crate::credentials::open_session(&mut tx, &state.settings, row.user_id, &client()).await?;
            tx.commit().await?;
            return Ok(crate::credentials::SignedIn { user_id: row.user_id, cookie });
        }
    }
    tracing::info!(known = row.is_some(), "passkey sign-in refused");
    let account = row.as_ref().map(|r| crate::credentials::Account {
        id: r.user_id,
        email: r.email.clone(),
        password_hash: None,
        enabled: r.enabled,
    });
    let mut event = Event::new(AuditAction::SignInFailure).details("passkey refused");
    if let Some(r) = &row {
        event = event.user(r.user_id, &r.email);
    }
    crate::credentials::record_failed_check(state, &actor, Some(event), &reservation, account.as_ref()).await?;
    Err(refused())
}

/// The checks of a discoverable sign-in: the user id the authenticator
/// holds is the one given at registration, and webauthn-rs accepts the
/// signature, challenge, origin, user verification and counter.
fn verify_discoverable(
    state: &AppState,
    row: &StoredPasskey,
    ceremony: &Challenge,
    credential: &PublicKeyCredential,
) -> AppResult<Option<webauthn_rs::prelude::AuthenticationResult>> {
    let webauthn = relying_party(&state.settings)?;
    let Ok((handle, _)) = webauthn.identify_discoverable_authentication(credential) else { return Ok(None) };
    if handle.to_string() != row.user_handle {
        return Ok(None);
    }
    let auth = state_of(ceremony)?;
    let passkey = row.passkey()?;
    match webauthn.finish_discoverable_authentication_v2(credential, auth, &passkey) {
        Ok(result) if result.user_verified() && counter_advances(row.sign_count, result.counter()) => Ok(Some(result)),
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::info!(cause = %e, "passkey assertion refused");
            Ok(None)
        }
    }
}

/// Start the second step with a passkey: the options name the pending
/// person's passkeys only.
pub async fn begin_second_step(state: &AppState, token: &Token) -> AppResult<PasskeyCeremony> {
    let pending = two_factor::pending(state, token).await?;
    let mut conn = state.db.pool.acquire().await?;
    let (keys, _) = passkeys_of(&mut conn, pending.user_id).await?;
    drop(conn);
    if keys.is_empty() {
        return Err(AppError::Conflict(
            "No passkey is set up for this account. Enter a code from your authenticator app or a recovery code."
                .into(),
        ));
    }
    let webauthn = relying_party(&state.settings)?;
    let (options, auth): (_, PasskeyAuthentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::internal("passkeys: start second step", e))?;
    let mut tx = state.db.begin_write().await?;
    let ceremony_token = store(
        &mut tx,
        SECOND_STEP,
        &format!("pending:{}", token.hash()),
        Some(pending.user_id),
        Some(&token.hash()),
        None,
        &auth,
    )
    .await?;
    tx.commit().await?;
    Ok(ceremony(ceremony_token, to_json(&options)?))
}

/// The second step with a passkey: counted in the sign-in throttle before it
/// is checked, like a code; only a passkey of the pending person's is
/// accepted. A right one ends the pending sign-in and starts the session.
pub async fn finish_second_step(
    state: &AppState,
    token: &Token,
    ceremony_token: &str,
    credential: &str,
) -> AppResult<crate::credentials::SignedIn> {
    let pending = two_factor::pending(state, token).await?;
    let actor = Actor::anonymous(&pending.email);
    let reservation = two_factor::reserve_second_step(state, &pending, &actor).await?;
    if let Some(proof) = verify_second_step(state, token, &pending, ceremony_token, credential).await? {
        if let Some(signed_in) = two_factor::complete(state, token, &pending, &actor, proof).await? {
            return Ok(signed_in);
        }
    }
    tracing::info!(user_id = pending.user_id.get(), "second sign-in step with a passkey refused");
    let account = crate::credentials::Account {
        id: pending.user_id,
        email: pending.email.clone(),
        password_hash: None,
        enabled: true,
    };
    let event = Event::new(AuditAction::SignInFailure)
        .user(pending.user_id, &pending.email)
        .details("second step: passkey refused");
    crate::credentials::record_failed_second_step(state, &actor, event, &reservation, &account, &pending.email_norm)
        .await?;
    Err(refused())
}

/// A passkey that proves the pending sign-in: the ceremony was started for
/// it, the credential is the pending person's, and webauthn-rs accepts it.
async fn verify_second_step(
    state: &AppState,
    token: &Token,
    pending: &Pending,
    ceremony_token: &str,
    credential: &str,
) -> AppResult<Option<two_factor::Proof>> {
    let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(credential) else { return Ok(None) };
    let Some(ceremony) = take(state, ceremony_token, SECOND_STEP).await? else { return Ok(None) };
    if ceremony.user_id != Some(pending.user_id) || ceremony.pending_hash.as_deref() != Some(token.hash().as_str()) {
        return Ok(None);
    }
    let mut conn = state.db.pool.acquire().await?;
    let row = by_credential(&mut conn, credential.get_credential_id()).await?;
    drop(conn);
    let Some(row) = row.filter(|r| r.user_id == pending.user_id) else { return Ok(None) };
    let auth: PasskeyAuthentication = state_of(&ceremony)?;
    let webauthn = relying_party(&state.settings)?;
    match webauthn.finish_passkey_authentication(&credential, &auth) {
        Ok(result) if result.user_verified() && counter_advances(row.sign_count, result.counter()) => {
            Ok(Some(two_factor::Proof::Passkey(Box::new(Use { row, result }))))
        }
        Ok(_) => Ok(None),
        Err(e) => {
            tracing::info!(cause = %e, "passkey assertion refused");
            Ok(None)
        }
    }
}

/// A verified use of a passkey, to record when the second step completes.
pub struct Use {
    row: StoredPasskey,
    result: webauthn_rs::prelude::AuthenticationResult,
}

impl Use {
    /// Record it (in the second step's transaction); false when another
    /// request used the passkey since it was read (a replay).
    pub async fn record(&self, conn: &mut AnyConnection) -> AppResult<bool> {
        record_use(conn, &self.row, &self.result).await
    }

    /// How the audit entry names it.
    pub fn label(&self) -> String {
        format!("passkey {}: {}", self.row.id, self.row.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Work laptop ").unwrap(), "Work laptop");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(NAME_MAX_CHARS + 1)).is_err());
        assert!(parse_name("a\u{7}b").is_err());
    }

    #[test]
    fn counters_must_go_up_unless_never_kept() {
        assert!(counter_advances(0, 0));
        assert!(counter_advances(0, 1));
        assert!(counter_advances(4, 5));
        assert!(!counter_advances(5, 5));
        assert!(!counter_advances(5, 4));
        assert!(!counter_advances(5, 0), "a counter that was kept cannot go back to none");
    }
}

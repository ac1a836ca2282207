//! Every statement on the second factors and their ceremonies: `passkeys`,
//! `webauthn_challenges`, `totp_credentials`, `recovery_codes` and
//! `pending_sign_ins`. Each function runs in the connection or transaction
//! it is handed; the services decide where a transaction begins and ends.

use crate::domain::{Timestamp, UserId};
use crate::error::AppResult;
use crate::server::db::Db;
use sqlx::AnyConnection;

// ---- any factor ------------------------------------------------------------------------

/// Has the user a second factor in use (an authenticator app or a passkey)?
pub async fn has_second_factor(conn: &mut AnyConnection, user_id: UserId) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL) \
              + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS n",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// What [`remove_all`] removed.
pub struct Removed {
    /// An authenticator app (in use or being set up): 0 or 1.
    pub totp: u64,
    pub passkeys: u64,
    pub recovery_codes: u64,
}

/// Remove every second factor of the user, their recovery codes, their
/// unfinished passkey ceremonies and their pending sign-ins.
pub async fn remove_all(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Removed> {
    let totp = delete_totp(conn, user_id).await?;
    let recovery_codes = delete_recovery_codes(conn, user_id).await?;
    let passkeys =
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?.rows_affected();
    sqlx::query("DELETE FROM webauthn_challenges WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM pending_sign_ins WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(Removed { totp, passkeys, recovery_codes })
}

// ---- the authenticator app (totp_credentials) -----------------------------------------

/// A user's authenticator: its sealed secret and the last time step it spent.
#[derive(sqlx::FromRow)]
pub struct TotpRow {
    pub secret: String,
    pub last_step: i64,
}

/// The user's authenticator (`enabled`: the one in use; else the one being set up).
pub async fn totp(conn: &mut AnyConnection, user_id: UserId, enabled: bool) -> AppResult<Option<TotpRow>> {
    let sql = if enabled {
        "SELECT secret, last_step FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NOT NULL"
    } else {
        "SELECT secret, last_step FROM totp_credentials WHERE user_id = $1 AND enabled_at IS NULL"
    };
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(&mut *conn).await?)
}

/// Store an authenticator being set up (not yet enabled) with its sealed `secret`.
pub async fn insert_totp(conn: &mut AnyConnection, user_id: UserId, secret: &str, at: Timestamp) -> AppResult<()> {
    sqlx::query("INSERT INTO totp_credentials (user_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(secret)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Enable the authenticator being set up with `secret`, its time `step`
/// spent: false when it was replaced or enabled meanwhile.
pub async fn enable_totp(
    conn: &mut AnyConnection,
    user_id: UserId,
    secret: &str,
    step: i64,
    at: Timestamp,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE totp_credentials SET enabled_at = $1, last_step = $2 \
         WHERE user_id = $3 AND secret = $4 AND enabled_at IS NULL",
    )
    .bind(at)
    .bind(step)
    .bind(user_id)
    .bind(secret)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Spend `step` of the user's authenticator in use: false when another
/// request spent it (or a later one) first, so no code works twice.
pub async fn spend_totp_step(conn: &mut AnyConnection, user_id: UserId, step: i64) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE totp_credentials SET last_step = $1 WHERE user_id = $2 AND last_step < $1 AND enabled_at IS NOT NULL",
    )
    .bind(step)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Remove the user's authenticator, in use or being set up. Returns how many went (0 or 1).
pub async fn delete_totp(conn: &mut AnyConnection, user_id: UserId) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM totp_credentials WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}

// ---- recovery codes ----------------------------------------------------------------------

/// Store new recovery codes for the user, by their hashes.
pub async fn insert_recovery_codes(
    conn: &mut AnyConnection,
    user_id: UserId,
    hashes: &[String],
    at: Timestamp,
) -> AppResult<()> {
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(user_id)
            .bind(hash)
            .bind(at)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The id of the user's unused recovery code with this hash, if any.
pub async fn unused_recovery_code(conn: &mut AnyConnection, user_id: UserId, hash: &str) -> AppResult<Option<i64>> {
    Ok(sqlx::query_scalar("SELECT id FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
        .bind(user_id)
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Spend recovery code `id`: false when another request spent it first.
pub async fn spend_recovery_code(conn: &mut AnyConnection, id: i64, at: Timestamp) -> AppResult<bool> {
    let r = sqlx::query("UPDATE recovery_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// How many of the user's recovery codes are unused.
pub async fn recovery_codes_left(conn: &mut AnyConnection, user_id: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?)
}

/// Remove the user's recovery codes, used or not. Returns how many went.
pub async fn delete_recovery_codes(conn: &mut AnyConnection, user_id: UserId) -> AppResult<u64> {
    let r = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}

// ---- passkeys -------------------------------------------------------------------------------

/// A stored passkey, with its owner.
#[derive(sqlx::FromRow)]
pub struct StoredPasskey {
    pub id: i64,
    pub user_id: UserId,
    pub user_handle: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub sign_count: i64,
    pub email: String,
    pub email_norm: String,
    #[sqlx(try_from = "crate::server::sql::Flag")]
    pub enabled: bool,
}

/// The passkey whose credential id (base64url, unpadded) is `credential_id`, with its owner, if any.
pub async fn passkey_by_credential(conn: &mut AnyConnection, credential_id: &str) -> AppResult<Option<StoredPasskey>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.user_id, p.user_handle, p.name, p.passkey, p.sign_count, u.email, u.email_norm, u.enabled \
         FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = $1",
    )
    .bind(credential_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Is a passkey with this credential id (base64url, unpadded) registered, to anyone?
pub async fn passkey_registered(conn: &mut AnyConnection, credential_id: &str) -> AppResult<bool> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM passkeys WHERE credential_id = $1")
        .bind(credential_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(id.is_some())
}

/// How many passkeys the user has.
pub async fn passkey_count(conn: &mut AnyConnection, user_id: UserId) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) AS n FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?)
}

/// One of a user's passkeys as the Security tab lists it.
#[derive(sqlx::FromRow)]
pub struct ListedPasskey {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// The user's passkeys, oldest first.
pub async fn passkeys_listed(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<ListedPasskey>> {
    Ok(sqlx::query_as("SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// The user's passkeys as stored (webauthn-rs's JSON) with their WebAuthn user id, oldest first.
pub async fn passkeys_stored(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<(String, String)>> {
    Ok(sqlx::query_as("SELECT passkey, user_handle FROM passkeys WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?)
}

/// A passkey to store.
pub struct NewPasskey<'a> {
    pub user_id: UserId,
    /// base64url, unpadded.
    pub credential_id: &'a str,
    pub user_handle: &'a str,
    pub name: &'a str,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: &'a str,
    pub created_at: Timestamp,
}

/// Store a new passkey (its signature counter at 0); returns its id.
pub async fn insert_passkey(conn: &mut AnyConnection, new: &NewPasskey<'_>) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO passkeys (user_id, credential_id, user_handle, name, passkey, sign_count, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.credential_id)
    .bind(new.user_handle)
    .bind(new.name)
    .bind(new.passkey)
    .bind(0i64)
    .bind(new.created_at)
    .fetch_one(&mut *conn)
    .await?)
}

/// Record a use of passkey `id`: its updated JSON and counter, unless its
/// counter is no longer `read_count` (another request recorded a use since
/// it was read). False then.
pub async fn record_passkey_use(
    conn: &mut AnyConnection,
    id: i64,
    passkey: &str,
    sign_count: i64,
    read_count: i64,
    at: Timestamp,
) -> AppResult<bool> {
    let updated = sqlx::query(
        "UPDATE passkeys SET passkey = $1, sign_count = $2, last_used_at = $3 WHERE id = $4 AND sign_count = $5",
    )
    .bind(passkey)
    .bind(sign_count)
    .bind(at)
    .bind(id)
    .bind(read_count)
    .execute(&mut *conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The name of passkey `id`, if it is the user's.
pub async fn passkey_name(conn: &mut AnyConnection, id: i64, user_id: UserId) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn rename_passkey(conn: &mut AnyConnection, id: i64, name: &str) -> AppResult<()> {
    sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2").bind(name).bind(id).execute(&mut *conn).await?;
    Ok(())
}

pub async fn delete_passkey(conn: &mut AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM passkeys WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

// ---- passkey ceremonies (webauthn_challenges) -----------------------------------------------

/// A ceremony to store: webauthn-rs's state for it, and whom it belongs to.
pub struct NewChallenge<'a> {
    /// SHA-256 of the token that names it.
    pub token_hash: &'a str,
    pub purpose: &'a str,
    /// Whose ceremonies it counts among (see `passkeys::open_per_owner`).
    pub owner: &'a str,
    pub user_id: Option<UserId>,
    /// The pending sign-in a second step's ceremony belongs to.
    pub pending_hash: Option<&'a str>,
    /// The name a registration gives its passkey.
    pub name: Option<&'a str>,
    /// webauthn-rs's state, as JSON.
    pub state: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What a finished ceremony had stored.
#[derive(sqlx::FromRow)]
pub struct Challenge {
    pub user_id: Option<UserId>,
    pub pending_hash: Option<String>,
    pub name: Option<String>,
    pub state: String,
    pub expires_at: Timestamp,
}

/// Delete the ceremonies that expired by `now`.
pub async fn purge_expired_challenges(conn: &mut AnyConnection, now: Timestamp) -> AppResult<()> {
    sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1").bind(now).execute(&mut *conn).await?;
    Ok(())
}

/// Delete `owner`'s ceremonies of `purpose` but the newest `keep`.
pub async fn keep_newest_challenges(conn: &mut AnyConnection, purpose: &str, owner: &str, keep: i64) -> AppResult<()> {
    sqlx::query(
        "DELETE FROM webauthn_challenges WHERE purpose = $1 AND owner = $2 AND token_hash NOT IN \
         (SELECT token_hash FROM webauthn_challenges WHERE purpose = $1 AND owner = $2 \
          ORDER BY created_at DESC, token_hash LIMIT $3)",
    )
    .bind(purpose)
    .bind(owner)
    .bind(keep)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_challenge(conn: &mut AnyConnection, new: &NewChallenge<'_>) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO webauthn_challenges (token_hash, purpose, owner, user_id, pending_hash, name, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new.token_hash)
    .bind(new.purpose)
    .bind(new.owner)
    .bind(new.user_id)
    .bind(new.pending_hash)
    .bind(new.name)
    .bind(new.state)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Delete the ceremony of `purpose` whose token hashes to `token_hash` and
/// return what it stored (expired or not), so no challenge is answered twice.
pub async fn take_challenge(conn: &mut AnyConnection, token_hash: &str, purpose: &str) -> AppResult<Option<Challenge>> {
    Ok(sqlx::query_as(
        "DELETE FROM webauthn_challenges WHERE token_hash = $1 AND purpose = $2 \
         RETURNING user_id, pending_hash, name, state, expires_at",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&mut *conn)
    .await?)
}

// ---- pending sign-ins -----------------------------------------------------------------------

/// A pending sign-in still owed its second step, with its person.
#[derive(sqlx::FromRow)]
pub struct Pending {
    pub user_id: UserId,
    pub email: String,
    pub email_norm: String,
}

/// Delete the pending sign-ins that expired by `now`.
pub async fn purge_expired_pending(conn: &mut AnyConnection, now: Timestamp) -> AppResult<()> {
    sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at <= $1").bind(now).execute(&mut *conn).await?;
    Ok(())
}

pub async fn insert_pending(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: UserId,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> AppResult<()> {
    sqlx::query("INSERT INTO pending_sign_ins (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user_id)
        .bind(created_at)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The pending sign-in whose token hashes to `token_hash`, unexpired at
/// `now`, of an enabled account.
pub async fn pending(db: &Db, token_hash: &str, now: Timestamp) -> AppResult<Option<Pending>> {
    Ok(sqlx::query_as(
        "SELECT p.user_id, u.email, u.email_norm FROM pending_sign_ins p JOIN users u ON u.id = p.user_id \
         WHERE p.token_hash = $1 AND p.expires_at > $2 AND u.enabled",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&db.pool)
    .await?)
}

/// End the pending sign-in whose token hashes to `token_hash`: false when
/// it expired by `now` or was ended already.
pub async fn end_pending(conn: &mut AnyConnection, token_hash: &str, now: Timestamp) -> AppResult<bool> {
    let ended = sqlx::query("DELETE FROM pending_sign_ins WHERE token_hash = $1 AND expires_at > $2")
        .bind(token_hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(ended.rows_affected() == 1)
}

//! Recovery codes: 10 codes of 50 random bits, stored as SHA-256, each spent
//! by a conditional `UPDATE` (single use even under a race).

use crate::domain::{Timestamp, UserId};
use crate::error::{AppError, AppResult};
use crate::two_factor::repo;
use sqlx::AnyConnection;

/// Recovery codes issued at once.
pub const RECOVERY_CODES: usize = 10;

/// Crockford's base32 alphabet: no I, L, O, U.
pub(super) const CODE_ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new recovery code: 10 characters (50 bits) from the OS CSPRNG, as `xxxxx-xxxxx`.
pub(super) fn new_recovery_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..10).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The stored form of a typed recovery code: case, spaces and dashes ignored,
/// the letters people confuse read as Crockford does; SHA-256, hex.
pub(super) fn recovery_hash(typed: &str) -> Option<String> {
    use sha2::{Digest, Sha256};
    let norm: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            c => c,
        })
        .collect();
    (norm.len() == 10 && norm.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        .then(|| hex::encode(Sha256::digest(norm.as_bytes())))
}

/// Replace the user's recovery codes with 10 new ones; returns them (shown once).
pub(in crate::two_factor) async fn replace_codes(conn: &mut AnyConnection, user_id: UserId) -> AppResult<Vec<String>> {
    repo::delete_recovery_codes(conn, user_id).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes = codes
        .iter()
        .map(|code| recovery_hash(code).ok_or_else(|| AppError::internal("recovery code", "not its own shape")))
        .collect::<AppResult<Vec<String>>>()?;
    repo::insert_recovery_codes(conn, user_id, &hashes, Timestamp::now()).await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_crockford_characters_read_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11, "{code}");
        let hash = recovery_hash(&code).unwrap();
        assert_eq!(recovery_hash(&code.to_uppercase()), Some(hash.clone()));
        assert_eq!(recovery_hash(&format!(" {} ", code.replace('-', " "))), Some(hash));
        assert_eq!(recovery_hash("0000000000"), recovery_hash("oOoOo-OoOoO"));
        assert_eq!(recovery_hash("123456"), None);
        assert_eq!(recovery_hash("uuuuu-uuuuu"), None, "U is not in the alphabet");
        assert_ne!(new_recovery_code(), new_recovery_code());
    }
}

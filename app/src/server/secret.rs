//! Secrets Roster must be able to read back (the SMTP password), stored
//! encrypted at rest with XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`)
//! under the key from the configuration (`encryption_key`), the same on every
//! node. Each value has a fresh random 192-bit nonce, and the purpose is
//! bound in as associated data, so a ciphertext cannot be moved to another use.
//! Neither the key nor a decrypted value ever prints (`Debug` is redacted).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::fmt;

/// The version prefix of a stored ciphertext.
const V1: &str = "v1:";
const NONCE_LEN: usize = 24;

/// A string that never prints: a password on its way in or out of the database.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(..)")
    }
}

/// The key secrets are encrypted with (32 bytes).
#[derive(Clone)]
pub struct EncryptionKey(Key);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

/// A stored value that this key cannot open: another key encrypted it, or it was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CannotDecrypt;

impl EncryptionKey {
    /// 32 bytes, base64 (standard alphabet, with or without padding).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim()))
            .map_err(|_| "is not base64".to_string())?;
        if bytes.len() != 32 {
            return Err(format!("must be 32 bytes in base64 (it is {} bytes)", bytes.len()));
        }
        Ok(Self(Key::clone_from_slice(&bytes)))
    }

    /// A fresh key from the operating system's CSPRNG, in base64 (for a key file).
    pub fn generate_base64() -> String {
        STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// Encrypt `plaintext` for `purpose`: `v1:` and base64 of nonce and ciphertext.
    pub fn encrypt(&self, purpose: &str, plaintext: &SecretString) -> Result<String, String> {
        let cipher = XChaCha20Poly1305::new(&self.0);
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: plaintext.expose().as_bytes(), aad: purpose.as_bytes() })
            .map_err(|_| "the value could not be encrypted".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{V1}{}", STANDARD.encode(out)))
    }

    /// Open a value [`EncryptionKey::encrypt`] made for the same `purpose`.
    pub fn decrypt(&self, purpose: &str, stored: &str) -> Result<SecretString, CannotDecrypt> {
        let bytes = stored.strip_prefix(V1).and_then(|b| STANDARD.decode(b).ok()).ok_or(CannotDecrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CannotDecrypt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new(&self.0);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: purpose.as_bytes() })
            .map_err(|_| CannotDecrypt)?;
        String::from_utf8(plain).map(SecretString).map_err(|_| CannotDecrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let k = key(7);
        let secret = SecretString::new("hunter2 but longer");
        let a = k.encrypt("smtp", &secret).unwrap();
        let b = k.encrypt("smtp", &secret).unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("hunter2"));
        assert_eq!(k.decrypt("smtp", &a).unwrap(), secret);
    }

    #[test]
    fn another_key_another_purpose_or_a_changed_byte_cannot_open_it() {
        let k = key(7);
        let sealed = k.encrypt("smtp", &SecretString::new("pw")).unwrap();
        assert_eq!(key(8).decrypt("smtp", &sealed), Err(CannotDecrypt));
        assert_eq!(k.decrypt("other", &sealed), Err(CannotDecrypt));
        let mut bytes = STANDARD.decode(sealed.strip_prefix(V1).unwrap()).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(k.decrypt("smtp", &format!("{V1}{}", STANDARD.encode(bytes))), Err(CannotDecrypt));
        assert_eq!(k.decrypt("smtp", "plaintext"), Err(CannotDecrypt));
    }

    #[test]
    fn generated_keys_are_fresh_and_read_back() {
        let (a, b) = (EncryptionKey::generate_base64(), EncryptionKey::generate_base64());
        assert_ne!(a, b);
        let sealed = EncryptionKey::from_base64(&a).unwrap().encrypt("x", &SecretString::new("v")).unwrap();
        assert_eq!(EncryptionKey::from_base64(&a).unwrap().decrypt("x", &sealed).unwrap().expose(), "v");
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_never_print() {
        assert!(EncryptionKey::from_base64("not base64!").unwrap_err().contains("base64"));
        assert!(EncryptionKey::from_base64(&STANDARD.encode([1u8; 16])).unwrap_err().contains("16 bytes"));
        assert_eq!(format!("{:?}", key(1)), "EncryptionKey(..)");
        assert_eq!(format!("{:?}", SecretString::new("pw")), "SecretString(..)");
    }
}

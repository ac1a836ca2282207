//! The encryption key, which seals the secrets Roster stores (ID token
//! signing keys, authenticator secrets, the SMTP password).
//!
//! `encryption_key` from the configuration when it is set. Otherwise, with
//! SQLite, the key in `roster.key` beside the database file, created on first
//! start (32 bytes from the operating system's CSPRNG, base64, readable by
//! this user only) and logged once with where it is: it must be backed up
//! separately from the database, or a stolen backup holds both. With
//! PostgreSQL there is no one place every node shares, so Roster refuses to
//! start without `encryption_key`.

use crate::config::Config;
use app::server::db::{sqlite_file, Backend};
use app::server::secret::EncryptionKey;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name, in the SQLite database's directory.
pub const FILE_NAME: &str = "roster.key";

/// The encryption key for this configuration: configured, or the key file's (made now if missing).
pub fn encryption_key(config: &Config) -> Result<EncryptionKey, String> {
    if let Some(key) = config.encryption_key().map_err(|e| e.to_string())? {
        return Ok(key);
    }
    match Backend::from_url(&config.database_url) {
        Some(Backend::Postgres) => {
            Err("encryption_key is not set. With PostgreSQL, Roster needs one to seal the secrets it stores \
             (the ID token signing keys, authenticator secrets, the SMTP password), the same on every node: \
             make one with `openssl rand -base64 32` and set it as encryption_key in roster.toml or as the \
             ROSTER_ENCRYPTION_KEY environment variable."
                .into())
        }
        _ => match sqlite_file(&config.database_url) {
            Some(db_file) => read_or_create(&key_file_for(&db_file)),
            None => {
                tracing::info!(
                    "in-memory database: its secrets are sealed with a key that lives as long as this process"
                );
                EncryptionKey::from_base64(&EncryptionKey::generate_base64())
            }
        },
    }
}

/// `roster.key` in the directory of the SQLite file.
pub fn key_file_for(db_file: &Path) -> PathBuf {
    match db_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(FILE_NAME),
        _ => PathBuf::from(FILE_NAME),
    }
}

fn read(path: &Path) -> std::io::Result<Result<EncryptionKey, String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(EncryptionKey::from_base64(&text).map_err(|problem| {
        format!(
            "the encryption key file {} {problem}: restore it from your backup, or set encryption_key",
            path.display()
        )
    }))
}

/// Read the key file, or create it: written under a temporary name, then
/// linked to its name, which fails if it exists. So two processes starting
/// at once end up with one key, and nobody reads a half-written file.
fn read_or_create(path: &Path) -> Result<EncryptionKey, String> {
    let cannot =
        |what: &str, e: std::io::Error| format!("cannot {what} the encryption key file {}: {e}", path.display());
    match read(path) {
        Ok(key) => {
            warn_if_others_may_read(path);
            tracing::info!(path = %path.display(), "encryption key read from its file (encryption_key is not set)");
            return key;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(cannot("read", e)),
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| cannot("create the directory of", e))?;
    let text = EncryptionKey::generate_base64();
    let key = EncryptionKey::from_base64(&text)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let temporary = dir.join(format!(".{FILE_NAME}.{}.{nanos}.tmp", std::process::id()));
    let written = write_private(&temporary, &text).and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match written {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            tracing::warn!(
                path = %path.display(),
                "encryption_key is not set: Roster created an encryption key in {} (readable by this user only). \
                 It seals the ID token signing keys, authenticator secrets and SMTP password stored in the \
                 database. Back it up, separately from the database: without it they cannot be read, and a \
                 backup that holds both gives them away.",
                path.display()
            );
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path).map_err(|e| cannot("read", e))?,
        Err(e) => Err(cannot("create", e)),
    }
}

/// A new file only this user may read or write (mode 0600), with `text`, on disk.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn warn_if_others_may_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the encryption key file can be read by other users: make it readable by Roster's user only \
                     (chmod 600)"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_made_once_with_mode_0600_and_read_back() {
        let dir = std::env::temp_dir().join(format!("roster_key_file_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(FILE_NAME);
        let key = read_or_create(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 44, "32 bytes in base64");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let sealed = key.encrypt("t", &app::server::secret::SecretString::new("v")).unwrap();
        let again = read_or_create(&path).unwrap();
        assert_eq!(again.decrypt("t", &sealed).unwrap().expose(), "v", "the same key the second time");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::write(&path, "short").unwrap();
        assert!(read_or_create(&path).unwrap_err().contains("restore it"));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(key_file_for(Path::new("roster.db")), PathBuf::from("roster.key"));
        assert_eq!(key_file_for(Path::new("/var/lib/roster/roster.db")), PathBuf::from("/var/lib/roster/roster.key"));
    }
}

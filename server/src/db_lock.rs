//! Who is using the SQLite database, told by an advisory lock on a file beside
//! it (`roster.db.lock`): every process that opens the database (the server
//! for its lifetime, and each command while it runs) holds a shared lock;
//! `server restore` needs the exclusive lock, so it cannot replace the file
//! under anyone. The operating system releases a lock when its process ends,
//! even by a crash or SIGKILL, so there is nothing stale to clean up; the lock
//! file itself is empty and stays.

use app::server::db::sqlite_file;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// A lock on the database's lock file, held until it is dropped.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

/// `roster.db` → `roster.db.lock`.
pub fn lock_path(db_file: &Path) -> PathBuf {
    let mut name = db_file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    db_file.with_file_name(name)
}

fn open(db_file: &Path) -> Result<(File, PathBuf), String> {
    let path = lock_path(db_file);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the database's directory {}: {e}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    Ok((file, path))
}

impl DbLock {
    /// The shared lock of a process that uses the database at `database_url`
    /// (None for PostgreSQL and in-memory SQLite: nothing to restore there).
    pub fn shared(database_url: &str) -> Result<Option<Self>, String> {
        let Some(db_file) = sqlite_file(database_url) else { return Ok(None) };
        let (file, path) = open(&db_file)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Some(Self { _file: file })),
            Err(TryLockError::WouldBlock) => Err(format!(
                "{} is being restored right now (`server restore` holds {}): start again once it has finished",
                db_file.display(),
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    /// The exclusive lock `server restore` needs: refused while any process
    /// holds the shared one.
    pub fn exclusive(db_file: &Path) -> Result<Self, String> {
        let (file, path) = open(db_file)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(format!(
                "refusing to restore: {} is in use by a running Roster server or another `server` command (it \
                 holds {}). Stop every server that uses this database, then run the restore again.",
                db_file.display(),
                path.display()
            )),
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_keep_the_exclusive_one_out() {
        let dir = std::env::temp_dir().join(format!("roster_db_lock_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = dir.join("roster.db");
        let url = format!("sqlite://{}", db.display());
        assert_eq!(lock_path(&db), dir.join("roster.db.lock"));
        let first = DbLock::shared(&url).unwrap().unwrap();
        let second = DbLock::shared(&url).unwrap().unwrap();
        assert!(DbLock::exclusive(&db).unwrap_err().contains("in use"));
        drop(first);
        assert!(DbLock::exclusive(&db).is_err(), "one shared lock is enough to refuse");
        drop(second);
        let restoring = DbLock::exclusive(&db).unwrap();
        assert!(DbLock::shared(&url).unwrap_err().contains("being restored"));
        drop(restoring);
        assert!(DbLock::shared("postgres://h/db").unwrap().is_none());
        assert!(DbLock::shared("sqlite::memory:").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Backups of the SQLite database, and restoring one.
//!
//! - `server backup PATH` writes a consistent copy with SQLite's `VACUUM INTO`
//!   while Roster runs and writes (a read transaction on the WAL database: the
//!   copy holds every transaction committed before it started, and nothing
//!   half-done). The copy is written under a temporary name beside PATH, made
//!   durable, then linked to PATH, so a crash never leaves a partial file with
//!   a backup's name.
//! - Scheduled backups (`backup_dir`, `backup_interval`, `backup_keep`): the
//!   running server writes `roster-<UTC time>.db` there and deletes the oldest
//!   beyond `backup_keep`. A lock file in the directory makes sure one process
//!   at a time writes one; the newest file's time says when the next is due,
//!   so a restart neither skips nor doubles one.
//! - `server restore PATH` refuses while any process uses the database
//!   (`db_lock`), checks the copy (integrity, a Roster database, no migration
//!   newer than this binary's), keeps the database it replaces beside it, and
//!   puts the copy in place with a rename. An older copy is migrated by the
//!   next start, like any upgrade.
//!
//! The encryption key (`roster.key` or `encryption_key`) is never in a
//! backup: the secrets in the database stay sealed, and the key must be kept
//! separately.

use crate::cli::VERSION;
use crate::config::Config;
use crate::db_lock::DbLock;
use crate::{key_file, migrations};
use app::server::db::{sqlite_file, Backend};
use humantime_serde::re::humantime;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use std::fs::{File, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const PG_BACKUP: &str = "`server backup` copies an SQLite database, and this one is PostgreSQL: back it up with \
    pg_dump instead, e.g. `pg_dump -Fc --file roster.dump \"$ROSTER_DATABASE_URL\"` (README, Backups).";
const PG_RESTORE: &str = "`server restore` replaces an SQLite database, and this one is PostgreSQL: restore a \
    pg_dump archive with pg_restore instead, with Roster stopped, e.g. `pg_restore --clean --if-exists --dbname \
    \"$ROSTER_DATABASE_URL\" roster.dump` (README, Backups).";

/// Scheduled backups are named `roster-20261207T214709Z.db` (UTC).
const PREFIX: &str = "roster-";
const SUFFIX: &str = ".db";
/// In `backup_dir`: held by the process writing a scheduled backup.
const DIR_LOCK: &str = ".roster-backup.lock";

// ---------------------------------------------------------------------------
// server backup PATH

/// `server backup PATH`.
pub async fn backup_command(config: &Config, path: &Path) -> Result<(), String> {
    if Backend::from_url(&config.database_url) == Some(Backend::Postgres) {
        return Err(PG_BACKUP.into());
    }
    let db_file = sqlite_file(&config.database_url)
        .ok_or("the database is in memory (sqlite::memory:): there is no file to back up")?;
    if !db_file.is_file() {
        return Err(format!(
            "there is no database at {}: nothing to back up (is database_url the server's?)",
            db_file.display()
        ));
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a directory: name the new file, e.g. {}",
            path.display(),
            path.join(file_name(SystemTime::now())).display()
        ));
    }
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(already_exists(path));
    }
    let _lock = DbLock::shared(&config.database_url)?;
    let bytes = write_backup(&db_file, path).await?;
    println!("Backed up {} to {} ({}).", db_file.display(), path.display(), size(bytes));
    println!("{}", key_reminder(config, &db_file));
    Ok(())
}

fn already_exists(path: &Path) -> String {
    format!(
        "{} already exists: a backup never overwrites a file. Choose a new name, or remove it first.",
        path.display()
    )
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 10 << 20 => format!("{} MiB", b >> 20),
        b if b >= 10 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Where the key that seals the secrets in a backup is, and why to keep it apart.
fn key_reminder(config: &Config, db_file: &Path) -> String {
    let key = if config.encryption_key().ok().flatten().is_some() {
        "the encryption key (encryption_key in the configuration)".to_string()
    } else {
        format!("the encryption key file {}", key_file::key_file_for(db_file).display())
    };
    format!(
        "The backup does not contain {key}, which seals the secrets stored in it (ID token signing keys, \
         authenticator secrets, the SMTP password). Keep a copy of the key too, separately from the backups: \
         without it those secrets cannot be read, and kept together they give them away."
    )
}

/// Copy the live database at `db_file` into the new file `dest` (which must
/// not exist); returns its size. Works while other connections write.
pub async fn write_backup(db_file: &Path, dest: &Path) -> Result<u64, String> {
    let dir = parent_dir(dest);
    if !dir.is_dir() {
        return Err(format!("the directory {} does not exist", dir.display()));
    }
    let name = dest.file_name().ok_or_else(|| format!("{} does not name a file", dest.display()))?;
    let partial = dir.join(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
    let _ = std::fs::remove_file(&partial);
    let result = write_partial(db_file, &partial, dest).await;
    let _ = std::fs::remove_file(&partial);
    result
}

async fn write_partial(db_file: &Path, partial: &Path, dest: &Path) -> Result<u64, String> {
    // An empty file only this user may read (the copy holds password hashes
    // and sealed secrets): VACUUM INTO fills an empty file and keeps its mode.
    create_private(partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let options =
        SqliteConnectOptions::new().filename(db_file).create_if_missing(false).busy_timeout(Duration::from_secs(30));
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| format!("cannot open the database {}: {e}", db_file.display()))?;
    let copied = sqlx::query("VACUUM INTO ?").bind(partial.to_string_lossy().into_owned()).execute(&mut conn).await;
    let _ = conn.close().await;
    copied.map_err(|e| format!("cannot copy the database {}: {e}", db_file.display()))?;
    let file = File::open(partial).map_err(|e| format!("cannot read {}: {e}", partial.display()))?;
    file.sync_all().map_err(|e| format!("cannot write {} to disk: {e}", partial.display()))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    // Linking fails if `dest` appeared meanwhile: never overwrite.
    match std::fs::hard_link(partial, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(already_exists(dest)),
        // A file system without hard links.
        Err(_) if std::fs::symlink_metadata(dest).is_err() => {
            std::fs::rename(partial, dest).map_err(|e| format!("cannot write {}: {e}", dest.display()))?
        }
        Err(_) => return Err(already_exists(dest)),
    }
    sync_dir(&parent_dir(dest));
    Ok(bytes)
}

/// A new, empty file that only this user may read or write.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Make a rename or a new name in `dir` durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

// ---------------------------------------------------------------------------
// Scheduled backups

/// Start the scheduled backups this configuration asks for, if any.
pub fn schedule(config: &Config) {
    let dir = config.backup_dir.trim();
    if dir.is_empty() {
        return;
    }
    if Backend::from_url(&config.database_url) == Some(Backend::Postgres) {
        tracing::warn!(
            backup_dir = dir,
            "backup_dir is set, but scheduled backups are for SQLite: nothing is written there. Back up \
             PostgreSQL with pg_dump -Fc (README, Backups)"
        );
        return;
    }
    let Some(db_file) = sqlite_file(&config.database_url) else {
        tracing::warn!(backup_dir = dir, "backup_dir is set, but the database is in memory: no scheduled backups");
        return;
    };
    let (every, keep) = (config.backup_interval, config.backup_keep);
    tracing::info!(
        backup_dir = dir,
        every = %humantime::format_duration(every),
        keep,
        "scheduled backups of the database are on"
    );
    tokio::spawn(run_schedule(db_file, PathBuf::from(dir), every, keep));
}

async fn run_schedule(db_file: PathBuf, dir: PathBuf, every: Duration, keep: usize) {
    loop {
        let now = SystemTime::now();
        // Due `every` after the newest backup (at most `every` from now, should the clock have gone back).
        let wait = newest(&dir).map_or(Duration::ZERO, |last| (last + every).duration_since(now).unwrap_or_default());
        tokio::time::sleep(wait.min(every)).await;
        match scheduled_backup(&db_file, &dir, every, keep).await {
            Ok(Some((path, bytes))) => {
                tracing::info!(path = %path.display(), size = %size(bytes), "scheduled backup written")
            }
            // Another process is writing one, or just did.
            Ok(None) => tokio::time::sleep(every.min(Duration::from_secs(10))).await,
            Err(problem) => {
                tracing::error!(backup_dir = %dir.display(), %problem, "the scheduled backup failed");
                tokio::time::sleep(every.min(Duration::from_secs(300))).await;
            }
        }
    }
}

/// One scheduled backup, when it is still due once this process holds the
/// directory's lock; then the oldest beyond `keep` are deleted.
async fn scheduled_backup(
    db_file: &Path,
    dir: &Path,
    every: Duration,
    keep: usize,
) -> Result<Option<(PathBuf, u64)>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock_path = dir.join(DIR_LOCK);
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", lock_path.display())),
    }
    // Whoever held the lock before has finished: a partial file is a leftover of a crash.
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".partial") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let now = SystemTime::now();
    if newest(dir).is_some_and(|last| last + every > now) {
        return Ok(None);
    }
    let path = dir.join(file_name(now));
    let bytes = write_backup(db_file, &path).await?;
    prune(dir, keep);
    Ok(Some((path, bytes)))
}

/// `roster-20261207T214709Z.db` for that moment (UTC, to the second).
fn file_name(at: SystemTime) -> String {
    let stamp: String =
        humantime::format_rfc3339_seconds(at).to_string().chars().filter(|c| !matches!(c, '-' | ':')).collect();
    format!("{PREFIX}{stamp}{SUFFIX}")
}

/// The time in a scheduled backup's name; None for any other file.
fn time_of(name: &str) -> Option<SystemTime> {
    let s = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let rfc3339 = format!("{}-{}-{}T{}:{}:{}Z", &s[0..4], &s[4..6], &s[6..8], &s[9..11], &s[11..13], &s[13..15]);
    humantime::parse_rfc3339(&rfc3339).ok()
}

/// The scheduled backups in `dir`, oldest first.
fn backups(dir: &Path) -> Vec<(SystemTime, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((time_of(&e.file_name().to_string_lossy())?, e.path())))
        .filter(|(_, path)| path.is_file())
        .collect();
    found.sort();
    found
}

fn newest(dir: &Path) -> Option<SystemTime> {
    backups(dir).last().map(|(t, _)| *t)
}

/// Delete the oldest scheduled backups beyond `keep` (only files named as they are).
fn prune(dir: &Path, keep: usize) {
    let all = backups(dir);
    let excess = all.len().saturating_sub(keep);
    for (_, path) in &all[..excess] {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!(path = %path.display(), "old backup deleted"),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot delete an old backup"),
        }
    }
}

// ---------------------------------------------------------------------------
// server restore PATH

/// What the check of a backup found.
#[derive(Debug)]
pub struct Checked {
    /// This binary's migrations the backup has not applied yet (the next start applies them).
    pub missing: Vec<i64>,
}

/// `server restore PATH`.
pub async fn restore_command(config: &Config, source: &Path) -> Result<(), String> {
    if Backend::from_url(&config.database_url) == Some(Backend::Postgres) {
        return Err(PG_RESTORE.into());
    }
    let db_file = sqlite_file(&config.database_url)
        .ok_or("the database is in memory (sqlite::memory:): there is no file to restore into")?;
    let meta = std::fs::metadata(source).map_err(|e| format!("cannot read the backup {}: {e}", source.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file: name a backup file", source.display()));
    }
    if let (Ok(a), Ok(b)) = (source.canonicalize(), db_file.canonicalize()) {
        if a == b {
            return Err(format!("{} is the database itself: name a backup of it", source.display()));
        }
    }
    let wal = with_suffix(source, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(format!(
            "{} has a write-ahead log beside it ({}) with changes that are not in the file itself, so it is not a \
             complete copy. Restore a file written by `server backup`, or fold the log in first (open the file \
             with sqlite3 and quit).",
            source.display(),
            wal.display()
        ));
    }
    let _lock = DbLock::exclusive(&db_file)?;

    // The copy goes beside the database first, so that the switch is one rename.
    let dir = parent_dir(&db_file);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = db_file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "roster.db".into());
    let staged = dir.join(format!(".{name}.restore-{}", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    let result = async {
        stage(source, &staged)?;
        let checked = check(&staged, source).await?;
        let kept = if db_file.exists() { Some(set_aside(&db_file).await?) } else { None };
        std::fs::rename(&staged, &db_file).map_err(|e| format!("cannot put the backup in place: {e}"))?;
        // Logs of the database just replaced: never to be applied to this one.
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(with_suffix(&db_file, suffix));
        }
        sync_dir(&dir);
        Ok::<_, String>((checked, kept))
    }
    .await;
    let _ = std::fs::remove_file(&staged);
    let (checked, kept) = result?;

    println!("Restored {} into {}.", source.display(), db_file.display());
    if let Some(kept) = kept {
        println!("The database it replaced is kept as {}: delete it once all is well.", kept.display());
    }
    if !checked.missing.is_empty() {
        println!(
            "The backup was written by an older version of Roster: the server applies the {} migration(s) it \
             lacks when it starts.",
            checked.missing.len()
        );
    }
    println!(
        "The secrets in it are sealed with the encryption key that was in use when it was written: start Roster \
         with that key ({}, or encryption_key).",
        key_file::key_file_for(&db_file).display()
    );
    Ok(())
}

/// `roster.db` + `-wal` → `roster.db-wal`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copy the backup to `staged` (this user only), on disk.
fn stage(source: &Path, staged: &Path) -> Result<(), String> {
    create_private(staged).map_err(|e| format!("cannot create {}: {e}", staged.display()))?;
    let mut from = File::open(source).map_err(|e| format!("cannot read the backup {}: {e}", source.display()))?;
    let mut to = std::fs::OpenOptions::new()
        .write(true)
        .open(staged)
        .map_err(|e| format!("cannot write {}: {e}", staged.display()))?;
    std::io::copy(&mut from, &mut to).map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
    to.sync_all().map_err(|e| format!("cannot write {} to disk: {e}", staged.display()))
}

/// Check the backup copied to `staged` (named `source` in messages).
pub async fn check(staged: &Path, source: &Path) -> Result<Checked, String> {
    let shown = source.display();
    // Read-only and immutable: nothing written beside the file, no lock taken.
    let options = SqliteConnectOptions::new().filename(staged).read_only(true).immutable(true).create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options).await.map_err(|e| unreadable(source, &e))?;
    let result = check_open(&mut conn, source).await;
    let _ = conn.close().await;
    let checked = result?;
    tracing::debug!(backup = %shown, missing = ?checked.missing, "the backup passed its checks");
    Ok(checked)
}

async fn check_open(conn: &mut SqliteConnection, source: &Path) -> Result<Checked, String> {
    let shown = source.display();
    let report: Vec<String> =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut *conn).await.map_err(|e| unreadable(source, &e))?;
    if report != ["ok"] {
        let first: Vec<&str> = report.iter().take(3).map(String::as_str).collect();
        let more = report.len().saturating_sub(first.len());
        let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
        return Err(format!(
            "{shown} is damaged: SQLite's integrity check reports: {}{more}. Restore another backup.",
            first.join("; ")
        ));
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('_sqlx_migrations', 'users', 'roles')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| unreadable(source, &e))?;
    if tables != 3 {
        return Err(format!(
            "{shown} is an SQLite database, but not a Roster database (it lacks Roster's _sqlx_migrations, users \
             and roles tables)"
        ));
    }
    let applied: Vec<(i64, String, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| format!("cannot read the migrations of {shown}: {e}"))?;
    let migrator = migrations::migrator(Backend::Sqlite);
    let known = |v: i64| migrator.iter().find(|m| m.version == v && m.migration_type.is_up_migration());
    let unknown: Vec<String> =
        applied.iter().filter(|(v, ..)| known(*v).is_none()).map(|(v, d, ..)| format!("{v} ({d})")).collect();
    if !unknown.is_empty() {
        let newest_known = migrations::versions(Backend::Sqlite).into_iter().max().unwrap_or(0);
        let newer = applied.iter().any(|(v, ..)| *v > newest_known);
        let whose = if newer { "comes from a newer version of Roster" } else { "comes from another build of Roster" };
        return Err(format!(
            "{shown} {whose}: it has applied migration(s) {} that this version ({VERSION}, newest migration \
             {newest_known}) does not know. Restore it with the version of Roster that wrote it, or a newer one.",
            unknown.join(", ")
        ));
    }
    if let Some((v, d, ..)) = applied.iter().find(|(_, _, success, _)| !success) {
        return Err(format!("{shown} holds a migration that failed part-way: {v} ({d}). Restore another backup."));
    }
    for (v, d, _, checksum) in &applied {
        if known(*v).is_some_and(|m| m.checksum.as_ref() != checksum.as_slice()) {
            return Err(format!(
                "{shown}: its migration {v} ({d}) differs from this version's, so Roster would refuse to start \
                 on it. Restore a backup written by a released Roster."
            ));
        }
    }
    let missing =
        migrations::versions(Backend::Sqlite).into_iter().filter(|v| !applied.iter().any(|(a, ..)| a == v)).collect();
    Ok(Checked { missing })
}

/// A clear word for a file SQLite cannot read.
fn unreadable(source: &Path, e: &sqlx::Error) -> String {
    let shown = source.display();
    let code = e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
    match code {
        // SQLITE_NOTADB
        Some(26) => {
            format!("{shown} is not an SQLite database (SQLite: {e}). Restore a file written by `server backup`.")
        }
        // SQLITE_CORRUPT
        Some(11) => format!("{shown} is damaged or incomplete (SQLite: {e}). Restore another backup."),
        _ => format!("cannot read {shown} as an SQLite database: {e}"),
    }
}

/// Keep the database about to be replaced as `roster.db.before-restore-<time>`,
/// its write-ahead log folded in first.
async fn set_aside(db_file: &Path) -> Result<PathBuf, String> {
    let options = SqliteConnectOptions::new().filename(db_file).create_if_missing(false);
    match SqliteConnection::connect_with(&options).await {
        Ok(mut conn) => {
            let folded = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await;
            let _ = conn.close().await;
            if let Err(e) = folded {
                eprintln!("warning: cannot fold the write-ahead log into {}: {e}", db_file.display());
            }
        }
        Err(e) => eprintln!("warning: cannot open the database being replaced, {}: {e}", db_file.display()),
    }
    let stamp = file_name(SystemTime::now());
    let stamp = stamp.trim_start_matches(PREFIX).trim_end_matches(SUFFIX);
    let kept = with_suffix(db_file, &format!(".before-restore-{stamp}"));
    std::fs::hard_link(db_file, &kept)
        .or_else(|_| std::fs::copy(db_file, &kept).map(drop))
        .map_err(|e| format!("cannot keep the database being replaced as {}: {e}", kept.display()))?;
    // A log the checkpoint could not fold in goes with it.
    let wal = with_suffix(db_file, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        let _ = std::fs::rename(&wal, with_suffix(&kept, "-wal"));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_backup_names_carry_their_utc_time() {
        let at = humantime::parse_rfc3339("2026-12-07T21:47:09Z").unwrap();
        assert_eq!(file_name(at), "roster-20261207T214709Z.db");
        assert_eq!(time_of("roster-20261207T214709Z.db"), Some(at));
        for other in [
            "roster-20261207T214709Z.db.partial",
            ".roster-20261207T214709Z.db",
            "roster-latest.db",
            "roster.db",
            "roster-2026120XT214709Z.db",
        ] {
            assert_eq!(time_of(other), None, "{other}");
        }
        assert!(file_name(SystemTime::now()) > file_name(at), "names sort by time");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(64 << 10), "64 KiB");
        assert_eq!(size(300 << 20), "300 MiB");
    }
}

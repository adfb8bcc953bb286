//! Consistent SQLite backups before migrating, with retention, and restore.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use db_core::{Database, SqliteLocation};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::{DbContext, Error, Result};

/// A source of the current time, injectable so retention and the minimum interval are tested
/// without sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Where and how often to back up a SQLite database before migrating it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupPolicy {
    /// The folder for backups; `None` puts them beside the database file.
    pub dir: Option<PathBuf>,
    /// How many backups of the database to keep, newest first (default 3).
    pub keep: usize,
    /// No second backup is taken within this time of the newest one (default 60 s).
    pub min_interval: Duration,
}

impl Default for BackupPolicy {
    fn default() -> Self {
        Self {
            dir: None,
            keep: 3,
            min_interval: Duration::from_secs(60),
        }
    }
}

/// One backup file: `<name>_<UTC timestamp>_<revision>.sqlite3.backup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The file.
    pub path: PathBuf,
    /// When it was taken (UTC, whole seconds).
    pub taken_at: DateTime<Utc>,
    /// The revision(s) the database was at (`base` when none, several joined by `+`).
    pub revision: String,
}

const SUFFIX: &str = ".sqlite3.backup";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The SQLite file behind `db`.
///
/// # Errors
/// [`Error::NotASqliteFile`] for other backends and in-memory databases.
pub fn sqlite_file(db: &Database) -> Result<&Path> {
    match db.sqlite_location() {
        Some(SqliteLocation::File(path)) => Ok(path),
        _ => Err(Error::NotASqliteFile),
    }
}

fn stem(db_file: &Path) -> String {
    db_file.file_stem().map_or_else(
        || "database".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn backup_dir(db_file: &Path, policy: &BackupPolicy) -> PathBuf {
    policy.dir.clone().unwrap_or_else(|| {
        db_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_owned)
    })
}

/// The backups of `db_file` in `dir`, newest first.
///
/// # Errors
/// [`Error::Backup`] when the folder cannot be read (a missing folder has no backups).
pub fn list_backups(db_file: &Path, dir: &Path) -> Result<Vec<Backup>> {
    let prefix = format!("{}_", stem(db_file));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Backup {
                path: dir.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(SUFFIX))
        else {
            continue;
        };
        let Some((stamp, revision)) = rest.split_once('_') else {
            continue;
        };
        let Ok(taken) = NaiveDateTime::parse_from_str(stamp, STAMP) else {
            continue;
        };
        found.push(Backup {
            path: entry.path(),
            taken_at: taken.and_utc(),
            revision: revision.to_owned(),
        });
    }
    found.sort_by(|a, b| {
        b.taken_at
            .cmp(&a.taken_at)
            .then_with(|| b.path.cmp(&a.path))
    });
    Ok(found)
}

/// Takes a consistent copy of the SQLite database with `VACUUM INTO` (safe in WAL mode, unlike
/// a file copy), names it `<name>_<UTC timestamp>_<revision>.sqlite3.backup`, verifies it with
/// `PRAGMA integrity_check`, then prunes older backups to `policy.keep`. Returns `None`, taking
/// nothing, when the newest backup is younger than `policy.min_interval`.
///
/// # Errors
/// [`Error::NotASqliteFile`]; [`Error::Backup`] when the copy fails or does not verify (the
/// broken copy is removed).
pub async fn backup(
    db: &Database,
    policy: &BackupPolicy,
    revision: &str,
    clock: &dyn Clock,
) -> Result<Option<Backup>> {
    let db_file = sqlite_file(db)?;
    let dir = backup_dir(db_file, policy);
    let now = clock.now();
    let existing = list_backups(db_file, &dir)?;
    if let Some(newest) = existing.first() {
        let age = now.signed_duration_since(newest.taken_at);
        if age >= chrono::Duration::zero() && age.to_std().is_ok_and(|a| a < policy.min_interval) {
            tracing::info!(backup = %newest.path.display(), "skipping the backup: the newest is younger than the minimum interval");
            return Ok(None);
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::Backup {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    let revision = if revision.is_empty() {
        "base".to_owned()
    } else {
        revision.to_owned()
    };
    let path = dir.join(format!(
        "{}_{}_{revision}{SUFFIX}",
        stem(db_file),
        now.format(STAMP)
    ));
    let literal = path.to_string_lossy().replace('\'', "''");
    db.execute_unprepared(&format!("VACUUM INTO '{literal}'"))
        .await
        .map_err(|e| Error::Backup {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if let Err(e) = verify(&path).await {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    tracing::info!(backup = %path.display(), "backed up the database before migrating");
    let taken_at = now.with_timezone(&Utc);
    let taken = Backup {
        path,
        taken_at,
        revision,
    };
    let mut all = list_backups(db_file, &dir)?;
    all.retain(|b| b.path != taken.path);
    for old in all.into_iter().skip(policy.keep.saturating_sub(1)) {
        if let Err(e) = std::fs::remove_file(&old.path) {
            tracing::warn!(backup = %old.path.display(), error = %e, "could not prune an old backup");
        }
    }
    Ok(Some(taken))
}

/// Runs `PRAGMA integrity_check` on a backup file.
///
/// # Errors
/// [`Error::Backup`] when it cannot be opened or is not `ok`.
pub async fn verify(path: &Path) -> Result<()> {
    let fail = |reason: String| Error::Backup {
        path: path.to_owned(),
        reason,
    };
    let mut opts = sea_orm::ConnectOptions::new(format!("sqlite://{}?mode=ro", path.display()));
    opts.max_connections(1).sqlx_logging(false);
    let conn = sea_orm::Database::connect(opts)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .context(|| format!("checking {}", path.display()))?;
    let _ = conn.close().await;
    let verdict: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    if verdict == ["ok"] {
        Ok(())
    } else {
        Err(fail(format!("integrity_check says {}", verdict.join("; "))))
    }
}

/// Replaces the SQLite file `db_file` with `backup` (the newest backup of it when `None`), after
/// verifying the backup. The database must not be open: close every handle first. The old
/// file's `-wal` and `-shm` companions are removed; the swap is a rename, so a crash leaves
/// either the old or the restored database. Returns the backup used.
///
/// # Errors
/// [`Error::Backup`] when there is no backup, it does not verify, or a file operation fails.
pub async fn restore(
    db_file: &Path,
    backup: Option<&Path>,
    policy: &BackupPolicy,
) -> Result<PathBuf> {
    let chosen = match backup {
        Some(p) => p.to_owned(),
        None => list_backups(db_file, &backup_dir(db_file, policy))?
            .into_iter()
            .next()
            .map(|b| b.path)
            .ok_or_else(|| Error::Backup {
                path: backup_dir(db_file, policy),
                reason: "there is no backup of this database".into(),
            })?,
    };
    verify(&chosen).await?;
    let io = |path: &Path, e: std::io::Error| Error::Backup {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let staging = db_file.with_extension("restoring");
    std::fs::copy(&chosen, &staging).map_err(|e| io(&staging, e))?;
    std::fs::File::open(&staging)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&staging, e))?;
    for companion in ["-wal", "-shm"] {
        let mut p = db_file.as_os_str().to_owned();
        p.push(companion);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
        }
    }
    std::fs::rename(&staging, db_file).map_err(|e| io(db_file, e))?;
    tracing::info!(backup = %chosen.display(), database = %db_file.display(), "restored");
    Ok(chosen)
}

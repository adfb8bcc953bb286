//! Consistent SQLite backups before migrating, with retention, and restore.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use db_core::{Database, SqliteLocation};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::{Error, Result};

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
    /// No second backup is taken within this time of the newest one (default 60 s) when that
    /// one holds the same revision and the database was not written since.
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

/// Whether the database file or its write-ahead log was modified at or after `backup` was
/// written (when a time cannot be read: yes).
fn written_since(db_file: &Path, backup: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(taken) = modified(backup) else {
        return true;
    };
    let mut wal = db_file.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    match modified(db_file) {
        None => true,
        Some(db) => db >= taken || (wal.exists() && modified(&wal).is_none_or(|w| w >= taken)),
    }
}

/// Takes a consistent copy of the SQLite database with `VACUUM INTO` (safe in WAL mode, unlike
/// a file copy), names it `<name>_<UTC timestamp>_<revision>.sqlite3.backup`, verifies it with
/// `PRAGMA integrity_check`, then prunes older backups to `policy.keep`. Returns `None`, taking
/// nothing, only when the newest backup is younger than `policy.min_interval`, holds the same
/// `revision` and the database (file or write-ahead log) was not written since it was taken:
/// a backup of other data never stands in for the one a migration needs.
///
/// The copy is written under a temporary name (`….sqlite3.backup.partial-<pid>`) and renamed
/// into place only once verified, so a failed or killed backup never counts as one: it is not
/// listed, does not hold back the next backup, and is never restored. Partial files of dead
/// processes are removed first.
///
/// # Errors
/// [`Error::NotASqliteFile`]; [`Error::Backup`] when the copy fails or does not verify (the
/// partial copy is removed).
pub async fn backup(
    db: &Database,
    policy: &BackupPolicy,
    revision: &str,
    clock: &dyn Clock,
) -> Result<Option<Backup>> {
    let db_file = sqlite_file(db)?;
    let dir = backup_dir(db_file, policy);
    remove_partial_backups(db_file, &dir);
    remove_partial_restores(db_file);
    let now = clock.now();
    let existing = list_backups(db_file, &dir)?;
    let revision = if revision.is_empty() {
        "base".to_owned()
    } else {
        revision.to_owned()
    };
    if let Some(newest) = existing.first() {
        let age = now.signed_duration_since(newest.taken_at);
        let young =
            age >= chrono::Duration::zero() && age.to_std().is_ok_and(|a| a < policy.min_interval);
        // The newest only stands in for a new backup when it holds what a new one would.
        let same_revision = newest.revision == revision;
        let unchanged = same_revision && !written_since(db_file, &newest.path);
        if young && unchanged {
            tracing::info!(backup = %newest.path.display(), "skipping the backup: the newest is younger than the minimum interval, holds the same revision and nothing was written since");
            return Ok(None);
        }
        if young {
            tracing::info!(backup = %newest.path.display(), "taking a backup although the newest is younger than the minimum interval: {}", if same_revision { "the database was written since" } else { "it holds another revision" });
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::Backup {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    let path = dir.join(format!(
        "{}_{}_{revision}{SUFFIX}",
        stem(db_file),
        now.format(STAMP)
    ));
    let partial = partial_name(&path, std::process::id());
    let literal = partial.to_string_lossy().replace('\'', "''");
    let written = db
        .execute_unprepared(&format!("VACUUM INTO '{literal}'"))
        .await
        .map_err(|e| Error::Backup {
            path: path.clone(),
            reason: db_core::describe_db_err(&e),
        });
    let verified = match written {
        Ok(_) => verify(&partial).await,
        Err(e) => Err(e),
    };
    let placed = verified.and_then(|()| {
        std::fs::rename(&partial, &path).map_err(|e| Error::Backup {
            path: path.clone(),
            reason: format!("cannot move the verified copy into place: {e}"),
        })
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    sync_dir(&dir);
    tracing::info!(backup = %path.display(), "backed up the database");
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

const PARTIAL: &str = ".partial-";

/// The temporary name a backup is written under by process `pid`.
fn partial_name(path: &Path, pid: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!("{PARTIAL}{pid}"));
    PathBuf::from(name)
}

/// Removes partial backups of `db_file` in `dir` whose writing process is gone (killed during
/// `VACUUM INTO`, or the machine lost power).
fn remove_partial_backups(db_file: &Path, dir: &Path) {
    let prefix = format!("{}_", stem(db_file));
    let marker = format!("{SUFFIX}{PARTIAL}");
    remove_dead_partials(dir, |name| {
        name.strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(&marker))
            .map(|(_, tail)| tail)
    });
}

/// Removes the staging copies of restores of `db_file` (`<db>.partial-<pid>`) whose process
/// is gone: a restore killed or failed for lack of space must not leave a full-size file that
/// makes the next backup fail.
fn remove_partial_restores(db_file: &Path) {
    if let (Some(dir), Some(name)) = (db_file.parent(), db_file.file_name()) {
        let prefix = format!("{}{PARTIAL}", name.to_string_lossy());
        remove_dead_partials(dir, |n| n.strip_prefix(&prefix));
    }
}

/// Removes the files of `dir` that `tail_of` recognises as written by a process that is gone:
/// it returns what follows `.partial-` (the pid, perhaps followed by SQLite's `-journal`).
fn remove_dead_partials(dir: &Path, tail_of: impl for<'n> Fn(&'n str) -> Option<&'n str>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = tail_of(&name)
            .and_then(|tail| tail.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && process_alive(pid) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {
                tracing::warn!(file = %entry.path().display(), "removed a partial file left by an interrupted run")
            }
            Err(e) => {
                tracing::warn!(file = %entry.path().display(), error = %e, "could not remove a partial file")
            }
        }
    }
}

/// Whether process `pid` still runs (Linux `/proc`; elsewhere every writer counts as gone).
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Flushes a folder's entries (a rename) to disk; best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The 16 bytes every SQLite database file starts with.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Checks that `path` is a SQLite database file that passes `PRAGMA integrity_check`, opening
/// it read-only. A missing, empty or foreign file (wrong header) fails before SQLite opens it:
/// SQLite itself would treat an empty file as an empty database.
///
/// # Errors
/// [`Error::Backup`] saying which check failed.
pub async fn verify(path: &Path) -> Result<()> {
    let conn = open_read_only(path).await?;
    let result = integrity_check(&conn, path).await;
    let _ = conn.close().await;
    result
}

async fn integrity_check(conn: &sea_orm::DatabaseConnection, path: &Path) -> Result<()> {
    let fail = |reason: String| Error::Backup {
        path: path.to_owned(),
        reason,
    };
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .map_err(|e| {
            fail(format!(
                "integrity_check failed: {}",
                db_core::describe_db_err(&e)
            ))
        })?;
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

/// Opens `path` read-only after checking it is a non-empty file with SQLite's header.
async fn open_read_only(path: &Path) -> Result<sea_orm::DatabaseConnection> {
    use std::io::Read;
    let fail = |reason: String| Error::Backup {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file".into()));
    }
    if meta.len() == 0 {
        return Err(fail("is empty (0 bytes), not a SQLite database".into()));
    }
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|_| {
            fail(format!(
                "is too short ({} bytes) to be a SQLite database",
                meta.len()
            ))
        })?;
    if &header != SQLITE_HEADER {
        return Err(fail(
            "is not a SQLite database (its header is not `SQLite format 3`)".into(),
        ));
    }
    // A file URL (the name is replaced below): a `:memory:` URL would ignore the filename.
    let mut opts = sea_orm::ConnectOptions::new("sqlite://placeholder.sqlite3".to_owned());
    let file = path.to_owned();
    opts.max_connections(1).sqlx_logging(false);
    opts.map_sqlx_sqlite_opts(move |o| o.filename(&file).read_only(true).create_if_missing(false));
    sea_orm::Database::connect(opts)
        .await
        .map_err(|e| fail(format!("cannot open it: {}", db_core::describe_db_err(&e))))
}

/// Where [`Migrator::restore`](crate::Migrator::restore) takes its backup from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// The file to restore; `None` takes the newest backup (in `policy.dir` or beside the
    /// database) that passes every check.
    pub backup: Option<PathBuf>,
    /// Where backups live.
    pub policy: BackupPolicy,
    /// Restore a file without the version table, or at a revision these migrations do not
    /// know (`restore --force`); it must still be a SQLite file that passes `integrity_check`.
    pub force: bool,
}

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The backup that was restored.
    pub backup: PathBuf,
    /// The database file that now holds it (symbolic links resolved).
    pub database: PathBuf,
    /// The version-table rows of the restored database.
    pub revisions: Vec<String>,
    /// Where the replaced database was kept (`<file>.before-restore-<UTC timestamp>`); `None`
    /// when there was no database file.
    pub previous: Option<PathBuf>,
}

/// Whether a restore candidate's version-table rows (`None`: no version table) may be
/// restored; `Err` says why not.
pub(crate) type CandidateCheck<'a> =
    dyn Fn(Option<&[String]>) -> std::result::Result<(), String> + Sync + 'a;

/// The restore procedure; `check` sees each candidate's version-table rows (`None`: no version
/// table) and says whether it may be restored.
pub(crate) async fn restore_with(
    db_file: &Path,
    options: &RestoreOptions,
    table: &crate::VersionTable,
    check: &CandidateCheck<'_>,
) -> Result<Restored> {
    let real = db_core::canonical_file_path(db_file);
    let _claim = db_core::claim_sqlite_file(&real)?;
    let (chosen, revisions) = match &options.backup {
        Some(p) => {
            let revisions = inspect(p, &real, table, check).await?;
            (p.clone(), revisions)
        }
        None => {
            let dir = backup_dir(db_file, &options.policy);
            let candidates = list_backups(db_file, &dir)?;
            if candidates.is_empty() {
                return Err(Error::Backup {
                    path: dir,
                    reason: "there is no backup of this database".into(),
                });
            }
            let mut first_error = None;
            let mut found = None;
            for b in candidates {
                match inspect(&b.path, &real, table, check).await {
                    Ok(revisions) => {
                        found = Some((b.path, revisions));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(backup = %b.path.display(), error = %e, "skipping a backup that does not verify");
                        first_error.get_or_insert(e);
                    }
                }
            }
            match found {
                Some(f) => f,
                None => {
                    return Err(first_error.unwrap_or_else(|| Error::Backup {
                        path: dir,
                        reason: "no backup of this database verifies".into(),
                    }));
                }
            }
        }
    };
    let previous = swap_in(&real, &chosen).await?;
    tracing::info!(backup = %chosen.display(), database = %real.display(), "restored");
    Ok(Restored {
        backup: chosen,
        database: real,
        revisions,
        previous,
    })
}

/// Verifies a restore candidate: a SQLite file (not the database itself) that passes
/// `integrity_check`, then `check` on its version-table rows. Returns the rows.
async fn inspect(
    candidate: &Path,
    real: &Path,
    table: &crate::VersionTable,
    check: &CandidateCheck<'_>,
) -> Result<Vec<String>> {
    let fail = |reason: String| Error::Backup {
        path: candidate.to_owned(),
        reason,
    };
    if db_core::canonical_file_path(candidate) == real {
        return Err(fail("is the database itself".into()));
    }
    let conn = open_read_only(candidate).await?;
    let result = async {
        integrity_check(&conn, candidate).await?;
        let rows = if table
            .table_exists(&conn, &table.name)
            .await
            .map_err(|e| fail(db_core::describe_db_err(&e)))?
        {
            Some(table.read_heads_unchecked(&conn).await.map_err(|e| {
                fail(format!(
                    "cannot read its version table: {}",
                    db_core::describe_db_err(&e)
                ))
            })?)
        } else {
            None
        };
        check(rows.as_deref()).map_err(&fail)?;
        Ok(rows.unwrap_or_default())
    }
    .await;
    let _ = conn.close().await;
    result
}

/// Puts a copy of `backup` in place of `real` by an atomic rename, while holding an exclusive
/// lock on the current database (which fails when any other connection has it open), keeping
/// the current file as `<real>.before-restore-<ts>`. Returns that file.
async fn swap_in(real: &Path, backup: &Path) -> Result<Option<PathBuf>> {
    let io = |path: &Path, what: &str, e: std::io::Error| Error::Backup {
        path: path.to_owned(),
        reason: format!("{what}: {e}"),
    };
    let lock = if real.exists() {
        Some(lock_exclusively(real).await?)
    } else {
        None
    };
    remove_partial_restores(real);
    let result = async {
        let staging = partial_name(real, std::process::id());
        if let Err(e) = std::fs::copy(backup, &staging) {
            // A copy cut short (the disk is full) is not left behind to fill it further.
            let _ = std::fs::remove_file(&staging);
            return Err(io(&staging, "cannot copy the backup", e));
        }
        let synced = std::fs::File::open(&staging)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&staging, "cannot write the copy to disk", e));
        if let Err(e) = synced {
            let _ = std::fs::remove_file(&staging);
            return Err(e);
        }
        let previous = if lock.is_some() {
            let kept = before_restore_name(real);
            if let Err(e) =
                std::fs::hard_link(real, &kept).or_else(|_| std::fs::copy(real, &kept).map(|_| ()))
            {
                let _ = std::fs::remove_file(&staging);
                return Err(io(&kept, "cannot keep the current database", e));
            }
            Some(kept)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&staging, real) {
            let _ = std::fs::remove_file(&staging);
            if let Some(kept) = &previous {
                let _ = std::fs::remove_file(kept);
            }
            return Err(io(real, "cannot move the restored copy into place", e));
        }
        for companion in ["-wal", "-shm"] {
            let mut p = real.as_os_str().to_owned();
            p.push(companion);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        if let Some(dir) = real.parent() {
            sync_dir(dir);
        }
        Ok(previous)
    }
    .await;
    if let Some(conn) = lock {
        let _ = conn.execute_unprepared("ROLLBACK").await;
        let _ = conn.close().await;
    }
    result
}

/// `<real>.before-restore-<UTC timestamp>`, unused.
fn before_restore_name(real: &Path) -> PathBuf {
    let stamp = Utc::now().format(STAMP).to_string();
    let mut n = 0;
    loop {
        let mut name = real.as_os_str().to_owned();
        name.push(format!(".before-restore-{stamp}"));
        if n > 0 {
            name.push(format!("-{n}"));
        }
        let p = PathBuf::from(name);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// A connection holding an exclusive lock on the database file: the journal is switched out of
/// WAL (SQLite refuses while another connection has the database open, so a running service
/// makes the restore fail instead of losing its writes), then `BEGIN EXCLUSIVE`.
async fn lock_exclusively(real: &Path) -> Result<sea_orm::DatabaseConnection> {
    let in_use = |e: sea_orm::DbErr| Error::Backup {
        path: real.to_owned(),
        reason: format!(
            "the database is in use by another connection ({}); stop the service that has it open, then restore",
            db_core::describe_db_err(&e)
        ),
    };
    // A file URL (the name is replaced below): a `:memory:` URL would ignore the filename.
    let mut opts = sea_orm::ConnectOptions::new("sqlite://placeholder.sqlite3".to_owned());
    let file = real.to_owned();
    opts.max_connections(1).sqlx_logging(false);
    opts.map_sqlx_sqlite_opts(move |o| {
        o.filename(&file)
            .create_if_missing(false)
            .busy_timeout(Duration::from_millis(200))
    });
    let conn = sea_orm::Database::connect(opts).await.map_err(in_use)?;
    let locked = async {
        conn.execute_unprepared("PRAGMA journal_mode = DELETE")
            .await?;
        let mode = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode",
            ))
            .await?
            .and_then(|r| r.try_get_by_index::<String>(0).ok())
            .unwrap_or_default();
        if mode.eq_ignore_ascii_case("wal") {
            return Err(sea_orm::DbErr::Custom("database is locked".into()));
        }
        conn.execute_unprepared("BEGIN EXCLUSIVE").await.map(|_| ())
    }
    .await;
    match locked {
        Ok(()) => Ok(conn),
        Err(e) => {
            let _ = conn.close().await;
            Err(in_use(e))
        }
    }
}

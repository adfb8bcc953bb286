//! Opening a database: [`OpenOptions`] (URL, schema, read-only, timeouts), the [`Database`]
//! handle, SQLite URL parsing (`?mode=ro|rw|rwc`), the registry of SQLite files this process
//! has open (keyed by the symlink-free path), and dedicated single-connection pools.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::connect::{connect_server, connect_sqlite_file, connect_sqlite_memory};
use crate::dialect::{Dialect, IdentKind};
use crate::error::{Error, Result};
use crate::migrate::Migrate;
use crate::redact::redact_url;

/// How to open a [`Database`]: the URL, the PostgreSQL schema, read-only or not, and driver
/// settings.
///
/// Built from a URL with [`OpenOptions::new`] or from a named database of a configuration file
/// with [`Config::database`](crate::Config::database). Nothing is checked until
/// [`Database::open`], which refuses a bad URL or schema before connecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    url: String,
    schema: Option<String>,
    busy_timeout: Duration,
    connect_timeout: Duration,
    max_connections: Option<u32>,
    pool: PoolOptions,
    read_only: bool,
    production: bool,
}

/// Connection-pool settings beyond the size (the course platform's SQLAlchemy engine options:
/// `pool_timeout`, `pool_recycle`, `pool_pre_ping`; `pool_size` + `max_overflow` is
/// [`OpenOptions::max_connections`]). Unset fields keep sqlx's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Connections kept open even when idle (default 0).
    pub min_connections: Option<u32>,
    /// How long a query waits for a free connection before failing (default 30 s;
    /// SQLAlchemy's `pool_timeout`).
    pub acquire_timeout: Option<Duration>,
    /// How long an idle connection is kept before it is closed (sqlx's default 10 min).
    pub idle_timeout: Option<Duration>,
    /// How long a connection lives before it is replaced (sqlx's default 30 min; SQLAlchemy's
    /// `pool_recycle`).
    pub max_lifetime: Option<Duration>,
    /// Ping a connection before handing it out, replacing it when the server dropped it
    /// (SQLAlchemy's `pool_pre_ping`; default off).
    pub test_before_acquire: bool,
}

impl OpenOptions {
    /// Options for `url`: `sqlite://path/to/file.sqlite3`, `sqlite::memory:`,
    /// `postgres://user@host/db` or `mysql://user@host/db`.
    ///
    /// A SQLite URL may carry `?mode=ro` (read-only, never created), `?mode=rw` (must exist)
    /// or `?mode=rwc` (the default: created when missing); any other parameter is refused at
    /// open. Server URLs take the driver's parameters, including `sslmode` (PostgreSQL) and
    /// `ssl-mode` (MySQL); without one, a loopback host is reached without TLS and other
    /// hosts with TLS when the server offers it (the `tls-rustls` feature).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            busy_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_connections: None,
            pool: PoolOptions::default(),
            read_only: false,
            production: false,
        }
    }

    /// The PostgreSQL schema to work in: it becomes the connection's `search_path` and holds the
    /// version table; it is created when missing (unless [`read_only`](Self::read_only)). The
    /// name is validated at open (see [`Dialect::validate`]); an empty name is an error, and a
    /// schema for SQLite or MySQL is [`Error::SchemaUnsupported`].
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// How long a SQLite statement waits for another writer's lock before failing with
    /// `database is locked` (default 30 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How long opening a server database waits for its first connection (default 5 s); past
    /// it, [`Error::Connect`] names the cause (`connection refused`, a timeout, …).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest number of pooled connections (sqlx's default when unset; always 1 for an
    /// in-memory SQLite database).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// The pool settings beyond its size (see [`PoolOptions`]).
    #[must_use]
    pub fn pool(mut self, pool: PoolOptions) -> Self {
        self.pool = pool;
        self
    }

    /// The pool settings.
    #[must_use]
    pub fn pool_options(&self) -> &PoolOptions {
        &self.pool
    }

    /// Opens for reading only: a missing SQLite file or PostgreSQL schema is an error instead
    /// of being created, SQLite opens the file read-only (no folder, no journal-mode change, no
    /// write access needed) and PostgreSQL sessions default to read-only transactions. Also
    /// set by a SQLite URL's `?mode=ro`.
    #[must_use]
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Marks the database as production (`production = true` in its configuration section):
    /// development routines that destroy or invent data (the migrator's `seed` and `reset`)
    /// refuse to run against it unless forced. Changes nothing else.
    #[must_use]
    pub fn production(mut self, production: bool) -> Self {
        self.production = production;
        self
    }

    /// Whether the database is marked as production (see [`production`](Self::production)).
    #[must_use]
    pub fn is_production(&self) -> bool {
        self.production
    }

    /// The URL as given.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PostgreSQL schema, if one was set.
    #[must_use]
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Whether the database is opened read-only ([`read_only`](Self::read_only) or a SQLite
    /// URL's `?mode=ro`).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only || sqlite_mode(&self.url) == Some(SqliteMode::Ro)
    }

    #[cfg(feature = "sqlite")]
    pub(crate) fn busy_timeout_duration(&self) -> Duration {
        self.busy_timeout
    }

    pub(crate) fn connect_timeout_duration(&self) -> Duration {
        self.connect_timeout
    }

    /// The backend the URL's scheme names.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for any other scheme.
    pub fn backend(&self) -> Result<DbBackend> {
        backend_of(&self.url)
    }

    /// Checks everything that can be checked without connecting: the scheme, a SQLite URL's
    /// parameters, the schema's name and that the backend has schemas.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`], [`Error::InvalidUrl`], [`Error::InvalidIdentifier`] or
    /// [`Error::SchemaUnsupported`].
    pub fn validate(&self) -> Result<DbBackend> {
        let backend = self.backend()?;
        let dialect = Dialect::of(backend)?;
        if dialect.is_embedded() {
            parse_sqlite_url(&self.url)?;
        }
        if let Some(schema) = &self.schema {
            if !dialect.has_schemas() {
                return Err(Error::SchemaUnsupported {
                    schema: schema.clone(),
                    backend: dialect.name(),
                });
            }
            dialect.validate(IdentKind::Schema, schema)?;
        }
        Ok(backend)
    }
}

/// Where a SQLite database lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A file (the path as given in the URL, relative to the working directory).
    File(PathBuf),
    /// A private in-memory database (`sqlite::memory:`), held by a single connection.
    Memory,
}

/// A SQLite URL's `mode` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SqliteMode {
    /// `mode=ro`: read-only, never created.
    Ro,
    /// `mode=rw`: writable, must exist.
    Rw,
    /// `mode=rwc`: created when missing (the default).
    Rwc,
}

/// An open database: a sea-orm connection pool plus what was learned when opening it.
///
/// On SQLite at most one `Database` per file exists in a process (as openmodule asserts); a
/// second [`Database::open`] of the same file fails with [`Error::AlreadyOpen`] until the first
/// is dropped. `Database` implements sea-orm's [`ConnectionTrait`], so queries and entities
/// work on it directly; [`Database::transaction`] runs a scope.
#[derive(Debug)]
pub struct Database {
    conn: DatabaseConnection,
    options: OpenOptions,
    backend: DbBackend,
    dialect: Dialect,
    sqlite: Option<SqliteLocation>,
    _file_guard: Option<OpenFileGuard>,
}

impl Database {
    /// Opens the database `options` describe.
    ///
    /// SQLite files get the device defaults: the folder is created, WAL journal,
    /// `foreign_keys=ON`, `synchronous=NORMAL` and the busy timeout. PostgreSQL gets the
    /// configured schema as `search_path`, created if missing. Read-only options create
    /// nothing and write nothing. A server that gives no connection within the connect timeout
    /// (default 5 s) is an error naming the cause.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`], [`Error::InvalidUrl`], [`Error::InvalidIdentifier`],
    /// [`Error::SchemaUnsupported`] (all before connecting), [`Error::AlreadyOpen`],
    /// [`Error::DatabaseMissing`], [`Error::CreateFolder`], [`Error::Connect`],
    /// [`Error::SchemaMissing`] or [`Error::CreateSchema`].
    pub async fn open(options: OpenOptions) -> Result<Self> {
        // Every message of this process hides the URL's password from now on.
        crate::redact::remember_secrets(options.url());
        let backend = options.validate().map_err(Error::scrubbed)?;
        if Dialect::of(backend)?.is_embedded() {
            Self::open_sqlite(options).await
        } else {
            Self::open_server(options, backend).await
        }
        .map_err(Error::scrubbed)
    }

    /// Opens `url` with default options; see [`Database::open`].
    ///
    /// # Errors
    /// As [`Database::open`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(OpenOptions::new(url)).await
    }

    /// Opens the database and brings its schema to head with `migrator` before returning it
    /// (openmodule: "the database is always automatically migrated on creation").
    ///
    /// # Errors
    /// As [`Database::open`], or [`Error::Migrate`] with the migrator's error as source; the
    /// handle is closed again in that case.
    pub async fn open_migrated(options: OpenOptions, migrator: &dyn Migrate) -> Result<Self> {
        let db = Self::open(options).await?;
        if let Err(e) = migrator.migrate(&db).await {
            let _ = db.conn.close_by_ref().await;
            return Err(Error::Migrate(e));
        }
        Ok(db)
    }

    /// The sea-orm connection pool.
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// The backend's rules: identifier quoting, catalog queries, locks.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The options it was opened with.
    #[must_use]
    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// Whether it was opened read-only.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.options.is_read_only()
    }

    /// The PostgreSQL schema in use, if any.
    #[must_use]
    pub fn schema(&self) -> Option<&str> {
        self.options.schema.as_deref()
    }

    /// Where the SQLite database lives; `None` on other backends.
    #[must_use]
    pub fn sqlite_location(&self) -> Option<&SqliteLocation> {
        self.sqlite.as_ref()
    }

    /// Whether [`dedicated_connection`](Self::dedicated_connection) returns this pool itself
    /// (an in-memory SQLite database, or a server pool of one connection): the caller must
    /// then not close what it gets.
    #[must_use]
    pub fn is_single_session(&self) -> bool {
        match &self.sqlite {
            Some(SqliteLocation::Memory) => true,
            Some(SqliteLocation::File(_)) => false,
            None => self.options.max_connections == Some(1),
        }
    }

    /// A new pool of exactly one connection to the same database, with the same settings, for
    /// work that needs one session: advisory locks, or SQLite pragmas that must be set outside a
    /// transaction. With [`ForeignKeys::Off`] a SQLite connection opens with
    /// `foreign_keys=OFF` (the servers ignore it). An in-memory SQLite database has a single
    /// connection already: that pool is returned, and the caller switches pragmas itself; so is
    /// a server pool opened with [`OpenOptions::max_connections`]`(1)` (one session, never
    /// recycled), which saves a second connection.
    ///
    /// # Errors
    /// [`Error::Connect`].
    pub async fn dedicated_connection(
        &self,
        foreign_keys: ForeignKeys,
    ) -> Result<DatabaseConnection> {
        let sqlite_foreign_keys = foreign_keys == ForeignKeys::On;
        match &self.sqlite {
            Some(SqliteLocation::Memory) => Ok(self.conn.clone()),
            Some(SqliteLocation::File(path)) => {
                connect_sqlite_file(&self.options, path, 1, sqlite_foreign_keys, false).await
            }
            // A server pool of one connection (kept open: no idle timeout, no lifetime) is
            // already dedicated: one session for every statement.
            None if self.options.max_connections == Some(1) => Ok(self.conn.clone()),
            None => connect_server(&self.options, self.backend, Some(1)).await,
        }
    }

    /// Closes every pooled connection; a SQLite file may then be opened again.
    ///
    /// # Errors
    /// The driver's error when closing fails.
    pub async fn close(self) -> Result<()> {
        self.conn.close_by_ref().await.map_err(Error::from)
    }

    async fn open_sqlite(options: OpenOptions) -> Result<Self> {
        let (location, mode) = parse_sqlite_url(&options.url)?;
        let read_only = options.is_read_only();
        let create = !read_only && mode != Some(SqliteMode::Rw);
        let (conn, guard) = match &location {
            SqliteLocation::Memory => (connect_sqlite_memory(&options).await?, None),
            SqliteLocation::File(path) => {
                if !create && !path.exists() {
                    return Err(Error::DatabaseMissing { path: path.clone() });
                }
                if create && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| Error::CreateFolder {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                let mut guard = OpenFileGuard::acquire(path)?;
                let max = options.max_connections.unwrap_or(4);
                let conn = connect_sqlite_file(&options, path, max, true, create).await?;
                guard.register_inode(path);
                (conn, Some(guard))
            }
        };
        Ok(Self {
            conn,
            backend: DbBackend::Sqlite,
            dialect: Dialect::Sqlite,
            options,
            sqlite: Some(location),
            _file_guard: guard,
        })
    }

    async fn open_server(options: OpenOptions, backend: DbBackend) -> Result<Self> {
        let conn = connect_server(&options, backend, options.max_connections).await?;
        let db = Self {
            conn,
            backend,
            dialect: Dialect::of(backend)?,
            options,
            sqlite: None,
            _file_guard: None,
        };
        if let Some(schema) = db.options.schema.as_deref() {
            let dialect = db.dialect();
            let exists = dialect
                .schema_exists(&db.conn, schema)
                .await
                .map_err(|source| Error::Connect {
                    url: redact_url(&db.options.url),
                    source,
                })?;
            if !exists && db.is_read_only() {
                return Err(Error::SchemaMissing {
                    schema: schema.to_owned(),
                });
            }
            if !exists {
                let quoted = dialect.quote(IdentKind::Schema, schema)?;
                db.conn
                    .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
                    .await
                    .map_err(|source| Error::CreateSchema {
                        schema: schema.to_owned(),
                        source,
                    })?;
            }
        }
        Ok(db)
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Database {
    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.conn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.conn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.conn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}

/// Whether a SQLite connection enforces foreign keys (`PRAGMA foreign_keys`), for
/// [`Database::dedicated_connection`]. Migrations turn them off: a table rebuild drops and
/// re-creates a parent table, which with them on would cascade into its children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForeignKeys {
    /// Enforced (what every other connection of this crate uses).
    On,
    /// Not enforced; the caller checks with `PRAGMA foreign_key_check` before committing.
    Off,
}

fn backend_of(url: &str) -> Result<DbBackend> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let dialect = Dialect::from_scheme(&scheme).ok_or_else(|| Error::UnsupportedUrl {
        url: redact_url(url),
    })?;
    if dialect.enabled() {
        Ok(dialect.backend())
    } else {
        Err(Error::UnsupportedUrl {
            url: redact_url(url),
        })
    }
}

/// The location a `sqlite:` URL names: `sqlite::memory:` / `sqlite://:memory:` or a file path
/// (`sqlite://rel/path`, `sqlite:///abs/path`, `sqlite:rel/path`). Parameters (`?mode=ro`) are
/// not part of the location; [`Database::open`] checks them.
#[must_use]
pub fn sqlite_location(url: &str) -> SqliteLocation {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        SqliteLocation::Memory
    } else {
        SqliteLocation::File(PathBuf::from(path))
    }
}

/// The location and `mode` of a SQLite URL; any parameter but `mode=ro|rw|rwc` is an error, so
/// nothing a user wrote is silently ignored.
fn parse_sqlite_url(url: &str) -> Result<(SqliteLocation, Option<SqliteMode>)> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: redact_url(url),
        reason,
    };
    let location = sqlite_location(url);
    let Some((_, query)) = url.split_once('?') else {
        return Ok((location, None));
    };
    let mut mode = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "mode" {
            return Err(invalid(format!(
                "unknown parameter `{key}`; a SQLite URL takes only `mode=ro`, `mode=rw` or `mode=rwc`"
            )));
        }
        let parsed = match value {
            "ro" => SqliteMode::Ro,
            "rw" => SqliteMode::Rw,
            "rwc" => SqliteMode::Rwc,
            other => {
                return Err(invalid(format!(
                    "`mode={other}` is not a SQLite mode; use `ro` (read-only), `rw` (must exist) or `rwc` (created when missing)"
                )));
            }
        };
        if mode.is_some_and(|m| m != parsed) {
            return Err(invalid(
                "`mode` is given twice with different values".into(),
            ));
        }
        mode = Some(parsed);
    }
    if location == SqliteLocation::Memory && mode.is_some() {
        return Err(invalid(
            "an in-memory database takes no `mode`; it is always private and writable".into(),
        ));
    }
    Ok((location, mode))
}

fn sqlite_mode(url: &str) -> Option<SqliteMode> {
    if !Dialect::of(backend_of(url).ok()?).ok()?.is_embedded() {
        return None;
    }
    parse_sqlite_url(url).ok()?.1
}

/// A claim on a SQLite file in this process's registry of open files, as a [`Database`] holds
/// one: while it lives, [`Database::open`] of the file (by any path, symbolic links resolved)
/// fails with [`Error::AlreadyOpen`]. Tools that replace the file (a restore) hold one.
#[derive(Debug)]
pub struct SqliteFileClaim {
    _guard: OpenFileGuard,
}

/// Claims `path` (see [`SqliteFileClaim`]).
///
/// # Errors
/// [`Error::AlreadyOpen`] when a [`Database`] of this process has the file open.
pub fn claim_sqlite_file(path: &Path) -> Result<SqliteFileClaim> {
    Ok(SqliteFileClaim {
        _guard: OpenFileGuard::acquire(path)?,
    })
}

/// Registration of a SQLite file in the process-wide set of open files; removed on drop. A
/// file is known by its symlink-free path and, once it exists, by its device and inode, so
/// that a hard link to an open file is refused too.
#[derive(Debug)]
struct OpenFileGuard {
    keys: Vec<FileKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum FileKey {
    Path(PathBuf),
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
}

fn open_files() -> &'static Mutex<HashSet<FileKey>> {
    static OPEN: OnceLock<Mutex<HashSet<FileKey>>> = OnceLock::new();
    OPEN.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The device and inode of an existing file.
fn inode_key(path: &Path) -> Option<FileKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| FileKey::Inode(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

impl OpenFileGuard {
    fn acquire(path: &Path) -> Result<Self> {
        let key = canonical_file_path(path);
        let mut keys = vec![FileKey::Path(key.clone())];
        keys.extend(inode_key(&key));
        let mut open = open_files()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if keys.iter().any(|k| open.contains(k)) {
            return Err(Error::AlreadyOpen { path: key });
        }
        open.extend(keys.iter().cloned());
        Ok(Self { keys })
    }

    /// Adds the file's inode once it exists (a file created by this open).
    fn register_inode(&mut self, path: &Path) {
        if self.keys.len() > 1 {
            return;
        }
        if let Some(inode) = inode_key(path) {
            let mut open = open_files()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if open.insert(inode.clone()) {
                self.keys.push(inode);
            }
        }
    }
}

impl Drop for OpenFileGuard {
    fn drop(&mut self) {
        let mut open = open_files()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in &self.keys {
            open.remove(key);
        }
    }
}

/// The absolute, symlink-free path of a file that may not exist yet: symbolic links are
/// followed on the file itself (also a dangling one, whose target is created on open), then the
/// folder is canonicalised. Two paths to one file give one path.
#[must_use]
pub fn canonical_file_path(path: &Path) -> PathBuf {
    let mut path = path.to_owned();
    // Follow the file's own links (a bounded number, as the kernel does: 40).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => match std::fs::read_link(&path) {
                Ok(target) => {
                    let base = path.parent().map(Path::to_owned).unwrap_or_default();
                    path = base.join(target);
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::{SqliteLocation, sqlite_location};
    use std::path::PathBuf;

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_location("sqlite::memory:"), SqliteLocation::Memory);
        assert_eq!(sqlite_location("sqlite://:memory:"), SqliteLocation::Memory);
        assert_eq!(
            sqlite_location("sqlite://data/x.sqlite3?mode=rwc"),
            SqliteLocation::File(PathBuf::from("data/x.sqlite3"))
        );
        assert_eq!(
            sqlite_location("sqlite:///abs/x.sqlite3"),
            SqliteLocation::File(PathBuf::from("/abs/x.sqlite3"))
        );
    }
}

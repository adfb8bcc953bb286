use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::error::{Error, Result, redact_url};
use crate::migrate::Migrate;

/// How to open a [`Database`]: the URL, the PostgreSQL schema and driver settings.
///
/// Built from a URL with [`OpenOptions::new`] or from a named database of a configuration file
/// with [`Config::database`](crate::Config::database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    url: String,
    schema: Option<String>,
    busy_timeout: Duration,
    max_connections: Option<u32>,
}

impl OpenOptions {
    /// Options for `url`: `sqlite://path/to/file.sqlite3`, `sqlite::memory:`,
    /// `postgres://user@host/db` or `mysql://user@host/db`.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            busy_timeout: Duration::from_secs(30),
            max_connections: None,
        }
    }

    /// The PostgreSQL schema to work in: it becomes the connection's `search_path` and holds the
    /// version table; it is created when missing. Ignored on SQLite and MySQL.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into()).filter(|s| !s.is_empty());
        self
    }

    /// How long a SQLite statement waits for another writer's lock before failing with
    /// `database is locked` (default 30 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The largest number of pooled connections (sqlx's default when unset; always 1 for an
    /// in-memory SQLite database).
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
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

    /// The backend the URL's scheme names.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`] for any other scheme.
    pub fn backend(&self) -> Result<DbBackend> {
        backend_of(&self.url)
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
    sqlite: Option<SqliteLocation>,
    _file_guard: Option<OpenFileGuard>,
}

impl Database {
    /// Opens the database `options` describe.
    ///
    /// SQLite files get the device defaults: the folder is created, WAL journal,
    /// `foreign_keys=ON`, `synchronous=NORMAL` and the busy timeout. PostgreSQL gets the
    /// configured schema as `search_path`, created if missing.
    ///
    /// # Errors
    /// [`Error::UnsupportedUrl`], [`Error::AlreadyOpen`], [`Error::CreateFolder`] or
    /// [`Error::Connect`].
    pub async fn open(options: OpenOptions) -> Result<Self> {
        let backend = options.backend()?;
        match backend {
            DbBackend::Sqlite => Self::open_sqlite(options).await,
            _ => Self::open_server(options, backend).await,
        }
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

    /// The options it was opened with.
    #[must_use]
    pub fn options(&self) -> &OpenOptions {
        &self.options
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

    /// A new pool of exactly one connection to the same database, with the same settings, for
    /// work that needs one session: advisory locks, or SQLite pragmas that must be set outside a
    /// transaction. With `sqlite_foreign_keys = false` a SQLite connection opens with
    /// `foreign_keys=OFF`. An in-memory SQLite database has a single connection already: that
    /// pool is returned, and the caller switches pragmas itself.
    ///
    /// # Errors
    /// [`Error::Connect`].
    pub async fn dedicated_connection(
        &self,
        sqlite_foreign_keys: bool,
    ) -> Result<DatabaseConnection> {
        match &self.sqlite {
            Some(SqliteLocation::Memory) => Ok(self.conn.clone()),
            Some(SqliteLocation::File(path)) => {
                connect_sqlite_file(&self.options, path, 1, sqlite_foreign_keys).await
            }
            None => connect_server(&self.options, Some(1)).await,
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
        let location = sqlite_location(&options.url);
        let (conn, guard) = match &location {
            SqliteLocation::Memory => (connect_sqlite_memory(&options).await?, None),
            SqliteLocation::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| Error::CreateFolder {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                let guard = OpenFileGuard::acquire(path)?;
                let max = options.max_connections.unwrap_or(4);
                (
                    connect_sqlite_file(&options, path, max, true).await?,
                    Some(guard),
                )
            }
        };
        Ok(Self {
            conn,
            backend: DbBackend::Sqlite,
            options,
            sqlite: Some(location),
            _file_guard: guard,
        })
    }

    async fn open_server(options: OpenOptions, backend: DbBackend) -> Result<Self> {
        let conn = connect_server(&options, options.max_connections).await?;
        if let (DbBackend::Postgres, Some(schema)) = (backend, options.schema.as_deref()) {
            let exists = conn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
                    [schema.into()],
                ))
                .await?
                .is_some();
            if !exists {
                conn.execute_unprepared(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    quote_ident(schema)
                ))
                .await?;
            }
        }
        Ok(Self {
            conn,
            backend,
            options,
            sqlite: None,
            _file_guard: None,
        })
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

/// `name` as a double-quoted SQL identifier (PostgreSQL and SQLite).
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn backend_of(url: &str) -> Result<DbBackend> {
    let scheme = url
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let backend = match scheme.as_str() {
        "sqlite" => DbBackend::Sqlite,
        "postgres" | "postgresql" => DbBackend::Postgres,
        "mysql" | "mariadb" => DbBackend::MySql,
        _ => {
            return Err(Error::UnsupportedUrl {
                url: redact_url(url),
            });
        }
    };
    let enabled = match backend {
        DbBackend::Sqlite => cfg!(feature = "sqlite"),
        DbBackend::Postgres => cfg!(feature = "postgres"),
        _ => cfg!(feature = "mysql"),
    };
    if enabled {
        Ok(backend)
    } else {
        Err(Error::UnsupportedUrl {
            url: redact_url(url),
        })
    }
}

/// The location a `sqlite:` URL names: `sqlite::memory:` / `sqlite://:memory:` or a file path
/// (`sqlite://rel/path`, `sqlite:///abs/path`, `sqlite:rel/path`); a `?query` is ignored.
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

fn base_connect_options(options: &OpenOptions, url: String) -> sea_orm::ConnectOptions {
    let mut opts = sea_orm::ConnectOptions::new(url);
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(60));
    if let Some(schema) = &options.schema {
        opts.set_schema_search_path(schema.clone());
    }
    opts
}

async fn connect_server(options: &OpenOptions, max: Option<u32>) -> Result<DatabaseConnection> {
    let mut opts = base_connect_options(options, options.url.clone());
    if let Some(max) = max {
        opts.max_connections(max).min_connections(0);
    }
    if max == Some(1) {
        opts.idle_timeout(None).max_lifetime(None);
    }
    sea_orm::Database::connect(opts)
        .await
        .map_err(|source| Error::Connect {
            url: redact_url(&options.url),
            source,
        })
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite_file(
    options: &OpenOptions,
    path: &Path,
    max: u32,
    foreign_keys: bool,
) -> Result<DatabaseConnection> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut opts = base_connect_options(options, format!("sqlite://{}", path.display()));
    let path = path.to_owned();
    let busy = options.busy_timeout;
    opts.max_connections(max).min_connections(0);
    if max == 1 {
        opts.idle_timeout(None).max_lifetime(None);
    }
    opts.map_sqlx_sqlite_opts(move |o| {
        o.filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(foreign_keys)
            .busy_timeout(busy)
    });
    sea_orm::Database::connect(opts)
        .await
        .map_err(|source| Error::Connect {
            url: redact_url(&options.url),
            source,
        })
}

#[cfg(feature = "sqlite")]
async fn connect_sqlite_memory(options: &OpenOptions) -> Result<DatabaseConnection> {
    let mut opts = base_connect_options(options, "sqlite::memory:".to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None);
    opts.map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    sea_orm::Database::connect(opts)
        .await
        .map_err(|source| Error::Connect {
            url: redact_url(&options.url),
            source,
        })
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite_file(
    options: &OpenOptions,
    _path: &Path,
    _max: u32,
    _foreign_keys: bool,
) -> Result<DatabaseConnection> {
    Err(Error::UnsupportedUrl {
        url: redact_url(&options.url),
    })
}

#[cfg(not(feature = "sqlite"))]
async fn connect_sqlite_memory(options: &OpenOptions) -> Result<DatabaseConnection> {
    Err(Error::UnsupportedUrl {
        url: redact_url(&options.url),
    })
}

/// Registration of a SQLite file in the process-wide set of open files; removed on drop.
#[derive(Debug)]
struct OpenFileGuard {
    key: PathBuf,
}

fn open_files() -> &'static Mutex<HashSet<PathBuf>> {
    static OPEN: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    OPEN.get_or_init(|| Mutex::new(HashSet::new()))
}

impl OpenFileGuard {
    fn acquire(path: &Path) -> Result<Self> {
        let key = canonical_file_path(path);
        let mut open = open_files()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !open.insert(key.clone()) {
            return Err(Error::AlreadyOpen { path: key });
        }
        Ok(Self { key })
    }
}

impl Drop for OpenFileGuard {
    fn drop(&mut self) {
        let mut open = open_files()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.remove(&self.key);
    }
}

/// The absolute, symlink-free path of a file that may not exist yet (its folder does).
fn canonical_file_path(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
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

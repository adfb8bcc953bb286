//! Temporary databases for tests: a SQLite file in a temp folder, or a fresh PostgreSQL or
//! MariaDB/MySQL database per test on the local servers, uniquely named so tests run in
//! parallel, and dropped afterwards.
//!
//! [`TestDb::new`] makes one for a [`Backend`]; [`backend_tests!`] writes one test per backend
//! from a single body. Server URLs default to `postgres://postgres@127.0.0.1:5432/postgres`
//! and `mysql://root@127.0.0.1:3306/mysql` and are overridden by `TEST_POSTGRES_URL` and
//! `TEST_MYSQL_URL` (an administrative connection that may create databases). When a server is
//! unreachable the test prints one line saying it was skipped and why, unless `CI` is set: then
//! it fails.
//!
//! ```
//! # async fn demo() {
//! use db_testkit::{Backend, TestDb};
//! use sea_orm::ConnectionTrait;
//!
//! let test_db = TestDb::new(Backend::Sqlite).await.expect("SQLite is always available");
//! let db = test_db.open().await;
//! db.execute_unprepared("CREATE TABLE t (x INTEGER)").await.expect("create");
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo());
//! ```
//!
//! No features: all three backends are always built.

#[cfg(feature = "kvstore")]
pub mod kv;

/// Empties every table but the kept ones, children first (see [`db_core::truncate_all`]).
pub use db_core::truncate_all;

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use db_core::{Database, Dialect, OpenOptions};
use sea_orm::{ConnectOptions, ConnectionTrait};

/// A database backend to test against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A database on the local PostgreSQL server.
    Postgres,
    /// A database on the local MariaDB / MySQL server.
    MySql,
}

impl Backend {
    /// All three backends.
    pub const ALL: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::MySql];

    /// `sqlite`, `postgres` or `mysql`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.dialect().name()
    }

    /// db-core's dialect of this backend.
    #[must_use]
    pub fn dialect(self) -> Dialect {
        match self {
            Self::Sqlite => Dialect::Sqlite,
            Self::Postgres => Dialect::Postgres,
            Self::MySql => Dialect::MySql,
        }
    }

    /// The administrative URL of the server (`None` for SQLite).
    #[must_use]
    pub fn admin_url(self) -> Option<String> {
        match self {
            Self::Sqlite => None,
            Self::Postgres => Some(
                std::env::var("TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
            ),
            Self::MySql => Some(
                std::env::var("TEST_MYSQL_URL")
                    .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".to_owned()),
            ),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A temporary database: a SQLite file or a server database, removed when dropped.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    name: String,
    admin_url: Option<String>,
    dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh, empty database on `backend`. `None` when the server is unreachable and `CI` is
    /// unset (one line on stderr says so).
    ///
    /// # Panics
    /// When the server is unreachable and `CI` is set, or a temporary folder cannot be made:
    /// a test fixture has no better way to fail.
    pub async fn new(backend: Backend) -> Option<Self> {
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let Some(admin_url) = backend.admin_url() else {
            let dir = tempfile::tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}"));
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.sqlite3")).display()
            );
            return Some(Self {
                backend,
                url,
                name,
                admin_url: None,
                dir: Some(dir),
            });
        };
        if let Err(e) = create_database(backend, &admin_url, &name).await {
            let why = format!(
                "{backend} server at {} is not usable: {e}",
                db_core::redact_url(&admin_url)
            );
            if std::env::var_os("CI").is_some() {
                panic!("{why} (CI is set, so every backend is required)");
            }
            eprintln!("skipped: {why} (set CI=1 to make this a failure)");
            return None;
        }
        let url = replace_database(&admin_url, &name);
        Some(Self {
            backend,
            url,
            name,
            admin_url: Some(admin_url),
            dir: None,
        })
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (the file stem on SQLite).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temporary folder of a SQLite database.
    #[must_use]
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Options to open it with db-core.
    #[must_use]
    pub fn options(&self) -> OpenOptions {
        OpenOptions::new(self.url.clone())
    }

    /// Opens it with db-core.
    ///
    /// # Panics
    /// When opening fails.
    pub async fn open(&self) -> Database {
        Database::open(self.options())
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin_url) = self.admin_url.clone() else {
            return;
        };
        let (backend, name) = (self.backend, self.name.clone());
        // Drop runs outside any async context we could borrow: use a thread with its own runtime.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt
                && let Err(e) = rt.block_on(drop_database(backend, &admin_url, &name))
            {
                eprintln!("warning: could not drop test database {name}: {e}");
            }
        });
        let _ = handle.join();
    }
}

async fn admin_connection(admin_url: &str) -> Result<sea_orm::DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(admin_url.to_owned());
    opts.max_connections(1)
        .connect_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    sea_orm::Database::connect(opts).await
}

async fn create_database(
    backend: Backend,
    admin_url: &str,
    name: &str,
) -> Result<(), sea_orm::DbErr> {
    run_admin(admin_url, backend.dialect().create_database_sql(name)).await
}

async fn drop_database(
    backend: Backend,
    admin_url: &str,
    name: &str,
) -> Result<(), sea_orm::DbErr> {
    run_admin(admin_url, backend.dialect().drop_database_sql(name)).await
}

/// Runs `sql` (from the dialect) on a short administrative connection.
async fn run_admin(
    admin_url: &str,
    sql: db_core::Result<Option<String>>,
) -> Result<(), sea_orm::DbErr> {
    let Some(sql) = sql.map_err(|e| sea_orm::DbErr::Custom(e.to_string()))? else {
        return Ok(());
    };
    let conn = admin_connection(admin_url).await?;
    let result = conn.execute_unprepared(&sql).await.map(|_| ());
    let _ = conn.close().await;
    result
}

/// The first column of the first row of `sql`, as an integer (a `COUNT(*)`).
///
/// # Panics
/// When the query fails or returns no integer: a fixture has no better way to fail.
pub async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let stmt = sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned());
    let row = db
        .query_one_raw(stmt)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or_else(|| panic!("{sql}: no integer"))
}

/// The first column of every row of `sql`, as text.
///
/// # Panics
/// When the query fails or a value is not text.
pub async fn strings(db: &impl ConnectionTrait, sql: &str) -> Vec<String> {
    let stmt = sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned());
    let rows = db
        .query_all_raw(stmt)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            r.try_get_by_index::<String>(0)
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
        .collect()
}

/// A text rendering of everything a schema holds — tables, columns with types, nullability
/// and defaults, indexes, and the rows of `alembic_version` — to compare a database before and
/// after an operation ("leaves no trace", "changes nothing"). Sorted, one item per line.
///
/// # Errors
/// The driver's error.
pub async fn schema_snapshot(db: &impl ConnectionTrait) -> Result<String, sea_orm::DbErr> {
    use sea_orm::Statement;
    let backend = db.get_database_backend();
    let queries = Dialect::of(backend)
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .schema_snapshot_sql();
    let mut lines = Vec::new();
    for q in queries {
        for row in db
            .query_all_raw(Statement::from_string(backend, (*q).to_owned()))
            .await?
        {
            lines.push(row.try_get::<String>("", "line")?);
        }
    }
    let has_version = lines.iter().any(|l| {
        l.contains("alembic_version.version_num") || l.starts_with("table alembic_version ")
    });
    if has_version {
        for row in db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT version_num FROM alembic_version ORDER BY version_num".to_owned(),
            ))
            .await?
        {
            lines.push(format!(
                "version {}",
                row.try_get::<String>("", "version_num")?
            ));
        }
    }
    Ok(lines.join("\n"))
}

/// Whether `python3` can import Alembic and the SQLAlchemy driver for `backend` (for tests
/// that hand databases between Alembic and this toolkit). Prints why not and returns `false`
/// when it cannot, unless `CI` is set.
///
/// # Panics
/// When it cannot and `CI` is set: CI installs them (`.ci/run`).
#[must_use]
pub fn alembic_ready(backend: Backend) -> bool {
    let driver = match backend {
        Backend::Sqlite => "sqlite3",
        Backend::Postgres => "psycopg2",
        Backend::MySql => "pymysql",
    };
    let ready = std::process::Command::new("python3")
        .args(["-c", &format!("import alembic, sqlalchemy, {driver}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let why = format!(
            "python3 with alembic and {driver} is not installed (pip install alembic psycopg2-binary pymysql)"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{why}; CI is set, so it is required"
        );
        eprintln!("skipped: {why}");
    }
    ready
}

/// `url` (`sqlite://…`, `postgres://…`, `mysql://…`) as SQLAlchemy spells it.
#[must_use]
pub fn sqlalchemy_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        format!("sqlite:///{rest}")
    } else if let Some(rest) = url.strip_prefix("postgres://") {
        format!("postgresql+psycopg2://{rest}")
    } else if let Some(rest) = url.strip_prefix("mysql://") {
        format!("mysql+pymysql://{rest}")
    } else {
        url.to_owned()
    }
}

/// Runs `python3 -m alembic -c <dir>/alembic.ini ARGS…` and returns its output.
///
/// # Panics
/// When Alembic fails: the test sees its error output.
pub fn alembic(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .args(["-m", "alembic", "-c"])
        .arg(dir.join("alembic.ini"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 does not run: {e}"));
    assert!(
        out.status.success(),
        "alembic {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `url` with its database (the path after the authority) replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Writes one `#[tokio::test]` per backend (`sqlite`, `postgres`, `mysql`) in a module named
/// after each function, all running the same body with a fresh [`TestDb`]:
///
/// ```no_run
/// db_testkit::backend_tests! {
///     async fn creates_a_table(test_db: TestDb) {
///         use sea_orm::ConnectionTrait;
///         let db = test_db.open().await;
///         db.execute_unprepared("CREATE TABLE t (x INTEGER)").await.expect("create");
///     }
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident : TestDb) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports, reason = "a test body may use nothing of the parent module; `expect` would fail where it does")]
                use super::*;

                async fn body($db: $crate::TestDb) $body

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite).await { body(db).await }
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres).await { body(db).await }
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::MySql).await { body(db).await }
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            replace_database("postgres://p@h:5432/postgres", "t1"),
            "postgres://p@h:5432/t1"
        );
        assert_eq!(
            replace_database("mysql://root@h:3306", "t1"),
            "mysql://root@h:3306/t1"
        );
        assert_eq!(
            replace_database("postgres://p@h/x?sslmode=disable", "t"),
            "postgres://p@h/t?sslmode=disable"
        );
    }
}

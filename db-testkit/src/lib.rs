//! Databases for tests: a fresh one per test in milliseconds — cloned from a template
//! migrated once per migration set — or a rolled-back transaction on a shared one, plus
//! fixtures, migration test helpers and ready-made migration checks.
//!
//! [`TestDb`] is one test's database: a SQLite file, or a database on the local PostgreSQL or
//! MariaDB/MySQL server, removed when dropped. [`TestDb::new`] makes an empty one;
//! [`Template`] (or [`TestDb::migrated`]) gives one already at head — a copy of a migrated
//! SQLite file, a `CREATE DATABASE … TEMPLATE` clone on PostgreSQL, a replay of the template's
//! DDL on MariaDB, prepared ahead in the background — and [`Template::isolated`] a transaction
//! on a shared migrated database that is rolled back when the test ends. [`Fixture`]s load
//! data per test or into the template; [`truncate_all`] empties tables children first. The
//! [`checks`] module holds pytest-alembic's checks (single head, upgrade, stairway, downgrade
//! leaves no trace, entities match, no edited migration) and [`MigrationRunner`] steps a
//! migrator up and down. [`backend_tests!`] writes one test per chosen backend from one body.
//! Migrators plug in through db-core's [`MigrationHarness`](db_core::MigrationHarness)
//! (db-migrate's `Migrator` implements it).
//!
//! Server URLs default to `postgres://postgres@127.0.0.1:5432/postgres` and
//! `mysql://root@127.0.0.1:3306/mysql` and are overridden by `TEST_POSTGRES_URL` and
//! `TEST_MYSQL_URL` (an administrative connection that may create databases). When a server is
//! unreachable the test is reported as SKIPPED — a line in `cargo test`'s normal output and a
//! summary when the test binary exits — unless `CI` is set: then it fails.
//!
//! Names: a run's databases and files are `tk_<run>_<n>`; templates `tk_tpl_<key>`. What a
//! crashed or killed run left behind is swept by the next run; lock files, SQLite templates and
//! SQLite test files live under `$TMPDIR/db-testkit` (or `DB_TESTKIT_DIR`).
//!
//! ```
//! # async fn demo() {
//! use db_testkit::{Backend, TestDb};
//! use sea_orm::ConnectionTrait;
//!
//! let test_db = TestDb::new(Backend::Sqlite).await.expect("SQLite is always available");
//! let db = test_db.open().await;
//! db.connection().execute_unprepared("CREATE TABLE t (x INTEGER)").await.expect("create");
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo());
//! ```
//!
//! | feature | what it adds |
//! | --- | --- |
//! | *(none)* | all three backends, templates, checks |
//! | `kvstore` | the `kv` module: `FakeRpcClient` and `FakeKvServer` for db-kvstore |
//! | `nats` | db-kvstore's NATS transport, for tests over the real NATS server |
//! | `mock` | db-kvstore's `MockRpcClient` (mockall) |

pub mod checks;
mod fixture;
mod isolated;
#[cfg(feature = "kvstore")]
pub mod kv;
mod process;
mod seeded;
mod server;
mod template;
mod test_db;

pub use crate::checks::MigrationRunner;
pub use crate::fixture::Fixture;
pub use crate::isolated::Isolated;
pub use crate::process::KillOnDrop;
pub use crate::seeded::{SeededRng, env_number};
pub use crate::template::Template;
pub use crate::test_db::TestDb;
/// Empties every table but the kept ones, children first (see [`db_core::truncate_all`]).
pub use db_core::truncate_all;

use std::fmt;

use db_core::Dialect;
use sea_orm::ConnectionTrait;

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

/// Reports that a test cannot use `backend` (its server at `admin_url` failed with `error`):
/// panics when `CI` is set; otherwise prints a line past the output capture (so it shows in
/// `cargo test`'s normal output), notes the test for the summary at exit, and returns `None`.
pub(crate) fn unusable<T>(
    backend: Backend,
    admin_url: &str,
    error: &dyn fmt::Display,
) -> Option<T> {
    let why = format!(
        "{backend} server at {} is not usable: {error}",
        db_core::redact_url(admin_url)
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} (CI is set, so every backend is required)"
    );
    skip(&format!("{why} (set CI=1 to make this a failure)"));
    None
}

/// Reports the running test as skipped because of `why`: a line past the output capture (so
/// it shows in `cargo test`'s normal output) and an entry in the summary printed when the test
/// binary exits.
pub fn skip(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    server::say(&format!("SKIPPED {test}: {why}"));
    server::WORKER.note_skip(format!("{test}: {why}"));
}

/// Drops now what crashed or killed test runs left behind: on `backend`'s server the databases
/// `tk_<run>_<n>` of runs whose lock file (under `$TMPDIR/db-testkit/runs`) is no longer held,
/// and those runs' SQLite folders. Returns the dropped databases' names. Every process does this
/// once on its own before its first server database; call it from a CI step or a test to do it
/// now.
///
/// # Errors
/// The server is unreachable, or a drop fails.
pub async fn sweep(backend: Backend) -> Result<Vec<String>, sea_orm::DbErr> {
    server::sweep_files_now();
    let Some(admin_url) = backend.admin_url() else {
        return Ok(Vec::new());
    };
    server::WORKER
        .run(async move { server::WORKER.sweep(backend, &admin_url).await })
        .await
}

/// This process's run id (8 hex digits): its databases and files are named `tk_<run>_<n>`.
#[must_use]
pub fn run_id() -> &'static str {
    &server::RUN.id
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
        skip(&why);
    }
    ready
}

/// Runs a driver program (a Python script that replays cases on a reference system, such as
/// Alembic or openmodule) with `request` as JSON on its stdin, and reads one JSON value per
/// line of its stdout. The request is written from a thread of its own, so neither side
/// blocks on a full pipe.
///
/// # Panics
/// When the program cannot start, exits with a failure, or prints a line that is not `T`:
/// the differential test has no reference to compare with.
pub fn json_lines<T: serde::de::DeserializeOwned>(
    command: &mut std::process::Command,
    request: &serde_json::Value,
) -> Vec<T> {
    use std::io::{BufRead, Write};
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let text = request.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let out: Vec<T> = stdout
        .lines()
        .map(|line| {
            let line = line.expect("a line of the driver's output");
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver output: {e}: {line}"))
        })
        .collect();
    writer
        .join()
        .expect("writer")
        .expect("the request was written");
    assert!(
        child.wait().expect("the driver").success(),
        "the driver {command:?} failed"
    );
    out
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

/// Writes one `#[tokio::test]` per backend in a module named after each function, all running
/// the same body. The body takes a fresh empty [`TestDb`] (`name: TestDb`) or the
/// [`Backend`] (`name: Backend`, to make a migrated one with [`Template`]). Without
/// `#[backends(…)]` the tests are `sqlite`, `postgres` and `mysql`; with it, only the named ones.
/// A backend whose server is unreachable reports the test as SKIPPED (see the crate docs).
///
/// ```no_run
/// db_testkit::backend_tests! {
///     async fn creates_a_table(test_db: TestDb) {
///         use sea_orm::ConnectionTrait;
///         let db = test_db.open().await;
///         db.connection().execute_unprepared("CREATE TABLE t (x INTEGER)").await.expect("create");
///     }
///
///     #[backends(sqlite, postgres)]
///     async fn only_two(backend: Backend) {
///         assert_ne!(backend, db_testkit::Backend::MySql);
///     }
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! backend_tests {
    () => {};
    (
        #[backends($($backend:ident),+ $(,)?)]
        async fn $name:ident($arg:ident : $ty:ident) $body:block
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports, reason = "a test body may use nothing of the parent module; `expect` would fail where it does")]
            use super::*;

            async fn body($arg: $crate::$ty) $body

            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $backend() {
                    $crate::__backend_test_run!($ty, $crate::__backend!($backend), body);
                }
            )+
        }
        $crate::backend_tests! { $($rest)* }
    };
    (
        async fn $name:ident($arg:ident : $ty:ident) $body:block
        $($rest:tt)*
    ) => {
        $crate::backend_tests! {
            #[backends(sqlite, postgres, mysql)]
            async fn $name($arg: $ty) $body
            $($rest)*
        }
    };
}

/// The [`Backend`] of a `backend_tests!` name (`sqlite`, `postgres`, `mysql`).
#[doc(hidden)]
#[macro_export]
macro_rules! __backend {
    (sqlite) => {
        $crate::Backend::Sqlite
    };
    (postgres) => {
        $crate::Backend::Postgres
    };
    (mysql) => {
        $crate::Backend::MySql
    };
}

/// Calls a `backend_tests!` body with what its parameter type asks for.
#[doc(hidden)]
#[macro_export]
macro_rules! __backend_test_run {
    (TestDb, $backend:expr, $body:ident) => {
        if let Some(db) = $crate::TestDb::new($backend).await {
            $body(db).await
        }
    };
    (Backend, $backend:expr, $body:ident) => {
        $body($backend).await
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

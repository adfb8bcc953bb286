//! db-migrate's part of each backend, on top of [`db_core::Dialect`]: catalog discovery and
//! type spellings for autogenerate, native `ALTER TABLE` for batch operations, the migration
//! lock, per-step hooks (SQLite's deadline and leftover temporary tables) and offline framing.
//! Each backend's rules live in its own module (`dialect/sqlite.rs`, `dialect/postgres.rs`,
//! `dialect/mysql.rs`); this file only dispatches to them, as `db_core::dialect` does, so the
//! rest of the crate never matches on a backend.

mod mysql;
mod postgres;
mod sqlite;

use std::time::{Duration, Instant};

use db_core::Dialect;
use sea_orm::sea_query::ColumnType;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Value};

use crate::autogenerate::SchemaModel;
use crate::batch::{AlterColumn, BatchAlter};
use crate::error::{DbContext, Error, Result};
use crate::version_table::{LockKey, VersionTable};

/// Every table of the connection's database (of `schema` on PostgreSQL), or only the table
/// named by `only` (a nullable string parameter of the catalog queries).
pub(crate) async fn discover(
    dialect: Dialect,
    db: &impl ConnectionTrait,
    schema: Option<&str>,
    only: Value,
) -> Result<SchemaModel, DbErr> {
    match dialect {
        Dialect::Sqlite => sqlite::discover(db, only).await,
        Dialect::Postgres => postgres::discover(db, schema, only).await,
        Dialect::MySql => mysql::discover(db, only).await,
    }
}

/// The backend's one name for a type whose lower-cased, space-normalised spelling is `base`
/// with arguments `args` (`character varying` + `32` → `varchar(32)` on PostgreSQL).
pub(crate) fn canonical_type_name(dialect: Dialect, base: String, args: Option<String>) -> String {
    match dialect {
        Dialect::Sqlite => sqlite::canonical_type_name(base, args),
        Dialect::Postgres => postgres::canonical_type_name(base, args),
        Dialect::MySql => mysql::canonical_type_name(base, args),
    }
}

/// The sea-query type of a canonical type name that only this backend spells so (`None` for
/// the portable names, which `column_type_of` maps itself); `n(i)` is the i-th numeric
/// argument.
pub(crate) fn column_type(
    dialect: Dialect,
    base: &str,
    n: &dyn Fn(usize) -> Option<u32>,
) -> Option<ColumnType> {
    match dialect {
        Dialect::Sqlite => sqlite::column_type(base),
        Dialect::Postgres => postgres::column_type(base),
        Dialect::MySql => mysql::column_type(base, n),
    }
}

/// The sea-query type of a canonical type nothing else matched: SQLite keeps any declared
/// spelling, so it is looked up among the portable types' SQLite renderings; the servers
/// normalise their catalog types, so there is none.
pub(crate) fn declared_column_type(dialect: Dialect, canonical: &str) -> Option<ColumnType> {
    match dialect {
        Dialect::Sqlite => sqlite::declared_column_type(canonical),
        Dialect::Postgres | Dialect::MySql => None,
    }
}

/// Runs a batch of table alterations: SQLite rebuilds the table (Alembic's "move and copy"),
/// the servers alter it in place.
pub(crate) async fn batch_alter(
    dialect: Dialect,
    db: &impl ConnectionTrait,
    batch: BatchAlter,
) -> Result<(), DbErr> {
    match dialect {
        Dialect::Sqlite => crate::batch::rebuild(db, batch).await,
        Dialect::Postgres => crate::batch::native(db, &postgres::Postgres, batch).await,
        Dialect::MySql => crate::batch::native(db, &mysql::MySql, batch).await,
    }
}

/// The `ALTER TABLE` statements in which PostgreSQL and MySQL differ, for
/// [`crate::batch::native`]. `table` and the other names are unquoted; errors are the
/// driver's, or `DbErr::Migration` naming the table when the thing to drop is missing.
pub(crate) trait NativeAlter {
    /// The backend.
    fn dialect(&self) -> Dialect;
    /// Drops the constraint `name` (whatever its kind).
    async fn drop_constraint(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr>;
    /// Drops the foreign key `name`.
    async fn drop_foreign_key(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr>;
    /// Drops the unique constraint or unique index `name`.
    async fn drop_unique(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr>;
    /// The statement renaming `table` to `to`.
    fn rename_table(&self, table: &str, to: &str) -> String;
    /// Changes the type, nullability or default of `column`.
    async fn alter_column(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        column: &str,
        change: &AlterColumn,
    ) -> Result<(), DbErr>;
}

/// Takes the migration lock of `table` in the session's database: a PostgreSQL advisory lock
/// (waits), MySQL `GET_LOCK` (waits up to `timeout`); SQLite serialises through
/// `BEGIN IMMEDIATE` instead and holds nothing here. Returns the key held, for [`unlock`].
///
/// # Errors
/// [`Error::LockTimeout`] when MySQL's lock stays taken for `timeout`; [`Error::Db`] when the
/// session cannot be read or the lock statement fails.
pub(crate) async fn lock(
    dialect: Dialect,
    conn: &DatabaseConnection,
    table: &VersionTable,
    timeout: Duration,
) -> Result<Option<LockKey>> {
    let key = |dialect: Dialect| async move {
        let scope = dialect
            .session_scope(conn)
            .await
            .context(|| "reading the session's database for the migration lock".into())?;
        Ok::<_, Error>(table.lock_key(dialect.backend(), &scope))
    };
    match dialect {
        Dialect::Sqlite => Ok(None),
        Dialect::Postgres => postgres::lock(conn, key(dialect).await?).await.map(Some),
        Dialect::MySql => mysql::lock(conn, key(dialect).await?, timeout)
            .await
            .map(Some),
    }
}

/// Releases a lock [`lock`] took. A failure is logged: the lock ends with the connection.
pub(crate) async fn unlock(conn: &DatabaseConnection, key: LockKey) {
    let backend = conn.get_database_backend();
    let stmt = match crate::version_table::dialect(backend) {
        Dialect::Postgres => postgres::unlock(key),
        Dialect::MySql => mysql::unlock(key),
        Dialect::Sqlite => return,
    };
    if let Err(e) = conn.execute_raw(stmt).await {
        tracing::warn!(error = %e, "releasing the migration lock failed; it ends with the connection");
    }
}

/// Installs (or removes, with `None`) SQLite's progress handler that interrupts the running
/// statement once `deadline` has passed (the statement fails, its migration rolls back). The
/// servers have no such handler: a no-op there.
///
/// # Errors
/// [`Error::Db`] when the SQLite connection cannot be reached.
pub(crate) async fn set_deadline(
    conn: &DatabaseConnection,
    deadline: Option<Instant>,
) -> Result<()> {
    match crate::version_table::dialect(conn.get_database_backend()) {
        Dialect::Sqlite => sqlite::set_deadline(conn, deadline).await,
        Dialect::Postgres | Dialect::MySql => Ok(()),
    }
}

/// Creates the version and history tables when missing, before a run. SQLite first drops
/// the `_alembic_tmp_*` tables an interrupted rebuild left, in the same write transaction.
///
/// # Errors
/// [`Error::Db`] naming the version table.
pub(crate) async fn ensure_version_table(
    dialect: Dialect,
    conn: &DatabaseConnection,
    table: &VersionTable,
) -> Result<()> {
    match dialect {
        Dialect::Sqlite => sqlite::ensure_version_table(conn, table).await,
        Dialect::Postgres | Dialect::MySql => table
            .ensure(conn)
            .await
            .context(|| format!("creating the version table {}", table.described())),
    }
}

/// Whether `--sql` renders against a shadow database. SQLite's batch rebuilds and autogenerated
/// steps read the live schema, so offline SQLite scripts run every statement on an in-memory
/// (or copied) shadow while recording it; the servers' native `ALTER`s need no schema, so
/// their statements are only recorded.
pub(crate) fn offline_shadow(dialect: Dialect) -> bool {
    match dialect {
        Dialect::Sqlite => true,
        Dialect::Postgres | Dialect::MySql => false,
    }
}

/// How autogenerate compares column types: SQLite by type affinity (its declared spellings are
/// free text; `VARCHAR(32)` and `TEXT` hold the same), the servers exactly.
pub(crate) fn type_rule(dialect: Dialect) -> crate::autogenerate::diff::TypeRule {
    use crate::autogenerate::diff::TypeRule;
    match dialect {
        Dialect::Sqlite => TypeRule::SqliteAffinity,
        Dialect::Postgres | Dialect::MySql => TypeRule::Exact,
    }
}

/// Where `lint --live` runs the pending migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LiveLint {
    /// On a `VACUUM INTO` copy of the database file, rows included (SQLite).
    OnCopy,
    /// On a SQLite shadow holding a snapshot of the live schema, without rows (the servers).
    OnSchemaSnapshot,
}

/// How `lint --live` reads the live database without writing to it.
pub(crate) fn live_lint(dialect: Dialect) -> LiveLint {
    match dialect {
        Dialect::Sqlite => LiveLint::OnCopy,
        Dialect::Postgres | Dialect::MySql => LiveLint::OnSchemaSnapshot,
    }
}

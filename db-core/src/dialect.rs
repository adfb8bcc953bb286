//! What one backend knows, in one place: identifier validation and quoting, placeholders, the
//! session's current database and schema, connection defaults. Each backend's rules live in
//! its own module (`dialect/sqlite.rs`, `dialect/postgres.rs`, `dialect/mysql.rs`); this file
//! only dispatches to them, so other crates ask a [`Dialect`] instead of matching on
//! [`DbBackend`].

mod clone;
mod copy;
mod drop;
mod mysql;
mod postgres;
mod sqlite;

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};

use crate::error::{Error, Result};

pub use self::clone::CloneScript;
pub use self::copy::{CopyIn, Unencodable};
pub use self::drop::SchemaObjects;

/// The rules of one database backend, reached from
/// [`Database::dialect`](crate::Database::dialect) or [`Dialect::of`].
///
/// Identifiers from outside the program (a `--schema` argument, a database name in a URL or a
/// configuration file, a version-table name) go through [`Dialect::quote`], which validates and
/// quotes them; nothing else builds a quoted identifier.
///
/// ```
/// use db_core::{Dialect, IdentKind};
///
/// let pg = Dialect::Postgres;
/// assert_eq!(pg.quote(IdentKind::Schema, "Crmp Data").unwrap(), "\"Crmp Data\"");
/// assert!(pg.quote(IdentKind::Schema, "public\"; DROP TABLE t; --").is_err());
/// assert!(pg.quote(IdentKind::Schema, &"s".repeat(64)).is_err()); // 63 bytes at most
/// assert_eq!(Dialect::MySql.quote(IdentKind::Table, "alembic_version").unwrap(), "`alembic_version`");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (`dialect/sqlite.rs`).
    Sqlite,
    /// PostgreSQL (`dialect/postgres.rs`).
    Postgres,
    /// MySQL and MariaDB (`dialect/mysql.rs`).
    MySql,
}

/// What an identifier names, for validation messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdentKind {
    /// A PostgreSQL schema.
    Schema,
    /// A table (for example the version table).
    Table,
    /// A column.
    Column,
    /// A database (PostgreSQL / MySQL `CREATE DATABASE`).
    Database,
    /// An index or constraint.
    Index,
}

impl IdentKind {
    /// `schema`, `table`, `column`, `database` or `index`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Table => "table",
            Self::Column => "column",
            Self::Database => "database",
            Self::Index => "index",
        }
    }
}

impl std::fmt::Display for IdentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a migration lock: which database and schema a session works in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionScope {
    /// The current database (`current_database()`, `DATABASE()`, or `main` on SQLite).
    pub database: String,
    /// The current schema (`current_schema()` on PostgreSQL; the database elsewhere).
    pub schema: String,
}

impl Dialect {
    /// The dialect of `backend`.
    ///
    /// # Errors
    /// [`Error::UnsupportedBackend`] for a backend sea-orm added after this library was
    /// written (sea-orm's enum is non-exhaustive); this is the only place that maps one.
    pub fn of(backend: DbBackend) -> Result<Self> {
        match backend {
            DbBackend::Sqlite => Ok(Self::Sqlite),
            DbBackend::Postgres => Ok(Self::Postgres),
            DbBackend::MySql => Ok(Self::MySql),
            other => Err(Error::UnsupportedBackend {
                backend: format!("{other:?}"),
            }),
        }
    }

    /// The dialect a URL scheme names (`sqlite`; `postgres`, `postgresql`; `mysql`, `mariadb`;
    /// lower case), `None` for any other.
    #[must_use]
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "sqlite" => Some(Self::Sqlite),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            _ => None,
        }
    }

    /// Whether this build can connect to the backend (its cargo feature, `sqlite`,
    /// `postgres` or `mysql`, is on).
    #[must_use]
    pub fn enabled(self) -> bool {
        match self {
            Self::Sqlite => cfg!(feature = "sqlite"),
            Self::Postgres => cfg!(feature = "postgres"),
            Self::MySql => cfg!(feature = "mysql"),
        }
    }

    /// Catalog queries that render everything the session's schema holds (tables, columns
    /// with types, nullability and defaults, indexes, constraints), one item per row in a
    /// text column named `line`, each query sorted. For comparing a database before and after
    /// an operation (db-testkit's `schema_snapshot`).
    #[must_use]
    pub fn schema_snapshot_sql(self) -> &'static [&'static str] {
        match self {
            Self::Sqlite => sqlite::SNAPSHOT_SQL,
            Self::Postgres => postgres::SNAPSHOT_SQL,
            Self::MySql => mysql::SNAPSHOT_SQL,
        }
    }

    /// Whether a connection can be given a schema (PostgreSQL's `search_path`); MySQL's
    /// schemas are databases, SQLite has none.
    #[must_use]
    pub fn has_schemas(self) -> bool {
        match self {
            Self::Postgres => true,
            Self::Sqlite | Self::MySql => false,
        }
    }

    /// The most bind parameters one statement may carry: SQLite 32,766
    /// (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32), PostgreSQL and MySQL 65,535 (their protocols
    /// count parameters in 16 bits). Bulk statements are chunked under it.
    #[must_use]
    pub fn max_bind_params(self) -> usize {
        match self {
            Self::Sqlite => 32_766,
            Self::Postgres | Self::MySql => 65_535,
        }
    }

    /// `column` (an already quoted identifier) as an expression that compares and sorts by
    /// the bytes of its UTF-8 text, as Rust's `str` does: SQLite's default `BINARY`
    /// collation already does; PostgreSQL needs `COLLATE "C"`, MySQL `BINARY`. For merging a
    /// query's rows with sorted data in Rust, and for keyset pages in that order.
    #[must_use]
    pub fn byte_order(self, column: &str) -> String {
        match self {
            Self::Sqlite => column.to_owned(),
            Self::Postgres => format!("{column} COLLATE \"C\""),
            Self::MySql => format!("BINARY {column}"),
        }
    }

    /// The backend's proper name: `SQLite`, `PostgreSQL` or `MySQL`.
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::MySql => "MySQL",
        }
    }

    /// The statements that start a SQL script for this backend working in `schema`: SQLite
    /// switches foreign keys off (table rebuilds need it, as the online runner does);
    /// PostgreSQL creates the schema and puts it on the search path; MySQL needs nothing (its
    /// schema is a database the statements name). `schema` is validated.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a bad schema, or any schema on SQLite.
    pub fn script_preamble(self, schema: Option<&str>) -> Result<String> {
        match (self, schema) {
            (Self::Sqlite, None) => Ok(
                "-- Foreign keys off for table rebuilds, as the online runner does.\nPRAGMA foreign_keys = OFF;\n".to_owned(),
            ),
            (Self::Postgres, Some(s)) => {
                let q = self.quote(IdentKind::Schema, s)?;
                Ok(format!("CREATE SCHEMA IF NOT EXISTS {q};\nSET search_path TO {q};\n"))
            }
            (Self::MySql, Some(s)) => self.validate(IdentKind::Schema, s).map(|()| String::new()),
            (Self::Postgres | Self::MySql, None) => Ok(String::new()),
            (Self::Sqlite, Some(s)) => Err(Error::SchemaUnsupported {
                schema: s.to_owned(),
                backend: self.name(),
            }),
        }
    }

    /// How this backend spells `ty` in DDL, as sea-query writes it (`character varying(32)`,
    /// `varchar(32)`, `text` …); not canonicalised. `ColumnType::Timestamp` is the
    /// [`UtcDateTime`](crate::types::UtcDateTime) column, spelled as
    /// [`utc_timestamp_type`](Self::utc_timestamp_type) (MySQL: `datetime(6)`).
    #[must_use]
    pub fn column_type_sql(self, ty: &sea_orm::sea_query::ColumnType) -> String {
        use sea_orm::sea_query::{
            ColumnType, MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder, TableBuilder,
        };
        let utc;
        let ty = if *ty == ColumnType::Timestamp {
            utc = self.utc_timestamp_type();
            &utc
        } else {
            ty
        };
        let mut sql = String::new();
        match self {
            Self::Sqlite => SqliteQueryBuilder.prepare_column_type(ty, &mut sql),
            Self::Postgres => PostgresQueryBuilder.prepare_column_type(ty, &mut sql),
            Self::MySql => MysqlQueryBuilder.prepare_column_type(ty, &mut sql),
        }
        sql
    }

    /// How this backend writes `expr` (a default value, say), as sea-query renders it.
    #[must_use]
    pub fn expr_sql(self, expr: &sea_orm::sea_query::SimpleExpr) -> String {
        use sea_orm::sea_query::{
            MysqlQueryBuilder, PostgresQueryBuilder, Query, SqliteQueryBuilder,
        };
        let select = Query::select().expr(expr.clone()).to_owned();
        let sql = match self {
            Self::Sqlite => select.to_string(SqliteQueryBuilder),
            Self::Postgres => select.to_string(PostgresQueryBuilder),
            Self::MySql => select.to_string(MysqlQueryBuilder),
        };
        sql.strip_prefix("SELECT ").unwrap_or(&sql).to_owned()
    }

    /// The sea-orm backend.
    #[must_use]
    pub fn backend(self) -> DbBackend {
        match self {
            Self::Sqlite => DbBackend::Sqlite,
            Self::Postgres => DbBackend::Postgres,
            Self::MySql => DbBackend::MySql,
        }
    }

    /// The backend's name: `sqlite`, `postgres` or `mysql`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    /// Checks an identifier that came from outside the program.
    ///
    /// Every backend refuses an empty name, NUL and other control characters, quote characters
    /// (`"`, `` ` ``). PostgreSQL refuses names over 63 bytes (it would silently truncate them)
    /// and `,` (it separates `search_path` entries); MySQL refuses names over 64 characters,
    /// trailing spaces and characters outside the Basic Multilingual Plane. A long name is
    /// refused, never truncated.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] naming the kind, the name and the rule it breaks.
    pub fn validate(self, kind: IdentKind, name: &str) -> Result<()> {
        let invalid = |reason: String| Error::InvalidIdentifier {
            kind,
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("the name is empty".into()));
        }
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(invalid(format!(
                "control character {c:?} (U+{:04X}) is not allowed",
                u32::from(c)
            )));
        }
        if let Some(c) = name.chars().find(|c| matches!(c, '"' | '`')) {
            return Err(invalid(format!("the quote character {c} is not allowed")));
        }
        let backend_rule = match self {
            Self::Sqlite => sqlite::check(name),
            Self::Postgres => postgres::check(name),
            Self::MySql => mysql::check(name),
        };
        backend_rule.map_err(invalid)
    }

    /// `name` validated (see [`Dialect::validate`]) and quoted: `"name"` on SQLite and
    /// PostgreSQL, `` `name` `` on MySQL.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`].
    pub fn quote(self, kind: IdentKind, name: &str) -> Result<String> {
        self.validate(kind, name)?;
        Ok(self.quote_trusted(name))
    }

    /// `table` quoted and, when `schema` is given, qualified by it (`"s"."t"`); SQLite has no
    /// schemas, so `schema` must be `None` there.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for a bad name, or a schema on SQLite.
    pub fn qualified(self, schema: Option<&str>, table: &str) -> Result<String> {
        let table = self.quote(IdentKind::Table, table)?;
        match schema {
            None => Ok(table),
            Some(s) if self == Self::Sqlite => Err(Error::InvalidIdentifier {
                kind: IdentKind::Schema,
                name: s.to_owned(),
                reason: "SQLite has no schemas".into(),
            }),
            Some(s) => Ok(format!("{}.{table}", self.quote(IdentKind::Schema, s)?)),
        }
    }

    /// Quotes a name the program itself chose or read from the database's own catalog
    /// (doubling any quote character inside it). Names from outside go through
    /// [`Dialect::quote`].
    #[must_use]
    pub fn quote_trusted(self, name: &str) -> String {
        match self {
            Self::Sqlite | Self::Postgres => postgres::quote(name),
            Self::MySql => mysql::quote(name),
        }
    }

    /// The `n`th (1-based) bind placeholder: `$n` on PostgreSQL, `?` elsewhere.
    #[must_use]
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("${n}"),
            Self::Sqlite | Self::MySql => "?".to_owned(),
        }
    }

    /// Whether the database is embedded in the process (SQLite: a file or memory, opened
    /// without a server, backed up and restored as a file) rather than on a server.
    #[must_use]
    pub fn is_embedded(self) -> bool {
        matches!(self, Self::Sqlite)
    }

    /// Whether most `ALTER TABLE`s are done by rebuilding the table (SQLite: copy into
    /// `_alembic_tmp_<table>`, drop, rename), so an interrupted one can leave a temporary
    /// table behind.
    #[must_use]
    pub fn alters_by_rebuild(self) -> bool {
        matches!(self, Self::Sqlite)
    }

    /// Whether values bound to enum columns need the casts sea-orm's own statements carry
    /// (PostgreSQL's `CREATE TYPE … AS ENUM`): hand-built statements with plain placeholders
    /// do not fit them.
    #[must_use]
    pub fn needs_enum_casts(self) -> bool {
        matches!(self, Self::Postgres)
    }

    /// Whether DDL takes part in transactions (SQLite, PostgreSQL) or commits implicitly
    /// (MySQL/MariaDB).
    #[must_use]
    pub fn transactional_ddl(self) -> bool {
        !matches!(self, Self::MySql)
    }

    /// Whether `table` exists in `schema` (or the session's default schema when `None`; SQLite
    /// has only its `main` database).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn table_exists(
        self,
        conn: &impl ConnectionTrait,
        schema: Option<&str>,
        table: &str,
    ) -> Result<bool, DbErr> {
        let schema = sea_orm::Value::String(schema.map(str::to_owned));
        let stmt = match self {
            Self::Sqlite => Statement::from_sql_and_values(
                self.backend(),
                sqlite::TABLE_EXISTS_SQL,
                [table.into()],
            ),
            Self::Postgres => Statement::from_sql_and_values(
                self.backend(),
                postgres::TABLE_EXISTS_SQL,
                [schema, table.into()],
            ),
            Self::MySql => Statement::from_sql_and_values(
                self.backend(),
                mysql::TABLE_EXISTS_SQL,
                [schema, table.into()],
            ),
        };
        Ok(conn.query_one_raw(stmt).await?.is_some())
    }

    /// The base tables of the session's database (schema on PostgreSQL), each with the
    /// tables its foreign keys reference (itself included when it references itself), sorted
    /// by name.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn table_graph(
        self,
        conn: &impl ConnectionTrait,
    ) -> Result<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>, DbErr> {
        let sql = match self {
            Self::Sqlite => sqlite::TABLE_GRAPH_SQL,
            Self::Postgres => postgres::TABLE_GRAPH_SQL,
            Self::MySql => mysql::TABLE_GRAPH_SQL,
        };
        let mut graph =
            std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        for row in conn
            .query_all_raw(Statement::from_string(self.backend(), sql))
            .await?
        {
            let table: String = row.try_get_by_index(0)?;
            let parent: Option<String> = row.try_get_by_index(1)?;
            let entry = graph.entry(table).or_default();
            if let Some(parent) = parent {
                entry.insert(parent);
            }
        }
        Ok(graph)
    }

    /// The statements deleting every row of `table` (a trusted name, quoted here). MySQL checks
    /// foreign keys row by row, so a table whose rows reference each other is emptied with its
    /// checks off for that one statement (every row goes, so none can dangle); the others
    /// check at the statement's end. When several statements are returned, the last restores
    /// the session and must run even if an earlier one failed.
    #[must_use]
    pub fn delete_all_sql(self, table: &str, self_referencing: bool) -> Vec<String> {
        let delete = format!("DELETE FROM {}", self.quote_trusted(table));
        match self {
            Self::MySql if self_referencing => vec![
                "SET FOREIGN_KEY_CHECKS = 0".to_owned(),
                delete,
                "SET FOREIGN_KEY_CHECKS = 1".to_owned(),
            ],
            Self::Sqlite | Self::Postgres | Self::MySql => vec![delete],
        }
    }

    /// The column definition of an auto-incrementing 64-bit primary key named `id`.
    #[must_use]
    pub fn serial_id_column(self) -> &'static str {
        match self {
            Self::Sqlite => "id INTEGER PRIMARY KEY AUTOINCREMENT",
            Self::Postgres => "id BIGSERIAL PRIMARY KEY",
            Self::MySql => "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
        }
    }

    /// The type of a UTC timestamp with sub-second precision (stored without a zone).
    #[must_use]
    pub fn timestamp_type(self) -> &'static str {
        match self {
            Self::Sqlite | Self::Postgres => "TIMESTAMP",
            Self::MySql => "DATETIME(6)",
        }
    }

    /// The sea-query column type of a [`UtcDateTime`](crate::types::UtcDateTime): the UTC
    /// wall clock with microseconds and the full year range 1000–9999, without a zone —
    /// `ColumnType::Timestamp` on SQLite (text) and PostgreSQL (`timestamp`), `datetime(6)` on
    /// MySQL, whose `timestamp` holds only 1970–2038 and whose plain `datetime` drops the
    /// fraction. Migrations create such columns with it (db-migrate's autogenerate writes
    /// `db_migrate::utc_timestamp_type(manager)`).
    #[must_use]
    pub fn utc_timestamp_type(self) -> sea_orm::sea_query::ColumnType {
        match self {
            Self::Sqlite | Self::Postgres => sea_orm::sea_query::ColumnType::Timestamp,
            Self::MySql => sea_orm::sea_query::ColumnType::custom("datetime(6)"),
        }
    }

    /// An SQL expression for the current UTC time, for a [`timestamp_type`](Self::timestamp_type) column.
    #[must_use]
    pub fn now_utc(self) -> &'static str {
        match self {
            Self::Sqlite => "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            Self::Postgres => "(now() AT TIME ZONE 'UTC')",
            Self::MySql => "UTC_TIMESTAMP(6)",
        }
    }

    /// `column` read as text (`CAST(… AS TEXT)` / `AS CHAR`; SQLite stores timestamps as text).
    #[must_use]
    pub fn as_text(self, column: &str) -> String {
        match self {
            Self::Sqlite => column.to_owned(),
            Self::Postgres => format!("CAST({column} AS TEXT)"),
            Self::MySql => format!("CAST({column} AS CHAR)"),
        }
    }

    /// Whether one statement may change two tables through a data-modifying `WITH`
    /// (`WITH v AS (UPDATE … RETURNING 1) INSERT … SELECT … FROM v`): PostgreSQL.
    #[must_use]
    pub fn writes_in_with(self) -> bool {
        matches!(self, Self::Postgres)
    }

    /// Whether `INSERT … RETURNING` gives the new row's id (PostgreSQL); elsewhere the
    /// driver's last insert id does.
    #[must_use]
    pub fn returns_inserted_id(self) -> bool {
        matches!(self, Self::Postgres)
    }

    /// Whether `err` is a transient conflict that the same transaction may succeed on when run
    /// again: PostgreSQL `serialization_failure` (40001) and `deadlock_detected` (40P01); MySQL
    /// SQLSTATE 40001 (deadlock) and lock-wait timeout (1205); SQLite `SQLITE_BUSY` and
    /// `SQLITE_LOCKED` (and their extended codes).
    #[must_use]
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
    pub fn is_transient(self, _: &DbErr) -> bool {
        false
    }

    /// Whether `err` is a transient conflict that the same transaction may succeed on when run
    /// again: PostgreSQL `serialization_failure` (40001) and `deadlock_detected` (40P01); MySQL
    /// SQLSTATE 40001 (deadlock) and lock-wait timeout (1205); SQLite `SQLITE_BUSY` and
    /// `SQLITE_LOCKED` (and their extended codes).
    #[must_use]
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub fn is_transient(self, err: &DbErr) -> bool {
        let Some(db) = database_error(err) else {
            return false;
        };
        let code = db.code();
        match self {
            Self::Postgres => matches!(code.as_deref(), Some("40001" | "40P01")),
            Self::MySql => {
                code.as_deref() == Some("40001")
                    || db.message().contains("Lock wait timeout exceeded")
            }
            Self::Sqlite => code
                .as_deref()
                .and_then(|c| c.parse::<u32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        }
    }

    /// Whether `err` says the table a statement names does not exist: PostgreSQL 42P01, MySQL
    /// 42S02, SQLite `no such table` (so that reading a table that may be missing is one
    /// statement, not an existence check first; on PostgreSQL not inside a transaction, which
    /// the error aborts).
    #[must_use]
    pub fn is_undefined_table(self, err: &DbErr) -> bool {
        #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
        if let Some(db) = database_error(err) {
            return match self {
                Self::Postgres => db.code().as_deref() == Some("42P01"),
                Self::MySql => db.code().as_deref() == Some("42S02"),
                Self::Sqlite => db.message().starts_with("no such table"),
            };
        }
        let _ = err;
        false
    }

    /// Whether one `execute_unprepared` call runs a script of several `;`-separated statements
    /// (SQLite and PostgreSQL's simple protocol do; MySQL/MariaDB's driver is given one at a
    /// time).
    #[must_use]
    pub fn runs_scripts(self) -> bool {
        !matches!(self, Self::MySql)
    }

    /// `CREATE DATABASE` for `name` (validated and quoted); MySQL databases get `utf8mb4` with
    /// a binary collation, so text compares as on the other backends. `None` on SQLite, where
    /// a database is a file.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`].
    pub fn create_database_sql(self, name: &str) -> Result<Option<String>> {
        let quoted = self.quote(IdentKind::Database, name)?;
        Ok(match self {
            Self::Sqlite => None,
            Self::Postgres => Some(format!("CREATE DATABASE {quoted}")),
            Self::MySql => Some(format!(
                "CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )),
        })
    }

    /// `DROP DATABASE IF EXISTS` for `name`, ending other sessions on PostgreSQL
    /// (`WITH (FORCE)`); `None` on SQLite.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`].
    pub fn drop_database_sql(self, name: &str) -> Result<Option<String>> {
        let quoted = self.quote(IdentKind::Database, name)?;
        Ok(match self {
            Self::Sqlite => None,
            Self::Postgres => Some(format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")),
            Self::MySql => Some(format!("DROP DATABASE IF EXISTS {quoted}")),
        })
    }

    /// Begins a transaction that will write: on SQLite `BEGIN IMMEDIATE`, taking the write
    /// lock up front so two writers never deadlock upgrading a read lock (they wait within the
    /// busy timeout instead); a plain `BEGIN` elsewhere.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn begin_write<C: TransactionTrait>(self, conn: &C) -> Result<C::Transaction, DbErr> {
        match self {
            Self::Sqlite => {
                conn.begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await
            }
            Self::Postgres | Self::MySql => conn.begin().await,
        }
    }

    /// Rows that violate foreign keys, as `table rowid N -> parent` (at most `limit`, and the
    /// total): SQLite's `PRAGMA foreign_key_check`, for work done with foreign keys off; the
    /// servers check every statement, so they have none to report.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn foreign_key_violations(
        self,
        conn: &impl ConnectionTrait,
        limit: usize,
    ) -> Result<(Vec<String>, usize), DbErr> {
        if self != Self::Sqlite {
            return Ok((Vec::new(), 0));
        }
        let rows = conn
            .query_all_raw(Statement::from_string(
                self.backend(),
                "PRAGMA foreign_key_check",
            ))
            .await?;
        let shown = rows
            .iter()
            .take(limit)
            .map(|r| {
                let table: String = r.try_get_by_index(0).unwrap_or_default();
                let rowid: Option<i64> = r.try_get_by_index(1).unwrap_or_default();
                let parent: String = r.try_get_by_index(2).unwrap_or_default();
                format!(
                    "{table} rowid {} -> {parent}",
                    rowid.map_or_else(|| "?".to_owned(), |r| r.to_string())
                )
            })
            .collect();
        Ok((shown, rows.len()))
    }

    /// Which database and schema `conn`'s session works in, for keying migration locks.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn session_scope(self, conn: &impl ConnectionTrait) -> Result<SessionScope, DbErr> {
        let sql = match self {
            Self::Sqlite => return Ok(sqlite::session_scope()),
            Self::Postgres => postgres::SESSION_SCOPE_SQL,
            Self::MySql => mysql::SESSION_SCOPE_SQL,
        };
        let row = conn
            .query_one_raw(Statement::from_string(self.backend(), sql))
            .await?
            .ok_or_else(|| DbErr::RecordNotFound("the session's database".into()))?;
        let database: Option<String> = row.try_get("", "db")?;
        let schema: Option<String> = row.try_get("", "sch")?;
        let database = database.unwrap_or_default();
        Ok(SessionScope {
            schema: schema.unwrap_or_else(|| database.clone()),
            database,
        })
    }

    /// Whether `schema` exists (PostgreSQL: a schema; MySQL: a database; SQLite: only `main`).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn schema_exists(
        self,
        conn: &impl ConnectionTrait,
        schema: &str,
    ) -> Result<bool, DbErr> {
        let sql = match self {
            Self::Sqlite => return Ok(schema == "main"),
            Self::Postgres => postgres::SCHEMA_EXISTS_SQL,
            Self::MySql => mysql::SCHEMA_EXISTS_SQL,
        };
        Ok(conn
            .query_one_raw(Statement::from_sql_and_values(
                self.backend(),
                sql,
                [schema.into()],
            ))
            .await?
            .is_some())
    }
}

/// The database's own error inside a driver error, if that is what `err` is.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
fn database_error(err: &DbErr) -> Option<&(dyn sea_orm::sqlx::error::DatabaseError + 'static)> {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))
    | DbErr::Conn(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::Database(db) => Some(db.as_ref()),
        _ => None,
    }
}

/// Applies `session` (search_path, read-only, TLS default) to a server pool's options.
pub(crate) fn configure_server(
    dialect: Dialect,
    opts: &mut sea_orm::ConnectOptions,
    session: &crate::connect::ServerSession,
) {
    match dialect {
        Dialect::Postgres => postgres::configure(opts, session),
        Dialect::MySql => mysql::configure(opts, session),
        Dialect::Sqlite => {}
    }
}

/// One direct connection attempt (no pool, no retries) within `limit`, to name why the pool
/// got no connection: `connection refused`, a DNS failure, an authentication error, a timeout.
pub(crate) async fn probe_server(
    dialect: Dialect,
    url: &str,
    session: &crate::connect::ServerSession,
    limit: std::time::Duration,
) -> DbErr {
    let cause = match dialect {
        Dialect::Postgres => postgres::probe(url, session, limit).await,
        Dialect::MySql => mysql::probe(url, session, limit).await,
        Dialect::Sqlite => None,
    };
    match cause {
        Some(c) => DbErr::Conn(sea_orm::RuntimeErr::Internal(c)),
        None => no_connection(limit),
    }
}

/// The error of a server that gave no connection within `limit`.
pub(crate) fn no_connection(limit: std::time::Duration) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(format!(
        "no connection within the connect timeout of {} s (the server did not answer)",
        limit.as_secs_f64()
    )))
}

/// One connection attempt within `limit`: `None` when it connects or times out, else the
/// readable cause of the failure.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn connect_once<O>(options: O, limit: std::time::Duration) -> Option<String>
where
    O: sea_orm::sqlx::ConnectOptions,
    O::Connection: Sized,
{
    match tokio::time::timeout(limit, options.connect()).await {
        Ok(Ok(_connection)) => None,
        Ok(Err(e)) => Some(sqlx_cause(&e)),
        Err(_elapsed) => None,
    }
}

/// The readable cause of a driver error: the server's message and SQLSTATE without sqlx's
/// wrapping or PostgreSQL's `at line N` (a line of the server's own C source).
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub(crate) fn sqlx_cause(e: &sea_orm::sqlx::Error) -> String {
    match e {
        sea_orm::sqlx::Error::Database(d) => match d.code() {
            Some(code) => format!("{} (SQLSTATE {code})", d.message()),
            None => d.message().to_owned(),
        },
        sea_orm::sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Dialect, IdentKind};

    #[track_caller]
    fn check(dialect: Dialect, name: &str, expected: Result<&str, &str>) {
        let got = dialect.quote(IdentKind::Schema, name);
        match (got, expected) {
            (Ok(q), Ok(e)) => assert_eq!(q, e, "{name:?}"),
            (Err(err), Err(e)) => {
                let text = err.to_string();
                assert!(text.contains(e), "{name:?}: {text}");
            }
            (got, expected) => panic!("{name:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn identifiers_are_validated_then_quoted() {
        use Dialect::{MySql, Postgres, Sqlite};
        check(Postgres, "crmp", Ok("\"crmp\""));
        check(Postgres, "Crmp Data ü", Ok("\"Crmp Data ü\""));
        check(Postgres, "", Err("the name is empty"));
        check(Postgres, "a,b", Err("`,`"));
        check(Postgres, "a\0b", Err("control character"));
        check(Postgres, "a\nb", Err("control character"));
        check(
            Postgres,
            "public\"; DROP TABLE x; --",
            Err("quote character"),
        );
        check(
            Postgres,
            &"s".repeat(63),
            Ok(&format!("\"{}\"", "s".repeat(63))),
        );
        check(
            Postgres,
            &"s".repeat(64),
            Err("64 bytes long, but PostgreSQL keeps at most 63"),
        );
        check(Postgres, &"ü".repeat(32), Err("at most 63"));
        check(MySql, "courses", Ok("`courses`"));
        check(MySql, &"m".repeat(64), Ok(&format!("`{}`", "m".repeat(64))));
        check(MySql, &"m".repeat(65), Err("at most 64"));
        check(MySql, "trailing ", Err("may not end with a space"));
        check(MySql, "emoji 😀", Err("Basic Multilingual Plane"));
        check(MySql, "a`b", Err("quote character"));
        check(
            Sqlite,
            "anything goes, even long",
            Ok("\"anything goes, even long\""),
        );
    }

    #[test]
    fn database_statements() {
        assert_eq!(
            Dialect::Postgres
                .create_database_sql("t_1")
                .ok()
                .flatten()
                .as_deref(),
            Some("CREATE DATABASE \"t_1\"")
        );
        assert_eq!(
            Dialect::MySql
                .drop_database_sql("t_1")
                .ok()
                .flatten()
                .as_deref(),
            Some("DROP DATABASE IF EXISTS `t_1`")
        );
        assert_eq!(
            Dialect::Sqlite.create_database_sql("t").ok().flatten(),
            None
        );
        assert!(
            Dialect::Postgres
                .create_database_sql("x\"; DROP DATABASE y; --")
                .is_err()
        );
    }

    #[test]
    fn trusted_names_double_their_quotes() {
        assert_eq!(Dialect::Sqlite.quote_trusted("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::MySql.quote_trusted("a`b"), "`a``b`");
    }
}

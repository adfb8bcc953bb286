//! The Alembic-compatible version table and the history side table.

use db_core::{Dialect, IdentKind};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use sha2::{Digest, Sha256};

use crate::script::Script;

/// Where the migrator keeps its state: Alembic's version table (one row per head) and a
/// history table of every upgrade, downgrade and stamp.
///
/// The version table has Alembic's exact shape,
/// `alembic_version(version_num varchar(32) not null, constraint alembic_version_pkc primary key (version_num))`,
/// so Alembic reads what this runner writes and the other way round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionTable {
    /// The version table's name (Alembic's `version_table`, default `alembic_version`).
    pub name: String,
    /// Its schema (Alembic's `version_table_schema`); `None` uses the connection's default,
    /// which is the database's configured schema on PostgreSQL.
    pub schema: Option<String>,
    /// The history table's name (default `alembic_version_history`), in the same schema.
    pub history: String,
    /// The width of `version_num` in characters (Alembic's `varchar(32)`); revision ids must
    /// fit. Widen the column of an existing table before raising it.
    pub version_num_width: usize,
}

impl Default for VersionTable {
    fn default() -> Self {
        Self {
            name: "alembic_version".into(),
            schema: None,
            history: "alembic_version_history".into(),
            version_num_width: 32,
        }
    }
}

/// One row of the history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The row's id (ascending in the order rows were written).
    pub id: i64,
    /// The revision.
    pub revision: String,
    /// `upgrade`, `downgrade` or `stamp`.
    pub direction: String,
    /// `applied`, `running` (MySQL, while it runs), `failed` (MySQL) or `resolved`.
    pub status: String,
    /// When, in UTC, as the database renders it.
    pub applied_at: String,
    /// How long it ran, in milliseconds.
    pub duration_ms: Option<i64>,
    /// SHA-256 of the script's source, when known.
    pub checksum: Option<String>,
    /// The runner that wrote it (`db-migrate <version>`).
    pub tool_version: String,
    /// The recorded error of a failed MySQL migration.
    pub error: Option<String>,
}

pub(crate) const TOOL_VERSION: &str = concat!("db-migrate ", env!("CARGO_PKG_VERSION"));

impl VersionTable {
    /// Checks the names (they may come from configuration or `--schema`) against `dialect`'s
    /// rules: the schema, both tables and the primary-key constraint `<name>_pkc`. Every other
    /// method assumes a validated table; the migrator validates before it builds any SQL.
    ///
    /// # Errors
    /// [`db_core::Error::InvalidIdentifier`] naming the bad name; a schema on SQLite.
    pub fn validate(&self, dialect: Dialect) -> Result<(), db_core::Error> {
        for table in [&self.name, &self.history] {
            dialect.qualified(self.schema.as_deref(), table)?;
        }
        dialect.validate(IdentKind::Index, &format!("{}_pkc", self.name))
    }

    /// The version table's name for messages: `schema.name` or `name`.
    pub(crate) fn described(&self) -> String {
        self.describe(&self.name)
    }

    /// The history table's name for messages.
    pub(crate) fn described_history(&self) -> String {
        self.describe(&self.history)
    }

    fn describe(&self, table: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{table}"),
            None => table.to_owned(),
        }
    }

    fn quote(backend: DbBackend, ident: &str) -> String {
        dialect(backend).quote_trusted(ident)
    }

    fn qualified(&self, backend: DbBackend, table: &str) -> String {
        match &self.schema {
            Some(schema) => format!(
                "{}.{}",
                Self::quote(backend, schema),
                Self::quote(backend, table)
            ),
            None => Self::quote(backend, table),
        }
    }

    pub(crate) fn version_sql(&self, backend: DbBackend) -> String {
        self.qualified(backend, &self.name)
    }

    fn history_sql(&self, backend: DbBackend) -> String {
        self.qualified(backend, &self.history)
    }

    /// The migration lock of this version table in the session's database and schema: a
    /// PostgreSQL advisory-lock id, a MySQL `GET_LOCK` name (`db_migrate:` and 40 hex digits of
    /// a SHA-256, within MySQL's 64 characters) and a readable description for messages. Two
    /// databases on one server, or two version tables in one database, never share a lock.
    pub(crate) fn lock_key(&self, backend: DbBackend, scope: &db_core::SessionScope) -> LockKey {
        let table = match &self.schema {
            Some(_) => self.version_sql(backend),
            None => format!(
                "{}.{}",
                Self::quote(backend, &scope.schema),
                self.version_sql(backend)
            ),
        };
        let described = format!(
            "{} in database {}",
            table,
            Self::quote(backend, &scope.database)
        );
        let digest = Sha256::digest(format!("db_migrate\0{}\0{table}", scope.database).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        LockKey {
            id: i64::from_be_bytes(bytes),
            name: format!("db_migrate:{hex}"),
            described,
        }
    }

    pub(crate) async fn table_exists(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
    ) -> Result<bool, DbErr> {
        dialect(db.get_database_backend())
            .table_exists(db, self.schema.as_deref(), table)
            .await
    }

    /// Creates the version and history tables when missing.
    pub(crate) async fn ensure(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let [version, history] = self.create_sql(backend);
        if !self.table_exists(db, &self.name).await? {
            db.execute_unprepared(&version).await?;
        }
        if !self.table_exists(db, &self.history).await? {
            db.execute_unprepared(&history).await?;
        }
        Ok(())
    }

    /// `CREATE TABLE` of the version table (Alembic's exact shape) and of the history table.
    pub(crate) fn create_sql(&self, backend: DbBackend) -> [String; 2] {
        let pk = Self::quote(backend, &format!("{}_pkc", self.name));
        let d = dialect(backend);
        let (id, ts) = (d.serial_id_column(), d.timestamp_type());
        [
            format!(
                "CREATE TABLE {} (version_num VARCHAR({width}) NOT NULL, CONSTRAINT {pk} PRIMARY KEY (version_num))",
                self.version_sql(backend),
                width = self.version_num_width
            ),
            format!(
                "CREATE TABLE {} ({id}, revision VARCHAR({width}) NOT NULL, down_revisions VARCHAR(255), \
                 direction VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, applied_at {ts} NOT NULL, \
                 duration_ms BIGINT, checksum VARCHAR(64), tool_version VARCHAR(64) NOT NULL, \
                 message TEXT, error TEXT)",
                self.history_sql(backend),
                width = self.version_num_width
            ),
        ]
    }

    /// The version table's rows; empty when the table does not exist.
    /// The version rows; none when the table does not exist. One statement: the table is read
    /// and a missing table recognised by its error (the no-op upgrade every device runs on
    /// boot). Not inside a PostgreSQL transaction, which that error would abort.
    pub(crate) async fn read_heads(&self, db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
        match self.read_heads_unchecked(db).await {
            Err(e) if dialect(db.get_database_backend()).is_undefined_table(&e) => Ok(Vec::new()),
            other => other,
        }
    }

    pub(crate) async fn read_heads_unchecked(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<Vec<String>, DbErr> {
        let backend = db.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT version_num FROM {} ORDER BY version_num",
                    self.version_sql(backend)
                ),
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "version_num"))
            .collect()
    }

    /// Replaces the rows `old` with `new` (rows in both stay).
    pub(crate) async fn write_heads(
        &self,
        db: &impl ConnectionTrait,
        old: &[String],
        new: &[String],
    ) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let table = self.version_sql(backend);
        let p = placeholder(backend);
        let gone: Vec<&String> = old.iter().filter(|o| !new.contains(o)).collect();
        let added: Vec<&String> = new.iter().filter(|n| !old.contains(n)).collect();
        // A row replaced by another is one UPDATE, as Alembic writes it; it must match exactly
        // one row (Alembic: "Online migration expected to match one row").
        for (from, to) in gone.iter().zip(&added) {
            let updated = db
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "UPDATE {table} SET version_num = {} WHERE version_num = {}",
                        p(1),
                        p(2)
                    ),
                    [to.as_str().into(), from.as_str().into()],
                ))
                .await?
                .rows_affected();
            if updated != 1 {
                return Err(DbErr::Custom(format!(
                    "the version table should hold exactly one row `{from}` to replace with `{to}`, but {updated} matched; another runner changed it"
                )));
            }
        }
        for gone in gone.iter().skip(added.len()) {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("DELETE FROM {table} WHERE version_num = {}", p(1)),
                [gone.as_str().into()],
            ))
            .await?;
        }
        for added in added.iter().skip(gone.len()) {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("INSERT INTO {table} (version_num) VALUES ({})", p(1)),
                [added.as_str().into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Deletes every row of the version table (`stamp --purge`).
    pub(crate) async fn purge(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        db.execute_unprepared(&format!("DELETE FROM {}", self.version_sql(backend)))
            .await
            .map(|_| ())
    }

    /// Appends a history row and returns its id.
    pub(crate) async fn record(
        &self,
        db: &impl ConnectionTrait,
        entry: NewRecord<'_>,
    ) -> Result<i64, DbErr> {
        let backend = db.get_database_backend();
        let p = placeholder(backend);
        let now = dialect(backend).now_utc();
        let sql = format!(
            "INSERT INTO {} (revision, down_revisions, direction, status, applied_at, duration_ms, checksum, tool_version, message, error) \
             VALUES ({}, {}, {}, {}, {now}, {}, {}, {}, {}, {})",
            self.history_sql(backend),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9)
        );
        let values = entry.values();
        if dialect(backend).returns_inserted_id() {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    format!("{sql} RETURNING id"),
                    values,
                ))
                .await?;
            return row.map_or(Ok(0), |r| r.try_get::<i64>("", "id"));
        }
        let result = db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        Ok(i64::try_from(result.last_insert_id()).unwrap_or_default())
    }

    /// A step's bookkeeping: the version rows go from `old` to `new` and the history row
    /// `entry` is appended. Where the backend allows it and one row replaces another (every
    /// step of a linear chain), both are one statement (PostgreSQL: a data-modifying `WITH`);
    /// otherwise [`write_heads`](Self::write_heads) and [`record`](Self::record).
    pub(crate) async fn advance(
        &self,
        db: &impl ConnectionTrait,
        old: &[String],
        new: &[String],
        entry: NewRecord<'_>,
    ) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let gone: Vec<&String> = old.iter().filter(|o| !new.contains(o)).collect();
        let added: Vec<&String> = new.iter().filter(|n| !old.contains(n)).collect();
        if !(dialect(backend).writes_in_with() && gone.len() == 1 && added.len() == 1) {
            self.write_heads(db, old, new).await?;
            return self.record(db, entry).await.map(drop);
        }
        let p = placeholder(backend);
        let now = dialect(backend).now_utc();
        let sql = format!(
            "WITH v AS (UPDATE {} SET version_num = {} WHERE version_num = {} RETURNING 1) \
             INSERT INTO {} (revision, down_revisions, direction, status, applied_at, duration_ms, checksum, tool_version, message, error) \
             SELECT {}, {}, {}, {}, {now}, {}, {}, {}, {}, {} FROM v",
            self.version_sql(backend),
            p(1),
            p(2),
            self.history_sql(backend),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(11)
        );
        let mut values = vec![added[0].as_str().into(), gone[0].as_str().into()];
        values.extend(entry.values());
        let written = db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
        if written != 1 {
            return Err(DbErr::Custom(format!(
                "the version table should hold exactly one row `{}` to replace with `{}`, but none matched; another runner changed it",
                gone[0], added[0]
            )));
        }
        Ok(())
    }

    /// Sets the status (and error, duration) of history row `id`.
    pub(crate) async fn set_status(
        &self,
        db: &impl ConnectionTrait,
        id: i64,
        status: &str,
        duration_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let p = placeholder(backend);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE {} SET status = {}, duration_ms = {}, error = {} WHERE id = {}",
                self.history_sql(backend),
                p(1),
                p(2),
                p(3),
                p(4)
            ),
            [
                status.into(),
                duration_ms.into(),
                error.map(str::to_owned).into(),
                id.into(),
            ],
        ))
        .await
        .map(|_| ())
    }

    /// The oldest history row left `running` or `failed` (MySQL partial migrations).
    pub(crate) async fn unresolved(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<Option<HistoryRecord>, DbErr> {
        if !self.table_exists(db, &self.history).await? {
            return Ok(None);
        }
        Ok(self
            .records(db, "WHERE status IN ('running', 'failed')")
            .await?
            .into_iter()
            .next())
    }

    /// Marks every `running` or `failed` history row `resolved` (after a `stamp`).
    pub(crate) async fn resolve_all(&self, db: &impl ConnectionTrait) -> Result<u64, DbErr> {
        let backend = db.get_database_backend();
        Ok(db
            .execute_unprepared(&format!(
                "UPDATE {} SET status = 'resolved' WHERE status IN ('running', 'failed')",
                self.history_sql(backend)
            ))
            .await?
            .rows_affected())
    }

    /// History rows, oldest first, filtered by a `WHERE …` clause (or `""`).
    pub(crate) async fn records(
        &self,
        db: &impl ConnectionTrait,
        filter: &str,
    ) -> Result<Vec<HistoryRecord>, DbErr> {
        let backend = db.get_database_backend();
        let applied_at = format!("{} AS applied_at", dialect(backend).as_text("applied_at"));
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT id, revision, direction, status, {applied_at}, duration_ms, checksum, tool_version, error FROM {} {filter} ORDER BY id",
                    self.history_sql(backend)
                ),
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRecord {
                    id: r.try_get("", "id")?,
                    revision: r.try_get("", "revision")?,
                    direction: r.try_get("", "direction")?,
                    status: r.try_get("", "status")?,
                    applied_at: r.try_get("", "applied_at")?,
                    duration_ms: r.try_get("", "duration_ms")?,
                    checksum: r.try_get("", "checksum")?,
                    tool_version: r.try_get("", "tool_version")?,
                    error: r.try_get("", "error")?,
                })
            })
            .collect()
    }
}

/// The migration lock of one version table in one database (see [`VersionTable::lock_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LockKey {
    /// PostgreSQL advisory-lock id.
    pub(crate) id: i64,
    /// MySQL `GET_LOCK` name.
    pub(crate) name: String,
    /// The version table and database, for messages.
    pub(crate) described: String,
}

/// A history row to append.
#[derive(Debug)]
pub(crate) struct NewRecord<'a> {
    pub(crate) revision: &'a str,
    pub(crate) down_revisions: String,
    pub(crate) direction: &'a str,
    pub(crate) status: &'a str,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) checksum: Option<&'a str>,
    pub(crate) message: &'a str,
    pub(crate) error: Option<&'a str>,
}

impl<'a> NewRecord<'a> {
    /// The row for running `script` in `direction` with `status`.
    pub(crate) fn of(
        script: &'a Script,
        direction: &'a str,
        status: &'a str,
        duration_ms: Option<i64>,
    ) -> Self {
        Self {
            revision: &script.revision,
            down_revisions: script.down_revisions.join(","),
            direction,
            status,
            duration_ms,
            checksum: script.checksum.as_deref(),
            message: &script.message,
            error: None,
        }
    }

    /// The values of the history table's columns after `id` and `applied_at`, in the order
    /// [`VersionTable::record`] lists them: revision, down_revisions, direction, status,
    /// duration_ms, checksum, tool_version, message, error.
    fn values(self) -> [Value; 9] {
        [
            self.revision.into(),
            self.down_revisions.into(),
            self.direction.into(),
            self.status.into(),
            self.duration_ms.into(),
            self.checksum.map(str::to_owned).into(),
            TOOL_VERSION.into(),
            self.message.into(),
            self.error.map(str::to_owned).into(),
        ]
    }
}

/// The `n`th bind placeholder of `backend` (`$n` on PostgreSQL, `?` elsewhere).
pub(crate) fn placeholder(backend: DbBackend) -> impl Fn(usize) -> String {
    let dialect = dialect(backend);
    move |n| dialect.placeholder(n)
}

/// The dialect of a connection's backend. sea-orm's backend enum is non-exhaustive; a backend
/// it adds later has no dialect, and the runner is only ever given connections db-core opened
/// (which refuses such a backend), so the fallback below is never taken.
pub(crate) fn dialect(backend: DbBackend) -> Dialect {
    Dialect::of(backend).unwrap_or(Dialect::Sqlite)
}

//! The runner: [`Migrator`] validates scripts into a graph and runs Alembic's commands
//! (`upgrade`, `downgrade`, `stamp`, `current`) under the migration lock, one step per
//! transaction, from a [`Plan`](crate::plan::Plan); migrate-on-open for devices ([`OnOpen`]).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use db_core::{BoxError, Database, Dialect, ForeignKeys, Migrate, SqliteLocation};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use sea_orm_migration::SchemaManager;

use crate::autogenerate::{Change, Entities, Filter, compare};
use tracing::Instrument;

use crate::backup::{Backup, BackupPolicy, Clock, SystemClock, backup, list_backups, sqlite_file};
use crate::error::{DbContext, Error, Result};
use crate::graph::RevisionGraph;
use crate::plan::Plan;
use crate::script::{RevisionId, Script};
use crate::version_table::{HistoryRecord, LockKey, NewRecord, VersionTable};

/// The migration runner: a validated [`RevisionGraph`] of [`Script`]s plus where to keep the
/// version table. Its methods are Alembic's commands: [`upgrade`](Migrator::upgrade),
/// [`downgrade`](Migrator::downgrade), [`stamp`](Migrator::stamp),
/// [`current`](Migrator::current); it implements db-core's [`Migrate`] (upgrade to all heads),
/// so [`Database::open_migrated`] migrates on open.
///
/// Each migration runs in its own transaction together with its version-table change and
/// history row (SQLite, PostgreSQL): a failure leaves the database at the previous revision.
/// On SQLite migrations run on a dedicated connection with `foreign_keys=OFF` (set outside the
/// transaction, where SQLite honours it) and `PRAGMA foreign_key_check` runs before each commit.
/// Concurrent runners serialise on a PostgreSQL advisory lock, MySQL `GET_LOCK` or SQLite's
/// write lock (`BEGIN IMMEDIATE`), and each re-reads the version table under the lock, so every
/// migration is applied exactly once.
#[derive(Debug)]
pub struct Migrator {
    graph: RevisionGraph,
    table: VersionTable,
    changed_scripts: ChangedScripts,
    lock_timeout: Duration,
    entities: Option<Entities>,
    pub(crate) filter: Filter,
    pub(crate) seeders: crate::seed::Seeders,
    naive_timestamps: NaiveTimestamps,
    transaction_mode: TransactionMode,
}

/// How a run's migrations are grouped into transactions on backends whose DDL is
/// transactional (PostgreSQL, SQLite), as Alembic's `transaction_per_migration`. MySQL and
/// MariaDB commit DDL implicitly: there each step is bracketed on its own whatever the mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransactionMode {
    /// Each migration in its own transaction with its version and history rows (the
    /// default): a failure leaves the database after the last migration that succeeded.
    #[default]
    PerMigration,
    /// The whole run in one transaction (Alembic's default, `transaction_per_migration =
    /// False`): all or nothing, one commit. A migration that manages its own transactions
    /// (`use_transaction() == Some(false)`) makes the run fall back to one per migration.
    /// On MySQL and MariaDB, where DDL commits implicitly, a run with steps to take is
    /// refused ([`Error::SingleTransactionUnsupported`]) rather than silently split.
    Single,
}

impl std::str::FromStr for TransactionMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "per-migration" => Ok(Self::PerMigration),
            "single" => Ok(Self::Single),
            other => Err(format!(
                "unknown transaction mode `{other}`; choose per-migration or single"
            )),
        }
    }
}

/// Whether the registered entities may have zone-less timestamp columns (sea-orm's
/// `DateTime`), a policy as openmodule's, which refuses SQLAlchemy's naive `DateTime` in its
/// models and asks for its `TZDateTime`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NaiveTimestamps {
    /// Allowed (the default).
    #[default]
    Allow,
    /// `check`, `revision --autogenerate` and [`Migrator::compare`] fail with
    /// [`Error::NaiveTimestamps`] naming each such column; use
    /// [`UtcDateTime`](db_core::types::UtcDateTime) instead.
    Forbid,
}

/// What [`Migrator::upgrade`] does when applied migrations' sources changed since they ran
/// (their SHA-256, recorded in the history table, differs from the script's now), as sqlx
/// checks its migrations' checksums.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChangedScripts {
    /// Log a warning per changed script and go on (the default).
    #[default]
    Warn,
    /// Refuse with [`Error::ChangedScripts`] before running anything.
    Refuse,
}

/// An applied migration whose source changed since it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedScript {
    /// The revision.
    pub revision: String,
    /// The SHA-256 recorded when it was applied.
    pub recorded: String,
    /// The SHA-256 of its source now.
    pub current: String,
}

impl fmt::Display for ChangedScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: its source changed since it was applied (sha256 {} then, {} now)",
            self.revision,
            &self.recorded[..self.recorded.len().min(12)],
            &self.current[..self.current.len().min(12)]
        )
    }
}

/// Which way a [`Step`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A migration's `up`.
    Upgrade,
    /// A migration's `down`.
    Downgrade,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Direction {
    /// `upgrade` or `downgrade`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade => "upgrade",
            Self::Downgrade => "downgrade",
        }
    }
}

/// One migration the runner applied or reverted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The revision.
    pub revision: RevisionId,
    /// Up or down.
    pub direction: Direction,
    /// The heads before the step, as Alembic prints them (`<base>` for none).
    pub from: String,
    /// The heads after the step.
    pub to: String,
    /// The script's message.
    pub message: String,
    /// How long the migration ran.
    pub duration: Duration,
}

impl fmt::Display for Step {
    /// Alembic's log line: `Running upgrade <from> -> <rev>, <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&step_line(
            self.direction,
            self.revision.as_str(),
            &self.from,
            &self.to,
            &self.message,
        ))
    }
}

/// Alembic's step line without `Running `: `upgrade <from> -> <rev>, <message>` or
/// `downgrade <rev> -> <to>, <message>` (`from`/`to` are the heads before/after).
pub(crate) fn step_line(
    direction: Direction,
    revision: &str,
    from: &str,
    to: &str,
    message: &str,
) -> String {
    match direction {
        Direction::Upgrade => format!("upgrade {from} -> {revision}, {message}"),
        Direction::Downgrade => format!("downgrade {revision} -> {to}, {message}"),
    }
}

impl Migrator {
    /// A migrator over `scripts`, keeping state in `alembic_version`.
    ///
    /// # Errors
    /// The graph validation errors of [`RevisionGraph::new`].
    pub fn new(scripts: Vec<Script>) -> Result<Self> {
        Ok(Self {
            graph: RevisionGraph::new(scripts)?,
            table: VersionTable::default(),
            changed_scripts: ChangedScripts::Warn,
            lock_timeout: Duration::from_secs(600),
            entities: None,
            filter: Filter::default(),
            seeders: crate::seed::Seeders::default(),
            naive_timestamps: NaiveTimestamps::Allow,
            transaction_mode: TransactionMode::PerMigration,
        })
    }

    /// Declares the entities whose tables this migrator owns (Alembic's `target_metadata`,
    /// openmodule's `register_bases`): [`compare`](Self::compare), `check` and
    /// `revision --autogenerate` compare them with the database.
    #[must_use]
    pub fn entities(mut self, entities: Entities) -> Self {
        self.entities = Some(entities);
        self
    }

    /// Groups each run's migrations into one transaction per migration (the default) or one
    /// for the whole run (see [`TransactionMode`]).
    #[must_use]
    pub fn transaction_mode(mut self, mode: TransactionMode) -> Self {
        self.transaction_mode = mode;
        self
    }

    /// Allows or forbids zone-less timestamp columns in the registered entities (see
    /// [`NaiveTimestamps`]).
    #[must_use]
    pub fn naive_timestamps(mut self, policy: NaiveTimestamps) -> Self {
        self.naive_timestamps = policy;
        self
    }

    /// Which other tables autogenerate manages or ignores, and whether it compares server
    /// defaults (see [`Filter`]).
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// The registered entities, if any.
    #[must_use]
    pub fn registered_entities(&self) -> Option<&Entities> {
        self.entities.as_ref()
    }

    /// The changes that make the database match the registered entities (Alembic's
    /// `compare_metadata`; empty = `alembic check` passes). The database must be at head, as
    /// Alembic requires for autogenerate, so that the comparison sees what the migrations make.
    ///
    /// # Errors
    /// [`Error::NoEntities`] without [`entities`](Self::entities);
    /// [`Error::NaiveTimestamps`] under [`NaiveTimestamps::Forbid`]; [`Error::NotAtHead`] when
    /// the database is not at the head(s); [`Error::Db`] when reading the catalogs fails.
    pub async fn compare(&self, db: &Database) -> Result<Vec<Change>> {
        let entities = self.entities.as_ref().ok_or(Error::NoEntities)?;
        if self.naive_timestamps == NaiveTimestamps::Forbid {
            let columns = entities.naive_timestamp_columns();
            if !columns.is_empty() {
                return Err(Error::NaiveTimestamps {
                    columns: columns.join(", "),
                });
            }
        }
        self.refuse_unresolved(db.connection(), &self.table_for(db)?)
            .await?;
        self.require_at_head(db, "the comparison").await?;
        let table = self.table_for(db)?;
        compare(
            db.connection(),
            entities,
            &self.filter,
            table.schema.as_deref().or(db.schema()),
            &[table.name.as_str(), table.history.as_str()],
        )
        .await
        .context(|| "comparing the entities with the database".into())
    }

    /// [`Error::NotAtHead`] unless the database's revisions are exactly the graph's heads;
    /// `why` names what needs it ("the comparison", "seeding").
    pub(crate) async fn require_at_head(&self, db: &Database, why: &'static str) -> Result<()> {
        let (current, heads) = self.sorted_with_heads(self.current(db).await?);
        if current != heads {
            return Err(Error::NotAtHead {
                current: if current.is_empty() {
                    "<base>".into()
                } else {
                    current.join(", ")
                },
                heads: heads.join(", "),
                why,
            });
        }
        Ok(())
    }

    /// `current` and the graph's heads, both sorted: the database is at head when they are
    /// equal.
    pub(crate) fn sorted_with_heads(&self, mut current: Vec<String>) -> (Vec<String>, Vec<String>) {
        current.sort();
        let mut heads: Vec<String> = self.graph.heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        (current, heads)
    }

    /// Keeps state in `table` instead of `alembic_version` in the default schema.
    #[must_use]
    pub fn version_table(mut self, table: VersionTable) -> Self {
        self.table = table;
        self
    }

    /// What `upgrade` does about applied migrations whose source changed (default: warn).
    #[must_use]
    pub fn changed_scripts(mut self, policy: ChangedScripts) -> Self {
        self.changed_scripts = policy;
        self
    }

    /// The applied migrations whose source changed since they ran: for each revision the
    /// version table covers, the checksum of its last `upgrade` row in the history table
    /// against the script's [`checksum`](crate::Script::checksum) now. Scripts without a
    /// recorded or current checksum are skipped.
    ///
    /// # Errors
    /// [`Error::Db`] when the tables cannot be read.
    pub async fn changed_since_applied(&self, db: &Database) -> Result<Vec<ChangedScript>> {
        let rows = self.current(db).await?;
        let records = self.records(db).await?;
        Ok(self.changed(&rows, &records))
    }

    fn changed(&self, rows: &[String], records: &[HistoryRecord]) -> Vec<ChangedScript> {
        let Ok(current) = self.graph.rows_to_revisions(rows) else {
            return Vec::new();
        };
        let applied = self.graph.ancestors(&current.iter().copied().collect());
        let mut out = Vec::new();
        for &i in &self.graph.order {
            if !applied.contains(&i) {
                continue;
            }
            let script = &self.graph.scripts[i];
            let Some(now) = script.checksum.as_deref() else {
                continue;
            };
            let recorded = records
                .iter()
                .rev()
                .find(|r| {
                    r.revision == script.revision
                        && r.direction == "upgrade"
                        && r.status == "applied"
                })
                .and_then(|r| r.checksum.clone());
            if let Some(recorded) = recorded
                && recorded != now
            {
                out.push(ChangedScript {
                    revision: script.revision.clone(),
                    recorded,
                    current: now.to_owned(),
                });
            }
        }
        out
    }

    /// Warns about (or refuses, per [`Migrator::changed_scripts`]) changed applied scripts.
    async fn review_changed_scripts(&self, db: &Database) -> Result<()> {
        let changed = self.changed_since_applied(db).await?;
        if changed.is_empty() {
            return Ok(());
        }
        match self.changed_scripts {
            ChangedScripts::Warn => {
                for c in &changed {
                    tracing::warn!("{c}");
                }
                Ok(())
            }
            ChangedScripts::Refuse => Err(Error::ChangedScripts {
                scripts: changed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    /// How long to wait for another runner's lock (default 600 s).
    #[must_use]
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The revision graph.
    #[must_use]
    pub fn graph(&self) -> &RevisionGraph {
        &self.graph
    }

    /// The version table settings.
    #[must_use]
    pub fn table(&self) -> &VersionTable {
        &self.table
    }

    /// The version table on `db`: in the database's schema unless the table names its own,
    /// with every name validated before any SQL is built from it.
    pub(crate) fn table_for(&self, db: &Database) -> Result<VersionTable> {
        let mut table = self.table.clone();
        if table.schema.is_none() {
            // Only PostgreSQL connections have a schema (db-core refuses one elsewhere).
            table.schema = db.schema().map(str::to_owned);
        }
        table.validate(db.dialect())?;
        self.check_id_width(&table)?;
        Ok(table)
    }

    /// [`Error::RevisionTooLong`] for an id that does not fit the version table's column.
    pub(crate) fn check_id_width(&self, table: &VersionTable) -> Result<()> {
        for script in &self.graph.scripts {
            let length = script.revision.chars().count();
            if length > table.version_num_width {
                return Err(Error::RevisionTooLong {
                    revision: script.revision.clone(),
                    length,
                    width: table.version_num_width,
                });
            }
        }
        Ok(())
    }

    /// The rows of the version table: the revisions the database is at (`alembic current`).
    /// Empty at base or when the table does not exist.
    ///
    /// # Errors
    /// [`Error::Db`] when the query fails.
    pub async fn current(&self, db: &Database) -> Result<Vec<String>> {
        let table = self.table_for(db)?;
        table
            .read_heads(db.connection())
            .await
            .context(|| format!("reading the version table {}", table.described()))
    }

    /// The step that is still marked `running` or `failed` in the history table: on MySQL and
    /// MariaDB, whose DDL commits implicitly, a migration that was killed or failed after its
    /// first DDL statement leaves the schema part-way between two revisions while the version
    /// table still names the old one. `None` when there is none (always on SQLite and
    /// PostgreSQL, where a step is one transaction). `current` shows it; `upgrade`,
    /// `downgrade` and `check` refuse to run until `stamp` resolves it.
    ///
    /// # Errors
    /// [`Error::Db`] when the query fails.
    pub async fn unresolved(&self, db: &Database) -> Result<Option<HistoryRecord>> {
        let table = self.table_for(db)?;
        if db.dialect().transactional_ddl() {
            return Ok(None);
        }
        table
            .unresolved(db.connection())
            .await
            .context(|| format!("reading the history table {}", table.described_history()))
    }

    /// Whether the history table holds a step marked `running` or `failed` (MySQL only).
    async fn has_unresolved(
        &self,
        conn: &impl ConnectionTrait,
        table: &VersionTable,
    ) -> Result<bool> {
        let dialect = crate::version_table::dialect(conn.get_database_backend());
        if dialect.transactional_ddl() {
            return Ok(false);
        }
        Ok(table
            .unresolved(conn)
            .await
            .context(|| format!("reading the history table {}", table.described_history()))?
            .is_some())
    }

    /// [`Error::PartiallyApplied`] when the history table holds an unresolved step (MySQL);
    /// called under the migration lock, where a marked step can only be an interrupted one.
    async fn refuse_unresolved(
        &self,
        conn: &impl ConnectionTrait,
        table: &VersionTable,
    ) -> Result<()> {
        let dialect = crate::version_table::dialect(conn.get_database_backend());
        if dialect.transactional_ddl() {
            return Ok(());
        }
        match table
            .unresolved(conn)
            .await
            .context(|| format!("reading the history table {}", table.described_history()))?
        {
            Some(r) => Err(Error::PartiallyApplied {
                revision: r.revision,
                direction: r.direction,
                error: r.error.unwrap_or_else(|| "interrupted".to_owned()),
            }),
            None => Ok(()),
        }
    }

    /// The history table's rows, oldest first.
    ///
    /// # Errors
    /// [`Error::Db`] when the query fails.
    pub async fn records(&self, db: &Database) -> Result<Vec<HistoryRecord>> {
        let table = self.table_for(db)?;
        if !table
            .table_exists(db.connection(), &table.history)
            .await
            .context(|| format!("reading the history table {}", table.described_history()))?
        {
            return Ok(Vec::new());
        }
        table
            .records(db.connection(), "")
            .await
            .context(|| format!("reading the history table {}", table.described_history()))
    }

    /// Applies migrations until the database is at `target` (`alembic upgrade <target>`):
    /// `head`, `heads`, an id or unique prefix of 4+ characters, a branch label, `+N`,
    /// `<rev>+N` or `<branch>@head`. Returns the steps taken, oldest first; none when the
    /// database is there already (a handful of queries, no lock).
    ///
    /// # Errors
    /// Target errors ([`Error::UnknownRevision`], [`Error::AmbiguousRevision`],
    /// [`Error::MultipleHeads`], [`Error::InvalidTarget`]) before anything changes;
    /// [`Error::UnknownDatabaseRevision`]; [`Error::MigrationFailed`] or
    /// [`Error::ForeignKeyViolation`] naming the revision, after rolling it back;
    /// [`Error::PartiallyApplied`] on MySQL.
    pub async fn upgrade(&self, db: &Database, target: &str) -> Result<Vec<Step>> {
        let table = self.table_for(db)?;
        match self.pending(db, &table, target).await? {
            None => Ok(Vec::new()),
            Some((_, plan)) => {
                self.review_changed_scripts(db).await?;
                self.run(db, &table, plan).await
            }
        }
    }

    /// The version-table rows and the set to reach when `target` needs migrations; `None` when
    /// the database is there already.
    async fn pending(
        &self,
        db: &Database,
        table: &VersionTable,
        target: &str,
    ) -> Result<Option<(Vec<String>, Plan)>> {
        let heads = table
            .read_heads(db.connection())
            .await
            .context(|| format!("reading the version table {}", table.described()))?;
        let plan = self.graph.plan_upgrade(&heads, target)?;
        // A step marked running (MySQL) may be another runner's, in progress: decide under the
        // lock, where it can only be an interrupted one.
        let unresolved = self.has_unresolved(db.connection(), table).await?;
        Ok((unresolved || !plan.steps.is_empty()).then_some((heads, plan)))
    }

    /// As [`Migrator::upgrade`], but on a SQLite file first takes a [`backup`](crate::backup::backup)
    /// when (and only when) migrations are pending, following `policy`. Returns the steps and
    /// the backup taken (`None` when nothing was pending or the newest backup is recent).
    ///
    /// # Errors
    /// As [`Migrator::upgrade`] and [`backup`](crate::backup::backup); when the upgrade fails after a
    /// backup exists, [`Error::FailedAfterBackup`] names the backup.
    pub async fn upgrade_with_backup(
        &self,
        db: &Database,
        target: &str,
        policy: &BackupPolicy,
        clock: &dyn Clock,
    ) -> Result<(Vec<Step>, Option<Backup>)> {
        self.upgrade_with_backup_until(db, target, policy, clock, None)
            .await
    }

    async fn upgrade_with_backup_until(
        &self,
        db: &Database,
        target: &str,
        policy: &BackupPolicy,
        clock: &dyn Clock,
        deadline: Option<Instant>,
    ) -> Result<(Vec<Step>, Option<Backup>)> {
        let table = self.table_for(db)?;
        let Some((heads, plan)) = self.pending(db, &table, target).await? else {
            return Ok((Vec::new(), None));
        };
        self.review_changed_scripts(db).await?;
        let taken = match sqlite_file(db) {
            Ok(file) => {
                let taken = backup(db, policy, &heads.join("+"), clock).await?;
                let newest = match &taken {
                    Some(b) => Some(b.path.clone()),
                    None => {
                        let dir = policy.dir.clone().unwrap_or_else(|| {
                            file.parent().map(Path::to_owned).unwrap_or_default()
                        });
                        list_backups(file, &dir)?.into_iter().next().map(|b| b.path)
                    }
                };
                (taken, newest)
            }
            Err(_) => (None, None),
        };
        match self.run_until(db, &table, plan, deadline).await {
            Ok(steps) => Ok((steps, taken.0)),
            Err(e) => match taken.1 {
                Some(backup) => Err(Error::FailedAfterBackup {
                    backup,
                    source: Box::new(e),
                }),
                None => Err(e),
            },
        }
    }

    /// Replaces the SQLite file `db_file` with a backup, verified first: it must be a SQLite
    /// file (not empty, SQLite's header) that passes `integrity_check`, have this migrator's
    /// version table, and be at revisions these migrations contain (the last two are skipped
    /// with `options.force`). Without `options.backup` the newest backup that verifies is
    /// taken. The swap holds an exclusive lock on the current database, so it fails while any
    /// other connection has it open; the current file is kept as
    /// `<file>.before-restore-<UTC timestamp>`, and the restored copy is moved into place by
    /// an atomic rename (a symbolic link is followed: its target is replaced, not the link).
    ///
    /// # Errors
    /// [`Error::Backup`] naming the file and the check that failed, or the database being in
    /// use; [`db_core::Error::AlreadyOpen`] when this process has it open. Nothing changes
    /// on error.
    pub async fn restore(
        &self,
        db_file: &Path,
        options: &crate::backup::RestoreOptions,
    ) -> Result<crate::backup::Restored> {
        let table = self.table.clone();
        table.validate(Dialect::Sqlite)?;
        let graph = &self.graph;
        let name = table.name.clone();
        let check = move |rows: Option<&[String]>| -> std::result::Result<(), String> {
            if options.force {
                return Ok(());
            }
            let Some(rows) = rows else {
                return Err(format!(
                    "has no version table `{name}`, so it is not a database of these migrations (use --force to restore it anyway)"
                ));
            };
            match rows.iter().find(|r| graph.index(r).is_none()) {
                Some(unknown) => Err(format!(
                    "is at revision `{unknown}`, which these migrations do not contain (use --force to restore it anyway)"
                )),
                None => Ok(()),
            }
        };
        crate::backup::restore_with(db_file, options, &table, &check).await
    }

    /// This migrator as the [`Migrate`] of a device: on open, back up when something is
    /// pending, upgrade to every head within `options.timeout`, and refuse a database at a
    /// revision these scripts do not know.
    #[must_use]
    pub fn on_open(self, options: OnOpenOptions) -> OnOpen {
        OnOpen {
            migrator: self,
            options,
        }
    }

    /// Reverts migrations until the database is at `target` (`alembic downgrade <target>`):
    /// `base`, an applied revision (id, prefix, label), `-N` or `<rev>-N`. Only revisions that
    /// descend from the target are reverted; other branches stay. Returns the steps taken.
    ///
    /// # Errors
    /// As [`Migrator::upgrade`]; a target that is not applied is [`Error::InvalidTarget`].
    pub async fn downgrade(&self, db: &Database, target: &str) -> Result<Vec<Step>> {
        let table = self.table_for(db)?;
        let heads = table
            .read_heads(db.connection())
            .await
            .context(|| format!("reading the version table {}", table.described()))?;
        let plan = self.graph.plan_downgrade(&heads, target)?;
        if plan.steps.is_empty() && !self.has_unresolved(db.connection(), &table).await? {
            return Ok(Vec::new());
        }
        self.run(db, &table, plan).await
    }

    /// Sets the version table to `targets` without running migrations (`alembic stamp`).
    /// Heads on the same lineage as a target are replaced; with [`StampMode::Purge`] every row
    /// is deleted first, including revisions these scripts do not know (`alembic stamp
    /// --purge`). On MySQL a stamp also marks a partially applied migration as resolved.
    /// Returns the new heads.
    ///
    /// # Errors
    /// Target errors; [`Error::UnknownDatabaseRevision`] with [`StampMode::Update`].
    pub async fn stamp(
        &self,
        db: &Database,
        targets: &[&str],
        mode: StampMode,
    ) -> Result<Vec<String>> {
        let purge = mode == StampMode::Purge;
        let table = self.table_for(db)?;
        let conn = db.dedicated_connection(ForeignKeys::On).await?;
        let locked = self.lock(&conn, &table).await?;
        let result = async {
            self.ensure_tables(&conn, &table).await?;
            let txn = begin(&conn)
                .await
                .context(|| "starting the stamp transaction".into())?;
            let old = table
                .read_heads_unchecked(&txn)
                .await
                .context(|| format!("reading the version table {}", table.described()))?;
            let new = if purge {
                self.graph.plan_stamp(&[], targets)?
            } else {
                self.graph.plan_stamp(&old, targets)?
            };
            if purge {
                table
                    .purge(&txn)
                    .await
                    .context(|| format!("purging the version table {}", table.described()))?;
                table.write_heads(&txn, &[], &new).await
            } else {
                table.write_heads(&txn, &old, &new).await
            }
            .context(|| format!("writing the version table {}", table.described()))?;
            for rev in &new {
                table
                    .record(
                        &txn,
                        NewRecord {
                            revision: rev,
                            down_revisions: old.join(","),
                            direction: "stamp",
                            status: "applied",
                            duration_ms: None,
                            checksum: None,
                            message: "stamp",
                            error: None,
                        },
                    )
                    .await
                    .context(|| {
                        format!("writing the history table {}", table.described_history())
                    })?;
            }
            let resolved = table
                .resolve_all(&txn)
                .await
                .context(|| format!("writing the history table {}", table.described_history()))?;
            if resolved > 0 {
                tracing::info!(
                    rows = resolved,
                    "marked partially applied migrations as resolved"
                );
            }
            txn.commit()
                .await
                .context(|| "committing the stamp".into())?;
            tracing::info!("stamped {} -> {}", fmt_heads(&old), fmt_heads(&new));
            Ok(new)
        }
        .await;
        self.unlock(&conn, locked).await;
        result
    }

    async fn ensure_tables(&self, conn: &DatabaseConnection, table: &VersionTable) -> Result<()> {
        crate::dialect::ensure_version_table(
            crate::version_table::dialect(conn.get_database_backend()),
            conn,
            table,
        )
        .await
    }

    async fn run(&self, db: &Database, table: &VersionTable, plan: Plan) -> Result<Vec<Step>> {
        self.run_until(db, table, plan, None).await
    }

    /// Runs towards `goal`; on SQLite a `deadline` interrupts the running statement through a
    /// progress handler (the statement fails, its migration rolls back).
    async fn run_until(
        &self,
        db: &Database,
        table: &VersionTable,
        plan: Plan,
        deadline: Option<Instant>,
    ) -> Result<Vec<Step>> {
        let in_memory = matches!(db.sqlite_location(), Some(SqliteLocation::Memory));
        let conn = db.dedicated_connection(ForeignKeys::Off).await?;
        if in_memory {
            conn.execute_unprepared("PRAGMA foreign_keys = OFF")
                .await
                .context(|| "disabling foreign keys".into())?;
        }
        if let Some(deadline) = deadline {
            crate::dialect::set_deadline(&conn, Some(deadline)).await?;
        }
        let locked = self.lock(&conn, table).await?;
        let result = self.run_locked(&conn, table, plan, locked.is_some()).await;
        self.unlock(&conn, locked).await;
        if deadline.is_some() {
            crate::dialect::set_deadline(&conn, None).await?;
        }
        let result = match (result, deadline) {
            (Err(e), Some(d)) if Instant::now() >= d => {
                tracing::error!(error = %e, "interrupted at the deadline");
                let revision = match e {
                    Error::MigrationFailed { revision, .. } => revision.to_string(),
                    _ => "<unknown>".to_owned(),
                };
                Err(Error::Timeout {
                    limit_ms: 0,
                    revision,
                })
            }
            (r, _) => r,
        };
        if in_memory {
            conn.execute_unprepared("PRAGMA foreign_keys = ON")
                .await
                .context(|| "enabling foreign keys".into())?;
        } else if !db.is_single_session() {
            let _ = conn.close().await;
        }
        result
    }

    /// Runs `plan` on `conn`; `held` when a session lock covers the whole run (PostgreSQL,
    /// MySQL), so the rows each step writes need not be read again. On SQLite the lock is each
    /// step's write transaction, so every step reads them under it.
    async fn run_locked(
        &self,
        conn: &DatabaseConnection,
        table: &VersionTable,
        mut plan: Plan,
        held: bool,
    ) -> Result<Vec<Step>> {
        let backend = conn.get_database_backend();
        let dialect = crate::version_table::dialect(backend);
        if self.transaction_mode == TransactionMode::Single
            && !dialect.transactional_ddl()
            && !plan.steps.is_empty()
        {
            return Err(Error::SingleTransactionUnsupported {
                backend: dialect.display_name(),
            });
        }
        self.ensure_tables(conn, table).await?;
        self.refuse_unresolved(conn, table).await?;
        if self.transaction_mode == TransactionMode::Single
            && crate::version_table::dialect(backend).transactional_ddl()
        {
            match plan
                .steps
                .iter()
                .find(|s| self.graph.scripts[s.index].migration.use_transaction() == Some(false))
            {
                None => return self.run_single(conn, table, plan).await,
                Some(s) => tracing::warn!(
                    "{} manages its own transactions: this run uses one transaction per migration",
                    self.graph.id(s.index)
                ),
            }
        }
        let mut steps = Vec::new();
        let mut first = true;
        // The rows after the last step this run made (transactional backends).
        let mut known: Option<Vec<String>> = None;
        loop {
            if !crate::version_table::dialect(backend).transactional_ddl() {
                let heads = table
                    .read_heads_unchecked(conn)
                    .await
                    .context(|| format!("reading the version table {}", table.described()))?;
                if std::mem::take(&mut first) {
                    plan = plan.again(&self.graph, &heads)?;
                }
                let Some(next) = self.next_step(&plan, &heads)? else {
                    break;
                };
                let span = self.step_span(&next, steps.len() + 1, plan.steps.len());
                let step = self
                    .apply_mysql(conn, table, next, &heads)
                    .instrument(span.clone())
                    .await?;
                span.in_scope(|| log_done(&step));
                steps.push(step);
            } else if let Some(heads) = known.take() {
                // Under the lock, the rows are what the previous step wrote: no need to read them.
                let Some(next) = self.next_step(&plan, &heads)? else {
                    break;
                };
                let txn = begin(conn)
                    .await
                    .context(|| "starting a migration transaction".into())?;
                let after = next.2.clone();
                let span = self.step_span(&next, steps.len() + 1, plan.steps.len());
                let step = self
                    .apply_in_transaction(conn, txn, table, next, &heads)
                    .instrument(span.clone())
                    .await?;
                span.in_scope(|| log_done(&step));
                steps.push(step);
                known = held.then_some(after);
            } else {
                let txn = begin(conn)
                    .await
                    .context(|| "starting a migration transaction".into())?;
                let heads = table
                    .read_heads_unchecked(&txn)
                    .await
                    .context(|| format!("reading the version table {}", table.described()))?;
                if std::mem::take(&mut first) {
                    plan = match plan.again(&self.graph, &heads) {
                        Ok(p) => p,
                        Err(e) => {
                            let _ = txn.rollback().await;
                            return Err(e);
                        }
                    };
                }
                let next = match self.next_step(&plan, &heads) {
                    Ok(Some(next)) => next,
                    Ok(None) => {
                        txn.commit()
                            .await
                            .context(|| "ending the transaction".into())?;
                        break;
                    }
                    Err(e) => {
                        let _ = txn.rollback().await;
                        return Err(e);
                    }
                };
                let after = next.2.clone();
                let span = self.step_span(&next, steps.len() + 1, plan.steps.len());
                let step = self
                    .apply_in_transaction(conn, txn, table, next, &heads)
                    .instrument(span.clone())
                    .await?;
                span.in_scope(|| log_done(&step));
                steps.push(step);
                known = held.then_some(after);
            }
        }
        Ok(steps)
    }

    /// The step of `plan` to run when the version table holds `heads`, with the rows after it.
    pub(crate) fn next_step(
        &self,
        plan: &Plan,
        heads: &[String],
    ) -> Result<Option<(usize, Direction, Vec<String>)>> {
        Ok(plan
            .next_from(heads)?
            .map(|s| (s.index, s.direction, s.after.clone())))
    }

    /// The span of one step (`migration`, with `revision`, `direction` and its place `step`
    /// of `of` in the run), for services that collect traces; the runner's events of the step
    /// are inside it.
    fn step_span(
        &self,
        (index, direction, _): &(usize, Direction, Vec<String>),
        step: usize,
        of: usize,
    ) -> tracing::Span {
        tracing::info_span!(
            "migration",
            revision = %self.graph.id(*index),
            direction = direction.as_str(),
            step,
            of
        )
    }

    /// The step about to run (duration still zero), logged as Alembic logs it.
    fn start_step(
        &self,
        index: usize,
        direction: Direction,
        old_heads: &[String],
        new_heads: &[String],
    ) -> Step {
        let script = &self.graph.scripts[index];
        let step = Step {
            revision: self.graph.id(index).clone(),
            direction,
            from: fmt_heads(old_heads),
            to: fmt_heads(new_heads),
            message: script.message.clone(),
            duration: Duration::ZERO,
        };
        tracing::info!(
            target: PROGRESS_TARGET,
            "running {} {}",
            direction.as_str(),
            describe(
                direction,
                &step.from,
                &step.revision,
                &step.to,
                &step.message
            )
        );
        step
    }

    async fn apply_in_transaction(
        &self,
        conn: &DatabaseConnection,
        txn: sea_orm::DatabaseTransaction,
        table: &VersionTable,
        (index, direction, new_heads): (usize, Direction, Vec<String>),
        old_heads: &[String],
    ) -> Result<Step> {
        let script = &self.graph.scripts[index];
        let mut step = self.start_step(index, direction, old_heads, &new_heads);
        let revision = step.revision.clone();
        let at = step.from.clone();
        let fail = |source: DbErr| Error::MigrationFailed {
            revision: revision.clone(),
            direction,
            at: at.clone(),
            source,
        };
        let started = Instant::now();
        let own_transaction = script.migration.use_transaction() == Some(false);
        let outcome = if own_transaction {
            // The migration manages its own transactions: run it on the connection.
            txn.rollback().await.map_err(&fail)?;
            run_migration(script, direction, &SchemaManager::new(conn))
                .await
                .map_err(&fail)?;
            let txn = begin(conn).await.map_err(&fail)?;
            finish(
                &txn, table, script, direction, old_heads, &new_heads, started,
            )
            .await
            .map_err(&fail)?;
            check_foreign_keys(&txn, &revision, direction).await?;
            txn.commit().await.map_err(&fail)
        } else {
            match self
                .apply_within(&txn, table, (index, direction, new_heads), old_heads, step)
                .await
            {
                Ok(done) => {
                    txn.commit().await.map_err(&fail)?;
                    return Ok(done);
                }
                Err(e) => {
                    let _ = txn.rollback().await;
                    return Err(e);
                }
            }
        };
        outcome?;
        step.duration = started.elapsed();
        Ok(step)
    }

    /// Runs one step inside `txn` (which the caller commits or rolls back): the migration,
    /// the version rows and history row, and SQLite's foreign-key check.
    async fn apply_within(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        table: &VersionTable,
        (index, direction, new_heads): (usize, Direction, Vec<String>),
        old_heads: &[String],
        mut step: Step,
    ) -> Result<Step> {
        let script = &self.graph.scripts[index];
        let started = Instant::now();
        let result = async {
            run_migration(script, direction, &SchemaManager::new(txn)).await?;
            finish(
                txn, table, script, direction, old_heads, &new_heads, started,
            )
            .await
        }
        .await;
        if let Err(source) = result {
            return Err(Error::MigrationFailed {
                revision: step.revision.clone(),
                direction,
                at: step.from.clone(),
                source,
            });
        }
        check_foreign_keys(txn, &step.revision, direction).await?;
        step.duration = started.elapsed();
        Ok(step)
    }

    /// [`TransactionMode::Single`]: every step of `plan` in one transaction, committed at the
    /// end; a failure rolls the whole run back, so the database stays where it started.
    async fn run_single(
        &self,
        conn: &DatabaseConnection,
        table: &VersionTable,
        plan: Plan,
    ) -> Result<Vec<Step>> {
        let txn = begin(conn)
            .await
            .context(|| "starting the migration transaction".into())?;
        let result = async {
            let mut heads = table
                .read_heads_unchecked(&txn)
                .await
                .context(|| format!("reading the version table {}", table.described()))?;
            let start = fmt_heads(&heads);
            let plan = plan.again(&self.graph, &heads)?;
            let mut steps = Vec::new();
            while let Some(next) = self.next_step(&plan, &heads)? {
                let after = next.2.clone();
                let span = self.step_span(&next, steps.len() + 1, plan.steps.len());
                let first = self.start_step(next.0, next.1, &heads, &after);
                let step = self
                    .apply_within(&txn, table, next, &heads, first)
                    .instrument(span.clone())
                    .await
                    .map_err(|e| match e {
                        // Everything rolls back: the database is where the run started.
                        Error::MigrationFailed {
                            revision,
                            direction,
                            source,
                            ..
                        } => Error::MigrationFailed {
                            revision,
                            direction,
                            at: start.clone(),
                            source,
                        },
                        other => other,
                    })?;
                span.in_scope(|| log_done(&step));
                steps.push(step);
                heads = after;
            }
            Ok::<_, Error>(steps)
        }
        .await;
        match result {
            Ok(steps) => {
                txn.commit()
                    .await
                    .context(|| "committing the migration transaction".into())?;
                Ok(steps)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }

    /// MySQL/MariaDB, whose DDL commits implicitly: the step runs in a transaction that
    /// starts by inserting a `running` history row. Only DML: the transaction commits or rolls
    /// back as a whole, the marker with it, and a failure or a kill leaves nothing behind. A
    /// DDL statement commits the marker along with everything before it, so from then on a
    /// failure (or a kill) leaves the marker `running`/`failed`, and every later command
    /// refuses until `stamp` resolves it: the schema may be part-way.
    async fn apply_mysql(
        &self,
        conn: &DatabaseConnection,
        table: &VersionTable,
        (index, direction, new_heads): (usize, Direction, Vec<String>),
        old_heads: &[String],
    ) -> Result<Step> {
        let script = &self.graph.scripts[index];
        let mut step = self.start_step(index, direction, old_heads, &new_heads);
        let started = Instant::now();
        let error = if script.migration.use_transaction() == Some(false) {
            // The migration manages its own transactions: the marker is committed first.
            let result = async {
                let marker = table
                    .record(
                        conn,
                        NewRecord::of(script, direction.as_str(), "running", None),
                    )
                    .await?;
                run_migration(script, direction, &SchemaManager::new(conn)).await?;
                table.write_heads(conn, old_heads, &new_heads).await?;
                let elapsed = Some(millis(started.elapsed()));
                table
                    .set_status(conn, marker, "applied", elapsed, None)
                    .await
            }
            .await;
            match result {
                Ok(()) => {
                    step.duration = started.elapsed();
                    return Ok(step);
                }
                Err(e) => e,
            }
        } else {
            let txn = conn
                .begin()
                .await
                .context(|| "starting a migration transaction".into())?;
            let result = async {
                let marker = table
                    .record(
                        &txn,
                        NewRecord::of(script, direction.as_str(), "running", None),
                    )
                    .await?;
                run_migration(script, direction, &SchemaManager::new(&txn)).await?;
                table.write_heads(&txn, old_heads, &new_heads).await?;
                let elapsed = Some(millis(started.elapsed()));
                table
                    .set_status(&txn, marker, "applied", elapsed, None)
                    .await
            }
            .await;
            match result {
                Ok(()) => match txn.commit().await {
                    Ok(()) => {
                        step.duration = started.elapsed();
                        return Ok(step);
                    }
                    Err(e) => e,
                },
                Err(e) => {
                    let _ = txn.rollback().await;
                    e
                }
            }
        };
        // Did a DDL statement commit the marker before the failure?
        let leftover = table
            .unresolved(conn)
            .await
            .context(|| format!("reading the history table {}", table.described_history()))?;
        match leftover {
            Some(record) if record.revision == step.revision.as_str() => {
                let text = error.to_string();
                let _ = table
                    .set_status(
                        conn,
                        record.id,
                        "failed",
                        Some(millis(started.elapsed())),
                        Some(&text),
                    )
                    .await;
                Err(Error::PartiallyApplied {
                    revision: step.revision.to_string(),
                    direction: direction.as_str().to_owned(),
                    error: text,
                })
            }
            _ => Err(Error::MigrationFailed {
                revision: step.revision.clone(),
                direction,
                at: step.from.clone(),
                source: error,
            }),
        }
    }

    /// A dedicated session holding the migration lock of `table` (PostgreSQL, MySQL; on
    /// SQLite each write transaction is the lock, so none is held).
    pub(crate) async fn lock_for(
        &self,
        db: &Database,
        table: &VersionTable,
    ) -> Result<(DatabaseConnection, Option<LockKey>)> {
        let conn = db.dedicated_connection(ForeignKeys::On).await?;
        match self.lock(&conn, table).await {
            Ok(key) => Ok((conn, key)),
            Err(e) => {
                if !db.is_single_session() {
                    let _ = conn.close().await;
                }
                Err(e)
            }
        }
    }

    /// Releases what [`Migrator::lock_for`] took.
    pub(crate) async fn release(
        &self,
        db: &Database,
        conn: DatabaseConnection,
        key: Option<LockKey>,
    ) {
        self.unlock(&conn, key).await;
        if !db.is_single_session() {
            let _ = conn.close().await;
        }
    }

    /// Takes the migration lock of `table` (see [`crate::dialect::lock`]).
    async fn lock(
        &self,
        conn: &DatabaseConnection,
        table: &VersionTable,
    ) -> Result<Option<LockKey>> {
        crate::dialect::lock(
            crate::version_table::dialect(conn.get_database_backend()),
            conn,
            table,
            self.lock_timeout,
        )
        .await
    }

    async fn unlock(&self, conn: &DatabaseConnection, key: Option<LockKey>) {
        if let Some(key) = key {
            crate::dialect::unlock(conn, key).await;
        }
    }
}

/// What [`Migrator::stamp`] does with the rows already in the version table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum StampMode {
    /// Alembic's `stamp`: heads on a target's lineage are replaced, others kept; a row of an
    /// unknown revision is an error.
    #[default]
    Update,
    /// Alembic's `stamp --purge`: every row is deleted first, unknown revisions included.
    Purge,
}

/// How a device migrates its SQLite database when it opens it (see [`Migrator::on_open`]).
#[derive(Clone, Debug)]
pub struct OnOpenOptions {
    /// Backups before migrating.
    pub backup: BackupPolicy,
    /// How long the whole migration may take (default 300 s); past it the run is abandoned,
    /// the running migration's transaction is rolled back, and opening fails.
    pub timeout: Duration,
    /// The clock for backup names and intervals.
    pub clock: Arc<dyn Clock>,
}

impl Default for OnOpenOptions {
    fn default() -> Self {
        Self {
            backup: BackupPolicy::default(),
            timeout: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
        }
    }
}

/// A [`Migrator`] with device options; implements [`Migrate`] for
/// [`Database::open_migrated`].
#[derive(Debug)]
pub struct OnOpen {
    migrator: Migrator,
    options: OnOpenOptions,
}

impl OnOpen {
    /// The migrator.
    #[must_use]
    pub fn migrator(&self) -> &Migrator {
        &self.migrator
    }
}

#[async_trait::async_trait]
impl Migrate for OnOpen {
    async fn migrate(&self, db: &Database) -> Result<(), BoxError> {
        let limit_ms = u64::try_from(self.options.timeout.as_millis()).unwrap_or(u64::MAX);
        let deadline = Instant::now() + self.options.timeout;
        let run = self.migrator.upgrade_with_backup_until(
            db,
            "heads",
            &self.options.backup,
            self.options.clock.as_ref(),
            Some(deadline),
        );
        // The progress handler interrupts SQLite statements at the deadline; the outer timeout
        // (with a grace period) covers lock waits and the server backends.
        let timeout_error = |e: Error| match e {
            Error::Timeout { revision, .. } => Error::Timeout { limit_ms, revision },
            Error::FailedAfterBackup { backup, source } => match *source {
                Error::Timeout { revision, .. } => Error::FailedAfterBackup {
                    backup,
                    source: Box::new(Error::Timeout { limit_ms, revision }),
                },
                other => Error::FailedAfterBackup {
                    backup,
                    source: Box::new(other),
                },
            },
            other => other,
        };
        match tokio::time::timeout(self.options.timeout + Duration::from_secs(5), run).await {
            Ok(result) => result.map(|_| ()).map_err(|e| timeout_error(e).into()),
            Err(_) => Err(Error::Timeout {
                limit_ms,
                revision: "<unknown>".to_owned(),
            }
            .into()),
        }
    }
}

#[async_trait::async_trait]
impl Migrate for Migrator {
    /// Upgrades to every head (`upgrade heads`).
    async fn migrate(&self, db: &Database) -> Result<(), BoxError> {
        self.upgrade(db, "heads")
            .await
            .map(|_| ())
            .map_err(Into::into)
    }
}

/// Writes the version table and the history row of a finished step.
pub(crate) async fn finish(
    txn: &impl ConnectionTrait,
    table: &VersionTable,
    script: &Script,
    direction: Direction,
    old_heads: &[String],
    new_heads: &[String],
    started: Instant,
) -> Result<(), DbErr> {
    table
        .advance(
            txn,
            old_heads,
            new_heads,
            NewRecord::of(
                script,
                direction.as_str(),
                "applied",
                Some(millis(started.elapsed())),
            ),
        )
        .await
}

pub(crate) async fn begin(
    conn: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    crate::version_table::dialect(conn.get_database_backend())
        .begin_write(conn)
        .await
}

pub(crate) async fn run_migration(
    script: &Script,
    direction: Direction,
    manager: &SchemaManager<'_>,
) -> Result<(), DbErr> {
    let work = async {
        match direction {
            Direction::Upgrade => script.migration.up(manager).await,
            Direction::Downgrade => script.migration.down(manager).await,
        }
    };
    // A long step says it is alive every ALIVE_EVERY (a SQLite rebuild of a big table, a data
    // migration), so an operator watching plain logs sees it is not stuck.
    tokio::pin!(work);
    let started = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + ALIVE_EVERY, ALIVE_EVERY);
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = tick.tick() => tracing::info!(
                target: PROGRESS_TARGET,
                revision = %script.revision,
                direction = direction.as_str(),
                elapsed_s = started.elapsed().as_secs(),
                "still running {} {} ({} s)",
                direction.as_str(),
                script.revision,
                started.elapsed().as_secs()
            ),
        }
    }
}

/// Logs a finished step with its duration.
fn log_done(step: &Step) {
    let ms = u64::try_from(step.duration.as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        target: PROGRESS_TARGET,
        duration_ms = ms,
        "done {} {} in {ms} ms",
        step.direction.as_str(),
        step.revision
    );
}

/// How often a running step logs that it is alive.
const ALIVE_EVERY: Duration = Duration::from_secs(5);

/// The `tracing` target of the runner's progress events: `step` and `of` when a step starts,
/// `duration_ms` when it ends, `elapsed_s` while a long one runs (the CLI's progress bar
/// follows them).
pub const PROGRESS_TARGET: &str = "db_migrate::progress";

/// `PRAGMA foreign_key_check` on SQLite: any row is a violation that aborts the step.
async fn check_foreign_keys(
    txn: &impl ConnectionTrait,
    revision: &RevisionId,
    direction: Direction,
) -> Result<()> {
    let (shown, total) = crate::version_table::dialect(txn.get_database_backend())
        .foreign_key_violations(txn, 20)
        .await
        .context(|| "checking foreign keys".into())?;
    if total == 0 {
        return Ok(());
    }
    let more = if total > shown.len() {
        format!(" and {} more", total - shown.len())
    } else {
        String::new()
    };
    let violations = shown;
    Err(Error::ForeignKeyViolation {
        revision: revision.clone(),
        direction,
        violations: format!("{}{more}", violations.join("; ")),
    })
}

fn describe(
    direction: Direction,
    from: &str,
    revision: &RevisionId,
    to: &str,
    message: &str,
) -> String {
    match direction {
        Direction::Upgrade => format!("{from} -> {revision}, {message}"),
        Direction::Downgrade => format!("{revision} -> {to}, {message}"),
    }
}

pub(crate) fn fmt_heads(heads: &[String]) -> String {
    if heads.is_empty() {
        "<base>".to_owned()
    } else {
        heads.join(", ")
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

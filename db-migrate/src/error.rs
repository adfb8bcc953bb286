//! db-migrate's [`Error`]: every way a command can fail, each saying what happened and what to
//! do; the database is left as it was.

use sea_orm::DbErr;

use crate::migrator::Direction;
use crate::script::RevisionId;

/// What can go wrong while loading revisions or migrating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A revision id is empty or has a character Alembic's target syntax uses (`@`, `-`, `+`,
    /// `:`), whitespace or a control character.
    #[error(
        "invalid revision id `{revision}`: it must not be empty or contain `@`, `-`, `+`, `:`, spaces or control characters"
    )]
    InvalidRevisionId {
        /// The id as written.
        revision: String,
    },
    /// A revision id is longer than the version table's `version_num` column.
    #[error(
        "revision `{revision}` is {length} characters long, but the version table's version_num column holds {width}; use shorter ids, or widen the column and set `VersionTable::version_num_width`"
    )]
    RevisionTooLong {
        /// The id.
        revision: String,
        /// Its length in characters.
        length: usize,
        /// The column's width.
        width: usize,
    },
    /// A lint rule name that does not exist (parsing a [`LintRule`](crate::lint::LintRule)).
    #[error("unknown lint rule `{rule}`; the rules are: {known}")]
    UnknownLintRule {
        /// The rule as written.
        rule: String,
        /// The known rules, comma separated.
        known: String,
    },
    /// Two scripts declare the same revision id.
    #[error("revision `{revision}` is declared twice; give one of them a new id")]
    DuplicateRevision {
        /// The repeated id.
        revision: String,
    },
    /// A script's down_revision or depends_on names no known revision.
    #[error("revision `{revision}` refers to unknown revision `{missing}` in its {relation}")]
    UnknownParent {
        /// The script that refers.
        revision: String,
        /// The id it refers to.
        missing: String,
        /// `down_revision` or `depends_on`.
        relation: &'static str,
    },
    /// down_revision / depends_on links form a cycle.
    #[error("the revisions {revisions} form a cycle through down_revision/depends_on")]
    Cycle {
        /// The revisions on the cycle, comma separated.
        revisions: String,
    },
    /// A branch label is used by two revisions, or equals a revision id.
    #[error("branch label `{label}` is used by more than one revision ({revisions})")]
    DuplicateBranchLabel {
        /// The label.
        label: String,
        /// The revisions that carry it, comma separated.
        revisions: String,
    },
    /// A target names no revision or branch.
    #[error("unknown revision `{target}`; {candidates}")]
    UnknownRevision {
        /// The target as given.
        target: String,
        /// Close matches or the heads, as a readable list.
        candidates: String,
    },
    /// A revision prefix matches several revisions.
    #[error("ambiguous revision `{target}` matches {candidates}; give more characters")]
    AmbiguousRevision {
        /// The target as given.
        target: String,
        /// The matching revisions, comma separated.
        candidates: String,
    },
    /// `head` (or a relative step) was asked for while several heads exist.
    #[error(
        "multiple heads are present ({heads}); name one, use `<branch>@head` to narrow to one branch, or `heads` for all"
    )]
    MultipleHeads {
        /// The heads, comma separated.
        heads: String,
    },
    /// A target is syntactically valid but makes no sense for the operation.
    #[error("`{target}` is not a valid {operation} target: {reason}")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// `upgrade`, `downgrade` or `stamp`.
        operation: &'static str,
        /// Why.
        reason: String,
    },
    /// The version table holds a revision this migrator does not know (a newer database run by
    /// an older binary, or scripts missing).
    #[error(
        "the database is at revision `{revision}`, which these migrations do not contain; it was migrated by newer code, or a migration file is missing (use `stamp --purge` only if you know the schema)"
    )]
    UnknownDatabaseRevision {
        /// The revision found in the version table.
        revision: String,
    },
    /// A migration failed; it was rolled back (SQLite, PostgreSQL) and the database is at the
    /// revision before it.
    #[error("{direction} {revision} failed and was rolled back; the database is still at {at}")]
    MigrationFailed {
        /// The failing revision.
        revision: RevisionId,
        /// Up or down.
        direction: Direction,
        /// The heads the database is still at (`<base>` when none).
        at: String,
        /// The migration's error.
        #[source]
        source: DbErr,
    },
    /// A migration left rows that violate foreign keys (checked with `PRAGMA foreign_key_check`
    /// on SQLite before commit); it was rolled back.
    #[error("{direction} {revision} left foreign-key violations and was rolled back: {violations}")]
    ForeignKeyViolation {
        /// The failing revision.
        revision: RevisionId,
        /// Up or down.
        direction: Direction,
        /// The offending rows, as `table rowid N -> parent`.
        violations: String,
    },
    /// A migration failed on MySQL/MariaDB, whose DDL commits implicitly: part of it may be
    /// applied. Nothing runs until this is resolved.
    #[error(
        "{direction} {revision} failed on MySQL/MariaDB, where DDL commits implicitly, so it may be partly applied; repair the schema by hand, then run `stamp` to the revision the schema now matches (recorded error: {error})"
    )]
    PartiallyApplied {
        /// The revision.
        revision: String,
        /// `upgrade` or `downgrade`.
        direction: String,
        /// The error recorded when it failed (or `interrupted` when the process died).
        error: String,
    },
    /// Applied migrations' sources changed since they ran, and the migrator refuses
    /// ([`ChangedScripts::Refuse`](crate::ChangedScripts::Refuse)); nothing ran.
    #[error(
        "applied migrations changed since they ran: {scripts}; restore their sources, or write a new migration for the change"
    )]
    ChangedScripts {
        /// The changed scripts, `; ` separated.
        scripts: String,
    },
    /// The version table changed while migrating to rows the run did not plan for (another
    /// runner with another target); nothing more was run.
    #[error(
        "the version table changed while migrating: it holds {found}, which the run from {expected} does not pass through (another runner?); run the command again"
    )]
    ConcurrentChange {
        /// The rows found.
        found: String,
        /// The rows the run started from.
        expected: String,
    },
    /// The migration lock could not be taken.
    #[error(
        "could not take the migration lock `{lock}` within {seconds} s; is another migrator stuck?"
    )]
    LockTimeout {
        /// The lock's name.
        lock: String,
        /// How long we waited.
        seconds: u64,
    },
    /// A file or stream could not be read or written.
    #[error("{what}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A revision file cannot be registered (the registry lacks its marker lines, or no
    /// migrations folder is configured).
    #[error("cannot write revision file {path}: {reason}")]
    RevisionFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A backup operation needs a SQLite database file.
    #[error("backups and restores need a SQLite database file, not a server or in-memory database")]
    NotASqliteFile,
    /// Taking, verifying or restoring a backup failed.
    #[error("backup {path}: {reason}")]
    Backup {
        /// The backup file or folder.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An upgrade failed after a backup was taken.
    #[error("{source}; a backup taken before migrating is at {backup}")]
    FailedAfterBackup {
        /// The backup.
        backup: std::path::PathBuf,
        /// Why the upgrade failed.
        source: Box<Error>,
    },
    /// Migrating on open took longer than allowed: the running migration was interrupted and
    /// rolled back.
    #[error("migrating took longer than {limit_ms} ms: {revision} was interrupted and rolled back")]
    Timeout {
        /// The limit, in milliseconds.
        limit_ms: u64,
        /// The revision that was running (`<unknown>` when the limit passed while waiting).
        revision: String,
    },
    /// Opening or configuring the database failed.
    #[error(transparent)]
    Core(#[from] db_core::Error),
    /// Opening the database for a command failed.
    #[error("cannot open the database for `{command}`")]
    Open {
        /// The command (`upgrade`, `current`, …).
        command: &'static str,
        /// Why.
        #[source]
        source: Box<db_core::Error>,
    },
    /// A command that writes was given a database opened read-only (`?mode=ro`).
    #[error(
        "`{command}` writes, but the database URL opens it read-only (`mode=ro`); drop `mode=ro` to {command}"
    )]
    ReadOnly {
        /// The command.
        command: &'static str,
    },
    /// The command-line arguments disagree (also reported as a usage error by the CLI).
    #[error("{reason}")]
    Usage {
        /// What disagrees.
        reason: String,
    },
    /// `--sql` mode could not render a migration (nothing was run anywhere).
    #[error("cannot render {direction} {revision} as SQL offline")]
    Offline {
        /// The revision.
        revision: RevisionId,
        /// Up or down.
        direction: Direction,
        /// What stopped it.
        #[source]
        source: DbErr,
    },
    /// `lint` found dangerous operations (printed before this error).
    #[error(
        "{count} dangerous operation(s) found; fix them, or mark deliberate ones with `Script::allow_lint(\"<rule>\")`"
    )]
    LintFindings {
        /// How many.
        count: usize,
    },
    /// `check` found differences (printed before this error).
    #[error(
        "{count} difference(s) between the entities and the database; write a migration (`revision --autogenerate -m MSG`) and upgrade"
    )]
    SchemaDiffers {
        /// How many.
        count: usize,
    },
    /// `check` or autogenerate on a migrator without registered entities.
    #[error(
        "this migrator declares no entities; register them with `Migrator::entities(Entities::new().register(…))` to autogenerate or check"
    )]
    NoEntities,
    /// Autogenerate or `check` on a database that is not at head.
    #[error(
        "the database is at {current}, not at head ({heads}); run `upgrade head` first so {why} sees what the migrations make"
    )]
    NotAtHead {
        /// The database's revisions.
        current: String,
        /// The graph's heads.
        heads: String,
        /// What needs the database at head ("the comparison", "seeding").
        why: &'static str,
    },
    /// Zone-less timestamp columns under [`NaiveTimestamps::Forbid`](crate::NaiveTimestamps::Forbid).
    #[error(
        "naive timestamp columns are not allowed here: {columns}; declare them as db_core::types::UtcDateTime (UTC, exact on every backend)"
    )]
    NaiveTimestamps {
        /// The columns, `table.column`, comma separated.
        columns: String,
    },
    /// [`TransactionMode::Single`](crate::TransactionMode::Single) asked of a backend whose
    /// DDL commits implicitly (MySQL, MariaDB): the run could not be all or nothing, so it is
    /// refused before anything runs.
    #[error(
        "`--transaction single` cannot be honoured on {backend}: its DDL commits implicitly, so a run of several migrations is never all or nothing; nothing was run. Use the default `--transaction per-migration` (each step recorded on its own)"
    )]
    SingleTransactionUnsupported {
        /// The backend's name.
        backend: &'static str,
    },
    /// `current --check-heads` on a database that is not at every head (exit code 3).
    #[error("the database is at {current}, not at head ({heads})")]
    HeadsNotApplied {
        /// The database's revisions, sorted.
        current: String,
        /// The graph's heads, sorted.
        heads: String,
    },
    /// `seed NAME` for a name no seeder has.
    #[error("unknown seeder `{name}`; {known}")]
    UnknownSeeder {
        /// The name given.
        name: String,
        /// The known seeders, as a sentence.
        known: String,
    },
    /// `seed` or `reset` against a database marked as production.
    #[error(
        "refusing to {command}: the database is marked `production = true` in its configuration; give --force if you really mean it"
    )]
    Production {
        /// `seed` or `reset`.
        command: &'static str,
    },
    /// A seeder failed; every seeder's rows of the run were rolled back.
    #[error("seeder `{seeder}` failed; nothing of this seed run was kept")]
    SeedFailed {
        /// The seeder's name.
        seeder: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// A statement of the runner itself failed.
    #[error("{context}")]
    Db {
        /// What the runner was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait DbContext<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> DbContext<T> for Result<T, DbErr> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Db {
            context: context(),
            source,
        })
    }
}

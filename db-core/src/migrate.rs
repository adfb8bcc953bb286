//! The [`Migrate`] trait: what `Database::open_migrated` runs after opening (db-migrate's
//! `Migrator` implements it), so db-core needs nothing of migrations; and
//! [`MigrationHarness`], the wider seam through which db-testkit builds migrated templates and
//! runs its migration checks without depending on db-migrate.

use crate::Database;

/// The error a [`Migrate`] implementation returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Something that brings a database's schema to head: the seam through which a migrator
/// (db-migrate's `Migrator`) plugs into [`Database::open_migrated`], so that opening a
/// database migrates it, as openmodule does on every start.
#[async_trait::async_trait]
pub trait Migrate: Send + Sync + std::fmt::Debug {
    /// Applies every pending migration to `db`.
    ///
    /// # Errors
    /// Whatever stopped the migration; the database must be left at a revision it was at
    /// before the failing migration started.
    async fn migrate(&self, db: &Database) -> Result<(), BoxError>;
}

/// One revision of a migration set as a harness describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionInfo {
    /// The revision id (Alembic's `revision`).
    pub revision: String,
    /// Its parents (Alembic's `down_revision`): none for a root, two or more for a merge.
    pub down_revisions: Vec<String>,
}

/// A migrator as a test harness drives it (diesel's `MigrationHarness`, pytest-alembic's
/// runner): upgrade and downgrade to any target, the revisions in order, a fingerprint of the
/// whole set, and the checks' inputs. db-migrate's `Migrator` implements it; db-testkit builds
/// migrated templates and runs its ready-made checks through it.
///
/// Used as `dyn MigrationHarness` by db-testkit's template cache, hence `async_trait`.
#[async_trait::async_trait]
pub trait MigrationHarness: Migrate {
    /// A short hex string that changes whenever a revision, a parent or a script's checksum
    /// changes: the key of db-testkit's migrated templates. A harness whose scripts carry no
    /// checksums must still change it when their code may have changed (e.g. by mixing in the
    /// build of the running executable).
    fn fingerprint(&self) -> String;

    /// Every revision in upgrade order: each after all its down revisions.
    fn revisions(&self) -> Vec<RevisionInfo>;

    /// The head revisions (no revision names them as a down revision), sorted.
    fn heads(&self) -> Vec<String>;

    /// The tables the migrator keeps its own state in (Alembic's `alembic_version`, and a
    /// history table if it has one): they stay at base, so checks leave them out when they
    /// compare a database at base with an empty one.
    fn state_tables(&self) -> Vec<String>;

    /// Upgrades `db` to `target` (Alembic's syntax: `heads`, a revision id, `+1`, …) and
    /// returns the revisions applied, in order.
    ///
    /// # Errors
    /// An unknown target, or the failing migration's error (the database stays at the
    /// revision before it).
    async fn upgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError>;

    /// Downgrades `db` to `target` (`base`, a revision id, `-1`, `<rev>-1`, …) and returns the
    /// revisions undone, in order.
    ///
    /// # Errors
    /// As [`MigrationHarness::upgrade_to`].
    async fn downgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError>;

    /// The rows of the version table (`alembic current`), sorted; empty at base.
    ///
    /// # Errors
    /// The database's error.
    async fn current(&self, db: &Database) -> Result<Vec<String>, BoxError>;

    /// How the registered entities differ from `db`'s schema, one line per difference (as
    /// `alembic check` reports them); `None` when the harness has no entities registered.
    ///
    /// # Errors
    /// The catalog could not be read.
    async fn entity_differences(&self, db: &Database) -> Result<Option<Vec<String>>, BoxError>;

    /// The applied revisions whose script changed since it ran (recorded checksum against the
    /// script's checksum now), one line each naming the revision.
    ///
    /// # Errors
    /// The version or history table could not be read.
    async fn edited_since_applied(&self, db: &Database) -> Result<Vec<String>, BoxError>;

    /// Runs every seeder (development data) on `db`, which is at head, and returns their
    /// names in the order they ran; none by default (a migrator without seeders).
    ///
    /// # Errors
    /// A seeder failed; nothing of the run is kept.
    async fn seed_all(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        let _ = db;
        Ok(Vec::new())
    }
}

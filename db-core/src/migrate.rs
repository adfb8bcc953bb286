//! The [`Migrate`] trait: what `Database::open_migrated` runs after opening (db-migrate's
//! `Migrator` implements it), so db-core needs nothing of migrations.

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

//! An Alembic-compatible migration runner for sea-orm-migration.
//!
//! Migrations are sea-orm-migration [`MigrationTrait`](sea_orm_migration::MigrationTrait)
//! impls wrapped in a [`Script`] that adds Alembic's revision id, down_revision(s), branch
//! labels and depends_on. A [`Migrator`] validates them into a [`RevisionGraph`] and runs
//! Alembic's commands against a db-core [`Database`](db_core::Database): `upgrade`,
//! `downgrade`, `stamp`, `current`, and (on the graph) `history`, `heads`, `branches`, `show`.
//! State lives in Alembic's own `alembic_version` table ([`VersionTable`]), so databases move
//! freely between Alembic and this runner. With [`Entities`](autogenerate::Entities) registered,
//! [`Migrator::compare`] is Alembic's `compare_metadata` (`check`), and [`render_migration`](autogenerate::render_migration)
//! writes what `revision --autogenerate` writes; [`Migrator::upgrade_sql`] is offline mode and
//! [`Migrator::lint`] reports dangerous operations. The [`cli`] module is the migrator binary's logic.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use db_migrate::{Migrator, Script};
//! use sea_orm_migration::prelude::*;
//!
//! #[derive(DeriveMigrationName)]
//! struct CreateNotes;
//!
//! #[async_trait::async_trait]
//! impl MigrationTrait for CreateNotes {
//!     async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
//!         manager.create_table(Table::create().table("notes")
//!             .col(ColumnDef::new("id").integer().not_null().primary_key())
//!             .to_owned()).await
//!     }
//!     async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
//!         manager.drop_table(Table::drop().table("notes").to_owned()).await
//!     }
//! }
//!
//! let migrator = Migrator::new(vec![Script::new("ae1027a6acf0", CreateNotes).message("create notes")])?;
//! let db = db_core::Database::connect("sqlite::memory:").await?;
//! let steps = migrator.upgrade(&db, "head").await?;
//! assert_eq!(steps[0].to_string(), "upgrade <base> -> ae1027a6acf0, create notes");
//! assert_eq!(migrator.current(&db).await?, ["ae1027a6acf0"]);
//! migrator.downgrade(&db, "base").await?;
//! assert!(migrator.current(&db).await?.is_empty());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! | feature    | default | enables |
//! |------------|---------|---------|
//! | `cli`      | yes     | [`cli`]: the clap-based migrator command line |
//! | `sqlite`   | yes     | SQLite |
//! | `postgres` | no      | PostgreSQL (advisory lock, schema) |
//! | `mysql`    | no      | MySQL / MariaDB (`GET_LOCK`, partial-migration detection) |

pub mod autogenerate;
pub mod backup;
pub mod batch;
mod cleanup;
#[cfg(feature = "cli")]
pub mod cli;
mod dialect;
mod error;
mod format;
mod graph;
mod harness;
pub mod init;
pub mod lint;
mod migrator;
mod offline;
mod plan;
#[cfg(feature = "cli")]
mod progress;
pub mod scaffold;
mod script;
mod seed;
mod target;
mod version_table;

pub use crate::batch::{AlterColumn, BatchAlter, batch_alter_table};
pub use crate::error::{Error, Result};
pub use crate::format::{LineStyle, RevisionJson};
pub use crate::graph::RevisionGraph;
pub use crate::migrator::{
    ChangedScript, ChangedScripts, Direction, Migrator, NaiveTimestamps, OnOpen, OnOpenOptions,
    PROGRESS_TARGET, StampMode, Step, TransactionMode,
};
pub use crate::script::{RevisionId, Script, linear};
pub use crate::seed::{Production, ResetReport, Seeder};

/// The column type of a [`db_core::types::UtcDateTime`] for the backend `manager` migrates
/// ([`db_core::Dialect::utc_timestamp_type`]: `datetime(6)` on MySQL, `timestamp`
/// elsewhere); autogenerate writes it for such columns:
/// `ColumnDef::new_with_type("at", db_migrate::utc_timestamp_type(manager))`.
#[must_use]
pub fn utc_timestamp_type(
    manager: &sea_orm_migration::SchemaManager<'_>,
) -> sea_orm::sea_query::ColumnType {
    db_core::Dialect::of(manager.get_database_backend())
        .map_or(sea_orm::sea_query::ColumnType::Timestamp, |d| {
            d.utc_timestamp_type()
        })
}
pub use crate::target::{RevRange, Target};
pub use crate::version_table::{HistoryRecord, VersionTable};

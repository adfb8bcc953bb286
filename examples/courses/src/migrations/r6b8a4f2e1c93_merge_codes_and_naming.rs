//! merge codes and naming
//!
//! Revision ID: 6b8a4f2e1c93
//! Revises: 9a3b5c7d2e14, f1e2d3c4b5a6

use db_migrate::Script;
use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("6b8a4f2e1c93", Migration)
        .merges(["9a3b5c7d2e14", "f1e2d3c4b5a6"])
        .message("merge codes and naming")
        .source(
            file!(),
            include_str!("r6b8a4f2e1c93_merge_codes_and_naming.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

//! add course capacity
//!
//! Revision ID: 0123456789ab
//! Revises: a1a1a1a1
//! Create Date: 2026-11-21 20:27:20 UTC

use db_migrate::Script;
use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("0123456789ab", Migration)
        .revises("a1a1a1a1")
        .message("add course capacity")
        .source(
            file!(),
            include_str!("r0123456789ab_add_course_capacity.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let _ = manager;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let _ = manager;
        Ok(())
    }
}

//! make courses.code NOT NULL
//!
//! Step 3 of the three-step NOT NULL, as one batch alteration: PostgreSQL and MariaDB alter the
//! column in place; SQLite, which cannot add NOT NULL to a column, rebuilds `courses` (new
//! table, copy, drop, rename, recreate the index). The runner has switched foreign keys off
//! outside the transaction, so dropping the old `courses` does not cascade into
//! `course_members`, and it runs `PRAGMA foreign_key_check` before committing.
//!
//! Revision ID: d2c4e6a8b0f1
//! Revises: 6b8a4f2e1c93

use db_migrate::{AlterColumn, BatchAlter, Script, batch_alter_table};
use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("d2c4e6a8b0f1", Migration)
        .revises("6b8a4f2e1c93")
        .message("make courses.code NOT NULL")
        .source(
            file!(),
            include_str!("rd2c4e6a8b0f1_course_code_not_null.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let batch =
            BatchAlter::new("courses").alter_column("code", AlterColumn::new().nullable(false));
        batch_alter_table(manager.get_connection(), batch).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let batch =
            BatchAlter::new("courses").alter_column("code", AlterColumn::new().nullable(true));
        batch_alter_table(manager.get_connection(), batch).await
    }
}

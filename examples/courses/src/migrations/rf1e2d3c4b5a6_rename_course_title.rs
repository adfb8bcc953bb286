//! rename courses.title to name
//!
//! A real rename (`ALTER TABLE … RENAME COLUMN`), which keeps the data, not the drop + add that
//! loses it. Starts the branch `naming`.
//!
//! Revision ID: f1e2d3c4b5a6
//! Revises: e7a2c8b41d56

use db_migrate::Script;
use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("f1e2d3c4b5a6", Migration)
        .revises("e7a2c8b41d56")
        .branch_label("naming")
        .message("rename courses.title to name")
        .source(
            file!(),
            include_str!("rf1e2d3c4b5a6_rename_course_title.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("courses")
                    .rename_column("title", "name")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("courses")
                    .rename_column("name", "title")
                    .to_owned(),
            )
            .await
    }
}

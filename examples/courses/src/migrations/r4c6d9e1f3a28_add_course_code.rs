//! add courses.code, nullable
//!
//! Step 1 of the three-step NOT NULL: add the column nullable, populate it (9a3b5c7d2e14), then
//! make it NOT NULL (d2c4e6a8b0f1). Starts the branch `codes`.
//!
//! Revision ID: 4c6d9e1f3a28
//! Revises: e7a2c8b41d56

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len_null;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("4c6d9e1f3a28", Migration)
        .revises("e7a2c8b41d56")
        .branch_label("codes")
        .message("add courses.code, nullable")
        .source(file!(), include_str!("r4c6d9e1f3a28_add_course_code.rs"))
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
                    .add_column(string_len_null("code", 20))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("courses")
                    .drop_column("code")
                    .to_owned(),
            )
            .await
    }
}

//! populate courses.code
//!
//! Step 2 of the three-step NOT NULL: every existing course gets a code derived from its id.
//!
//! Revision ID: 9a3b5c7d2e14
//! Revises: 4c6d9e1f3a28

use db_migrate::Script;
use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("9a3b5c7d2e14", Migration)
        .revises("4c6d9e1f3a28")
        .message("populate courses.code")
        .source(
            file!(),
            include_str!("r9a3b5c7d2e14_populate_course_code.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE courses SET code = UPPER(SUBSTR(id, 1, 8)) WHERE code IS NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("UPDATE courses SET code = NULL")
            .await
            .map(|_| ())
    }
}

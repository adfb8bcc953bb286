//! make courses.code NOT NULL
//!
//! Step 3 of the three-step NOT NULL. PostgreSQL and MySQL alter the column in place. SQLite
//! cannot add NOT NULL to a column, so the table is rebuilt by SQLite's procedure: create the
//! new table, copy the rows, drop the old one, rename the new one into place, recreate the
//! index. The runner has switched foreign keys off outside the transaction, so dropping
//! `courses` does not cascade into `course_members`, and it runs `PRAGMA foreign_key_check`
//! before committing.
//!
//! Revision ID: d2c4e6a8b0f1
//! Revises: 6b8a4f2e1c93

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, date_time_null, string_len, string_len_null, text_null};

use super::with_audit_columns;

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

const COLUMNS: &str = "id, course_family_id, name, description, start_date, end_date, is_active, \
                       created_at, updated_at, created_by, updated_by, archived_at, code";

/// Rebuilds `courses` on SQLite with `code` NOT NULL or nullable.
async fn rebuild_courses(manager: &SchemaManager<'_>, code_not_null: bool) -> Result<(), DbErr> {
    let code = if code_not_null {
        string_len("code", 20)
    } else {
        string_len_null("code", 20)
    };
    let mut create = Table::create();
    with_audit_columns(
        create
            .table("courses_new")
            .col(string_len("id", 36).primary_key())
            .col(string_len("course_family_id", 36))
            .col(string_len("name", 255))
            .col(text_null("description"))
            .col(date_time_null("start_date"))
            .col(date_time_null("end_date"))
            .col(boolean("is_active").default(true))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_courses_course_family_id")
                    .from("courses_new", "course_family_id")
                    .to("course_families", "id")
                    .on_delete(ForeignKeyAction::Cascade),
            ),
    )
    .col(code);
    manager.create_table(create.to_owned()).await?;
    let conn = manager.get_connection();
    conn.execute_unprepared(&format!(
        "INSERT INTO courses_new ({COLUMNS}) SELECT {COLUMNS} FROM courses"
    ))
    .await?;
    manager
        .drop_table(Table::drop().table("courses").to_owned())
        .await?;
    manager
        .rename_table(Table::rename().table("courses_new", "courses").to_owned())
        .await?;
    manager
        .create_index(
            Index::create()
                .name("ix_courses_course_family_id")
                .table("courses")
                .col("course_family_id")
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            return rebuild_courses(manager, true).await;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("courses")
                    .modify_column(string_len("code", 20))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            return rebuild_courses(manager, false).await;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("courses")
                    .modify_column(string_len_null("code", 20))
                    .to_owned(),
            )
            .await
    }
}

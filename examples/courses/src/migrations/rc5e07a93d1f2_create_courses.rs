//! create courses
//!
//! Revision ID: c5e07a93d1f2
//! Revises: 8d41b6e2c9a7

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, date_time_null, string_len, text_null};

use super::with_audit_columns;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("c5e07a93d1f2", Migration)
        .revises("8d41b6e2c9a7")
        .message("create courses")
        .source(file!(), include_str!("rc5e07a93d1f2_create_courses.rs"))
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                with_audit_columns(
                    Table::create()
                        .table("courses")
                        .col(string_len("id", 36).primary_key())
                        .col(string_len("course_family_id", 36))
                        .col(string_len("title", 255))
                        .col(text_null("description"))
                        .col(date_time_null("start_date"))
                        .col(date_time_null("end_date"))
                        .col(boolean("is_active").default(true))
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_courses_course_family_id")
                                .from("courses", "course_family_id")
                                .to("course_families", "id")
                                .on_delete(ForeignKeyAction::Cascade),
                        ),
                )
                .to_owned(),
            )
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("courses").to_owned())
            .await
    }
}

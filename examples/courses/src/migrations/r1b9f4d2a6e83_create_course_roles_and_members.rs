//! create course roles and members
//!
//! Revision ID: 1b9f4d2a6e83
//! Revises: c5e07a93d1f2

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_len};

use super::with_audit_columns;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("1b9f4d2a6e83", Migration)
        .revises("c5e07a93d1f2")
        .message("create course roles and members")
        .source(
            file!(),
            include_str!("r1b9f4d2a6e83_create_course_roles_and_members.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("course_roles")
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("title", 255))
                    .col(integer("hierarchy_level"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                with_audit_columns(
                    Table::create()
                        .table("course_members")
                        .col(string_len("id", 36).primary_key())
                        .col(string_len("course_id", 36))
                        .col(string_len("user_id", 36))
                        .col(string_len("course_role_id", 36))
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_course_members_course_id")
                                .from("course_members", "course_id")
                                .to("courses", "id")
                                .on_delete(ForeignKeyAction::Cascade),
                        )
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_course_members_user_id")
                                .from("course_members", "user_id")
                                .to("users", "id")
                                .on_delete(ForeignKeyAction::Cascade),
                        )
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_course_members_course_role_id")
                                .from("course_members", "course_role_id")
                                .to("course_roles", "id"),
                        ),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_course_member")
                    .table("course_members")
                    .col("course_id")
                    .col("user_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_course_members_user_id")
                    .table("course_members")
                    .col("user_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("course_members").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("course_roles").to_owned())
            .await
    }
}

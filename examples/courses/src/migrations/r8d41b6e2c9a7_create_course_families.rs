//! create course families
//!
//! Revision ID: 8d41b6e2c9a7
//! Revises: 1b9f0c7e5a21

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len;

use super::with_audit_columns;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("8d41b6e2c9a7", Migration)
        .revises("1b9f0c7e5a21")
        .message("create course families")
        .source(
            file!(),
            include_str!("r8d41b6e2c9a7_create_course_families.rs"),
        )
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
                        .table("course_families")
                        .col(string_len("id", 36).primary_key())
                        .col(string_len("organization_id", 36))
                        .col(string_len("title", 255))
                        .foreign_key(
                            ForeignKey::create()
                                .name("fk_course_families_organization_id")
                                .from("course_families", "organization_id")
                                .to("organizations", "id")
                                .on_delete(ForeignKeyAction::Cascade),
                        ),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_course_families_organization_id")
                    .table("course_families")
                    .col("organization_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("course_families").to_owned())
            .await
    }
}

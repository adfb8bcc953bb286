//! create users and organizations
//!
//! Revision ID: 1b9f0c7e5a21
//! Revises: <base>

use db_migrate::Script;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, string_len_null, string_len_uniq};

use super::with_audit_columns;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("1b9f0c7e5a21", Migration)
        .message("create users and organizations")
        .source(
            file!(),
            include_str!("r1b9f0c7e5a21_create_users_and_organizations.rs"),
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
                        .table("users")
                        .col(string_len("id", 36).primary_key())
                        .col(string_len_uniq("username", 255))
                        .col(string_len_null("email", 255)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                with_audit_columns(
                    Table::create()
                        .table("organizations")
                        .col(string_len("id", 36).primary_key())
                        .col(string_len("title", 255)),
                )
                .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("organizations").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("users").to_owned())
            .await
    }
}

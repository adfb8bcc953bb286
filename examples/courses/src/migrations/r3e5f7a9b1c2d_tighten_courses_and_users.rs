//! tighten courses and users
//!
//! Four changes SQLite can only make by rebuilding a table, written once as batch alterations
//! and run natively on PostgreSQL and MariaDB: drop `courses.is_active`, widen `courses.code`
//! to 32 characters, add a foreign key `courses.created_by -> users.id` (ON DELETE SET NULL),
//! and make `users.email` NOT NULL after filling the missing ones.
//!
//! Revision ID: 3e5f7a9b1c2d
//! Revises: d2c4e6a8b0f1

use db_migrate::{AlterColumn, BatchAlter, Script, batch_alter_table};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::boolean;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("3e5f7a9b1c2d", Migration)
        .revises("d2c4e6a8b0f1")
        .message("tighten courses and users")
        // `is_active` is dropped on purpose (soft delete uses `archived_at`).
        .allow_lint(db_migrate::lint::LintRule::DropColumn)
        .source(
            file!(),
            include_str!("r3e5f7a9b1c2d_tighten_courses_and_users.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let fill = if manager.get_database_backend() == sea_orm::DbBackend::MySql {
            "UPDATE users SET email = CONCAT(username, '@example.invalid') WHERE email IS NULL"
        } else {
            "UPDATE users SET email = username || '@example.invalid' WHERE email IS NULL"
        };
        conn.execute_unprepared(fill).await?;
        batch_alter_table(
            conn,
            BatchAlter::new("users").alter_column("email", AlterColumn::new().nullable(false)),
        )
        .await?;
        // Audit columns may hold names from before users existed: keep only real user ids.
        conn.execute_unprepared(
            "UPDATE courses SET created_by = NULL WHERE created_by NOT IN (SELECT id FROM users)",
        )
        .await?;
        let courses = BatchAlter::new("courses")
            .drop_column("is_active")
            .alter_column(
                "code",
                AlterColumn::new().type_(ColumnType::String(StringLen::N(32))),
            )
            .add_foreign_key(
                "fk_courses_created_by",
                ["created_by"],
                "users",
                ["id"],
                Some(ForeignKeyAction::SetNull),
            );
        batch_alter_table(conn, courses).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        let courses = BatchAlter::new("courses")
            .drop_constraint("fk_courses_created_by")
            .alter_column(
                "code",
                AlterColumn::new().type_(ColumnType::String(StringLen::N(20))),
            )
            .add_column(boolean("is_active").default(true).to_owned());
        batch_alter_table(conn, courses).await?;
        if manager.get_database_backend() == sea_orm::DbBackend::MySql {
            // MySQL made an index for the foreign key and keeps it when the key is dropped.
            manager
                .drop_index(
                    Index::drop()
                        .name("fk_courses_created_by")
                        .table("courses")
                        .to_owned(),
                )
                .await?;
        }
        batch_alter_table(
            conn,
            BatchAlter::new("users").alter_column("email", AlterColumn::new().nullable(true)),
        )
        .await
    }
}

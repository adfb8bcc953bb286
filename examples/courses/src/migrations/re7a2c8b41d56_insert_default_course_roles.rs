//! insert the default course roles
//!
//! A data migration, as the course platform's `populate default course roles`.
//!
//! Revision ID: e7a2c8b41d56
//! Revises: 1b9f4d2a6e83

use db_migrate::Script;
use sea_orm_migration::prelude::*;

/// The roles every course platform starts with: (id, title, hierarchy level).
pub(crate) const DEFAULT_ROLES: [(&str, &str, i32); 5] = [
    ("_student", "Student", 1),
    ("_tutor", "Tutor", 2),
    ("_lecturer", "Lecturer", 3),
    ("_maintainer", "Maintainer", 4),
    ("_owner", "Owner", 5),
];

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {
    Script::new("e7a2c8b41d56", Migration)
        .revises("1b9f4d2a6e83")
        .message("insert the default course roles")
        .source(
            file!(),
            include_str!("re7a2c8b41d56_insert_default_course_roles.rs"),
        )
}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut insert = Query::insert();
        insert
            .into_table("course_roles")
            .columns(["id", "title", "hierarchy_level"]);
        for (id, title, level) in DEFAULT_ROLES {
            insert.values_panic([id.into(), title.into(), level.into()]);
        }
        manager.execute(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ids = DEFAULT_ROLES.iter().map(|(id, _, _)| *id);
        manager
            .execute(
                Query::delete()
                    .from_table("course_roles")
                    .and_where(Expr::col("id").is_in(ids))
                    .to_owned(),
            )
            .await
    }
}

//! The course platform's revisions, oldest first. `courses-migrate revision -m MSG` adds new
//! files to `migrations/` and registers them between the marker lines below.
//!
//! ```text
//! 1b9f0c7e5a21  create users and organizations
//! 8d41b6e2c9a7  create course families
//! c5e07a93d1f2  create courses
//! 1b9f4d2a6e83  create course roles and members
//! e7a2c8b41d56  insert the default course roles        (branchpoint)
//!   ├─ 4c6d9e1f3a28  add courses.code, nullable         (branch `codes`)
//!   │  9a3b5c7d2e14  populate courses.code
//!   └─ f1e2d3c4b5a6  rename courses.title to name      (branch `naming`)
//! 6b8a4f2e1c93  merge codes and naming                  (mergepoint)
//! d2c4e6a8b0f1  make courses.code NOT NULL
//! 3e5f7a9b1c2d  tighten courses and users (drop, retype, FK, NOT NULL: rebuilds on SQLite)
//! ```

use db_migrate::autogenerate::Entities;
use db_migrate::{Migrator, Script};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{date_time_default_now, date_time_null, string_len_null};

mod r1b9f0c7e5a21_create_users_and_organizations;
mod r1b9f4d2a6e83_create_course_roles_and_members;
mod r3e5f7a9b1c2d_tighten_courses_and_users;
mod r4c6d9e1f3a28_add_course_code;
mod r6b8a4f2e1c93_merge_codes_and_naming;
mod r8d41b6e2c9a7_create_course_families;
mod r9a3b5c7d2e14_populate_course_code;
mod rc5e07a93d1f2_create_courses;
mod rd2c4e6a8b0f1_course_code_not_null;
mod re7a2c8b41d56_insert_default_course_roles;
mod rf1e2d3c4b5a6_rename_course_title;
// db-migrate: modules end

/// Every revision of the course platform.
#[must_use]
pub fn scripts() -> Vec<Script> {
    vec![
        r1b9f0c7e5a21_create_users_and_organizations::script(),
        r8d41b6e2c9a7_create_course_families::script(),
        rc5e07a93d1f2_create_courses::script(),
        r1b9f4d2a6e83_create_course_roles_and_members::script(),
        re7a2c8b41d56_insert_default_course_roles::script(),
        r4c6d9e1f3a28_add_course_code::script(),
        r9a3b5c7d2e14_populate_course_code::script(),
        rf1e2d3c4b5a6_rename_course_title::script(),
        r6b8a4f2e1c93_merge_codes_and_naming::script(),
        rd2c4e6a8b0f1_course_code_not_null::script(),
        r3e5f7a9b1c2d_tighten_courses_and_users::script(),
        // db-migrate: scripts end
    ]
}

/// The migrator over [`scripts`], with the [`entities`] and the development
/// [`seeders`](crate::seeders).
///
/// # Errors
/// A graph validation error (none for the revisions above; a test checks).
pub fn migrator() -> db_migrate::Result<Migrator> {
    let (organizations, users, courses) = crate::seeders::all();
    Ok(Migrator::new(scripts())?
        .entities(entities())
        .seeder(organizations)
        .seeder(users)
        .seeder(courses))
}

/// The entities whose tables these migrations own: `check` and `revision --autogenerate`
/// compare them with the database.
#[must_use]
pub fn entities() -> Entities {
    use crate::entities::{course, course_family, course_member, course_role, organization, user};
    Entities::new()
        .register(user::Entity)
        .register(organization::Entity)
        .register(course_family::Entity)
        .register(course::Entity)
        .register(course_role::Entity)
        .register(course_member::Entity)
}

/// The audit columns every main table carries (the course platform's `AuditMixin`):
/// `created_at` (UTC, set by the database), `updated_at`, `created_by`, `updated_by`, and
/// `archived_at` for soft delete.
pub(crate) fn with_audit_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(date_time_default_now("created_at"))
        .col(date_time_null("updated_at"))
        .col(string_len_null("created_by", 255))
        .col(string_len_null("updated_by", 255))
        .col(date_time_null("archived_at"))
}

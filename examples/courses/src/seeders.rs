//! Development data for the course platform (the game backend's `app/db/seeders`): two
//! organizations, three users, a course family with two courses and their members. Each
//! seeder upserts rows with fixed ids, so running `courses-migrate seed` twice leaves the
//! same rows.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sea_orm::{EntityTrait, PaginatorTrait};
//!
//! let db = db_core::Database::connect("sqlite::memory:").await?;
//! let migrator = example_courses::migrations::migrator()?;
//! migrator.upgrade(&db, "head").await?;
//! migrator.seed(&db, &[], db_migrate::Production::Refuse).await?;
//! migrator.seed(&db, &[], db_migrate::Production::Refuse).await?;
//! let users = example_courses::entities::user::Entity::find().count(db.connection()).await?;
//! assert_eq!(users, 3);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use async_trait::async_trait;
use db_migrate::Seeder;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, DbErr};

use crate::entities::{course, course_family, course_member, organization, user};

/// The seed organizations: (id, title).
pub const ORGANIZATIONS: [(&str, &str); 2] = [
    ("0b3f6a2e-8c1d-4e5f-9a7b-000000000001", "Agder University"),
    (
        "0b3f6a2e-8c1d-4e5f-9a7b-000000000002",
        "Nordic Coding School",
    ),
];

/// The seed users: (id, username, email).
pub const USERS: [(&str, &str, &str); 3] = [
    (
        "5d2c1b0a-7e6f-4a3b-8c9d-000000000001",
        "arne",
        "arne@example.org",
    ),
    (
        "5d2c1b0a-7e6f-4a3b-8c9d-000000000002",
        "auby",
        "auby@example.org",
    ),
    (
        "5d2c1b0a-7e6f-4a3b-8c9d-000000000003",
        "kari",
        "kari@example.org",
    ),
];

const FAMILY: (&str, &str, &str) = (
    "9e8d7c6b-5a4f-4e3d-8c2b-000000000001",
    ORGANIZATIONS[0].0,
    "Computer science",
);

/// The seed courses: (id, code, name).
pub const COURSES: [(&str, &str, &str); 2] = [
    (
        "a1b2c3d4-e5f6-4a7b-8c9d-000000000001",
        "IKT-105",
        "Databases",
    ),
    (
        "a1b2c3d4-e5f6-4a7b-8c9d-000000000002",
        "IKT-206",
        "Web services",
    ),
];

/// The seed memberships: (id, course, user, role).
const MEMBERS: [(&str, usize, usize, &str); 4] = [
    ("f0e1d2c3-b4a5-4968-8776-000000000001", 0, 0, "_owner"),
    ("f0e1d2c3-b4a5-4968-8776-000000000002", 0, 1, "_student"),
    ("f0e1d2c3-b4a5-4968-8776-000000000003", 0, 2, "_student"),
    ("f0e1d2c3-b4a5-4968-8776-000000000004", 1, 1, "_owner"),
];

/// The seeders of `courses-migrate`, in the order they run.
#[must_use]
pub fn all() -> (Organizations, Users, Courses) {
    (Organizations, Users, Courses)
}

/// [`ORGANIZATIONS`], upserted by id.
#[derive(Debug)]
pub struct Organizations;

#[async_trait]
impl Seeder for Organizations {
    fn name(&self) -> &str {
        "organizations"
    }
    fn description(&self) -> &str {
        "two organizations"
    }
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let rows = ORGANIZATIONS
            .iter()
            .map(|(id, title)| organization::ActiveModel {
                id: Set((*id).to_owned()),
                title: Set((*title).to_owned()),
                ..Default::default()
            });
        db_helpers::upsert(
            txn,
            rows.collect(),
            &[organization::Column::Id],
            &[organization::Column::Title],
        )
        .await
        .map(drop)
    }
}

/// [`USERS`], upserted by id.
#[derive(Debug)]
pub struct Users;

#[async_trait]
impl Seeder for Users {
    fn name(&self) -> &str {
        "users"
    }
    fn description(&self) -> &str {
        "three users (arne, auby, kari)"
    }
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let rows = USERS.iter().map(|(id, username, email)| user::ActiveModel {
            id: Set((*id).to_owned()),
            username: Set((*username).to_owned()),
            email: Set((*email).to_owned()),
            ..Default::default()
        });
        db_helpers::upsert(
            txn,
            rows.collect(),
            &[user::Column::Id],
            &[user::Column::Username, user::Column::Email],
        )
        .await
        .map(drop)
    }
}

/// A course family with [`COURSES`] and their members, upserted by id (needs
/// [`Organizations`] and [`Users`]).
#[derive(Debug)]
pub struct Courses;

#[async_trait]
impl Seeder for Courses {
    fn name(&self) -> &str {
        "courses"
    }
    fn description(&self) -> &str {
        "a course family, two courses and four memberships (after organizations and users)"
    }
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let (family_id, organization_id, title) = FAMILY;
        db_helpers::upsert(
            txn,
            vec![course_family::ActiveModel {
                id: Set(family_id.to_owned()),
                organization_id: Set(organization_id.to_owned()),
                title: Set(title.to_owned()),
                ..Default::default()
            }],
            &[course_family::Column::Id],
            &[course_family::Column::Title],
        )
        .await?;
        let courses = COURSES.iter().map(|(id, code, name)| course::ActiveModel {
            id: Set((*id).to_owned()),
            course_family_id: Set(family_id.to_owned()),
            code: Set((*code).to_owned()),
            name: Set((*name).to_owned()),
            ..Default::default()
        });
        db_helpers::upsert(
            txn,
            courses.collect(),
            &[course::Column::Id],
            &[course::Column::Code, course::Column::Name],
        )
        .await?;
        let members = MEMBERS
            .iter()
            .map(|(id, course, user, role)| course_member::ActiveModel {
                id: Set((*id).to_owned()),
                course_id: Set(COURSES[*course].0.to_owned()),
                user_id: Set(USERS[*user].0.to_owned()),
                course_role_id: Set((*role).to_owned()),
                ..Default::default()
            });
        db_helpers::upsert(
            txn,
            members.collect(),
            &[course_member::Column::Id],
            &[course_member::Column::CourseRoleId],
        )
        .await
        .map(drop)
    }
}

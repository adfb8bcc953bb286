//! The course platform's migrations under db-testkit's ready-made checks, on every backend: one
//! head, base → head → base → head, the stairway (each revision up, down, up with no trace and
//! an exact inverse), entities matching the migrated schema, and per-test databases cloned from
//! a migrated template. A deliberately broken revision (a downgrade that forgets an index)
//! fails the stairway check with its revision and the index named.

use db_migrate::{Migrator, Script};
use db_testkit::checks::{self, MigrationRunner};
use db_testkit::{Fixture, Template, backend_tests, count, strings};
use example_courses::migrations::{migrator, scripts};
use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

use crate::HEAD;

/// A revision on top of the course head that indexes `courses.name` and, by mistake, does not
/// drop the index on downgrade.
struct ForgetsItsIndex;

impl MigrationName for ForgetsItsIndex {
    fn name(&self) -> &str {
        "forgets_its_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ForgetsItsIndex {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_courses_name_broken")
                    .table(Alias::new("courses"))
                    .col(Alias::new("name"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

backend_tests! {
    async fn the_course_migrations_pass_every_check(backend: Backend) {
        let m = migrator().expect("migrator");
        checks::single_head(&m).expect("one head");
        checks::upgrade(&m, backend).await.expect("base → head → base → head");
        checks::stairway(&m, backend).await.expect("every revision up, down, up without a trace");
        checks::entities_match(&m, backend).await.expect("entities match the migrations");
    }

    async fn a_downgrade_that_forgets_an_index_is_caught(backend: Backend) {
        let mut all = scripts();
        all.push(Script::new("0badd0a1b2c3", ForgetsItsIndex).revises(HEAD).message("index course names"));
        let broken = Migrator::new(all).expect("valid graph");
        let err = checks::stairway(&broken, backend).await.expect_err("the index outlives the downgrade");
        assert_eq!(err.check, "stairway");
        assert_eq!(err.revision.as_deref(), Some("0badd0a1b2c3"), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("stairway check failed at revision 0badd0a1b2c3: its downgrade leaves a trace"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("  + index ") && l.contains("ix_courses_name_broken")),
            "the message names the index: {text}"
        );
    }

    async fn tests_get_migrated_clones_with_fixtures(backend: Backend) {
        let m = migrator().expect("migrator");
        use example_courses::entities::organization;
        use sea_orm::ActiveValue::{NotSet, Set};
        let acme = organization::ActiveModel {
            id: Set("0f6c1b9e-0000-4000-8000-000000000001".into()),
            title: Set("Acme".into()),
            created_at: NotSet,
            updated_at: NotSet,
            created_by: NotSet,
            updated_by: NotSet,
            archived_at: NotSet,
        };
        let template = Template::new(&m).fixture(Fixture::models("acme", vec![acme]));
        let Some(test_db) = template.test_db(backend).await else { return };
        let db = test_db.open().await;
        assert_eq!(strings(&db, "SELECT version_num FROM alembic_version").await, [HEAD]);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM organizations").await, 1);
        checks::not_edited(&m, &db).await.expect("nothing edited since the template was migrated");
        // Rollback isolation on the same template.
        let t = template.isolated(backend).await.expect("reachable");
        t.execute_unprepared("DELETE FROM organizations").await.expect("delete");
        assert_eq!(count(&*t, "SELECT COUNT(*) FROM organizations").await, 0);
        t.rollback().await.expect("rollback");
        let t = template.isolated(backend).await.expect("reachable");
        assert_eq!(count(&*t, "SELECT COUNT(*) FROM organizations").await, 1, "rolled back");
    }

    async fn rows_inserted_before_the_code_column_get_codes(backend: Backend) {
        // openmodule-test's migration test: write rows at one revision, read them after later ones.
        let m = migrator().expect("migrator");
        let Some(run) = MigrationRunner::new(&m, backend).await else { return };
        run.upgrade("c5e07a93d1f2").await.expect("up to create_courses");
        assert_eq!(run.current().await.expect("current"), ["c5e07a93d1f2"]);
        run.upgrade("heads").await.expect("to head");
        assert_eq!(run.current().await.expect("current"), [HEAD]);
    }
}

//! `check` and autogenerate on the course platform: a freshly migrated database matches the
//! entities on every backend, defaults included; a database behind head is refused.

use db_testkit::backend_tests;

use crate::{HEAD, migrate, ok, stderr, stdout};

backend_tests! {
    async fn check_is_clean_at_head(test_db: TestDb) {
        let url = test_db.url().to_owned();
        ok(&url, &["upgrade", "head"]);
        let out = ok(&url, &["check"]);
        assert_eq!(out.trim(), "No new upgrade operations detected.");
        // Server defaults too (opt-in, as Alembic's compare_server_default).
        let db = test_db.open().await;
        let strict = example_courses::migrations::migrator()
            .expect("migrator")
            .filter(db_migrate::autogenerate::Filter { compare_server_default: true, ..Default::default() });
        let changes = strict.compare(&db).await.expect("compare");
        assert!(changes.is_empty(), "{changes:#?}");
        // Behind head: refused with what to do, exit 1.
        ok(&url, &["downgrade", "-1"]);
        let o = migrate(&url, &["check"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(&format!("not at head ({HEAD}); run `upgrade head` first")), "{}", stderr(&o));
        // `revision --autogenerate` with nothing to do writes nothing.
        ok(&url, &["upgrade", "head"]);
        let before = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations")).expect("dir").count();
        let o = migrate(&url, &["revision", "--autogenerate", "-m", "nothing"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), "No changes in schema detected; nothing written.");
        let after = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations")).expect("dir").count();
        assert_eq!(before, after);
    }

    async fn check_fails_on_a_drifted_schema(test_db: TestDb) {
        use sea_orm::ConnectionTrait;
        let url = test_db.url().to_owned();
        ok(&url, &["upgrade", "head"]);
        let db = test_db.open().await;
        db.connection().execute_unprepared("CREATE INDEX ix_courses_name ON courses (name)").await.expect("index");
        db.close().await.expect("close");
        let o = migrate(&url, &["check"]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert_eq!(stdout(&o).trim(), "drop index ix_courses_name on courses (name)");
        assert_eq!(
            stderr(&o).trim(),
            "error: 1 difference(s) between the entities and the database; write a migration (`revision --autogenerate -m MSG`) and upgrade"
        );
    }
}

#[test]
fn lint_is_clean_with_the_deliberate_drop_allowed() {
    let o = migrate("sqlite:///nonexistent/never.sqlite3", &["lint"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).trim(), "No dangerous operations found.");
}

#[tokio::test]
async fn lint_live_lints_what_upgrade_would_run_on_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/c.sqlite3", dir.path().display());
    crate::ok(&url, &["upgrade", "9a3b5c7d2e14"]);
    // Pending from there: the merge and the rebuilding revisions; the deliberate drop is allowed.
    let o = migrate(&url, &["lint", "--live"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    crate::ok(&url, &["upgrade", "heads"]);
    let o = migrate(&url, &["lint", "--live"]);
    assert_eq!(stdout(&o).trim(), "No dangerous operations found.");
}

//! The migrator binary round-trips, moves by steps and prefixes, keeps data through the rename
//! and the three-step NOT NULL, and refuses bad targets without touching anything.

use db_testkit::{TestDb, backend_tests, schema_snapshot};
use sea_orm::ConnectionTrait;

use crate::{HEAD, count, migrate, ok, stderr, strings};

backend_tests! {
    async fn round_trips_and_moves_by_steps(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "head"]);
        assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
        ok(url, &["downgrade", "base"]);
        assert_eq!(ok(url, &["current"]), "");
        ok(url, &["upgrade", "head"]);
        assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
        ok(url, &["downgrade", "base"]);
        ok(url, &["upgrade", "+1"]);
        assert_eq!(ok(url, &["current"]), "1b9f0c7e5a21\n");
        ok(url, &["upgrade", "+2"]);
        assert_eq!(ok(url, &["current"]), "c5e07a93d1f2\n");
        ok(url, &["downgrade", "-1"]);
        assert_eq!(ok(url, &["current"]), "8d41b6e2c9a7\n");
        ok(url, &["upgrade", "1b9f4"]);
        assert_eq!(ok(url, &["current"]), "1b9f4d2a6e83\n");
        ok(url, &["upgrade", "naming@head"]);
        assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
        ok(url, &["downgrade", "6b8a"]);
        // One step down from the merge point is ambiguous (as in Alembic); name the parent.
        assert!(migrate(url, &["downgrade", "-1"]).status.code() == Some(1));
        ok(url, &["downgrade", "f1e2d3c4b5a6"]);
        assert_eq!(ok(url, &["current"]), "9a3b5c7d2e14\nf1e2d3c4b5a6\n");
        let history = ok(url, &["history", "--indicate-current"]);
        assert!(history.contains("e7a2c8b41d56 -> f1e2d3c4b5a6 (naming) (current), rename courses.title to name"), "{history}");
        ok(url, &["upgrade", "heads"]);
        assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
    }

    async fn bad_targets_change_nothing(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "c5e07a93d1f2"]);
        let before = {
            let db = test_db.open().await;
            let s = schema_snapshot(&db).await.expect("snapshot");
            db.close().await.expect("close");
            s
        };
        for (args, message) in [
            (["upgrade", "zzzz"], "error: unknown revision `zzzz`; known heads: 3e5f7a9b1c2d (see `history` for all revisions)\n"),
            (["upgrade", "1b9f"], "error: ambiguous revision `1b9f` matches 1b9f0c7e5a21, 1b9f4d2a6e83; give more characters\n"),
            (["downgrade", "1b9"], "error: unknown revision `1b9`; a partial id needs at least 4 characters; revisions starting with `1`: 1b9f0c7e5a21, 1b9f4d2a6e83\n"),
            (["downgrade", "e7a2"], "error: `e7a2` is not a valid downgrade target: e7a2c8b41d56 is not applied; the database is at c5e07a93d1f2\n"),
            (["upgrade", "e7a2c8b41d56+1"], "error: `e7a2c8b41d56+1` is not a valid upgrade target: the step is ambiguous between 4c6d9e1f3a28, f1e2d3c4b5a6; name a revision, or use `<rev>+N` or `<branch>@head`\n"),
        ] {
            let o = migrate(url, &args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            assert_eq!(stderr(&o), message, "{args:?}");
        }
        let db = test_db.open().await;
        assert_eq!(schema_snapshot(&db).await.expect("snapshot"), before);
    }

    async fn data_survives_the_rename_and_the_not_null(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "e7a2c8b41d56"]);
        let db = test_db.open().await;
        for sql in [
            "INSERT INTO organizations (id, title) VALUES ('o1', 'TU Graz')",
            "INSERT INTO course_families (id, organization_id, title) VALUES ('f1', 'o1', 'Programming')",
            "INSERT INTO courses (id, course_family_id, title) VALUES ('abcdefgh-1', 'f1', 'Rust')",
            "INSERT INTO users (id, username) VALUES ('u1', 'ada')",
            "INSERT INTO course_members (id, course_id, user_id, course_role_id) VALUES ('m1', 'abcdefgh-1', 'u1', '_student')",
        ] {
            db.execute_unprepared(sql).await.expect(sql);
        }
        db.close().await.expect("close");
        ok(url, &["upgrade", "head"]);
        let db = test_db.open().await;
        assert_eq!(strings(&db, "SELECT name FROM courses").await, ["Rust"]);
        assert_eq!(strings(&db, "SELECT code FROM courses").await, ["ABCDEFGH"]);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_members").await, 1, "the rebuild of courses must not cascade");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_roles").await, 5);
        let null_code = db.execute_unprepared("INSERT INTO courses (id, course_family_id, name) VALUES ('c2', 'f1', 'No code')").await;
        assert!(null_code.is_err(), "code is NOT NULL at head");
        // ON DELETE CASCADE still works after the rebuild.
        db.execute_unprepared("DELETE FROM courses WHERE id = 'abcdefgh-1'").await.expect("delete");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_members").await, 0);
        db.close().await.expect("close");
        ok(url, &["downgrade", "e7a2c8b41d56"]);
        let db = test_db.open().await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_roles").await, 5);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 1);
    }
}

#[tokio::test]
async fn named_databases_come_from_the_configuration_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("db.sqlite3");
    let config = dir.path().join("migrate.toml");
    std::fs::write(
        &config,
        format!("[databases.dev]\nurl = \"sqlite://{}\"\n", file.display()),
    )
    .expect("config");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
            .arg("-c")
            .arg(&config)
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .expect("runs")
    };
    assert!(run(&["-x", "db=dev", "upgrade", "head"]).status.success());
    let current = run(&["--db", "dev", "current"]);
    assert_eq!(
        String::from_utf8_lossy(&current.stdout),
        format!("{HEAD} (head)\n")
    );
    let unknown = run(&["--db", "prod", "current"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr),
        "error: no database labelled `prod` in the configuration; known labels: dev\n"
    );
}

#[tokio::test]
async fn backup_upgrade_and_restore_from_the_command_line() {
    let Some(test_db) = TestDb::new(db_testkit::Backend::Sqlite).await else {
        return;
    };
    let url = test_db.url();
    let o = migrate(url, &["restore"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("there is no backup of this database"),
        "{}",
        stderr(&o)
    );
    ok(url, &["upgrade", "c5e07a93d1f2"]);
    let printed = ok(url, &["upgrade", "--backup", "head"]);
    assert!(
        printed.starts_with("backup ")
            && printed.trim_end().ends_with("_c5e07a93d1f2.sqlite3.backup"),
        "{printed}"
    );
    assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
    // Nothing pending: no second backup.
    assert_eq!(ok(url, &["upgrade", "--backup", "head"]), "");
    let restored = ok(url, &["restore"]);
    assert!(restored.starts_with("restored "), "{restored}");
    assert_eq!(ok(url, &["current"]), "c5e07a93d1f2\n");
    let o = migrate("postgres://postgres@127.0.0.1/none", &["restore"]);
    assert_eq!(
        stderr(&o),
        "error: backups and restores need a SQLite database file, not a server or in-memory database\n"
    );
}

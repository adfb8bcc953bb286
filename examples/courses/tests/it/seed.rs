//! `courses-migrate seed` and `reset` on every backend: seeding twice leaves the same rows,
//! seeders run by name and in order, an unknown name or a database below head changes
//! nothing, `reset` drops everything and migrates again, and a database marked production is
//! refused by both unless `--force` is given.

use db_testkit::{TestDb, backend_tests, checks, schema_snapshot};
use example_courses::migrations::migrator;
use sea_orm::ConnectionTrait;

use crate::{HEAD, count, migrate, ok, run, stderr, strings};

const TABLES: [&str; 5] = [
    "organizations",
    "users",
    "course_families",
    "courses",
    "course_members",
];

async fn counts(test_db: &TestDb) -> Vec<i64> {
    let db = test_db.open().await;
    let mut out = Vec::new();
    for t in TABLES {
        out.push(count(&db, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    db.close().await.expect("close");
    out
}

/// A configuration file marking `url` as the production database `prod`.
fn production_config(dir: &tempfile::TempDir, url: &str) -> std::path::PathBuf {
    let config = dir.path().join("migrate.toml");
    std::fs::write(
        &config,
        format!("[databases.prod]\nurl = \"{url}\"\nproduction = true\n"),
    )
    .expect("config");
    config
}

backend_tests! {
    async fn seeding_twice_gives_the_same_rows(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "head"]);
        assert_eq!(ok(url, &["seed"]), "seeded organizations\nseeded users\nseeded courses\n");
        let first = counts(&test_db).await;
        assert_eq!(first, [2, 3, 1, 2, 4]);
        ok(url, &["seed"]);
        assert_eq!(counts(&test_db).await, first);
        let db = test_db.open().await;
        assert_eq!(strings(&db, "SELECT username FROM users ORDER BY username").await, ["arne", "auby", "kari"]);
        assert_eq!(
            strings(&db, "SELECT c.code FROM course_members m JOIN courses c ON c.id = m.course_id WHERE m.course_role_id = '_owner' ORDER BY c.code").await,
            ["IKT-105", "IKT-206"]
        );
        // A seeder puts its rows back as they were: an edited title and a deleted user return.
        db.execute_unprepared("UPDATE organizations SET title = 'renamed'").await.expect("update");
        db.execute_unprepared("DELETE FROM users WHERE username = 'kari'").await.expect("delete");
        db.close().await.expect("close");
        assert_eq!(ok(url, &["seed", "users", "organizations"]), "seeded organizations\nseeded users\n");
        assert_eq!(counts(&test_db).await, [2, 3, 1, 2, 3]);
        let db = test_db.open().await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM organizations WHERE title = 'renamed'").await, 0);
    }

    async fn bad_seed_runs_change_nothing(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "9a3b5c7d2e14"]);
        let o = migrate(url, &["seed"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(&o),
            "error: the database is at 9a3b5c7d2e14, not at head (3e5f7a9b1c2d); run `upgrade head` first so seeding sees what the migrations make\n"
        );
        ok(url, &["upgrade", "head"]);
        let o = migrate(url, &["seed", "users", "players"]);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(stderr(&o), "error: unknown seeder `players`; the seeders are: organizations, users, courses\n");
        // `courses` alone needs the organizations: the failure rolls the whole run back.
        let o = migrate(url, &["seed", "courses"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).starts_with("error: seeder `courses` failed; nothing of this seed run was kept: "), "{}", stderr(&o));
        assert_eq!(counts(&test_db).await, [0, 0, 0, 0, 0]);
    }

    async fn reset_drops_everything_and_migrates_again(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "head"]);
        ok(url, &["seed"]);
        let db = test_db.open().await;
        db.execute_unprepared("INSERT INTO users (id, username, email) VALUES ('x', 'extra', 'x@example.org')").await.expect("insert");
        db.execute_unprepared("CREATE TABLE scratch (id INTEGER PRIMARY KEY)").await.expect("scratch");
        let migrated = schema_snapshot(&db).await.expect("snapshot");
        db.close().await.expect("close");
        let out = ok(url, &["reset", "--seed"]);
        assert!(out.starts_with("dropped 9 tables, 0 views, 0 enum types; upgraded 11 revisions\n"), "{out}");
        assert!(out.ends_with("seeded organizations\nseeded users\nseeded courses\n"), "{out}");
        assert_eq!(counts(&test_db).await, [2, 3, 1, 2, 4]);
        assert_eq!(ok(url, &["current"]), format!("{HEAD} (head)\n"));
        let db = test_db.open().await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE username = 'extra'").await, 0);
        let after = schema_snapshot(&db).await.expect("snapshot");
        db.close().await.expect("close");
        assert!(!after.contains("scratch"), "{after}");
        assert_ne!(after, migrated);
        assert_eq!(ok(url, &["reset"]), "dropped 8 tables, 0 views, 0 enum types; upgraded 11 revisions\n");
        assert_eq!(counts(&test_db).await, [0, 0, 0, 0, 0]);
    }

    async fn a_production_database_is_refused_unless_forced(test_db: TestDb) {
        let url = test_db.url();
        ok(url, &["upgrade", "head"]);
        ok(url, &["seed", "organizations"]);
        let before = counts(&test_db).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let config = production_config(&dir, url);
        let config = config.to_str().expect("utf-8 path");
        for args in [["reset", "--seed"], ["seed", "users"]] {
            let mut all = vec!["-c", config, "--db", "prod"];
            all.extend_from_slice(&args);
            let o = run(&all);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let command = args[0];
            assert_eq!(
                stderr(&o),
                format!("error: refusing to {command}: the database is marked `production = true` in its configuration; give --force if you really mean it\n")
            );
            assert_eq!(counts(&test_db).await, before, "{args:?}");
        }
        let o = run(&["-c", config, "--db", "prod", "reset", "--force"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(counts(&test_db).await, [0, 0, 0, 0, 0]);
    }

    async fn the_course_seeders_are_idempotent(backend: Backend) {
        let m = migrator().expect("migrator");
        checks::seeders_idempotent(&m, backend).await.expect("a second run adds nothing");
    }
}

#[test]
fn seed_list_names_the_seeders_in_order_without_a_database() {
    let o = run(&[
        "--url",
        "sqlite:///nonexistent/dir/x.sqlite3",
        "seed",
        "--list",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "organizations  two organizations\nusers  three users (arne, auby, kari)\n\
         courses  a course family, two courses and four memberships (after organizations and users)\n"
    );
}

//! The runner against real databases.

use db_core::{Database, OpenOptions};
use db_migrate::{Error, Migrator};
use db_testkit::{Backend, TestDb, backend_tests, count, schema_snapshot};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::support::{branched, sql};

#[tokio::test]
async fn targets_resolve_as_in_alembic() {
    type Case = (
        &'static [&'static str],
        &'static str,
        &'static str,
        Result<&'static [&'static str], &'static str>,
    );
    let cases: &[Case] = &[
        (&[], "upgrade", "head", Ok(&["f6f6f6f6"])),
        (&[], "upgrade", "+1", Ok(&["a1a1a1a1"])),
        (&["a1a1a1a1"], "upgrade", "+1", Ok(&["b2b2b2b2"])),
        (
            &["b2b2b2b2"],
            "upgrade",
            "+1",
            Err("the step is ambiguous between c3c3c3c3, c3d4d4d4"),
        ),
        (&["b2b2b2b2"], "upgrade", "c3c3", Ok(&["c3c3c3c3"])),
        (&["b2b2b2b2"], "upgrade", "left", Ok(&["c3c3c3c3"])),
        (
            &["c3c3c3c3"],
            "upgrade",
            "c3d4d",
            Ok(&["c3c3c3c3", "c3d4d4d4"]),
        ),
        (&["b2b2b2b2"], "upgrade", "left@head", Ok(&["f6f6f6f6"])),
        (
            &["a1a1a1a1"],
            "upgrade",
            "b2b2b2b2+1",
            Err("the step is ambiguous"),
        ),
        (&["a1a1a1a1"], "upgrade", "c3c3+2", Ok(&["f6f6f6f6"])),
        (
            &["a1a1a1a1"],
            "upgrade",
            "-1",
            Err("a negative step moves down"),
        ),
        (
            &["a1a1a1a1"],
            "upgrade",
            "9999",
            Err("unknown revision `9999`"),
        ),
        (&["f6f6f6f6"], "downgrade", "-1", Ok(&["e5e5e5e5"])),
        // As Alembic: one step down from a merge point is ambiguous ("Ambiguous walk").
        (
            &["e5e5e5e5"],
            "downgrade",
            "-1",
            Err("the step is ambiguous between c3c3c3c3, c3d4d4d4"),
        ),
        (
            &["e5e5e5e5"],
            "downgrade",
            "-2",
            Err("the step is ambiguous between c3c3c3c3, c3d4d4d4"),
        ),
        (&["f6f6f6f6"], "downgrade", "f6f6-1", Ok(&["e5e5e5e5"])),
        (
            &["f6f6f6f6"],
            "downgrade",
            "f6f6-2",
            Err("the step is ambiguous between c3c3c3c3, c3d4d4d4"),
        ),
        (&["b2b2b2b2"], "downgrade", "b2b2-2", Ok(&[])),
        (
            &["b2b2b2b2"],
            "downgrade",
            "b2b2-3",
            Err("it goes below base"),
        ),
        (
            &["c3c3c3c3", "c3d4d4d4"],
            "downgrade",
            "c3c3",
            Ok(&["c3c3c3c3", "c3d4d4d4"]),
        ),
        (
            &["c3c3c3c3", "c3d4d4d4"],
            "downgrade",
            "b2b2",
            Ok(&["b2b2b2b2"]),
        ),
        (&["f6f6f6f6"], "downgrade", "base", Ok(&[])),
        (
            &["a1a1a1a1"],
            "downgrade",
            "-2",
            Err("relative revision -2 didn't produce 2 migrations"),
        ),
        (
            &["a1a1a1a1"],
            "downgrade",
            "c3c3",
            Err("c3c3c3c3 is not applied; the database is at a1a1a1a1"),
        ),
        // As Alembic: downgrading to where the database is does nothing.
        (&["f6f6f6f6"], "downgrade", "head", Ok(&["f6f6f6f6"])),
        (
            &["c3c3c3c3"],
            "downgrade",
            "head",
            Err("f6f6f6f6 is not applied; the database is at c3c3c3c3"),
        ),
    ];
    let m = branched();
    for (start, op, target, expected) in cases {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("memory db");
        if !start.is_empty() {
            m.stamp(&db, start, db_migrate::StampMode::Update)
                .await
                .expect("stamp");
        }
        let outcome = match *op {
            "upgrade" => m.upgrade(&db, target).await,
            _ => m.downgrade(&db, target).await,
        };
        let case = format!("{op} {target} from {start:?}");
        match (outcome, expected) {
            (Ok(_), Ok(heads)) => {
                assert_eq!(m.current(&db).await.expect("current"), *heads, "{case}")
            }
            (Err(e), Err(text)) => {
                assert!(e.to_string().contains(text), "{case}: {e}");
                assert_eq!(
                    m.current(&db).await.expect("current"),
                    *start,
                    "{case}: changed the database"
                );
            }
            (Ok(_), Err(text)) => panic!("{case}: expected an error containing {text:?}"),
            (Err(e), Ok(_)) => panic!("{case}: {e}"),
        }
    }
}

fn two_tables() -> Migrator {
    Migrator::new(vec![
        sql(
            "r1r1r1r1",
            &["CREATE TABLE t1 (id INTEGER PRIMARY KEY)"],
            &["DROP TABLE t1"],
        ),
        sql(
            "r2r2r2r2",
            &[
                "CREATE TABLE t2 (id INTEGER PRIMARY KEY)",
                "INSERT INTO t1 (id) VALUES (1)",
                "INSERT INTO no_such_table (id) VALUES (1)",
            ],
            &["DROP TABLE t2"],
        )
        .revises("r1r1r1r1"),
    ])
    .expect("valid graph")
}

backend_tests! {
    #[backends(sqlite, postgres)]
    async fn a_single_transaction_run_is_all_or_nothing(test_db: TestDb) {
        use db_migrate::TransactionMode;
        let db = test_db.open().await;
        let chain = |fail: bool, mode: TransactionMode| {
            Migrator::new(vec![
                sql("aa11aa11", &["CREATE TABLE a (id INTEGER PRIMARY KEY)"], &["DROP TABLE a"]),
                sql("bb22bb22", &["CREATE TABLE b (id INTEGER PRIMARY KEY)", "INSERT INTO b (id) VALUES (1)"], &["DROP TABLE b"]).revises("aa11aa11"),
                sql("cc33cc33", &[if fail { "CREATE TABLE a (id INTEGER PRIMARY KEY)" } else { "CREATE TABLE c (id INTEGER PRIMARY KEY)" }], &["DROP TABLE c"]).revises("bb22bb22"),
            ])
            .expect("graph")
            .transaction_mode(mode)
        };
        let single = TransactionMode::Single;
        let empty = schema_snapshot(&db).await.expect("snapshot");
        // The third fails: the first two roll back with it, history rows included.
        let err = chain(true, single).upgrade(&db, "head").await.expect_err("cc33 fails");
        assert_eq!(err.to_string(), "upgrade cc33cc33 failed and was rolled back; the database is still at <base>");
        assert!(chain(true, single).current(&db).await.expect("current").is_empty());
        assert!(chain(true, single).records(&db).await.expect("records").is_empty());
        let after_failure = schema_snapshot(&db).await.expect("snapshot");
        assert!(!after_failure.lines().any(|l| l.contains("table b") || l.contains(" b ")), "{after_failure}");
        // The same chain succeeding: every step with its history row, in one run.
        let steps = chain(false, single).upgrade(&db, "head").await.expect("upgrade");
        assert_eq!(steps.len(), 3);
        assert_eq!(chain(false, single).current(&db).await.expect("current"), ["cc33cc33"]);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM b").await, 1);
        let records = chain(false, single).records(&db).await.expect("records");
        assert_eq!(records.iter().map(|r| r.revision.as_str()).collect::<Vec<_>>(), ["aa11aa11", "bb22bb22", "cc33cc33"]);
        // Downgrades too, back to the empty schema (the version tables aside).
        chain(false, single).downgrade(&db, "base").await.expect("downgrade");
        assert!(chain(false, single).current(&db).await.expect("current").is_empty());
        let back = schema_snapshot(&db).await.expect("snapshot");
        let user_tables = |s: &str| s.lines().filter(|l| !l.contains("alembic_version")).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(user_tables(&back), user_tables(&empty));
        // One transaction per migration (the default): the two that succeeded stay.
        let err = chain(true, TransactionMode::PerMigration).upgrade(&db, "head").await.expect_err("cc33 fails");
        assert_eq!(err.to_string(), "upgrade cc33cc33 failed and was rolled back; the database is still at bb22bb22");
        assert_eq!(chain(true, single).current(&db).await.expect("current"), ["bb22bb22"]);
    }

    async fn failing_migration_leaves_no_trace(test_db: TestDb) {
        let db = test_db.open().await;
        let m = two_tables();
        m.upgrade(&db, "r1r1").await.expect("first revision");
        let before = schema_snapshot(&db).await.expect("snapshot");
        let err = m.upgrade(&db, "head").await.expect_err("r2 fails");
        if test_db.backend() == Backend::MySql {
            // DDL auto-commits on MySQL: the runner says so and refuses to go on.
            assert!(matches!(err, Error::PartiallyApplied { .. }), "{err}");
            assert!(err.to_string().contains("upgrade r2r2r2r2 failed on MySQL/MariaDB"), "{err}");
            let again = m.upgrade(&db, "head").await.expect_err("refused until resolved");
            assert!(matches!(again, Error::PartiallyApplied { .. }), "{again}");
            assert_eq!(m.current(&db).await.expect("current"), ["r1r1r1r1"]);
            // The operator repairs the schema by hand and stamps: the runner goes on.
            db.execute_unprepared("DROP TABLE t2").await.expect("repair");
            m.stamp(&db, &["r1r1r1r1"], db_migrate::StampMode::Update).await.expect("stamp resolves");
            let third = m.upgrade(&db, "head").await.expect_err("r2 still fails");
            assert!(third.to_string().contains("failed on MySQL/MariaDB"), "{third}");
            return;
        }
        assert_eq!(
            err.to_string(),
            "upgrade r2r2r2r2 failed and was rolled back; the database is still at r1r1r1r1"
        );
        assert_eq!(schema_snapshot(&db).await.expect("snapshot"), before);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM t1").await, 0);
        assert_eq!(m.current(&db).await.expect("current"), ["r1r1r1r1"]);
        let records = m.records(&db).await.expect("records");
        assert_eq!(records.iter().map(|r| r.revision.as_str()).collect::<Vec<_>>(), ["r1r1r1r1"]);
    }

    async fn version_table_is_alembics(test_db: TestDb) {
        let db = test_db.open().await;
        let m = branched();
        let steps = m.upgrade(&db, "head").await.expect("upgrade");
        assert_eq!(steps.len(), 6);
        assert_eq!(steps[4].to_string(), "upgrade c3c3c3c3, c3d4d4d4 -> e5e5e5e5, migration e5e5e5e5");
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT version_num FROM alembic_version"))
            .await
            .expect("alembic_version");
        let heads: Vec<String> = rows.iter().map(|r| r.try_get("", "version_num").expect("text")).collect();
        assert_eq!(heads, ["f6f6f6f6"]);
        let snapshot = schema_snapshot(&db).await.expect("snapshot");
        let shape = match test_db.backend() {
            Backend::Sqlite => "column alembic_version.version_num VARCHAR(32) NOT NULL default - pk 1",
            Backend::Postgres => "column alembic_version.version_num character varying NO",
            Backend::MySql => "column alembic_version.version_num varchar(32) NO",
        };
        assert!(snapshot.contains(shape), "{snapshot}");
        if test_db.backend() == Backend::Sqlite {
            assert_eq!(
                db_testkit::strings(&db, "SELECT sql FROM sqlite_master WHERE name = 'alembic_version'").await,
                ["CREATE TABLE \"alembic_version\" (version_num VARCHAR(32) NOT NULL, CONSTRAINT \"alembic_version_pkc\" PRIMARY KEY (version_num))"]
            );
        }
        let records = m.records(&db).await.expect("history");
        assert_eq!(records.len(), 6);
        assert!(records.iter().all(|r| r.direction == "upgrade" && r.status == "applied" && r.tool_version.starts_with("db-migrate ")));
        // A no-op upgrade at head changes nothing and records nothing.
        assert!(m.upgrade(&db, "heads").await.expect("no-op").is_empty());
        assert_eq!(m.records(&db).await.expect("history").len(), 6);
        m.downgrade(&db, "base").await.expect("downgrade");
        assert!(m.current(&db).await.expect("current").is_empty());
        assert_eq!(m.records(&db).await.expect("history").iter().filter(|r| r.direction == "downgrade").count(), 6);
    }

    async fn unknown_database_revision_is_refused(test_db: TestDb) {
        let db = test_db.open().await;
        let m = branched();
        m.upgrade(&db, "a1a1").await.expect("upgrade");
        db.execute_unprepared("INSERT INTO alembic_version (version_num) VALUES ('ffffffffffff')").await.expect("insert");
        let err = m.upgrade(&db, "head").await.expect_err("unknown revision");
        assert!(err.to_string().starts_with("the database is at revision `ffffffffffff`, which these migrations do not contain"), "{err}");
        let err = m.stamp(&db, &["b2b2"], db_migrate::StampMode::Update).await.expect_err("stamp without purge refuses too");
        assert!(matches!(err, Error::UnknownDatabaseRevision { .. }), "{err}");
        assert_eq!(m.stamp(&db, &["b2b2"], db_migrate::StampMode::Purge).await.expect("purge"), ["b2b2b2b2"]);
        assert_eq!(m.current(&db).await.expect("current"), ["b2b2b2b2"]);
    }

    async fn open_migrated_brings_the_database_to_head(test_db: TestDb) {
        let m = branched();
        let db = Database::open_migrated(test_db.options(), &m).await.expect("open");
        assert_eq!(m.current(&db).await.expect("current"), ["f6f6f6f6"]);
    }
}

#[tokio::test]
async fn foreign_key_violations_abort_the_migration_on_sqlite() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = test_db.open().await;
    let m = Migrator::new(vec![
        sql(
            "p1p1p1p1",
            &["CREATE TABLE parent (id INTEGER PRIMARY KEY)", "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"],
            &[],
        ),
        sql("p2p2p2p2", &["INSERT INTO child (id, parent_id) VALUES (7, 42)"], &[]).revises("p1p1p1p1"),
    ])
    .expect("valid");
    m.upgrade(&db, "p1p1").await.expect("tables");
    let err = m.upgrade(&db, "head").await.expect_err("violation");
    assert_eq!(
        err.to_string(),
        "upgrade p2p2p2p2 left foreign-key violations and was rolled back: child rowid 7 -> parent"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM child").await, 0);
    assert_eq!(m.current(&db).await.expect("current"), ["p1p1p1p1"]);
    // Foreign keys are still on for the application's connections.
    assert!(
        db.execute_unprepared("INSERT INTO child (id, parent_id) VALUES (8, 42)")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn postgres_schema_holds_tables_and_version_table() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let db = Database::open(OpenOptions::new(test_db.url()).schema("crmp"))
        .await
        .expect("open");
    let m = two_tables();
    m.upgrade(&db, "r1r1").await.expect("upgrade");
    let admin = test_db.open().await;
    assert_eq!(
        count(
            &admin,
            "SELECT COUNT(*) FROM crmp.alembic_version WHERE version_num = 'r1r1r1r1'"
        )
        .await,
        1
    );
    assert_eq!(count(&admin, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'crmp' AND table_name = 't1'").await, 1);
    assert_eq!(
        count(
            &admin,
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await,
        0
    );
    assert_eq!(db.backend(), DbBackend::Postgres);
}

#[tokio::test]
async fn leftover_temporary_tables_are_dropped_before_migrating() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = test_db.open().await;
    let m = branched();
    m.upgrade(&db, "a1a1").await.expect("upgrade");
    // What a rebuild interrupted outside a transaction leaves behind.
    db.execute_unprepared("CREATE TABLE _alembic_tmp_courses (id INTEGER)")
        .await
        .expect("leftover");
    db.execute_unprepared("CREATE TABLE alembic_tmp_lookalike (id INTEGER)")
        .await
        .expect("not a leftover");
    m.upgrade(&db, "head").await.expect("upgrade");
    let tables = db_testkit::strings(
        &db,
        "SELECT name FROM sqlite_master WHERE name LIKE '%tmp%' ORDER BY name",
    )
    .await;
    assert_eq!(tables, ["alembic_tmp_lookalike"]);
}

backend_tests! {
    async fn changed_applied_scripts_are_reported(test_db: TestDb) {
        use db_migrate::ChangedScripts;
        let db = test_db.open().await;
        let v1 = Migrator::new(vec![sql("k1k1k1k1", &[], &[]).source("k1.rs", "fn up() { /* v1 */ }")]).expect("valid");
        v1.upgrade(&db, "head").await.expect("upgrade");
        assert!(v1.changed_since_applied(&db).await.expect("read").is_empty());
        // The applied script's source is edited afterwards, and a new revision added.
        let v2 = || {
            Migrator::new(vec![
                sql("k1k1k1k1", &[], &[]).source("k1.rs", "fn up() { /* v2 */ }"),
                sql("k2k2k2k2", &[], &[]).revises("k1k1k1k1"),
            ])
            .expect("valid")
        };
        let changed = v2().changed_since_applied(&db).await.expect("read");
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].revision, "k1k1k1k1");
        assert!(changed[0].to_string().starts_with("k1k1k1k1: its source changed since it was applied (sha256 "), "{}", changed[0]);
        let err = v2().changed_scripts(ChangedScripts::Refuse).upgrade(&db, "head").await.expect_err("refused");
        assert!(err.to_string().starts_with("applied migrations changed since they ran: k1k1k1k1"), "{err}");
        assert_eq!(v2().current(&db).await.expect("current"), ["k1k1k1k1"], "nothing ran");
        // The default warns and goes on.
        assert_eq!(v2().upgrade(&db, "head").await.expect("upgrade").len(), 1);
    }
}

backend_tests! {
    #[backends(postgres, mysql)]
    // `reset` takes the migration lock like every runner: started while an upgrade holds it,
    // it waits for the upgrade to finish instead of dropping its tables mid-run, and both
    // succeed.
    async fn reset_waits_for_the_migration_lock(test_db: TestDb) {
        let db = test_db.open().await;
        let sleep = match test_db.backend() {
            db_testkit::Backend::Postgres => "SELECT pg_sleep(2)",
            _ => "SELECT SLEEP(2)",
        };
        let slow = || {
            Migrator::new(vec![
                sql("aa11aa11", &["CREATE TABLE a (id INTEGER PRIMARY KEY)", sleep], &["DROP TABLE a"]),
                sql("bb22bb22", &["CREATE TABLE b (id INTEGER PRIMARY KEY)"], &["DROP TABLE b"]).revises("aa11aa11"),
            ])
            .expect("graph")
        };
        let upgrading = {
            let db = test_db.open().await;
            tokio::spawn(async move {
                let steps = slow().upgrade(&db, "head").await.map(|s| s.len());
                (steps, std::time::Instant::now())
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let report = slow().reset(&db, false, db_migrate::Production::Refuse).await.expect("reset");
        let reset_done = std::time::Instant::now();
        let (steps, upgrade_done) = upgrading.await.expect("task");
        assert_eq!(steps.expect("the upgrade is not disturbed"), 2);
        assert!(upgrade_done <= reset_done, "reset ran after the upgrade released the lock");
        assert!(report.dropped.tables.iter().any(|t| t == "a"), "{:?}", report.dropped.tables);
        assert_eq!(slow().current(&db).await.expect("current"), ["bb22bb22"]);
    }
}

backend_tests! {
    #[backends(mysql)]
    // `--transaction single` cannot hold on MariaDB (DDL commits implicitly): a run with steps
    // is refused before anything runs, instead of silently becoming one per migration.
    async fn a_single_transaction_is_refused_where_ddl_commits(test_db: TestDb) {
        use db_migrate::TransactionMode;
        let db = test_db.open().await;
        let chain = |mode| {
            Migrator::new(vec![
                sql("aa11aa11", &["CREATE TABLE a (id INTEGER PRIMARY KEY)"], &["DROP TABLE a"]),
                sql("bb22bb22", &["CREATE TABLE b (id INTEGER PRIMARY KEY)"], &["DROP TABLE b"]).revises("aa11aa11"),
            ])
            .expect("graph")
            .transaction_mode(mode)
        };
        let err = chain(TransactionMode::Single).upgrade(&db, "head").await.expect_err("refused");
        assert!(matches!(err, db_migrate::Error::SingleTransactionUnsupported { .. }), "{err}");
        assert!(err.to_string().contains("nothing was run"), "{err}");
        assert!(chain(TransactionMode::Single).current(&db).await.expect("current").is_empty());
        assert_eq!(count(&db, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('a', 'b')").await, 0);
        chain(TransactionMode::PerMigration).upgrade(&db, "head").await.expect("per migration");
        // Nothing to run: nothing to refuse.
        assert!(chain(TransactionMode::Single).upgrade(&db, "head").await.expect("at head").is_empty());
    }
}

//! db-testkit driving a real `Migrator` through db-core's `MigrationHarness`: migrated
//! templates, rollback isolation, fixtures, the migration runner and the ready-made checks,
//! on all three backends.

use db_migrate::Migrator;
use db_testkit::checks::{self, MigrationRunner};
use db_testkit::{Backend, Fixture, Template, TestDb, backend_tests, count, strings};
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::support::{branched, sql};

/// Revision `s1s1s1s1`: table `item`.
fn item_table() -> db_migrate::Script {
    sql(
        "s1s1s1s1",
        &["CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)"],
        &["DROP TABLE item"],
    )
}

/// Three revisions: two tables and an index (whose downgrade is spelt per backend: `DROP INDEX
/// … ON` is MySQL's).
fn shop_for(backend: Backend) -> Migrator {
    let drop_index = if backend == Backend::MySql {
        "DROP INDEX ix_price_cents ON price"
    } else {
        "DROP INDEX ix_price_cents"
    };
    Migrator::new(vec![
        item_table(),
        sql(
            "s2s2s2s2",
            &["CREATE TABLE price (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES item (id), cents INTEGER NOT NULL)"],
            &["DROP TABLE price"],
        )
        .revises("s1s1s1s1"),
        sql("s3s3s3s3", &["CREATE INDEX ix_price_cents ON price (cents)"], &[drop_index])
            .revises("s2s2s2s2"),
    ])
    .expect("valid graph")
}

/// `shop` whose last downgrade forgets the index.
fn forgetful() -> Migrator {
    Migrator::new(vec![
        item_table(),
        sql(
            "f2f2f2f2",
            &[
                "CREATE TABLE price (id INTEGER PRIMARY KEY, cents INTEGER NOT NULL)",
                "CREATE INDEX ix_cents ON price (cents)",
            ],
            &["DROP TABLE price"],
        )
        .revises("s1s1s1s1"),
        sql(
            "f3f3f3f3",
            &["CREATE INDEX ix_item_name ON item (name)"],
            &[],
        )
        .revises("f2f2f2f2"),
    ])
    .expect("valid graph")
}

backend_tests! {
    async fn clones_are_at_head_and_independent(backend: Backend) {
        let m = shop_for(backend);
        let template = Template::new(&m).fixture(Fixture::sql(
            "one item",
            "INSERT INTO item (id, name) VALUES (1, 'kettle')",
        ));
        let Some(a) = template.test_db(backend).await else { return };
        let b = template.test_db(backend).await.expect("reachable once");
        assert_ne!(a.name(), b.name());
        let (da, db) = (a.open().await, b.open().await);
        for d in [&da, &db] {
            assert_eq!(strings(d, "SELECT version_num FROM alembic_version").await, ["s3s3s3s3"]);
            assert_eq!(count(d, "SELECT COUNT(*) FROM item").await, 1, "the fixture is baked in");
        }
        da.execute_unprepared("INSERT INTO item (id, name) VALUES (2, 'mug')").await.expect("insert");
        assert_eq!(count(&da, "SELECT COUNT(*) FROM item").await, 2);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM item").await, 1, "clones share nothing");
        // A per-test fixture on top.
        Fixture::sql("prices", "INSERT INTO price (id, item_id, cents) VALUES (1, 1, 250); INSERT INTO price (id, item_id, cents) VALUES (2, 1, 300)")
            .apply(&db).await.expect("fixture");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM price").await, 2);
        // The harness sees the clone at head.
        let rows = db_core::MigrationHarness::current(&m, &db).await.expect("current");
        assert_eq!(rows, ["s3s3s3s3"]);
    }

    async fn a_changed_migration_set_gets_its_own_template(backend: Backend) {
        let m1 = shop_for(backend);
        let m2 = Migrator::new(vec![sql(
            "s1s1s1s1",
            &["CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, extra INTEGER)"],
            &["DROP TABLE item"],
        )
        .source("s1.rs", "v2")])
        .expect("valid");
        let (t1, t2) = (Template::new(&m1), Template::new(&m2));
        assert_ne!(t1.key(), t2.key());
        assert_eq!(t1.key(), Template::new(&shop_for(backend)).key(), "the key is stable");
        let Some(d2) = t2.test_db(backend).await else { return };
        let d2 = d2.open().await;
        assert_eq!(strings(&d2, "SELECT version_num FROM alembic_version").await, ["s1s1s1s1"]);
        assert_eq!(count(&d2, "SELECT COUNT(*) FROM item WHERE extra IS NULL").await, 0);
    }

    async fn isolated_tests_roll_back(backend: Backend) {
        let m = shop_for(backend);
        let template = Template::new(&m);
        {
            let Some(t) = template.isolated(backend).await else { return };
            t.execute_unprepared("INSERT INTO item (id, name) VALUES (7, 'lamp')").await.expect("insert");
            // The code under test's own transaction is a savepoint: its rollback undoes only it.
            let inner = t.begin().await.expect("savepoint");
            inner.execute_unprepared("INSERT INTO item (id, name) VALUES (8, 'desk')").await.expect("insert");
            inner.rollback().await.expect("rollback to savepoint");
            assert_eq!(count(&*t, "SELECT COUNT(*) FROM item").await, 1);
            t.rollback().await.expect("rollback");
        }
        let t = template.isolated(backend).await.expect("reachable");
        assert_eq!(count(&*t, "SELECT COUNT(*) FROM item").await, 0, "the earlier test's rows are gone");
        assert_eq!(strings(&*t, "SELECT version_num FROM alembic_version").await, ["s3s3s3s3"]);
    }

    async fn rows_written_at_a_revision_survive_later_migrations(backend: Backend) {
        let m = shop_for(backend);
        let Some(run) = MigrationRunner::new(&m, backend).await else { return };
        assert!(run.current().await.expect("current").is_empty());
        assert_eq!(run.upgrade("s1s1s1s1").await.expect("up"), ["s1s1s1s1"]);
        run.db().execute_unprepared("INSERT INTO item (id, name) VALUES (1, 'kettle')").await.expect("insert");
        assert_eq!(run.upgrade("heads").await.expect("up"), ["s2s2s2s2", "s3s3s3s3"]);
        assert_eq!(strings(run.db(), "SELECT name FROM item").await, ["kettle"]);
        assert_eq!(run.downgrade("s1s1s1s1").await.expect("down"), ["s3s3s3s3", "s2s2s2s2"]);
        assert_eq!(run.current().await.expect("current"), ["s1s1s1s1"]);
    }

    async fn good_migrations_pass_every_check(backend: Backend) {
        let m = shop_for(backend);
        checks::single_head(&m).expect("single head");
        checks::upgrade(&m, backend).await.expect("upgrade");
        checks::stairway(&m, backend).await.expect("stairway");
        checks::all(&m, backend).await.expect("all");
    }

    async fn branches_and_merges_walk_the_stairway(backend: Backend) {
        let m = branched();
        checks::stairway(&m, backend).await.expect("stairway over a branch and a merge");
        let err = checks::single_head(&Migrator::new(vec![
            sql("h1h1h1h1", &[], &[]),
            sql("h2h2h2h2", &[], &[]),
        ]).expect("valid")).expect_err("two heads");
        assert_eq!(err.to_string(), "single head check failed: 2 heads: h1h1h1h1, h2h2h2h2; join them with `merge`");
    }

    async fn a_downgrade_that_forgets_an_index_fails_the_checks(backend: Backend) {
        let m = forgetful();
        let err = checks::stairway(&m, backend).await.expect_err("the downgrade leaves the index");
        assert_eq!(err.revision.as_deref(), Some("f3f3f3f3"), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("stairway check failed at revision f3f3f3f3: its downgrade leaves a trace"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("  + index ") && l.contains("ix_item_name")), "{text}");
        let err = checks::no_trace(&m, backend).await.expect_err("no trace");
        assert_eq!(err.check, "no trace");
        // Upgrading again fails outright (the index exists): the inverse check names it too.
        let err = checks::downgrade_inverse(&m, backend).await.expect_err("inverse");
        assert_eq!(err.revision.as_deref(), Some("f3f3f3f3"), "{err}");
        assert!(err.to_string().contains("upgrade after its downgrade failed"), "{err}");
    }

    async fn edited_applied_migrations_are_found(backend: Backend) {
        let v1 = Migrator::new(vec![sql("e1e1e1e1", &[], &[]).source("e1.rs", "v1")]).expect("valid");
        let Some(test_db) = TestDb::new(backend).await else { return };
        let db = test_db.open().await;
        v1.upgrade(&db, "head").await.expect("upgrade");
        checks::not_edited(&v1, &db).await.expect("unchanged");
        let v2 = Migrator::new(vec![sql("e1e1e1e1", &[], &[]).source("e1.rs", "v2")]).expect("valid");
        let err = checks::not_edited(&v2, &db).await.expect_err("edited");
        assert!(err.to_string().contains("e1e1e1e1: its source changed since it was applied"), "{err}");
    }
}

#[tokio::test]
async fn starts_from_a_copy_of_an_existing_file() {
    let m = shop_for(Backend::Sqlite);
    let original = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let path = original
        .dir()
        .expect("dir")
        .join(format!("{}.sqlite3", original.name()));
    {
        let db = original.open().await;
        m.upgrade(&db, "s1s1s1s1").await.expect("upgrade");
        db.execute_unprepared("INSERT INTO item (id, name) VALUES (1, 'kettle')")
            .await
            .expect("insert");
        db.close().await.expect("close");
    }
    let before = std::fs::read(&path).expect("read");
    let copy = TestDb::from_file(&path).expect("a SQLite file");
    let run = MigrationRunner::on(&m, copy).await;
    assert_eq!(
        run.upgrade("heads").await.expect("upgrade"),
        ["s2s2s2s2", "s3s3s3s3"]
    );
    assert_eq!(strings(run.db(), "SELECT name FROM item").await, ["kettle"]);
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "the original is untouched"
    );
    let text = original.dir().expect("dir").join("notes.txt");
    std::fs::write(&text, "not a database at all").expect("write");
    let err = TestDb::from_file(&text).expect_err("not SQLite");
    assert!(
        err.to_string().contains("is not a SQLite database"),
        "{err}"
    );
    let _ = run.db().connection().begin().await.expect("usable");
}

mod generated {
    //! The checks on random revision graphs (branches from any earlier revision, one merge of
    //! all heads at the end): exact downgrades pass the stairway; one revision whose downgrade
    //! forgets a table fails it, naming that revision and that table, wherever it sits.

    use db_migrate::{Migrator, Script};
    use db_testkit::Backend;
    use db_testkit::checks;
    use proptest::prelude::*;

    use crate::support::sql;

    fn id(i: usize) -> String {
        format!("g{i:03}aaaa")
    }

    /// Revision `i` creates `g<i>` (with an index) and, when `faulty`, also `extra<i>` which
    /// its downgrade forgets.
    fn revision(i: usize, faulty: bool) -> Script {
        let mut up = vec![
            format!("CREATE TABLE g{i} (id INTEGER PRIMARY KEY, c INTEGER)"),
            format!("CREATE INDEX ix_g{i}_c ON g{i} (c)"),
        ];
        if faulty {
            up.push(format!("CREATE TABLE extra{i} (id INTEGER PRIMARY KEY)"));
        }
        let up: Vec<&str> = up.iter().map(String::as_str).collect();
        let down = format!("DROP TABLE g{i}");
        sql(&id(i), &up, &[down.as_str()])
    }

    fn graph(parents: &[usize], faulty: Option<usize>) -> Migrator {
        let n = parents.len() + 1;
        let mut scripts = vec![revision(0, faulty == Some(0))];
        let mut has_child = vec![false; n];
        for (k, &p) in parents.iter().enumerate() {
            let i = k + 1;
            let parent = p % i;
            has_child[parent] = true;
            scripts.push(revision(i, faulty == Some(i)).revises(id(parent)));
        }
        let heads: Vec<String> = (0..n).filter(|&i| !has_child[i]).map(id).collect();
        if heads.len() > 1 {
            scripts.push(sql("gmergeaaaa", &[], &[]).merges(heads));
        }
        Migrator::new(scripts).expect("valid graph")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn the_stairway_finds_the_one_bad_downgrade(
            parents in proptest::collection::vec(0usize..8, 1..7),
            faulty in proptest::option::of(0usize..8),
        ) {
            let faulty = faulty.filter(|&f| f <= parents.len());
            let m = graph(&parents, faulty);
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let result = rt.block_on(checks::stairway(&m, Backend::Sqlite));
            match faulty {
                None => prop_assert!(result.is_ok(), "{:?}", result),
                Some(f) => {
                    let err = result.expect_err("the forgotten table is a trace");
                    let expected = id(f);
                    prop_assert_eq!(err.revision.as_deref(), Some(expected.as_str()), "{}", err);
                    prop_assert!(err.detail.contains(&format!("+ table extra{f}")), "{}", err);
                }
            }
        }
    }
}

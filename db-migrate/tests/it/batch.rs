//! Batch alterations keep every row, index, trigger and view, on all three backends.

use db_migrate::{AlterColumn, BatchAlter, Migrator};
use db_testkit::{Backend, TestDb, backend_tests, count, strings};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{ColumnType, ForeignKeyAction, StringLen};

use crate::support::{batch, sql};

const PARENT: &str = "CREATE TABLE parent (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50))";
const CHILD: &str = "CREATE TABLE child (id INTEGER NOT NULL PRIMARY KEY, parent_id INTEGER NOT NULL, note VARCHAR(50), \
     legacy INTEGER, amount VARCHAR(10), CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE)";

fn schema(backend: Backend) -> Migrator {
    let mut setup = vec![
        PARENT,
        CHILD,
        "CREATE INDEX ix_child_note ON child (note)",
        "CREATE INDEX ix_child_legacy ON child (legacy)",
        "CREATE VIEW child_notes AS SELECT id, note FROM child",
        "INSERT INTO parent (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        "INSERT INTO child (id, parent_id, note, legacy, amount) VALUES (1, 1, 'a', 0, '10'), (2, 1, 'b', 0, '20'), \
         (3, 2, 'c', 1, '30'), (4, 2, 'd', 1, '40'), (5, 3, 'e', 2, '50'), (6, 3, 'f', 2, '60')",
    ];
    if backend == Backend::Sqlite {
        setup.push("CREATE TABLE audit (child_id INTEGER)");
        setup.push("CREATE TRIGGER child_audit AFTER INSERT ON child BEGIN INSERT INTO audit VALUES (new.id); END");
    }
    Migrator::new(vec![
        sql("s1s1s1s1", &setup, &[]),
        batch(
            "s2s2s2s2",
            vec![
                BatchAlter::new("parent")
                    .alter_column(
                        "name",
                        AlterColumn::new()
                            .type_(ColumnType::String(StringLen::N(200)))
                            .nullable(false),
                    )
                    .add_check("ck_parent_name", "name <> ''"),
            ],
        )
        .revises("s1s1s1s1"),
        batch(
            "s3s3s3s3",
            vec![
                BatchAlter::new("child")
                    .drop_column("legacy")
                    .rename_column("note", "remark")
                    .alter_column(
                        "amount",
                        AlterColumn::new()
                            .type_(ColumnType::Integer)
                            .nullable(false)
                            .default_sql("0"),
                    )
                    .add_unique("uq_child_parent_remark", ["parent_id", "remark"])
                    .drop_constraint("fk_child_parent")
                    .add_foreign_key(
                        "fk_child_parent_v2",
                        ["parent_id"],
                        "parent",
                        ["id"],
                        Some(ForeignKeyAction::Cascade),
                    ),
            ],
        )
        .revises("s2s2s2s2"),
    ])
    .expect("valid")
}

backend_tests! {
    async fn batch_alterations_keep_rows_indexes_triggers_and_views(test_db: TestDb) {
        let db = test_db.open().await;
        let m = schema(test_db.backend());
        if test_db.backend() == Backend::MySql {
            // MySQL does not rewrite views when a column is renamed: the view is recreated by hand there.
            m.upgrade(&db, "s1s1").await.expect("setup");
            db.execute_unprepared("DROP VIEW child_notes").await.expect("drop view");
            m.upgrade(&db, "head").await.expect("batches");
            db.execute_unprepared("CREATE VIEW child_notes AS SELECT id, remark AS note FROM child").await.expect("view");
        } else {
            m.upgrade(&db, "head").await.expect("batches");
        }
        assert_eq!(count(&db, "SELECT COUNT(*) FROM parent").await, 3);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM child").await, 6, "the parent's rebuild must not cascade");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM child WHERE amount BETWEEN 10 AND 60").await, 6, "amounts are integers now");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM child WHERE amount = 30").await, 1);
        assert_eq!(strings(&db, "SELECT remark FROM child ORDER BY id").await, ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM child_notes").await, 6);
        // Constraints now hold.
        assert!(db.execute_unprepared("INSERT INTO parent (id, name) VALUES (9, NULL)").await.is_err(), "name is NOT NULL");
        assert!(db.execute_unprepared("INSERT INTO parent (id, name) VALUES (9, '')").await.is_err(), "check");
        assert!(db.execute_unprepared("INSERT INTO child (id, parent_id, remark) VALUES (7, 1, 'a')").await.is_err(), "unique");
        // The cascade survived the rebuilds.
        db.execute_unprepared("DELETE FROM parent WHERE id = 1").await.expect("delete");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM child").await, 4);
        let indexes = match test_db.backend() {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'child' AND name LIKE 'ix_%' ORDER BY name",
            Backend::Postgres => "SELECT indexname FROM pg_indexes WHERE tablename = 'child' AND indexname LIKE 'ix_%' ORDER BY indexname",
            Backend::MySql => "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'child' AND index_name LIKE 'ix_%' ORDER BY index_name",
        };
        assert_eq!(strings(&db, indexes).await, ["ix_child_note"], "the index on the dropped column goes, the other stays");
        if test_db.backend() == Backend::Sqlite {
            db.execute_unprepared("INSERT INTO child (id, parent_id, remark) VALUES (8, 2, 'z')").await.expect("insert");
            assert_eq!(count(&db, "SELECT COUNT(*) FROM audit WHERE child_id = 8").await, 1, "the trigger survived");
            assert_eq!(count(&db, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_alembic_tmp_%'").await, 0);
        }
    }
}

#[tokio::test]
async fn a_foreign_key_violation_aborts_with_the_rows_named() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = test_db.open().await;
    let m = Migrator::new(vec![
        sql(
            "v1v1v1v1",
            &[
                PARENT,
                "CREATE TABLE orphan (id INTEGER PRIMARY KEY, parent_id INTEGER)",
                "INSERT INTO orphan VALUES (1, 999)",
            ],
            &[],
        ),
        batch(
            "v2v2v2v2",
            vec![BatchAlter::new("orphan").add_foreign_key(
                "fk_orphan_parent",
                ["parent_id"],
                "parent",
                ["id"],
                None,
            )],
        )
        .revises("v1v1v1v1"),
    ])
    .expect("valid");
    m.upgrade(&db, "v1v1").await.expect("setup");
    let before = db_testkit::schema_snapshot(&db).await.expect("snapshot");
    let err = m.upgrade(&db, "head").await.expect_err("violation");
    assert_eq!(
        err.to_string(),
        "upgrade v2v2v2v2 left foreign-key violations and was rolled back: orphan rowid 1 -> parent"
    );
    assert_eq!(
        db_testkit::schema_snapshot(&db).await.expect("snapshot"),
        before
    );
}

#[tokio::test]
async fn outside_a_migration_sqlite_refuses_instead_of_cascading() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = test_db.open().await;
    db.execute_unprepared(PARENT).await.expect("parent");
    let err = db_migrate::batch_alter_table(&db, BatchAlter::new("parent").drop_column("name"))
        .await
        .expect_err("fk on");
    assert!(
        err.to_string()
            .contains("batch alteration of table `parent`: foreign keys are on"),
        "{err}"
    );
    let err =
        db_migrate::batch_alter_table(&db, BatchAlter::new("parent").rename_column("nope", "x"))
            .await
            .expect_err("no column");
    assert!(err.to_string().contains("nope"), "{err}");
}

backend_tests! {
    async fn renaming_a_table_keeps_rows_and_indexes(test_db: TestDb) {
        let db = test_db.open().await;
        let m = Migrator::new(vec![
            sql("w1w1w1w1", &[PARENT, "CREATE INDEX ix_parent_name ON parent (name)", "INSERT INTO parent (id, name) VALUES (1, 'a'), (2, 'b')"], &[]),
            batch("w2w2w2w2", vec![BatchAlter::new("parent").add_column(sea_orm::sea_query::ColumnDef::new("rank").integer().default(0).to_owned()).rename_table("owners")]).revises("w1w1w1w1"),
        ])
        .expect("valid");
        m.upgrade(&db, "head").await.expect("rename");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM owners WHERE rank = 0").await, 2);
        let indexes = match test_db.backend() {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'owners' AND name LIKE 'ix_%'",
            Backend::Postgres => "SELECT indexname FROM pg_indexes WHERE tablename = 'owners' AND indexname LIKE 'ix_%'",
            Backend::MySql => "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'owners' AND index_name LIKE 'ix_%'",
        };
        assert_eq!(strings(&db, indexes).await, ["ix_parent_name"]);
    }
}

/// A rebuild copies large tables in rowid ranges: every row arrives once, whatever the rowids
/// (sparse, negative, the extremes of 64 bits), for a rowid alias, a hidden rowid, a column
/// named `rowid` (copied in one statement) and a `WITHOUT ROWID` table.
#[tokio::test]
async fn a_chunked_rebuild_copy_keeps_every_row() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = test_db.open().await;
    let fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600000)";
    let m = Migrator::new(vec![
        sql(
            "c1c1c1c1",
            &[
                "CREATE TABLE alias (id INTEGER PRIMARY KEY, v TEXT, gone INTEGER)",
                &format!("{fill} INSERT INTO alias (id, v) SELECT i * 3, 'v' || i FROM n"),
                "INSERT INTO alias (id, v) VALUES (-9223372036854775808, 'min'), (-5, 'neg'), (9223372036854775807, 'max')",
                "CREATE TABLE hidden (a INTEGER, b TEXT, gone INTEGER)",
                &format!("{fill} INSERT INTO hidden (rowid, a, b) SELECT i * 1000, i, 'b' || i FROM n WHERE i <= 300000"),
                "CREATE TABLE shadow (rowid TEXT, v INTEGER, gone INTEGER)",
                &format!("{fill} INSERT INTO shadow (rowid, v) SELECT 'r' || i, i FROM n WHERE i <= 300000"),
                "CREATE TABLE keyed (k INTEGER PRIMARY KEY, v INTEGER, gone INTEGER) WITHOUT ROWID",
                &format!("{fill} INSERT INTO keyed (k, v) SELECT i * 7, i FROM n WHERE i <= 300000"),
            ],
            &[],
        ),
        batch(
            "c2c2c2c2",
            ["alias", "hidden", "shadow", "keyed"]
                .into_iter()
                .map(|t| BatchAlter::new(t).drop_column("gone"))
                .collect(),
        )
        .revises("c1c1c1c1"),
    ])
    .expect("valid");
    m.upgrade(&db, "c1c1").await.expect("setup");
    let summary = async |sql: &str| strings(&db, sql).await.join("|");
    let queries = [
        "SELECT count(*) || ',' || sum(id % 1000003) || ',' || min(id) || ',' || max(id) || ',' || sum(length(v)) FROM alias",
        "SELECT count(*) || ',' || sum(a) || ',' || sum(length(b)) FROM hidden",
        "SELECT count(*) || ',' || sum(v) || ',' || sum(length(rowid)) FROM shadow",
        "SELECT count(*) || ',' || sum(k) || ',' || sum(v) FROM keyed",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(summary(q).await);
    }
    assert!(before[0].starts_with("600003,"), "{before:?}");
    m.upgrade(&db, "head").await.expect("rebuild");
    for (q, expected) in queries.iter().zip(&before) {
        assert_eq!(&summary(q).await, expected, "{q}");
    }
    // The hidden rowids keep their order (the copy scans ascending rowids).
    assert_eq!(
        strings(
            &db,
            "SELECT CAST(a AS TEXT) FROM hidden ORDER BY rowid LIMIT 3"
        )
        .await,
        ["1", "2", "3"]
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pragma_table_info('alias') WHERE name = 'gone'"
        )
        .await,
        0
    );
}

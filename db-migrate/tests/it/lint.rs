//! `lint` reports dangerous operations per migration, and an allow marker silences exactly
//! the rule it names.

use db_migrate::lint::LintRule;
use db_migrate::{AlterColumn, BatchAlter, Migrator, Script};
use sea_orm::sea_query::{ColumnType, StringLen};

use crate::support::{batch, sql};

fn lines(migrator: &Migrator) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(migrator.lint())
        .expect("lint")
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn scripts() -> Vec<Script> {
    vec![
        sql(
            "l1l1l1l1",
            &["CREATE TABLE t (id INTEGER PRIMARY KEY, title VARCHAR(64), legacy TEXT, note TEXT)"],
            &[],
        ),
        // A rename written as drop + add: the data in `title` is lost.
        sql(
            "l2l2l2l2",
            &[
                "ALTER TABLE t DROP COLUMN title",
                "ALTER TABLE t ADD COLUMN name VARCHAR(64)",
            ],
            &[],
        )
        .revises("l1l1l1l1"),
        // A real rename is fine; dropping `legacy` is not.
        sql(
            "l3l3l3l3",
            &[
                "ALTER TABLE t RENAME COLUMN name TO label",
                "ALTER TABLE t DROP COLUMN legacy",
            ],
            &[],
        )
        .revises("l2l2l2l2"),
        batch(
            "l4l4l4l4",
            vec![BatchAlter::new("t").alter_column(
                "label",
                AlterColumn::new().type_(ColumnType::String(StringLen::N(16))),
            )],
        )
        .revises("l3l3l3l3"),
    ]
}

#[test]
fn finds_each_dangerous_operation() {
    let m = Migrator::new(scripts()).expect("graph");
    assert_eq!(
        lines(&m),
        [
            "l2l2l2l2 rename-as-drop-add: drops `t.title` and adds `name` of a compatible type: if this is a rename, rename the column (the data in `title` is lost)",
            "l3l3l3l3 drop-column: drops `t.legacy` and its data",
            "l4l4l4l4 type-narrowing: changes `t.label` from varchar(64) to varchar(16): values may not fit",
        ]
    );
}

#[test]
fn not_null_without_default_and_rebuilds() {
    let m = Migrator::new(vec![
        sql(
            "n1n1n1n1",
            &["CREATE TABLE t (id INTEGER PRIMARY KEY)"],
            &[],
        ),
        sql(
            "n2n2n2n2",
            &["ALTER TABLE t ADD COLUMN c INTEGER NOT NULL"],
            &[],
        )
        .revises("n1n1n1n1"),
    ])
    .expect("graph");
    let found = lines(&m);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("n2n2n2n2 not-null-without-default: "),
        "{found:?}"
    );
    let m = Migrator::new(vec![
        sql(
            "p1p1p1p1",
            &["CREATE TABLE t (id INTEGER PRIMARY KEY, c INTEGER)"],
            &[],
        ),
        sql(
            "p2p2p2p2",
            &["ALTER TABLE t ALTER COLUMN c SET NOT NULL"],
            &[],
        )
        .revises("p1p1p1p1"),
    ])
    .expect("graph");
    let found = lines(&m);
    assert!(
        found[0].starts_with("p2p2p2p2 sqlite-needs-rebuild: fails on SQLite"),
        "{found:?}"
    );
}

#[test]
fn allow_silences_exactly_that_finding() {
    let mut s = scripts();
    let l3 = s.remove(2).allow_lint(LintRule::DropColumn);
    s.insert(2, l3);
    // Allowing another rule on l2 silences nothing there.
    let l2 = s.remove(1).allow_lint(LintRule::DropTable);
    s.insert(1, l2);
    let m = Migrator::new(s).expect("graph");
    let found = lines(&m);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("l2l2l2l2 rename-as-drop-add"));
    assert!(found[1].starts_with("l4l4l4l4 type-narrowing"));
}

/// A hand-over chain starts with an empty baseline revision (the tables already exist): on the
/// empty shadow the next migration finds no table; linted against the live database it is
/// judged on the real schema (SQLite: a copy with its rows; servers: a snapshot of the
/// schema). The live database is only read.
mod hand_over {
    use db_testkit::backend_tests;
    use sea_orm::ConnectionTrait;

    use super::*;

    backend_tests! {
        async fn a_hand_over_chain_lints_against_the_live_database(test_db: TestDb) {
            let m = Migrator::new(vec![
                sql("b0b0b0b0", &[], &[]).message("baseline: adopt the existing schema"),
                sql("b1b1b1b1", &["ALTER TABLE items DROP COLUMN note"], &[]).revises("b0b0b0b0"),
            ])
            .expect("valid");
            let shadow: Vec<String> = m.lint().await.expect("lint").iter().map(ToString::to_string).collect();
            assert!(shadow.iter().any(|l| l.contains("no such table")), "{shadow:?}");

            let db = test_db.open().await;
            db.execute_unprepared("CREATE TABLE items (id INTEGER PRIMARY KEY, note VARCHAR(200))").await.expect("table");
            db.execute_unprepared("INSERT INTO items (id, note) VALUES (1, 'a'), (2, 'b')").await.expect("rows");
            m.stamp(&db, &["b0b0b0b0"], db_migrate::StampMode::Update).await.expect("adopt");
            let before = db_testkit::schema_snapshot(&db).await.expect("snapshot");
            let live: Vec<String> = m.lint_database(&db).await.expect("lint").iter().map(ToString::to_string).collect();
            assert_eq!(live, ["b1b1b1b1 drop-column: drops `items.note` and its data"]);
            assert_eq!(db_testkit::schema_snapshot(&db).await.expect("snapshot"), before, "the live database is unchanged");
            assert_eq!(db_testkit::count(&db, "SELECT COUNT(*) FROM items").await, 2);
        }
    }
}

/// A misspelt rule cannot reach `allow_lint` (it takes a [`LintRule`]); parsing one from text
/// (a configuration, a command line) names the known rules.
#[test]
fn a_misspelt_rule_is_refused() {
    let err = "drop-colum".parse::<LintRule>().expect_err("typo");
    assert_eq!(
        err.to_string(),
        "unknown lint rule `drop-colum`; the rules are: drop-table, drop-column, rename-as-drop-add, not-null-without-default, type-narrowing, sqlite-needs-rebuild"
    );
    for rule in LintRule::ALL {
        assert_eq!(
            rule.to_string().parse::<LintRule>().expect("round trip"),
            rule
        );
    }
}

//! Integration tests of db-core on real databases.

use db_core::{Database, Error, OpenOptions, transaction};
use db_testkit::{Backend, TestDb, backend_tests};
use sea_orm::{ConnectionTrait, DbErr, Statement};

async fn values(db: &impl ConnectionTrait) -> Vec<i64> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT v FROM t ORDER BY v",
    ))
    .await
    .expect("select")
    .iter()
    .map(|r| r.try_get_by_index::<i64>(0).expect("int"))
    .collect()
}

backend_tests! {
    async fn scopes_commit_roll_back_and_nest(test_db: TestDb) {
        let db = test_db.open().await;
        db.execute_unprepared("CREATE TABLE t (v BIGINT NOT NULL)").await.expect("create");

        // Ok commits.
        db.transaction(|txn| Box::pin(async move {
            txn.execute_unprepared("INSERT INTO t (v) VALUES (1)").await?;
            Ok::<_, DbErr>(())
        })).await.expect("commit");

        // Err rolls back and hands the error through.
        let err = db.transaction(|txn| Box::pin(async move {
            txn.execute_unprepared("INSERT INTO t (v) VALUES (2)").await?;
            Err::<(), _>(DbErr::Custom("nope".into()))
        })).await.expect_err("rolled back");
        assert_eq!(err.to_string(), "Custom Error: nope");

        // A nested scope is a savepoint: its failure undoes only its own work.
        db.transaction(|txn| Box::pin(async move {
            txn.execute_unprepared("INSERT INTO t (v) VALUES (3)").await?;
            let inner: Result<(), DbErr> = transaction(txn, |sp| Box::pin(async move {
                sp.execute_unprepared("INSERT INTO t (v) VALUES (4)").await?;
                Err(DbErr::Custom("inner".into()))
            })).await;
            assert!(inner.is_err());
            transaction(txn, |sp| Box::pin(async move {
                sp.execute_unprepared("INSERT INTO t (v) VALUES (5)").await.map(|_| ())
            })).await?;
            Ok::<_, DbErr>(())
        })).await.expect("outer commits");
        assert_eq!(values(&db).await, [1, 3, 5]);
    }

    async fn a_panicking_scope_rolls_back(test_db: TestDb) {
        let db = std::sync::Arc::new(test_db.open().await);
        db.execute_unprepared("CREATE TABLE t (v BIGINT NOT NULL)").await.expect("create");
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            db2.transaction(|txn| Box::pin(async move {
                txn.execute_unprepared("INSERT INTO t (v) VALUES (7)").await?;
                let fail = true;
                if fail {
                    panic!("boom inside the scope");
                }
                Ok::<_, DbErr>(())
            })).await
        })
        .await;
        assert!(joined.expect_err("the panic propagates").is_panic());
        assert!(values(&*db).await.is_empty());
    }
}

#[tokio::test]
async fn sqlite_defaults_for_devices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/folder/device.sqlite3");
    let url = format!("sqlite://{}", path.display());
    let db = Database::open(OpenOptions::new(url.clone()))
        .await
        .expect("open creates the folder");
    let pragma = |name: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("PRAGMA {name}"),
                ))
                .await
                .expect("pragma")
                .expect("row");
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
                .expect("value")
        }
    };
    assert_eq!(pragma("journal_mode").await, "wal");
    assert_eq!(pragma("foreign_keys").await, "1");
    assert_eq!(pragma("busy_timeout").await, "30000");
    assert!(path.exists());

    // One handle per file per process.
    let second = Database::open(OpenOptions::new(format!(
        "sqlite://{}/nested/folder/../folder/device.sqlite3",
        dir.path().display()
    )))
    .await
    .expect_err("second open");
    assert!(matches!(second, Error::AlreadyOpen { .. }), "{second}");
    assert!(
        second
            .to_string()
            .contains("is already open in this process"),
        "{second}"
    );
    db.close().await.expect("close");
    let again = Database::open(OpenOptions::new(url))
        .await
        .expect("open after close");
    drop(again);
}

#[tokio::test]
async fn unsupported_urls_and_config_errors_are_clear() {
    let err = Database::connect("oracle://scott:tiger@db/orcl")
        .await
        .expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        "unsupported database URL `oracle://scott:***@db/orcl`: expected sqlite://, postgres:// or mysql:// (is the backend's feature enabled?)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[databases.dev]\nurl = 3\n").expect("write");
    let err = db_core::Config::from_path(&bad).expect_err("malformed");
    assert!(err.to_string().ends_with("bad.toml is malformed"), "{err}");
}

#[tokio::test]
async fn postgres_schema_is_created_and_used() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let db = Database::open(OpenOptions::new(test_db.url()).schema("device"))
        .await
        .expect("open");
    db.execute_unprepared("CREATE TABLE t (v BIGINT)")
        .await
        .expect("create");
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 't'",
        ))
        .await
        .expect("query")
        .expect("row");
    assert_eq!(row.try_get_by_index::<String>(0).expect("text"), "device");
}

mod clone;
mod open;
mod retrying;
mod truncate;
mod types;

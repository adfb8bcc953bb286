//! The retrying transaction scope: a forced transient conflict (PostgreSQL serialization
//! failure, MySQL SQLSTATE 40001, SQLite `SQLITE_BUSY`) runs the retry-safe scope again; a
//! plain scope and a non-transient error are never retried; attempts are bounded. And the pool
//! settings reach sqlx.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use db_core::{Database, PoolOptions, RetryPolicy, RetrySafe};
use db_testkit::{Backend, TestDb, backend_tests, count};
use sea_orm::{ConnectionTrait, DbErr};

/// A statement that fails with the backend's transient-conflict error.
async fn prepare_conflict(db: &Database, backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "DO $$ BEGIN RAISE EXCEPTION 'forced conflict' USING ERRCODE = 'serialization_failure'; END $$"
        }
        Backend::MySql => {
            db.execute_unprepared("CREATE PROCEDURE forced_conflict() SIGNAL SQLSTATE '40001' SET MESSAGE_TEXT = 'forced conflict'")
                .await
                .expect("procedure");
            "CALL forced_conflict()"
        }
        Backend::Sqlite => "",
    }
}

/// Runs `scope` retrying under `policy` and returns its outcome with the number of runs.
async fn counted<F>(db: &Database, policy: RetryPolicy, scope: F) -> (Result<(), DbErr>, u32)
where
    F: for<'c> Fn(
            &'c sea_orm::DatabaseTransaction,
        ) -> futures::future::BoxFuture<'c, Result<(), DbErr>>
        + Send
        + Sync,
{
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    let out = db
        .transaction_retrying(
            policy,
            RetrySafe::new(move |txn| {
                r.fetch_add(1, Ordering::SeqCst);
                scope(txn)
            }),
        )
        .await;
    (out, runs.load(Ordering::SeqCst))
}

fn policy(attempts: u32) -> RetryPolicy {
    let mut p = RetryPolicy::attempts(NonZeroU32::new(attempts).expect("not zero"));
    p.first_delay = Duration::from_millis(5);
    p
}

backend_tests! {
    #[backends(postgres, mysql)]
    async fn serialization_failures_are_retried_only_when_safe(test_db: TestDb) {
        let db = test_db.open().await;
        db.execute_unprepared("CREATE TABLE t (v INTEGER NOT NULL)").await.expect("create");
        let conflict = prepare_conflict(&db, test_db.backend()).await;
        // Fails on the first run, succeeds on the second.
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let out: Result<u32, DbErr> = db
            .transaction_retrying(policy(5), RetrySafe::new(move |txn| {
                let r = r.clone();
                Box::pin(async move {
                    let run = r.fetch_add(1, Ordering::SeqCst) + 1;
                    txn.execute_unprepared("INSERT INTO t (v) VALUES (1)").await?;
                    if run == 1 {
                        txn.execute_unprepared(conflict).await?;
                    }
                    Ok(run)
                })
            }))
            .await;
        assert_eq!(out.expect("the second run commits"), 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM t").await, 1, "the first run was rolled back");
        // A plain scope is never retried.
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let plain: Result<(), DbErr> = db
            .transaction(move |txn| Box::pin(async move {
                r.fetch_add(1, Ordering::SeqCst);
                txn.execute_unprepared(conflict).await?;
                Ok(())
            }))
            .await;
        assert!(plain.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // A non-transient error is returned at once.
        let (bad, runs) = counted(&db, policy(5), |txn| Box::pin(async move {
            txn.execute_unprepared("INSERT INTO no_such_table VALUES (1)").await?;
            Ok(())
        })).await;
        assert!(bad.is_err());
        assert_eq!(runs, 1);
        // Bounded: a conflict every time ends after the last attempt with its error.
        let (always, runs) = counted(&db, policy(3), move |txn| Box::pin(async move {
            txn.execute_unprepared(conflict).await?;
            Ok(())
        })).await;
        assert_eq!(runs, 3);
        let err = always.expect_err("gives up");
        assert!(db.dialect().is_transient(&err), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_busy_is_retried() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let db = Database::open(test_db.options().busy_timeout(Duration::from_millis(50)))
        .await
        .expect("open");
    db.execute_unprepared("CREATE TABLE t (v INTEGER NOT NULL)")
        .await
        .expect("create");
    // Another process's writer (a connection outside this handle) holds the write lock for 300 ms.
    let other = sea_orm::Database::connect(test_db.url())
        .await
        .expect("other");
    other
        .execute_unprepared("BEGIN IMMEDIATE")
        .await
        .expect("lock");
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        other.execute_unprepared("COMMIT").await.expect("unlock");
        other
    });
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    let mut p = policy(20);
    p.max_delay = Duration::from_millis(100);
    let out: Result<(), DbErr> = db
        .transaction_retrying(
            p,
            RetrySafe::new(move |txn| {
                let r = r.clone();
                Box::pin(async move {
                    r.fetch_add(1, Ordering::SeqCst);
                    txn.execute_unprepared("INSERT INTO t (v) VALUES (1)")
                        .await?;
                    Ok(())
                })
            }),
        )
        .await;
    out.expect("succeeds once the lock is released");
    assert!(runs.load(Ordering::SeqCst) >= 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t").await, 1);
    drop(release.await.expect("released"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_settings_reach_the_pool() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let mut pool = PoolOptions::default();
    pool.min_connections = Some(1);
    pool.acquire_timeout = Some(Duration::from_secs(7));
    pool.max_lifetime = Some(Duration::from_secs(600));
    pool.test_before_acquire = true;
    let db = Database::open(test_db.options().max_connections(3).pool(pool))
        .await
        .expect("open");
    let options = db
        .connection()
        .get_postgres_connection_pool()
        .options()
        .clone();
    assert_eq!(options.get_max_connections(), 3);
    assert_eq!(options.get_min_connections(), 1);
    assert_eq!(options.get_acquire_timeout(), Duration::from_secs(7));
    assert_eq!(options.get_max_lifetime(), Some(Duration::from_secs(600)));
    assert!(options.get_test_before_acquire());
}

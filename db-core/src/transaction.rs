//! Transaction scopes: [`transaction`] commits when the closure succeeds and rolls back when
//! it fails or panics (SQLite's writes start with `BEGIN IMMEDIATE`, from the dialect).

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DbErr, TransactionSession, TransactionTrait};

use crate::Database;

/// Runs `scope` in a transaction on `conn` (a connection, a [`Database`]'s pool or an open
/// transaction): commits when it returns `Ok`, rolls back when it returns `Err` or panics (the
/// panic then continues). On an open transaction the scope is a savepoint, so scopes nest.
///
/// The scope's error type only needs `From<DbErr>`, so `?` works on sea-orm calls inside it.
///
/// # Errors
/// The scope's error, or the driver's error when `BEGIN` or `COMMIT` fails.
pub async fn transaction<C, F, T, E>(conn: &C, scope: F) -> Result<T, E>
where
    C: TransactionTrait,
    F: for<'c> FnOnce(&'c C::Transaction) -> BoxFuture<'c, Result<T, E>> + Send,
    T: Send,
    E: From<DbErr> + Send,
{
    let txn = conn.begin().await?;
    run_scope(txn, scope).await
}

impl Database {
    /// Runs a write scope: as [`transaction`], but on SQLite it starts with
    /// `BEGIN IMMEDIATE`, taking the write lock up front so two writers never deadlock while
    /// upgrading a read lock (they wait for each other within the busy timeout instead).
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use db_core::Database;
    /// use sea_orm::ConnectionTrait;
    /// let db = Database::connect("sqlite::memory:").await?;
    /// db.execute_unprepared("CREATE TABLE t (x INTEGER)").await?;
    /// let n: Result<u64, sea_orm::DbErr> = db
    ///     .transaction(|txn| Box::pin(async move {
    ///         Ok(txn.execute_unprepared("INSERT INTO t VALUES (1)").await?.rows_affected())
    ///     }))
    ///     .await;
    /// assert_eq!(n?, 1);
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
    /// ```
    ///
    /// # Errors
    /// The scope's error, or the driver's error when `BEGIN` or `COMMIT` fails.
    pub async fn transaction<F, T, E>(&self, scope: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c sea_orm::DatabaseTransaction) -> BoxFuture<'c, Result<T, E>> + Send,
        T: Send,
        E: From<DbErr> + Send,
    {
        let txn = self.dialect().begin_write(self.connection()).await?;
        run_scope(txn, scope).await
    }

    /// Runs a read scope: as [`transaction`] with SQLite's default deferred `BEGIN`, for scopes
    /// that only read and should not wait for the write lock.
    ///
    /// # Errors
    /// The scope's error, or the driver's error when `BEGIN` or `COMMIT` fails.
    pub async fn read_transaction<F, T, E>(&self, scope: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c sea_orm::DatabaseTransaction) -> BoxFuture<'c, Result<T, E>> + Send,
        T: Send,
        E: From<DbErr> + Send,
    {
        transaction(self.connection(), scope).await
    }
}

async fn run_scope<X, F, T, E>(txn: X, scope: F) -> Result<T, E>
where
    X: ConnectionTrait + TransactionSession,
    F: for<'c> FnOnce(&'c X) -> BoxFuture<'c, Result<T, E>>,
    E: From<DbErr>,
{
    let outcome = AssertUnwindSafe(scope(&txn)).catch_unwind().await;
    match outcome {
        Ok(Ok(value)) => {
            txn.commit().await?;
            Ok(value)
        }
        Ok(Err(error)) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback after a failed scope failed");
            }
            Err(error)
        }
        Err(panic) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback after a panicking scope failed");
            }
            std::panic::resume_unwind(panic)
        }
    }
}

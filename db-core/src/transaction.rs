//! Transaction scopes: [`transaction`] commits when the closure succeeds and rolls back when
//! it fails or panics (SQLite's writes start with `BEGIN IMMEDIATE`, from the dialect).

use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

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

/// How [`Database::transaction_retrying`] retries: up to `attempts` runs in all, waiting
/// `first_delay` after the first failure and doubling up to `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Runs in all, the first included (default 5).
    pub attempts: NonZeroU32,
    /// The wait after the first failure (default 10 ms).
    pub first_delay: Duration,
    /// The longest wait (default 1 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// `attempts` runs in all, with the default delays.
    #[must_use]
    pub fn attempts(attempts: NonZeroU32) -> Self {
        Self {
            attempts,
            ..Self::default()
        }
    }
}

/// A transaction scope its author declares safe to run more than once: everything it does
/// goes through the transaction it is given (no e-mail sent, no counter outside the database
/// bumped), so a run that was rolled back left no trace. Only such scopes are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetrySafe<F>(pub F);

impl<F> RetrySafe<F> {
    /// Marks `scope` as safe to run more than once (the constructor lets the compiler infer the
    /// closure's signature).
    pub fn new<T, E>(scope: F) -> Self
    where
        F: for<'c> Fn(&'c sea_orm::DatabaseTransaction) -> BoxFuture<'c, Result<T, E>>
            + Send
            + Sync,
    {
        Self(scope)
    }
}

/// An error a retrying scope can look into for the database error inside.
pub trait AsDbErr {
    /// The database error this error is or wraps, if any.
    fn as_db_err(&self) -> Option<&DbErr>;
}

impl AsDbErr for DbErr {
    fn as_db_err(&self) -> Option<&DbErr> {
        Some(self)
    }
}

impl AsDbErr for crate::Error {
    fn as_db_err(&self) -> Option<&DbErr> {
        match self {
            crate::Error::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl Database {
    /// Runs a write scope as [`Database::transaction`] and, when it fails with a transient
    /// conflict ([`Dialect::is_transient`](crate::Dialect::is_transient): a serialization
    /// failure or deadlock on the servers, `SQLITE_BUSY` / `SQLITE_LOCKED`), rolls back and runs
    /// it again after a bounded, doubling wait, up to `policy.attempts` runs. Any other error,
    /// and the last attempt's, is returned as is. The scope must be [`RetrySafe`]; plain
    /// [`Database::transaction`] never retries.
    ///
    /// # Errors
    /// The scope's error, or the driver's error when `BEGIN` or `COMMIT` fails (a commit's
    /// serialization failure is retried too).
    pub async fn transaction_retrying<F, T, E>(
        &self,
        policy: RetryPolicy,
        scope: RetrySafe<F>,
    ) -> Result<T, E>
    where
        F: for<'c> Fn(&'c sea_orm::DatabaseTransaction) -> BoxFuture<'c, Result<T, E>>
            + Send
            + Sync,
        T: Send,
        E: From<DbErr> + AsDbErr + Send,
    {
        let mut delay = policy.first_delay;
        let mut attempt = 1;
        loop {
            let outcome = self.transaction(|txn| (scope.0)(txn)).await;
            match outcome {
                Err(e)
                    if attempt < policy.attempts.get()
                        && e.as_db_err()
                            .is_some_and(|d| self.dialect().is_transient(d)) =>
                {
                    tracing::debug!(
                        attempt,
                        delay_ms = delay.as_millis(),
                        "transient conflict; the scope runs again"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(policy.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
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

//! Rollback isolation: one migrated database per template, backend and test process, shared
//! by the tests, each of which runs inside a transaction that is rolled back when it ends
//! (Django's `TestCase`, SQLAlchemy's "join a session into an external transaction"). The
//! code under test opens its own transactions on the handle with `begin()`: sea-orm makes
//! them savepoints, so its commits and rollbacks work and still vanish at the end.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use db_core::Database;
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::server::WORKER;
use crate::{Backend, Template, TestDb};

/// One test's view of the shared migrated database: a transaction that is rolled back when
/// this is dropped (or by [`Isolated::rollback`]). Derefs to sea-orm's
/// [`DatabaseTransaction`], so `&*isolated` is a `&impl ConnectionTrait + TransactionTrait`
/// for the code under test.
///
/// On SQLite the shared database has one writer at a time, so isolated tests on SQLite run one
/// after another (each waits for the previous one's rollback); PostgreSQL and MariaDB run them
/// concurrently, and tests that write the same rows wait for each other's locks.
#[derive(Debug)]
pub struct Isolated {
    txn: DatabaseTransaction,
    shared: Arc<Shared>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl Isolated {
    /// The transaction (what `Deref` gives).
    #[must_use]
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// The shared test database (its URL and name) — writes made through another connection
    /// to it are not rolled back.
    #[must_use]
    pub fn test_db(&self) -> &TestDb {
        &self.shared.test_db
    }

    /// Rolls the test's transaction back now.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for Isolated {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[derive(Debug)]
struct Shared {
    test_db: TestDb,
    db: Database,
    /// One test at a time on SQLite.
    turn: Option<Arc<Semaphore>>,
}

type Cells = HashMap<(Backend, String), Arc<OnceCell<Arc<Shared>>>>;
static SHARED: LazyLock<Mutex<Cells>> = LazyLock::new(Mutex::default);

impl Template<'_> {
    /// A rolled-back transaction on this template's shared database for `backend` (one
    /// migrated clone per test process, made on first use). `None` when the backend is
    /// unreachable and `CI` is unset (reported as skipped).
    ///
    /// # Panics
    /// As [`Template::test_db`], or when the transaction cannot begin.
    pub async fn isolated(&self, backend: Backend) -> Option<Isolated> {
        let cell = {
            let mut cells = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            cells.entry((backend, self.key())).or_default().clone()
        };
        let shared = match cell.get() {
            Some(s) => s.clone(),
            None => {
                let built = self.built(backend).await?;
                cell.get_or_init(|| async move {
                    let test_db = built
                        .take()
                        .await
                        .unwrap_or_else(|e| panic!("cannot clone the {backend} template: {e}"));
                    let options = test_db.options();
                    // Opened on the worker's runtime: its connections outlive this test's.
                    let db = WORKER
                        .run(async move { Database::open(options).await })
                        .await
                        .unwrap_or_else(|e| {
                            panic!("cannot open the shared {backend} database: {e}")
                        });
                    Arc::new(Shared {
                        test_db,
                        db,
                        turn: (backend == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1))),
                    })
                })
                .await
                .clone()
            }
        };
        let turn = match &shared.turn {
            Some(s) => Some(
                s.clone()
                    .acquire_owned()
                    .await
                    .unwrap_or_else(|e| panic!("the SQLite turn was closed: {e}")),
            ),
            None => None,
        };
        let txn = shared
            .db
            .connection()
            .begin()
            .await
            .unwrap_or_else(|e| panic!("cannot begin the test's transaction: {e}"));
        Some(Isolated {
            txn,
            shared,
            _turn: turn,
        })
    }
}

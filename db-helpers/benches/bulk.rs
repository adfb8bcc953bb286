//! Bulk insert of 1,000,000 rows (three columns) side by side in one run: the raw ceiling (SQLite:
//! a prepared 1,000-row statement executed repeatedly in one transaction through sqlx; PostgreSQL: `\copy`
//! through psql), sea-orm's plain `insert_many` (chunked just under the bind limit, one
//! statement each, no transaction) and db-helpers' `insert_chunked`; then `rows()` over 100,000
//! and 1,000,000 rows with the peak heap each time (constant memory means the two peaks match).
//! Prints rows/s and ratios. A server that is not running is left out.
//!
//! Run with: `cargo bench -p db-helpers --bench bulk` (`BENCH_ROWS`, default 1,000,000).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use db_testkit::{Backend, TestDb};
use futures::TryStreamExt;
use peak_alloc::PeakAlloc;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod row {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "row")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub grp: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

fn models(n: i64) -> Vec<row::ActiveModel> {
    (1..=n)
        .map(|i| row::ActiveModel {
            id: Set(i),
            grp: Set(i32::try_from(i % 97).unwrap_or(0)),
            name: Set(format!("name {i}")),
        })
        .collect()
}

async fn fresh(db: &impl ConnectionTrait) {
    let _ = db.execute_unprepared("DROP TABLE row").await;
    db.execute_unprepared("CREATE TABLE row (id BIGINT NOT NULL PRIMARY KEY, grp INTEGER NOT NULL, name VARCHAR(40) NOT NULL)")
        .await
        .expect("create");
}

fn rate(n: i64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn raw_sqlite(db: &db_core::Database, n: i64) -> Duration {
    // The driver alone: one prepared 1,000-row INSERT, executed again and again in one
    // transaction (sqlx caches the prepared statement).
    const ROWS: i64 = 1000;
    let pool = db.connection().get_sqlite_connection_pool();
    let placeholders = vec!["(?, ?, ?)"; usize::try_from(ROWS).unwrap_or(1)].join(", ");
    let full = format!("INSERT INTO row (id, grp, name) VALUES {placeholders}");
    let start = Instant::now();
    let mut tx = pool.begin().await.expect("begin");
    let mut i = 1;
    while i <= n {
        let end = (i + ROWS - 1).min(n);
        let sql = if end - i + 1 == ROWS {
            full.clone()
        } else {
            let p = vec!["(?, ?, ?)"; usize::try_from(end - i + 1).unwrap_or(1)].join(", ");
            format!("INSERT INTO row (id, grp, name) VALUES {p}")
        };
        // Placeholders only: the text is ours, the values are bound.
        let mut q = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
        for k in i..=end {
            q = q.bind(k).bind(k % 97).bind(format!("name {k}"));
        }
        q.execute(&mut *tx).await.expect("insert");
        i = end + 1;
    }
    tx.commit().await.expect("commit");
    start.elapsed()
}

fn raw_postgres(test_db: &TestDb, n: i64) -> Option<Duration> {
    let dir = tempfile::tempdir().ok()?;
    let csv = dir.path().join("rows.csv");
    let text: String = (1..=n)
        .map(|i| format!("{i},{},name {i}\n", i % 97))
        .collect();
    std::fs::write(&csv, text).ok()?;
    let start = Instant::now();
    let ok = std::process::Command::new("psql")
        .args([
            test_db.url(),
            "-q",
            "-c",
            &format!("\\copy row FROM '{}' WITH (FORMAT csv)", csv.display()),
        ])
        .status()
        .ok()?
        .success();
    ok.then(|| start.elapsed())
}

async fn plain_insert_many(db: &db_core::Database, n: i64, per_statement: usize) -> Duration {
    let all = models(n);
    let start = Instant::now();
    for chunk in all.chunks(per_statement) {
        row::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db.connection())
            .await
            .expect("insert_many");
    }
    start.elapsed()
}

async fn helper(db: &db_core::Database, n: i64) -> Duration {
    let all = models(n);
    let start = Instant::now();
    db_helpers::insert_chunked(db.connection(), all)
        .await
        .expect("insert_chunked");
    start.elapsed()
}

async fn walk(db: &db_core::Database, limit: i64) -> (usize, usize) {
    ALLOC.reset_peak_usage();
    let base = ALLOC.current_usage();
    let query = row::Entity::find().filter(row::Column::Id.lte(limit));
    let seen = db_helpers::rows(
        db.connection(),
        query,
        NonZeroU64::new(1000).unwrap_or(NonZeroU64::MIN),
    )
    .try_fold(0usize, |n, _| async move { Ok(n + 1) })
    .await
    .expect("walk");
    (seen, ALLOC.peak_usage().saturating_sub(base))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: i64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(test_db) = TestDb::new(backend).await else {
            continue;
        };
        let db = test_db.open().await;
        let dialect = db.dialect();
        let per_statement = dialect.max_bind_params() / 3;
        fresh(&db).await;
        let raw = match backend {
            Backend::Sqlite => Some(raw_sqlite(&db, n).await),
            _ => raw_postgres(&test_db, n),
        };
        fresh(&db).await;
        let plain = plain_insert_many(&db, n, per_statement).await;
        fresh(&db).await;
        let ours = helper(&db, n).await;
        println!("\n{backend}: {n} rows");
        match raw {
            Some(r) => println!("  raw ceiling        {:>10.0} rows/s", rate(n, r)),
            None => println!("  raw ceiling        (psql not available)"),
        }
        println!("  insert_many        {:>10.0} rows/s", rate(n, plain));
        println!("  insert_chunked     {:>10.0} rows/s", rate(n, ours));
        if let Some(r) = raw {
            println!(
                "  insert_chunked / raw = {:.2}×",
                r.as_secs_f64() / ours.as_secs_f64()
            );
        }
        println!(
            "  insert_chunked / insert_many = {:.2}×",
            plain.as_secs_f64() / ours.as_secs_f64()
        );
        let small = walk(&db, n / 10).await;
        let all = walk(&db, n).await;
        println!(
            "  rows() over {} rows: peak heap {:.1} MiB",
            small.0,
            small.1 as f64 / 1_048_576.0
        );
        println!(
            "  rows() over {} rows: peak heap {:.1} MiB",
            all.0,
            all.1 as f64 / 1_048_576.0
        );
    }
}

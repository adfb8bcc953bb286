//! Rebuilding a 1,000,000-row SQLite table with `batch_alter_table` next to the raw
//! `INSERT INTO new SELECT … FROM old` it is built around, measured in the same run on copies of
//! the same database file. Prints the figures and the ratio (target: within 1.5× of raw).
//!
//! Run with: `cargo bench -p db-migrate --bench rebuild`

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::path::Path;
use std::time::{Duration, Instant};

use db_migrate::{AlterColumn, BatchAlter, batch_alter_table};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};

const ROWS: u64 = 1_000_000;

async fn connect(path: &Path) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(format!("sqlite://{}?mode=rwc", path.display()));
    opts.max_connections(1).sqlx_logging(false);
    let p = path.to_owned();
    opts.map_sqlx_sqlite_opts(move |o| {
        o.filename(&p)
            .create_if_missing(true)
            .foreign_keys(false)
            .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
    });
    sea_orm::Database::connect(opts).await
}

async fn prepare(path: &Path) -> Result<(), DbErr> {
    let db = connect(path).await?;
    db.execute_unprepared(
        "CREATE TABLE readings (id INTEGER NOT NULL PRIMARY KEY, sensor VARCHAR(32) NOT NULL, value INTEGER, note TEXT)",
    )
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO readings (id, sensor, value, note) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         SELECT i, 'sensor-' || (i % 97), i % 1000, 'reading number ' || i FROM n"
    ))
    .await?;
    db.execute_unprepared("CREATE INDEX ix_readings_sensor ON readings (sensor)")
        .await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    db.close().await
}

fn copy(from: &Path, to: &Path) {
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", to.display()));
    }
    if let Err(e) = std::fs::copy(from, to) {
        panic!("copy {}: {e}", from.display());
    }
}

async fn raw(path: &Path) -> Result<Duration, DbErr> {
    let db = connect(path).await?;
    db.execute_unprepared(
        "CREATE TABLE readings_new (id INTEGER NOT NULL PRIMARY KEY, sensor VARCHAR(32) NOT NULL, value INTEGER NOT NULL, note TEXT)",
    )
    .await?;
    let started = Instant::now();
    let txn = db.begin().await?;
    txn.execute_unprepared("INSERT INTO readings_new SELECT id, sensor, value, note FROM readings")
        .await?;
    txn.commit().await?;
    let elapsed = started.elapsed();
    db.close().await?;
    Ok(elapsed)
}

async fn batch(path: &Path) -> Result<Duration, DbErr> {
    let db = connect(path).await?;
    let started = Instant::now();
    let txn = db.begin().await?;
    batch_alter_table(
        &txn,
        BatchAlter::new("readings").alter_column("value", AlterColumn::new().nullable(false)),
    )
    .await?;
    txn.commit().await?;
    let elapsed = started.elapsed();
    db.close().await?;
    Ok(elapsed)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let template = dir.path().join("template.sqlite3");
    let work = dir.path().join("work.sqlite3");
    rt.block_on(prepare(&template))?;
    let mut raws = Vec::new();
    let mut batches = Vec::new();
    for _ in 0..3 {
        copy(&template, &work);
        raws.push(rt.block_on(raw(&work))?);
        copy(&template, &work);
        batches.push(rt.block_on(batch(&work))?);
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
    let (r, b) = (best(&raws), best(&batches));
    println!("rebuild of a {ROWS}-row table with one index, best of 3 runs each:");
    println!(
        "  raw INSERT INTO new SELECT … FROM old (one transaction): {:>8.1} ms",
        r.as_secs_f64() * 1e3
    );
    println!(
        "  batch_alter_table (create, copy, drop, rename, index):    {:>8.1} ms",
        b.as_secs_f64() * 1e3
    );
    println!(
        "  ratio batch / raw: {:.2}x (target <= 1.5x)",
        b.as_secs_f64() / r.as_secs_f64()
    );
    Ok(())
}

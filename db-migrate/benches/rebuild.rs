//! Rebuilding a 1,000,000-row SQLite table (one index) with `batch_alter_table`, next to the raw
//! SQL, measured in the same run on copies of the same database file: the bare
//! `INSERT INTO new SELECT … FROM old` in one transaction (into a bare table and into one that
//! already has the index), and the same rebuild written by hand (create, insert…select, drop,
//! rename, create index) in one transaction. Prints the figures and
//! the ratios (target: within 1.5× of raw).
//!
//! Run with: `cargo bench -p db-migrate --bench rebuild`

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

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

const NEW_TABLE: &str = "CREATE TABLE readings_new (id INTEGER NOT NULL PRIMARY KEY, sensor VARCHAR(32) NOT NULL, value INTEGER NOT NULL, note TEXT)";
const COPY: &str = "INSERT INTO readings_new SELECT id, sensor, value, note FROM readings";

/// Runs `setup` untimed, then times `steps` in one transaction.
async fn timed_sql(path: &Path, setup: &[&str], steps: &[&str]) -> Result<Duration, DbErr> {
    let db = connect(path).await?;
    for sql in setup {
        db.execute_unprepared(sql).await?;
    }
    let started = Instant::now();
    let txn = db.begin().await?;
    for sql in steps {
        txn.execute_unprepared(sql).await?;
    }
    txn.commit().await?;
    let elapsed = started.elapsed();
    db.close().await?;
    Ok(elapsed)
}

async fn raw(path: &Path) -> Result<Duration, DbErr> {
    timed_sql(path, &[NEW_TABLE], &[COPY]).await
}

async fn raw_indexed(path: &Path) -> Result<Duration, DbErr> {
    timed_sql(
        path,
        &[
            NEW_TABLE,
            "CREATE INDEX ix_readings_new_sensor ON readings_new (sensor)",
        ],
        &[COPY],
    )
    .await
}

async fn raw_rebuild(path: &Path) -> Result<Duration, DbErr> {
    let steps = [
        NEW_TABLE,
        COPY,
        "DROP TABLE readings",
        "ALTER TABLE readings_new RENAME TO readings",
        "CREATE INDEX ix_readings_sensor ON readings (sensor)",
    ];
    timed_sql(path, &[], &steps).await
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
    let (mut raws, mut indexed, mut rebuilds, mut batches) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        copy(&template, &work);
        raws.push(rt.block_on(raw(&work))?);
        copy(&template, &work);
        indexed.push(rt.block_on(raw_indexed(&work))?);
        copy(&template, &work);
        rebuilds.push(rt.block_on(raw_rebuild(&work))?);
        copy(&template, &work);
        batches.push(rt.block_on(batch(&work))?);
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default().as_secs_f64() * 1e3;
    let (r, ri, rr, b) = (best(&raws), best(&indexed), best(&rebuilds), best(&batches));
    println!("rebuild of a {ROWS}-row table with one index, best of 3 runs each:");
    println!("  raw INSERT INTO new SELECT … FROM old, one transaction:           {r:>8.1} ms");
    println!("  raw INSERT INTO new SELECT … FROM old, new already indexed:       {ri:>8.1} ms");
    println!("  raw rebuild by hand (create, insert…select, drop, rename, index): {rr:>8.1} ms");
    println!("  batch_alter_table (the same steps, from the parsed table):        {b:>8.1} ms");
    println!(
        "  ratio batch / raw rebuild by hand: {:.2}x (target <= 1.5x)",
        b / rr
    );
    println!(
        "  ratio batch / INSERT…SELECT into the indexed table: {:.2}x",
        b / ri
    );
    println!(
        "  ratio batch / bare INSERT…SELECT:  {:.2}x (the extra is the drop and the index build)",
        b / r
    );
    Ok(())
}

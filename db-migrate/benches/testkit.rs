//! What a test waits for its own migrated database, with a 200-migration chain (each creates a
//! table and an index), measured side by side in one run on SQLite, PostgreSQL and MariaDB:
//!
//! - today's way: `TestDb::new` + `upgrade heads` per test;
//! - db-testkit's `Template::test_db` (a clone of a template migrated once), with tests that
//!   hold their database for 50 ms (the pool refills meanwhile) and back to back (no pause:
//!   every wait is a clone);
//! - the same with 50 migrations (the wait should not grow with the chain);
//! - the floor: a copy of the migrated file on SQLite, an empty `CREATE DATABASE` on the
//!   servers;
//! - rollback isolation (`Template::isolated`) setup;
//! - building the template once.
//!
//! Targets (issue 12): SQLite ≤ 10 ms; PostgreSQL ≤ 2× an empty `CREATE DATABASE`, independent
//! of the migration count; isolated setup ≤ 5 ms. A server that is not running is left out.
//!
//! Run with: `cargo bench -p db-migrate --bench testkit` (`BENCH_MIGRATIONS`, default 200;
//! `BENCH_RUNS`, default 20).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::{Duration, Instant};

use db_migrate::{Migrator, Script};
use db_testkit::{Backend, Fixture, Template, TestDb};
use sea_orm::ConnectionTrait;
use sea_orm_migration::prelude::*;

/// A migration that creates table `t<i>` with an index, and drops it.
struct Step(usize);

impl MigrationName for Step {
    fn name(&self) -> &str {
        "step"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Step {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let i = self.0;
        let conn = manager.get_connection();
        conn.execute_unprepared(&format!(
            "CREATE TABLE t{i} (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL, value INTEGER)"
        ))
        .await?;
        conn.execute_unprepared(&format!("CREATE INDEX ix_t{i}_name ON t{i} (name)"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let i = self.0;
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP TABLE t{i}"))
            .await?;
        Ok(())
    }
}

fn chain(n: usize) -> Migrator {
    let scripts: Vec<Script> = (1..=n)
        .map(|i| {
            let s = Script::new(format!("b{n:03}{i:07}"), Step(i));
            if i == 1 {
                s
            } else {
                s.revises(format!("b{n:03}{:07}", i - 1))
            }
        })
        .collect();
    Migrator::new(scripts).unwrap_or_else(|e| panic!("chain: {e}"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Column {
    backend: Backend,
    /// MariaDB: a DDL replay of the template and a reset of a used clone, timed directly.
    replay_and_reset: Option<(Duration, Duration)>,
    today: Duration,
    held: Duration,
    back_to_back: Duration,
    held_50: Duration,
    floor: Duration,
    isolated: Duration,
    build: Duration,
}

/// A template of `m` that no earlier run built (the fixture's name is unique), so that its
/// build is measured too.
fn fresh_template(m: &Migrator) -> Template<'_> {
    let salt = format!("bench {}", uuid::Uuid::new_v4());
    Template::new(m).fixture(Fixture::sql(salt, "CREATE TABLE bench_marker (id INTEGER)"))
}

/// The median wait for `runs` clones, each held `hold` before the next is asked for.
async fn waits(template: &Template<'_>, backend: Backend, runs: usize, hold: Duration) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let test_db = template.test_db(backend).await.expect("reachable");
        times.push(start.elapsed());
        tokio::time::sleep(hold).await;
        drop(test_db);
    }
    median(times)
}

async fn measure(backend: Backend, n: usize, runs: usize) -> Option<Column> {
    // Reachable at all?
    drop(TestDb::new(backend).await?);
    let m = chain(n);
    let m50 = chain(50);
    let today_runs = if backend == Backend::Sqlite { runs } else { 5 };
    let mut today = Vec::new();
    for _ in 0..today_runs {
        let start = Instant::now();
        let test_db = TestDb::new(backend).await.expect("reachable");
        let db = test_db.open().await;
        m.upgrade(&db, "heads").await.expect("upgrade");
        today.push(start.elapsed());
        let _ = db.close().await;
    }
    let template = fresh_template(&m);
    let start = Instant::now();
    drop(template.test_db(backend).await.expect("reachable"));
    let build = start.elapsed();
    let hold = Duration::from_millis(50);
    let held = waits(&template, backend, runs, hold).await;
    let back_to_back = waits(&template, backend, runs, Duration::ZERO).await;
    let t50 = Template::new(&m50);
    drop(t50.test_db(backend).await.expect("reachable"));
    let held_50 = waits(&t50, backend, runs, hold).await;
    let mut floor = Vec::new();
    match backend.admin_url() {
        None => {
            let from = std::env::temp_dir()
                .join("db-testkit")
                .join("templates")
                .join(format!("sqlite-{}.sqlite3", template.key()));
            let dir = tempfile::tempdir().expect("tempdir");
            for i in 0..runs {
                let start = Instant::now();
                std::fs::copy(&from, dir.path().join(format!("{i}.sqlite3"))).expect("copy");
                floor.push(start.elapsed());
            }
        }
        Some(url) => {
            let admin = db_core::Database::connect(&url).await.expect("admin");
            let dialect = backend.dialect();
            for i in 0..runs {
                let name = format!("bench_floor_{}_{i}", std::process::id());
                let create = dialect
                    .create_database_sql(&name)
                    .expect("name")
                    .expect("sql");
                let start = Instant::now();
                admin
                    .connection()
                    .execute_unprepared(&create)
                    .await
                    .expect("create");
                floor.push(start.elapsed());
                let drop = dialect
                    .drop_database_sql(&name)
                    .expect("name")
                    .expect("sql");
                admin
                    .connection()
                    .execute_unprepared(&drop)
                    .await
                    .expect("drop");
            }
        }
    }
    let mut isolated = Vec::new();
    drop(template.isolated(backend).await.expect("reachable"));
    for _ in 0..runs {
        let start = Instant::now();
        let t = template.isolated(backend).await.expect("reachable");
        isolated.push(start.elapsed());
        t.rollback().await.expect("rollback");
    }
    let replay_and_reset = match backend {
        Backend::MySql => Some(replay_and_reset(&template, runs.min(5)).await),
        _ => None,
    };
    Some(Column {
        backend,
        replay_and_reset,
        today: median(today),
        held,
        back_to_back,
        held_50,
        floor: median(floor),
        isolated: median(isolated),
        build,
    })
}

/// MariaDB's two ways to a fresh database from a template, each timed `runs` times: the DDL
/// replay (`CloneScript::statements`) and the reset of a used clone (`CloneScript::reset`).
async fn replay_and_reset(template: &Template<'_>, runs: usize) -> (Duration, Duration) {
    let url = Backend::MySql.admin_url().expect("server");
    let admin = db_core::Database::connect(&url).await.expect("admin");
    let own = db_core::Database::open(db_core::OpenOptions::new(url).max_connections(1))
        .await
        .expect("own connection");
    let name = format!("tk_tpl_{}", template.key());
    let script = db_core::Dialect::MySql
        .clone_script(admin.connection(), &name)
        .await
        .expect("script")
        .expect("a server");
    let (mut replays, mut resets) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let clone = format!("bench_replay_{}_{i}", std::process::id());
        let start = Instant::now();
        for sql in script.statements(&clone).expect("statements") {
            own.connection()
                .execute_unprepared(&sql)
                .await
                .expect("replay");
        }
        replays.push(start.elapsed());
        own.connection()
            .execute_unprepared(&format!(
                "INSERT INTO `{clone}`.t1 (id, name) VALUES (1, 'x')"
            ))
            .await
            .expect("a test's row");
        let start = Instant::now();
        assert!(
            script
                .reset(admin.connection(), &clone)
                .await
                .expect("reset")
        );
        resets.push(start.elapsed());
        own.connection()
            .execute_unprepared(&format!("DROP DATABASE `{clone}`"))
            .await
            .expect("drop");
    }
    (median(replays), median(resets))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_MIGRATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runs: usize = Ord::max(
        std::env::var("BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
        1,
    );
    let mut columns = Vec::new();
    for backend in Backend::ALL {
        if let Some(c) = measure(backend, n, runs).await {
            columns.push(c);
        }
    }
    let header: Vec<String> = columns.iter().map(|c| c.backend.to_string()).collect();
    println!(
        "\nper test, median of {runs} (today's figure: of 5 on the servers), {n} migrations\n"
    );
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(columns.len()));
    let row = |label: &str, f: &dyn Fn(&Column) -> String| {
        let cells: Vec<String> = columns.iter().map(f).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("`TestDb` + `upgrade heads` (today)", &|c| ms(c.today));
    row("`Template::test_db`, tests 50 ms apart", &|c| ms(c.held));
    row("`Template::test_db`, back to back", &|c| ms(c.back_to_back));
    row("`Template::test_db`, 50 migrations, 50 ms apart", &|c| {
        ms(c.held_50)
    });
    row("floor: file copy / empty `CREATE DATABASE`", &|c| {
        ms(c.floor)
    });
    row("`Template::isolated` setup", &|c| ms(c.isolated));
    row("template build, once per migration set", &|c| ms(c.build));
    println!();
    for c in &columns {
        if let Some((replay, reset)) = c.replay_and_reset {
            println!(
                "{} options for a fresh database: migrate {}, replay the template's DDL {}, reset a used clone {} (used: clones made by replay, then reset and reused)",
                c.backend,
                ms(c.today),
                ms(replay),
                ms(reset)
            );
        }
    }
    for c in &columns {
        let ratio = c.held.as_secs_f64() / c.floor.as_secs_f64().max(1e-9);
        println!(
            "{}: template wait {} = {ratio:.2}× the floor, {:.0}× faster than today",
            c.backend,
            ms(c.held),
            c.today.as_secs_f64() / c.held.as_secs_f64().max(1e-9)
        );
    }
}

//! Server templates under load and after the process ends: 200 tests each on a PostgreSQL
//! database of its own, nothing left when the test binary exits, and what a killed run left
//! swept by the next one. The work runs in a child process (this test binary, filtered to
//! [`child`]) so that its exit — normal or killed — can be observed.

use std::process::{Command, Output};
use std::sync::{Arc, LazyLock};

use db_testkit::{Backend, Template, TestDb, count};
use sea_orm::{ConnectionTrait, Statement};
use tokio::sync::Semaphore;

use crate::harness::Chain;

static CHAIN: LazyLock<Chain> = LazyLock::new(|| Chain::new(20));

/// Runs [`child`] in a new process of this test binary with `DB_TESTKIT_CHILD=mode`.
pub(crate) fn run_child(test: &str, mode: &str, env: &[(&str, &str)], ci: bool) -> Output {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("DB_TESTKIT_CHILD", mode);
    if !ci {
        cmd.env_remove("CI");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the test binary runs")
}

/// The run id a child printed (`RUN <id>`).
fn run_of(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find_map(|l| l.strip_prefix("RUN "))
        .unwrap_or_else(|| panic!("no run id in the child's output: {text}"))
        .to_owned()
}

/// The server's databases of run `run`.
async fn databases_of(backend: Backend, run: &str) -> Vec<String> {
    let admin = db_core::Database::connect(&backend.admin_url().expect("server"))
        .await
        .expect("admin connection");
    let sql = match backend {
        Backend::Postgres => "SELECT datname::text FROM pg_database ORDER BY 1",
        _ => "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata ORDER BY 1",
    };
    let rows = admin
        .connection()
        .query_all_raw(Statement::from_string(admin.backend(), sql))
        .await
        .expect("list databases");
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("name"))
        .filter(|n| n.starts_with(&format!("tk_{run}_")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by the tests of this module"]
async fn child() {
    let Ok(mode) = std::env::var("DB_TESTKIT_CHILD") else {
        return;
    };
    eprintln!("RUN {}", db_testkit::run_id());
    match mode.as_str() {
        "parallel" => {
            let template = Arc::new(Template::new(&*CHAIN).prepared(4));
            let gate = Arc::new(Semaphore::new(16));
            let tests = (0..200).map(|i| {
                let (template, gate) = (template.clone(), gate.clone());
                tokio::spawn(async move {
                    let _turn = gate.acquire().await.expect("gate");
                    let test_db = template
                        .test_db(Backend::Postgres)
                        .await
                        .expect("reachable");
                    let db = test_db.open().await;
                    db.connection()
                        .execute_unprepared(&format!("INSERT INTO t1 (id, name) VALUES ({i}, 'x')"))
                        .await
                        .expect("insert");
                    assert_eq!(
                        count(&db, "SELECT COUNT(*) FROM t1").await,
                        1,
                        "a database of its own"
                    );
                    assert_eq!(count(&db, "SELECT COUNT(*) FROM t20").await, 0, "at head");
                    db.close().await.expect("close");
                    test_db.name().to_owned()
                })
            });
            let mut names = Vec::new();
            for t in tests {
                names.push(t.await.expect("test passed"));
            }
            names.sort();
            names.dedup();
            assert_eq!(names.len(), 200, "200 distinct databases");
        }
        "abort" => {
            let mut keep = Vec::new();
            for backend in [Backend::Postgres, Backend::MySql] {
                for _ in 0..2 {
                    keep.push(TestDb::new(backend).await.expect("reachable"));
                }
                keep.push(
                    Template::new(&*CHAIN)
                        .test_db(backend)
                        .await
                        .expect("reachable"),
                );
            }
            keep.push(TestDb::new(Backend::Sqlite).await.expect("sqlite"));
            // Killed: no exit hook, no destructor.
            std::process::abort();
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_tests_leave_no_database() {
    if TestDb::new(Backend::Postgres).await.is_none() {
        return;
    }
    let out = run_child("pool::child", "parallel", &[], true);
    assert!(
        out.status.success(),
        "the child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let run = run_of(&out);
    assert_eq!(
        databases_of(Backend::Postgres, &run).await,
        Vec::<String>::new(),
        "all dropped at exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_killed_run_left_is_swept() {
    if TestDb::new(Backend::Postgres).await.is_none() || TestDb::new(Backend::MySql).await.is_none()
    {
        return;
    }
    let out = run_child("pool::child", "abort", &[], true);
    assert!(!out.status.success(), "the child aborts");
    let run = run_of(&out);
    let left_pg = databases_of(Backend::Postgres, &run).await;
    let left_my = databases_of(Backend::MySql, &run).await;
    assert!(
        left_pg.len() >= 3,
        "the killed run left its databases: {left_pg:?}"
    );
    assert!(
        left_my.len() >= 3,
        "the killed run left its databases: {left_my:?}"
    );
    let sqlite_dir = std::env::temp_dir()
        .join("db-testkit")
        .join("sqlite")
        .join(&run);
    assert!(sqlite_dir.exists(), "and its SQLite folder");
    let mut swept = db_testkit::sweep(Backend::Postgres).await.expect("sweep");
    swept.extend(db_testkit::sweep(Backend::MySql).await.expect("sweep"));
    for name in left_pg.iter().chain(&left_my) {
        assert!(swept.contains(name), "{name} swept: {swept:?}");
    }
    assert!(databases_of(Backend::Postgres, &run).await.is_empty());
    assert!(databases_of(Backend::MySql, &run).await.is_empty());
    assert!(!sqlite_dir.exists(), "the SQLite folder is swept too");
    // A live run's databases are never swept.
    let mine = TestDb::new(Backend::Postgres).await.expect("reachable");
    let swept = db_testkit::sweep(Backend::Postgres).await.expect("sweep");
    assert!(!swept.iter().any(|n| n == mine.name()));
    assert!(
        databases_of(Backend::Postgres, db_testkit::run_id())
            .await
            .contains(&mine.name().to_owned()),
        "this run's database is still there"
    );
}

/// Many databases of a dead run (a killed CI job leaves hundreds) are dropped by one sweep,
/// several at a time; the sweep a process starts on its own runs in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_leftovers_are_swept_together() {
    let Some(_reachable) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let run = format!("{:08x}", uuid::Uuid::new_v4().as_u128() as u32);
    let runs = std::env::temp_dir().join("db-testkit").join("runs");
    std::fs::create_dir_all(&runs).expect("runs dir");
    // A run whose lock file nobody holds: dead.
    std::fs::write(runs.join(format!("{run}.lock")), b"").expect("lock file");
    let admin = db_core::Database::connect(&Backend::Postgres.admin_url().expect("server"))
        .await
        .expect("admin");
    for n in 0..40 {
        admin
            .execute_unprepared(&format!("CREATE DATABASE tk_{run}_{n}"))
            .await
            .expect("create");
    }
    // (The background sweep this process started may take some of them first.)
    let started = std::time::Instant::now();
    let swept = db_testkit::sweep(Backend::Postgres).await.expect("sweep");
    eprintln!(
        "swept {} databases in {:?}",
        swept.iter().filter(|n| n.contains(&run)).count(),
        started.elapsed()
    );
    assert!(databases_of(Backend::Postgres, &run).await.is_empty());
    admin.close().await.expect("close");
}

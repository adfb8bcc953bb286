//! A test on an unreachable server is reported as skipped in `cargo test`'s normal output (and
//! fails when `CI` is set); `backend_tests!` generates the backends it is given.

use db_testkit::{Backend, Template, TestDb, backend_tests};

use crate::harness::Chain;
use crate::pool::run_child;

const NOWHERE: &str = "postgres://postgres@127.0.0.1:1/postgres";

#[tokio::test]
#[ignore = "run in a child process by the tests of this module"]
async fn child() {
    if std::env::var("DB_TESTKIT_CHILD").is_err() {
        return;
    }
    assert!(TestDb::new(Backend::Postgres).await.is_none());
    assert!(
        Template::new(&Chain::new(2))
            .test_db(Backend::Postgres)
            .await
            .is_none()
    );
}

#[test]
fn an_unreachable_server_is_reported_as_skipped() {
    let out = run_child(
        "skips::child",
        "skip",
        &[("TEST_POSTGRES_URL", NOWHERE)],
        false,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED skips::child: postgres server at postgres://postgres@127.0.0.1:1/postgres is not usable"),
        "{stderr}"
    );
    assert!(stderr.contains("db-testkit: 2 test(s) SKIPPED"), "{stderr}");
    // Without --nocapture too: the line is written past libtest's capture.
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["skips::child", "--exact", "--ignored"])
        .env("DB_TESTKIT_CHILD", "skip")
        .env("TEST_POSTGRES_URL", NOWHERE)
        .env_remove("CI")
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("SKIPPED skips::child"));
}

#[test]
fn an_unreachable_server_fails_under_ci() {
    let out = run_child(
        "skips::child",
        "skip",
        &[("TEST_POSTGRES_URL", NOWHERE), ("CI", "1")],
        true,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("CI is set, so every backend is required"),
        "{text}"
    );
}

backend_tests! {
    #[backends(sqlite)]
    async fn only_sqlite(backend: Backend) {
        assert_eq!(backend, Backend::Sqlite);
    }

    #[backends(postgres, mysql)]
    async fn only_servers(test_db: TestDb) {
        assert_ne!(test_db.backend(), Backend::Sqlite);
    }

    async fn all_three(test_db: TestDb) {
        let _ = test_db.open().await;
    }
}

#[test]
fn backend_tests_generates_the_chosen_backends() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args(["--list", "skips::"])
        .output()
        .expect("runs");
    let list = String::from_utf8_lossy(&out.stdout);
    let mut names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|n| n.contains("::only_") || n.contains("::all_three::"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "skips::all_three::mysql",
            "skips::all_three::postgres",
            "skips::all_three::sqlite",
            "skips::only_servers::mysql",
            "skips::only_servers::postgres",
            "skips::only_sqlite::sqlite",
        ]
    );
}

//! `--sql` offline mode: the printed SQL, run through `sqlite3` / `psql`, builds the same schema
//! as the online upgrade, and the database it builds is at head with `check` clean.

use std::process::{Command, Stdio};

use db_testkit::{Backend, TestDb, backend_tests, schema_snapshot};

use crate::{HEAD, migrate, ok, stderr};

/// Runs the SQL through the backend's own command-line client.
fn run_client(t: &TestDb, sql: &str) {
    let (program, args): (&str, Vec<String>) = match t.backend() {
        Backend::Sqlite => (
            "sqlite3",
            vec![
                "-bail".into(),
                t.dir()
                    .expect("dir")
                    .join("db.sqlite3")
                    .display()
                    .to_string(),
            ],
        ),
        Backend::Postgres => (
            "psql",
            vec![
                "-q".into(),
                "-v".into(),
                "ON_ERROR_STOP=1".into(),
                "-d".into(),
                t.url().into(),
            ],
        ),
        Backend::MySql => unreachable!("MySQL offline SQL is not run here"),
    };
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), sql.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("client");
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

backend_tests! {
    async fn offline_sql_builds_the_online_schema(t: TestDb) {
        let Some(online) = TestDb::new(t.backend()).await else { return };
        ok(online.url(), &["upgrade", "head"]);
        if t.backend() == Backend::MySql {
            // MODIFY needs the current column definition, which offline mode cannot read.
            let o = migrate(t.url(), &["upgrade", "--sql", "base:head"]);
            assert_eq!(o.status.code(), Some(1));
            assert!(stderr(&o).contains("cannot render upgrade d2c4e6a8b0f1 as SQL offline"), "{}", stderr(&o));
            let db = t.open().await;
            assert_eq!(db_testkit::count(db.connection(), "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").await, 0);
            return;
        }
        let url = if t.backend() == Backend::Sqlite {
            format!("sqlite://{}", t.dir().expect("dir").join("db.sqlite3").display())
        } else {
            t.url().to_owned()
        };
        let sql = ok(&url, &["upgrade", "--sql", "base:head"]);
        assert!(sql.contains("INSERT INTO \"alembic_version\" (version_num) VALUES ('1b9f0c7e5a21');"), "{sql}");
        // Nothing was touched: the offline run does not connect.
        if t.backend() == Backend::Sqlite {
            assert!(!t.dir().expect("dir").join("db.sqlite3").exists());
        }
        run_client(&t, &sql);
        assert_eq!(ok(&url, &["current"]).trim(), format!("{HEAD} (head)"));
        assert_eq!(ok(&url, &["check"]).trim(), "No new upgrade operations detected.");
        let offline_db = db_core::Database::open(db_core::OpenOptions::new(url.clone())).await.expect("open");
        let online_db = online.open().await;
        let a = schema_snapshot(offline_db.connection()).await.expect("snapshot");
        let b = schema_snapshot(online_db.connection()).await.expect("snapshot");
        assert_eq!(a, b);
        assert_eq!(
            db_testkit::count(offline_db.connection(), "SELECT COUNT(*) FROM course_roles").await,
            5,
            "the data migration's rows are in the SQL too"
        );
        offline_db.close().await.expect("close");
        // And back down to base.
        let down = ok(&url, &["downgrade", "--sql", &format!("{HEAD}:base")]);
        run_client(&t, &down);
        assert_eq!(ok(&url, &["current"]).trim(), "");
    }
}

#[test]
fn offline_downgrade_needs_a_start() {
    let o = migrate(
        "sqlite:///nonexistent/never.sqlite3",
        &["downgrade", "--sql", "base"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        "error: `base` is not a valid downgrade --sql target: give the range to render, e.g. `head:base` (there is no database to read the start from)"
    );
}

#[test]
fn offline_stamp_of_two_branches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("stamped.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let sql = ok(&url, &["stamp", "--sql", "9a3b", "f1e2"]);
    assert!(!file.exists(), "offline stamp must not create the database");
    let mut child = Command::new("sqlite3")
        .arg("-bail")
        .arg(&file)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), sql.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let current = ok(&url, &["current"]);
    assert_eq!(current.trim(), "9a3b5c7d2e14\nf1e2d3c4b5a6");
}

//! Bad input loses nothing: restore verifies before it replaces, failed backups never count,
//! interrupted MySQL steps stay visible, migration locks are per database, version-table names
//! are validated, and no target string or argument panics or changes the database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use db_core::Database;
use db_migrate::backup::{BackupPolicy, RestoreOptions, SystemClock, backup, list_backups};
use db_migrate::{Error, Migrator, VersionTable};
use db_testkit::{Backend, TestDb, backend_tests, count, schema_snapshot, strings};
use sea_orm::ConnectionTrait;

use crate::support::{branched, sql};

fn notes() -> Migrator {
    Migrator::new(vec![
        sql(
            "n1n1n1n1",
            &["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"],
            &["DROP TABLE notes"],
        ),
        sql(
            "n2n2n2n2",
            &["ALTER TABLE notes ADD COLUMN tag TEXT"],
            &["ALTER TABLE notes DROP COLUMN tag"],
        )
        .revises("n1n1n1n1"),
    ])
    .expect("valid")
}

fn db_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A SQLite database at n2 holding one note, and a verified backup of it at n1.
async fn database_with_a_backup(dir: &Path) -> (PathBuf, PathBuf) {
    let file = dir.join("device.sqlite3");
    let m = notes();
    let db = Database::connect(&db_url(&file)).await.expect("open");
    m.upgrade(&db, "n1n1").await.expect("n1");
    let taken = backup(&db, &BackupPolicy::default(), "n1n1n1n1", &SystemClock)
        .await
        .expect("backup")
        .expect("taken");
    m.upgrade(&db, "head").await.expect("n2");
    db.execute_unprepared("INSERT INTO notes (id, body) VALUES (1, 'written after the backup')")
        .await
        .expect("row");
    db.close().await.expect("close");
    (file, taken.path)
}

/// A file's SHA-256, to compare contents without printing them.
fn file_bytes(path: &Path) -> String {
    use sha2::Digest;
    format!(
        "{:x}",
        sha2::Sha256::digest(std::fs::read(path).expect("read"))
    )
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".before-restore-") || n.contains(".partial-"))
        .collect();
    names.sort();
    names
}

fn restore_options(backup: Option<PathBuf>, force: bool) -> RestoreOptions {
    RestoreOptions {
        backup,
        policy: BackupPolicy::default(),
        force,
    }
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_backup_of_this_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, good) = database_with_a_backup(dir.path()).await;
    // Checkpoint the WAL so the file alone holds the database, then remember its bytes.
    let db = Database::connect(&db_url(&file)).await.expect("open");
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .expect("checkpoint");
    db.close().await.expect("close");
    let before = file_bytes(&file);

    let empty = dir.path().join("empty.sqlite3.backup");
    std::fs::write(&empty, b"").expect("empty");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        b"not a database at all, just some text that is long enough",
    )
    .expect("text");
    let half = dir.path().join("half.sqlite3.backup");
    let good_bytes = std::fs::read(&good).expect("read");
    std::fs::write(&half, &good_bytes[..good_bytes.len() / 2]).expect("half");
    let foreign = dir.path().join("foreign.sqlite3");
    {
        let other = Database::connect(&db_url(&foreign)).await.expect("foreign");
        other
            .execute_unprepared("CREATE TABLE photos (id INTEGER)")
            .await
            .expect("table");
        other.close().await.expect("close");
    }
    let unknown = dir.path().join("unknown.sqlite3.backup");
    std::fs::copy(&good, &unknown).expect("copy");
    {
        let u = Database::connect(&db_url(&unknown)).await.expect("unknown");
        u.execute_unprepared("UPDATE alembic_version SET version_num = 'ffffffffffff'")
            .await
            .expect("update");
        u.close().await.expect("close");
    }

    let m = notes();
    for (candidate, says) in [
        (&empty, "is empty (0 bytes), not a SQLite database"),
        (
            &text,
            "is not a SQLite database (its header is not `SQLite format 3`)",
        ),
        (&half, "malformed|integrity_check"),
        (
            &foreign,
            "has no version table `alembic_version`, so it is not a database of these migrations (use --force to restore it anyway)",
        ),
        (
            &unknown,
            "is at revision `ffffffffffff`, which these migrations do not contain (use --force to restore it anyway)",
        ),
        (&file, "is the database itself"),
        (&dir.path().join("missing.backup"), "cannot read it"),
    ] {
        let err = m
            .restore(&file, &restore_options(Some(candidate.clone()), false))
            .await
            .expect_err(says);
        assert!(matches!(err, Error::Backup { .. }), "{err}");
        assert!(
            says.split('|').any(|s| err.to_string().contains(s)),
            "{}: {err}",
            candidate.display()
        );
        assert_eq!(
            file_bytes(&file),
            before,
            "{}: the database changed",
            candidate.display()
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
    }

    // --force restores a file at an unknown revision (it still has to be a sound SQLite file),
    // and the replaced database is kept.
    let restored = m
        .restore(&file, &restore_options(Some(unknown.clone()), true))
        .await
        .expect("forced");
    assert_eq!(restored.revisions, ["ffffffffffff"]);
    let kept = restored.previous.expect("the replaced file is kept");
    let kept_db = Database::connect(&db_url(&kept))
        .await
        .expect("the kept file opens");
    assert_eq!(
        strings(&kept_db, "SELECT body FROM notes").await,
        ["written after the backup"]
    );
    kept_db.close().await.expect("close");
    let err = m
        .restore(&file, &restore_options(Some(empty.clone()), true))
        .await
        .expect_err("force is not blind");
    assert!(err.to_string().contains("is empty"), "{err}");

    // The good backup restores; the previous database is kept beside it.
    let restored = m
        .restore(&file, &restore_options(Some(good.clone()), false))
        .await
        .expect("restore");
    assert_eq!(restored.revisions, ["n1n1n1n1"]);
    let db = Database::connect(&db_url(&file)).await.expect("open");
    assert_eq!(m.current(&db).await.expect("current"), ["n1n1n1n1"]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM notes").await, 0);
}

#[tokio::test]
async fn restore_refuses_while_the_database_is_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, good) = database_with_a_backup(dir.path()).await;
    let m = notes();
    // Another process's connection (not a db-core handle: those are refused in-process anyway).
    let mut opts = sea_orm::ConnectOptions::new(db_url(&file));
    opts.max_connections(1).sqlx_logging(false);
    let other = sea_orm::Database::connect(opts)
        .await
        .expect("other connection");
    assert_eq!(
        strings(&other, "SELECT body FROM notes").await,
        ["written after the backup"]
    );
    let err = m
        .restore(&file, &restore_options(Some(good.clone()), false))
        .await
        .expect_err("in use");
    assert!(
        err.to_string()
            .contains("the database is in use by another connection"),
        "{err}"
    );
    assert_eq!(
        strings(&other, "SELECT body FROM notes").await,
        ["written after the backup"],
        "nothing changed"
    );
    other.close().await.expect("close");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );

    // A handle of this process is refused too.
    let db = Database::connect(&db_url(&file)).await.expect("open");
    let err = m
        .restore(&file, &restore_options(Some(good.clone()), false))
        .await
        .expect_err("open here");
    assert!(
        err.to_string().contains("already open in this process"),
        "{err}"
    );
    db.close().await.expect("close");
    // A restore that was killed while copying left its staging file: the next one removes it.
    let staging = dir
        .path()
        .join(format!("device.sqlite3.partial-{}", dead_pid()));
    std::fs::write(&staging, b"SQLite format 3\0 half").expect("staging");
    m.restore(&file, &restore_options(Some(good), false))
        .await
        .expect("free now");
    assert!(
        !staging.exists(),
        "the dead restore's staging file was removed"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn restore_through_a_symbolic_link_replaces_its_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let (real, good) = database_with_a_backup(&data).await;
    let link = dir.path().join("current.sqlite3");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let m = notes();
    let restored = m
        .restore(&link, &restore_options(Some(good), false))
        .await
        .expect("restore");
    assert_eq!(restored.database, real.canonicalize().expect("real"));
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    let db = Database::connect(&db_url(&link))
        .await
        .expect("open through the link");
    assert_eq!(m.current(&db).await.expect("current"), ["n1n1n1n1"]);
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[tokio::test]
async fn a_failed_backup_never_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("device.sqlite3");
    let m = notes();
    let db = Database::connect(&db_url(&file)).await.expect("open");
    m.upgrade(&db, "n1n1").await.expect("n1");
    db.close().await.expect("close");
    let now = chrono::Utc::now();
    let stamp = now.format("%Y%m%dT%H%M%SZ");

    // Left by a backup that was killed during VACUUM INTO: not listed, not restored, removed.
    let dead = dead_pid();
    let partial = dir.path().join(format!(
        "device_{stamp}_n1n1n1n1.sqlite3.backup.partial-{dead}"
    ));
    std::fs::write(&partial, b"SQLite format 3\0 half of a file").expect("partial");
    // SQLite's rollback journal of the killed VACUUM INTO.
    let journal = dir.path().join(format!(
        "device_{stamp}_n1n1n1n1.sqlite3.backup.partial-{dead}-journal"
    ));
    std::fs::write(&journal, b"journal").expect("journal");
    assert!(list_backups(&file, dir.path()).expect("list").is_empty());
    let err = m
        .restore(&file, &restore_options(None, false))
        .await
        .expect_err("no backup");
    assert!(
        err.to_string()
            .contains("there is no backup of this database"),
        "{err}"
    );
    let db = Database::connect(&db_url(&file)).await.expect("open");

    // A backup that fails (here: its temporary name is taken by a folder) leaves nothing.
    let blocker = dir.path().join(format!(
        "device_{stamp}_n1n1n1n1.sqlite3.backup.partial-{}",
        std::process::id()
    ));
    std::fs::create_dir(&blocker).expect("blocker");
    struct Fixed(chrono::DateTime<chrono::Utc>);
    impl std::fmt::Debug for Fixed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Fixed")
        }
    }
    impl db_migrate::backup::Clock for Fixed {
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            self.0
        }
    }
    let clock = Fixed(now);
    let err = backup(&db, &BackupPolicy::default(), "n1n1n1n1", &clock)
        .await
        .expect_err("cannot write");
    assert!(matches!(err, Error::Backup { .. }), "{err}");
    assert!(
        !partial.exists() && !journal.exists(),
        "the dead process's partial files were removed"
    );
    assert!(
        list_backups(&file, dir.path()).expect("list").is_empty(),
        "a failed backup is not listed"
    );
    std::fs::remove_dir(&blocker).expect("unblock");

    // The next backup is not held back by the minimum interval: nothing counted.
    let taken = backup(&db, &BackupPolicy::default(), "n1n1n1n1", &clock)
        .await
        .expect("backup")
        .expect("taken");
    assert_eq!(list_backups(&file, dir.path()).expect("list").len(), 1);
    assert!(taken.path.exists());
    db.close().await.expect("close");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

/// a1 creates t1; b2 creates t2 and its downgrade drops t2 and then takes 3 s (an interrupt
/// lands after the DDL); c3 only inserts and then takes 3 s.
fn slow_steps() -> Migrator {
    Migrator::new(vec![
        sql(
            "a1a1a1a1",
            &["CREATE TABLE t1 (id INT)"],
            &["DROP TABLE t1"],
        ),
        sql(
            "b2b2b2b2",
            &["CREATE TABLE t2 (id INT)"],
            &["DROP TABLE t2", "SELECT SLEEP(3)"],
        )
        .revises("a1a1a1a1"),
        sql(
            "c3c3c3c3",
            &["INSERT INTO t1 (id) VALUES (1)", "SELECT SLEEP(3)"],
            &["DELETE FROM t1"],
        )
        .revises("b2b2b2b2"),
    ])
    .expect("valid")
}

async fn interrupted(
    run: impl std::future::Future<Output = db_migrate::Result<Vec<db_migrate::Step>>>,
) {
    let outcome = tokio::time::timeout(Duration::from_millis(1500), run).await;
    assert!(
        outcome.is_err(),
        "the step was still running when it was interrupted: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_an_interrupted_ddl_step_blocks_every_command_until_stamped() {
    let Some(test_db) = TestDb::new(Backend::MySql).await else {
        return;
    };
    let db = test_db.open().await;
    let m = slow_steps();
    m.upgrade(&db, "b2b2").await.expect("b2");
    interrupted(m.downgrade(&db, "-1")).await;
    // The version table still says b2, but t2 is gone: the marker says so.
    assert_eq!(m.current(&db).await.expect("current"), ["b2b2b2b2"]);
    let marker = m
        .unresolved(&db)
        .await
        .expect("history")
        .expect("a running marker");
    // `current` and `history -i` show it.
    fn migrator() -> db_migrate::Result<Migrator> {
        Ok(slow_steps())
    }
    let app = db_migrate::cli::App {
        name: "slow",
        migrator,
        default_url: None,
        default_config: None,
        migrations_dir: None,
    };
    for command in ["current", "history"] {
        let mut out = Vec::new();
        let mut args = vec!["slow", "--url", test_db.url(), command];
        if command == "history" {
            args.push("-i");
        }
        let code = db_migrate::cli::run(&app, args, &mut out, &|_| None).await;
        assert_eq!(code, std::process::ExitCode::SUCCESS);
        let out = String::from_utf8(out).expect("utf-8");
        assert!(
            out.contains("! downgrade b2b2b2b2 is running since "),
            "{out}"
        );
        assert!(
            out.contains(
                "may be partly applied: repair the schema, then `stamp` the revision it matches"
            ),
            "{out}"
        );
    }
    assert_eq!(
        (
            marker.revision.as_str(),
            marker.direction.as_str(),
            marker.status.as_str()
        ),
        ("b2b2b2b2", "downgrade", "running")
    );
    // A no-op upgrade, a downgrade and check refuse.
    for err in [
        m.upgrade(&db, "b2b2").await.expect_err("no-op upgrade"),
        m.upgrade(&db, "head").await.expect_err("upgrade"),
        m.downgrade(&db, "base").await.expect_err("downgrade"),
    ] {
        assert!(matches!(err, Error::PartiallyApplied { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("downgrade b2b2b2b2 failed on MySQL/MariaDB"),
            "{err}"
        );
    }
    // The operator sees the schema matches a1 and stamps it: the runner goes on.
    m.stamp(&db, &["a1a1a1a1"], db_migrate::StampMode::Update)
        .await
        .expect("stamp resolves");
    assert!(m.unresolved(&db).await.expect("history").is_none());
    m.upgrade(&db, "b2b2").await.expect("upgrade again");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t2").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_an_interrupted_dml_step_leaves_no_trace() {
    let Some(test_db) = TestDb::new(Backend::MySql).await else {
        return;
    };
    let db = test_db.open().await;
    let m = slow_steps();
    m.upgrade(&db, "b2b2").await.expect("b2");
    interrupted(m.upgrade(&db, "head")).await;
    assert!(
        m.unresolved(&db).await.expect("history").is_none(),
        "a DML-only step does not block"
    );
    let steps = m
        .upgrade(&db, "head")
        .await
        .expect("the next run applies it");
    assert_eq!(steps.len(), 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM t1").await,
        1,
        "applied exactly once"
    );
    let failed = sql(
        "d4d4d4d4",
        &[
            "INSERT INTO t1 (id) VALUES (2)",
            "INSERT INTO no_such_table VALUES (1)",
        ],
        &[],
    );
    let m2 = Migrator::new(vec![
        sql("a1a1a1a1", &[], &[]),
        sql("b2b2b2b2", &[], &[]).revises("a1a1a1a1"),
        sql("c3c3c3c3", &[], &[]).revises("b2b2b2b2"),
        failed.revises("c3c3c3c3"),
    ])
    .expect("valid");
    let err = m2.upgrade(&db, "head").await.expect_err("fails");
    assert!(
        matches!(err, Error::MigrationFailed { .. }),
        "a DML-only failure rolls back: {err}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t1").await, 1);
    assert!(m2.unresolved(&db).await.expect("history").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_migration_locks_are_per_database() {
    let (Some(a), Some(b)) = (
        TestDb::new(Backend::MySql).await,
        TestDb::new(Backend::MySql).await,
    ) else {
        return;
    };
    let slow = || {
        Migrator::new(vec![sql(
            "s1s1s1s1",
            &["CREATE TABLE started (id INT)", "SELECT SLEEP(3)"],
            &[],
        )])
        .expect("valid")
        .lock_timeout(Duration::from_secs(1))
    };
    let db_a = a.open().await;
    let db_b = b.open().await;
    let running = tokio::spawn(async move {
        let result = slow().upgrade(&db_a, "head").await.map(|s| s.len());
        (result, db_a)
    });
    // Wait (bounded) until the runner on database a holds its lock and is inside the step.
    let probe = a.open().await;
    let mut waited = 0;
    while count(&probe, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'started'").await == 0 {
        waited += 1;
        assert!(waited < 200, "the runner on database a did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Database b on the same server migrates meanwhile (its lock is its own).
    let steps = slow()
        .upgrade(&db_b, "head")
        .await
        .expect("not blocked by database a");
    assert_eq!(steps.len(), 1);
    let (result, _db_a) = running.await.expect("join");
    assert_eq!(result.expect("database a migrates too"), 1);
}

backend_tests! {
    async fn version_table_names_are_validated(test_db: TestDb) {
        let db = test_db.open().await;
        let before = schema_snapshot(&db).await.expect("snapshot");
        // 62 + `_pkc` is more than PostgreSQL's 63 bytes; MySQL allows 64 characters; SQLite any.
        let too_long = "v".repeat(62);
        let mut names = vec!["alembic_version\"; DROP TABLE x; --", "", "a`b"];
        if test_db.backend() == Backend::Postgres {
            names.push(too_long.as_str());
        }
        for name in names {
            let m = branched().version_table(VersionTable { name: name.to_owned(), ..VersionTable::default() });
            let err = m.upgrade(&db, "head").await.expect_err(name);
            assert!(err.to_string().starts_with("invalid "), "{name:?}: {err}");
            assert_eq!(schema_snapshot(&db).await.expect("snapshot"), before, "{name:?}");
        }
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Strings that look like targets, and anything at all.
    fn target() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-f0-9]{0,14}",
            "(head|heads|base|left|right|[a-f0-9]{1,8})?[@:+-]{0,2}(head|base|[+-]?[0-9]{1,3})?",
            "[+-][0-9]{1,25}",
            any::<String>(),
            "\\PC{0,12}",
            Just("ü".to_owned()),
            Just("üü@+1".to_owned()),
            Just("e5e5e5e5-99999999999999999999".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

        /// No target panics; a refused one changes nothing.
        #[test]
        fn targets_never_panic_and_refusals_change_nothing(target in target(), start in 0usize..4) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let m = branched();
                let db = Database::connect("sqlite::memory:").await.expect("memory");
                let starts = ["base", "b2b2", "left@head", "heads"];
                m.upgrade(&db, starts[start]).await.expect("start");
                let before = m.current(&db).await.expect("current");
                if m.upgrade(&db, &target).await.is_err() {
                    assert_eq!(m.current(&db).await.expect("current"), before, "upgrade {target:?}");
                }
                let before = m.current(&db).await.expect("current");
                if m.downgrade(&db, &target).await.is_err() {
                    assert_eq!(m.current(&db).await.expect("current"), before, "downgrade {target:?}");
                }
                let before = m.current(&db).await.expect("current");
                if m.stamp(&db, &[&target], db_migrate::StampMode::Update).await.is_err() {
                    assert_eq!(m.current(&db).await.expect("current"), before, "stamp {target:?}");
                }
                let _ = m.graph().show(&target);
                let _ = m.graph().history(Some(&target), &[]);
                let _ = m.upgrade_sql(sea_orm::DbBackend::Sqlite, &target, None).await;
            });
        }
    }
}

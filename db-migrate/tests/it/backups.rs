//! Backups before migrating: only when something is pending, restorable, pruned to the
//! retention, never two within the minimum interval (an injected clock, no sleeping).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use db_core::Database;
use db_migrate::backup::{BackupPolicy, Clock, RestoreOptions, backup, list_backups};
use db_migrate::{Error, Migrator, OnOpenOptions};
use db_testkit::{Backend, TestDb, count};
use sea_orm::ConnectionTrait;

use crate::support::sql;

#[derive(Debug)]
struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(
            Utc.with_ymd_and_hms(2026, 11, 21, 8, 0, 0)
                .single()
                .expect("valid date"),
        )))
    }

    fn advance(&self, seconds: i64) {
        let mut now = self.0.lock().expect("clock");
        *now += chrono::Duration::seconds(seconds);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

/// A SQLite test database, its file, a backup policy into its `backups` folder and a fake
/// clock.
struct Backups {
    test_db: TestDb,
    file: std::path::PathBuf,
    policy: BackupPolicy,
    clock: Arc<FakeClock>,
}

impl Backups {
    async fn new() -> Self {
        let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
        let dir = test_db.dir().expect("temp dir");
        let file = dir.join(format!("{}.sqlite3", test_db.name()));
        let policy = BackupPolicy {
            dir: Some(dir.join("backups")),
            ..BackupPolicy::default()
        };
        Self {
            test_db,
            file,
            policy,
            clock: FakeClock::new(),
        }
    }

    /// The database, with a table `t`.
    async fn open_with_table(&self) -> Database {
        let db = self.test_db.open().await;
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .expect("table");
        db
    }
}

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
        sql(
            "n3n3n3n3",
            &[
                "CREATE TABLE broken (id INTEGER)",
                "INSERT INTO nowhere VALUES (1)",
            ],
            &[],
        )
        .revises("n2n2n2n2"),
    ])
    .expect("valid")
}

#[tokio::test]
async fn backups_are_taken_only_when_pending_and_restore_the_old_state() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let dir = test_db.dir().expect("temp dir").to_owned();
    let file = dir.join(format!("{}.sqlite3", test_db.name()));
    let clock = FakeClock::new();
    let policy = BackupPolicy::default();
    let m = notes();
    let db = test_db.open().await;
    m.upgrade(&db, "n1n1").await.expect("n1");
    db.execute_unprepared("INSERT INTO notes (id, body) VALUES (1, 'keep me')")
        .await
        .expect("row");

    let (steps, taken) = m
        .upgrade_with_backup(&db, "n2n2", &policy, clock.as_ref())
        .await
        .expect("upgrade");
    assert_eq!(steps.len(), 1);
    let taken = taken.expect("a backup, something was pending");
    assert_eq!(
        taken.path.file_name().and_then(|n| n.to_str()),
        Some(
            format!(
                "{}_20261121T080000Z_n1n1n1n1.sqlite3.backup",
                test_db.name()
            )
            .as_str()
        )
    );
    clock.advance(3600);
    let (steps, none) = m
        .upgrade_with_backup(&db, "n2n2", &policy, clock.as_ref())
        .await
        .expect("no-op");
    assert!(
        steps.is_empty() && none.is_none(),
        "nothing pending, no backup"
    );
    assert_eq!(list_backups(&file, &dir).expect("list").len(), 1);

    // A failing upgrade names the backup it took.
    let err = m
        .upgrade_with_backup(&db, "head", &policy, clock.as_ref())
        .await
        .expect_err("n3 fails");
    assert!(matches!(err, Error::FailedAfterBackup { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("a backup taken before migrating is at"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("_20261121T090000Z_n2n2n2n2.sqlite3.backup"),
        "{err}"
    );

    // Restore the first backup: the database is back at n1 with its row.
    db.execute_unprepared("DELETE FROM notes")
        .await
        .expect("lose the row");
    db.close().await.expect("close");
    m.restore(
        &file,
        &RestoreOptions {
            backup: Some(taken.path.clone()),
            policy: policy.clone(),
            force: false,
        },
    )
    .await
    .expect("restore");
    let db = test_db.open().await;
    assert_eq!(m.current(&db).await.expect("current"), ["n1n1n1n1"]);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM notes WHERE body = 'keep me'").await,
        1
    );
}

#[tokio::test]
async fn retention_and_minimum_interval() {
    let fixture = Backups::new().await;
    let (file, policy, clock) = (
        fixture.file.clone(),
        fixture.policy.clone(),
        fixture.clock.clone(),
    );
    let dir = policy.dir.clone().expect("backup dir");
    let db = fixture.open_with_table().await;
    let mut kept = Vec::new();
    for i in 0..5 {
        let b = backup(&db, &policy, "r1r1", clock.as_ref())
            .await
            .expect("backup")
            .expect("taken");
        kept.push(b.path);
        clock.advance(30);
        assert!(
            backup(&db, &policy, "r1r1", clock.as_ref())
                .await
                .expect("backup")
                .is_none(),
            "second within 60 s ({i})"
        );
        clock.advance(31);
    }
    let listed: Vec<_> = list_backups(&file, &dir)
        .expect("list")
        .into_iter()
        .map(|b| b.path)
        .collect();
    let newest_three: Vec<_> = kept.iter().rev().take(3).cloned().collect();
    assert_eq!(listed, newest_three);
    // The newest restores with the latest-by-default rule.
    db.close().await.expect("close");
    // These backups have no version table: only `force` restores them.
    let restored = notes()
        .restore(
            &file,
            &RestoreOptions {
                backup: None,
                policy: policy.clone(),
                force: true,
            },
        )
        .await
        .expect("restore");
    assert_eq!(restored.backup, kept[4]);
}

#[tokio::test]
async fn opening_a_device_database_backs_up_and_migrates() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let dir = test_db.dir().expect("temp dir").to_owned();
    let file = dir.join(format!("{}.sqlite3", test_db.name()));
    let old = Migrator::new(vec![sql(
        "n1n1n1n1",
        &["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"],
        &[],
    )])
    .expect("valid");
    let db = Database::open_migrated(test_db.options(), &old)
        .await
        .expect("first boot");
    db.close().await.expect("close");
    let clock = FakeClock::new();
    let options = OnOpenOptions {
        clock: clock.clone(),
        ..OnOpenOptions::default()
    };
    let two = Migrator::new(vec![
        sql(
            "n1n1n1n1",
            &["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"],
            &[],
        ),
        sql("n2n2n2n2", &["ALTER TABLE notes ADD COLUMN tag TEXT"], &[]).revises("n1n1n1n1"),
    ])
    .expect("valid")
    .on_open(options.clone());
    let db = Database::open_migrated(test_db.options(), &two)
        .await
        .expect("second boot migrates");
    assert_eq!(
        two.migrator().current(&db).await.expect("current"),
        ["n2n2n2n2"]
    );
    db.close().await.expect("close");
    assert_eq!(list_backups(&file, &dir).expect("list").len(), 1);
    // A later boot with nothing pending takes no backup.
    clock.advance(3600);
    let db = Database::open_migrated(test_db.options(), &two)
        .await
        .expect("third boot");
    db.close().await.expect("close");
    assert_eq!(list_backups(&file, &dir).expect("list").len(), 1);
    // An older binary refuses the newer database instead of "migrating" it.
    let err = Database::open_migrated(test_db.options(), &old.on_open(options))
        .await
        .expect_err("older binary");
    let text = db_migrate::cli::error_chain(&err);
    assert!(
        text.contains(
            "the database is at revision `n2n2n2n2`, which these migrations do not contain"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_migration_past_the_timeout_is_interrupted_and_rolled_back() {
    let test_db = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let m = Migrator::new(vec![
        sql("t1t1t1t1", &["CREATE TABLE notes (id INTEGER PRIMARY KEY)"], &[]),
        sql(
            "t2t2t2t2",
            &[
                "CREATE TABLE half_done (id INTEGER)",
                // Minutes of work unless interrupted.
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000000000) SELECT COUNT(*) FROM n",
            ],
            &[],
        )
        .revises("t1t1t1t1"),
    ])
    .expect("valid");
    let db = test_db.open().await;
    m.upgrade(&db, "t1t1").await.expect("t1");
    db.close().await.expect("close");
    let options = OnOpenOptions {
        timeout: std::time::Duration::from_millis(300),
        clock: FakeClock::new(),
        ..OnOpenOptions::default()
    };
    let err = Database::open_migrated(test_db.options(), &m.on_open(options))
        .await
        .expect_err("times out");
    let text = db_migrate::cli::error_chain(&err);
    assert!(
        text.contains(
            "migrating took longer than 300 ms: t2t2t2t2 was interrupted and rolled back"
        ),
        "{text}"
    );
    assert!(
        text.contains("a backup taken before migrating is at"),
        "{text}"
    );
    let db = test_db.open().await;
    assert_eq!(
        db_testkit::strings(&db, "SELECT version_num FROM alembic_version").await,
        ["t1t1t1t1"]
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'"
        )
        .await,
        0
    );
}

/// Within the minimum interval a backup is still taken when the newest holds another revision
/// or the database was written since (a backup of the empty database must not stand in for
/// the one before a data migration); only an identical one is skipped.
#[tokio::test]
async fn a_backup_of_other_data_never_stands_in() {
    let fixture = Backups::new().await;
    let (policy, clock) = (fixture.policy.clone(), fixture.clock.clone());
    let db = fixture.open_with_table().await;
    let mut kept = Vec::new();
    kept.push(
        backup(&db, &policy, "", clock.as_ref())
            .await
            .expect("backup")
            .expect("taken at base")
            .path,
    );
    clock.advance(40);
    // Within the interval, a backup is still taken when the newest holds another revision or
    // the database was written since (issue 22: a backup of the empty database must not stand
    // in for the one before a data migration).
    let extra = kept.len();
    let other_revision = backup(&db, &policy, "r2r2", clock.as_ref())
        .await
        .expect("backup");
    assert!(other_revision.is_some(), "another revision");
    kept.push(other_revision.expect("taken").path);
    clock.advance(5);
    std::thread::sleep(std::time::Duration::from_millis(20));
    db.execute_unprepared("INSERT INTO t (x) VALUES (1)")
        .await
        .expect("write");
    let written = backup(&db, &policy, "r2r2", clock.as_ref())
        .await
        .expect("backup");
    assert!(written.is_some(), "a write since the newest");
    kept.push(written.expect("taken").path);
    clock.advance(5);
    assert!(
        backup(&db, &policy, "r2r2", clock.as_ref())
            .await
            .expect("backup")
            .is_none(),
        "same revision, nothing written"
    );
    assert_eq!(kept.len(), extra + 2);
}

/// A restore's staging copy left by a dead process (a restore that failed for lack of space
/// or was killed) is removed by the next backup instead of making it fail.
#[tokio::test]
async fn a_dead_restores_staging_copy_is_removed() {
    let fixture = Backups::new().await;
    let mut leftover = fixture.file.as_os_str().to_owned();
    leftover.push(".partial-4000001");
    let leftover = std::path::PathBuf::from(leftover);
    std::fs::write(&leftover, vec![0u8; 1 << 20]).expect("leftover");
    let db = fixture.test_db.open().await;
    backup(&db, &fixture.policy, "", fixture.clock.as_ref())
        .await
        .expect("backup")
        .expect("taken");
    assert!(!leftover.exists(), "the dead restore's copy is gone");
}

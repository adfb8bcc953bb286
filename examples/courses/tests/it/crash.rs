//! Crash safety on SQLite: `courses-migrate upgrade head` is killed with SIGKILL at random
//! moments while it rebuilds a large `courses` table (the NOT NULL step). Every time the
//! database must open, pass `integrity_check`, sit at a revision the run passed through with
//! every row, and the next run must reach head.

use std::process::{Command, Stdio};
use std::time::Instant;

use db_core::{Database, OpenOptions};
use db_testkit::{count, strings};
use sea_orm::ConnectionTrait;

use crate::{HEAD, ok};

const ROWS: i64 = 100_000;
const KILLS: usize = 20;
const BEFORE: &str = "6b8a4f2e1c93";
const MIDDLE: &str = "d2c4e6a8b0f1";

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn prepare_template(path: &std::path::Path) {
    ok(&url(path), &["upgrade", BEFORE]);
    let db = Database::open(OpenOptions::new(url(path)))
        .await
        .expect("open");
    for sql in [
        "INSERT INTO organizations (id, title) VALUES ('o1', 'Org')".to_owned(),
        "INSERT INTO course_families (id, organization_id, title) VALUES ('f1', 'o1', 'Family')".to_owned(),
        format!(
            "INSERT INTO courses (id, course_family_id, name, code) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
             SELECT printf('c%08d', i), 'f1', 'course ' || i, printf('C%07d', i) FROM n"
        ),
        "INSERT INTO users (id, username) VALUES ('u1', 'ada')".to_owned(),
        "INSERT INTO course_members (id, course_id, user_id, course_role_id) VALUES ('m1', 'c00000001', 'u1', '_student')".to_owned(),
    ] {
        db.execute_unprepared(&sql).await.expect("fill");
    }
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .expect("checkpoint");
    db.close().await.expect("close");
}

fn copy_db(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::copy(from, to).expect("copy template");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_rebuild_the_database_stays_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let template = dir.path().join("template.sqlite3");
    let work = dir.path().join("work.sqlite3");
    prepare_template(&template).await;

    // How long an uninterrupted upgrade takes here, to spread the kills over it.
    copy_db(&template, &work);
    let started = Instant::now();
    ok(&url(&work), &["upgrade", "head"]);
    let full = started.elapsed();

    let mut outcomes = (0, 0, 0);
    for i in 0..KILLS {
        copy_db(&template, &work);
        let mut child = Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
            .args(["--url", &url(&work), "upgrade", "head"])
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // A pseudo-random moment within the run (uniform over 0..1.2 × the full duration).
        let fraction = (uuid::Uuid::new_v4().as_u128() % 1200) as f64 / 1000.0;
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill(); // SIGKILL on Unix
        let _ = child.wait();

        let db = Database::open(OpenOptions::new(url(&work)))
            .await
            .expect("opens after the kill");
        assert_eq!(
            strings(&db, "PRAGMA integrity_check").await,
            ["ok"],
            "kill {i}"
        );
        let at = strings(&db, "SELECT version_num FROM alembic_version").await;
        // Two rebuilding revisions follow BEFORE: any of the three states is a consistent one.
        assert!(
            at == [BEFORE] || at == [MIDDLE] || at == [HEAD],
            "kill {i}: at {at:?}"
        );
        if at == [HEAD] {
            outcomes.2 += 1;
        } else if at == [MIDDLE] {
            outcomes.1 += 1;
        } else {
            outcomes.0 += 1;
        }
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM courses").await,
            ROWS,
            "kill {i}: rows"
        );
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM course_members").await,
            1,
            "kill {i}: members"
        );
        db.close().await.expect("close");

        ok(&url(&work), &["upgrade", "head"]);
        let db = Database::open(OpenOptions::new(url(&work)))
            .await
            .expect("open");
        assert_eq!(
            strings(&db, "SELECT version_num FROM alembic_version").await,
            [HEAD],
            "kill {i}"
        );
        assert_eq!(count(&db, "SELECT COUNT(*) FROM courses").await, ROWS);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '\\_alembic\\_tmp\\_%' ESCAPE '\\'").await, 0);
        db.close().await.expect("close");
    }
    eprintln!(
        "{KILLS} kills over a {full:?} upgrade: {} at {BEFORE}, {} at {MIDDLE}, {} at head",
        outcomes.0, outcomes.1, outcomes.2
    );
}

/// `courses-migrate backup` killed with SIGKILL at random moments of its `VACUUM INTO`: a
/// killed backup never shows up as one (only verified files carry the backup name), and the
/// next backup removes its partial file and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_backup_nothing_half_written_counts() {
    const BACKUP_KILLS: usize = 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work.sqlite3");
    prepare_template(&work).await;
    let backup = || {
        Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
            .args(["--url", &url(&work), "backup"])
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    };
    let started = Instant::now();
    assert!(backup().wait().expect("wait").success());
    let full = started.elapsed();
    let partials = || {
        std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
            .count()
    };
    let mut left_partial = 0;
    for i in 0..BACKUP_KILLS {
        let mut child = backup();
        let fraction = (uuid::Uuid::new_v4().as_u128() % 1200) as f64 / 1000.0;
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill();
        let _ = child.wait();
        left_partial += usize::from(partials() > 0);
        for b in db_migrate::backup::list_backups(&work, dir.path()).expect("list") {
            db_migrate::backup::verify(&b.path)
                .await
                .unwrap_or_else(|e| panic!("kill {i}: a listed backup does not verify: {e}"));
        }
        let o = crate::migrate(&url(&work), &["backup"]);
        assert!(o.status.success(), "kill {i}: {}", crate::stderr(&o));
        assert_eq!(
            partials(),
            0,
            "kill {i}: the next backup removes partial files"
        );
    }
    eprintln!(
        "{BACKUP_KILLS} kills over a {full:?} backup: {left_partial} left a partial file, none counted"
    );
}

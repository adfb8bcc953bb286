//! Eight `upgrade head` processes at once apply each migration exactly once.

use std::process::{Command, Stdio};

use db_testkit::backend_tests;

use crate::{HEAD, count, ok, strings};

backend_tests! {
    async fn eight_concurrent_upgrades_apply_each_migration_once(test_db: TestDb) {
        let url = test_db.url().to_owned();
        let children: Vec<_> = (0..8)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
                    .args(["--url", &url, "upgrade", "head"])
                    .env_remove("DATABASE_URL")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(out.status.success(), "a runner failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert_eq!(ok(&url, &["current"]), format!("{HEAD} (head)\n"));
        let db = test_db.open().await;
        let revisions = strings(&db, "SELECT revision FROM alembic_version_history WHERE direction = 'upgrade' ORDER BY id").await;
        assert_eq!(revisions.len(), 11, "each of the 11 revisions once: {revisions:?}");
        let mut unique = revisions.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 11, "{revisions:?}");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_roles").await, 5);
    }
}

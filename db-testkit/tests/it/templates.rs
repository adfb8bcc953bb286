//! Template builds: two processes asking for the same new template build it once and both get
//! clones; a half-built template (a build that crashed before sealing) is rebuilt; fixtures from
//! SQL files.

use db_testkit::{Backend, Fixture, Template, TestDb, count, strings};
use sea_orm::ConnectionTrait;

use crate::harness::Chain;
use crate::pool::run_child;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run in a child process by the tests of this module"]
async fn child() {
    let Ok(salt) = std::env::var("DB_TESTKIT_SALT") else {
        return;
    };
    let chain = Chain::salted(5, &salt);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let test_db = Template::new(&chain)
            .test_db(backend)
            .await
            .expect("reachable");
        let db = test_db.open().await;
        assert_eq!(
            strings(&db, "SELECT version_num FROM alembic_version").await,
            ["r0005"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_build_a_new_template_once() {
    if TestDb::new(Backend::Postgres).await.is_none() {
        return;
    }
    let salt = uuid::Uuid::new_v4().simple().to_string();
    let children: Vec<_> = (0..2)
        .map(|_| {
            let salt = salt.clone();
            std::thread::spawn(move || {
                run_child(
                    "templates::child",
                    "build",
                    &[("DB_TESTKIT_SALT", &salt)],
                    true,
                )
            })
        })
        .collect();
    for c in children {
        let out = c.join().expect("thread");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Both used one template: this process finds it sealed and clones it without migrating.
    let chain = Chain::salted(5, &salt);
    let key = Template::new(&chain).key();
    let admin = db_core::Database::connect(&Backend::Postgres.admin_url().expect("server"))
        .await
        .expect("admin");
    let name = format!("tk_tpl_{key}");
    assert_eq!(
        Backend::Postgres
            .dialect()
            .template_sealed(admin.connection(), &name)
            .await
            .expect("sealed?"),
        Some(true)
    );
    let file = std::env::temp_dir()
        .join("db-testkit")
        .join("templates")
        .join(format!("sqlite-{key}.sqlite3"));
    assert!(file.exists(), "one SQLite template file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_built_template_is_rebuilt() {
    let salt = uuid::Uuid::new_v4().simple().to_string();
    let chain = Chain::salted(3, &salt);
    let key = Template::new(&chain).key();
    let Some(url) = Backend::Postgres.admin_url() else {
        return;
    };
    let Ok(admin) = db_core::Database::connect(&url).await else {
        assert!(
            TestDb::new(Backend::Postgres).await.is_none(),
            "reported as skipped"
        );
        return;
    };
    // A crashed build: the database exists, is not sealed, and holds half the schema.
    let name = format!("tk_tpl_{key}");
    admin
        .connection()
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create");
    let half = db_core::Database::connect(&format!(
        "{}/{name}",
        url.rsplit_once('/').expect("a path").0
    ))
    .await
    .expect("half");
    half.connection()
        .execute_unprepared("CREATE TABLE t1 (id INTEGER PRIMARY KEY, broken TEXT)")
        .await
        .expect("half a schema");
    half.close().await.expect("close");
    let test_db = Template::new(&chain)
        .test_db(Backend::Postgres)
        .await
        .expect("reachable");
    let db = test_db.open().await;
    assert_eq!(
        strings(&db, "SELECT version_num FROM alembic_version").await,
        ["r0003"]
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 't1' AND column_name = 'broken'").await, 0, "rebuilt from scratch");
}

#[tokio::test]
async fn fixtures_from_sql_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("rows.sql");
    std::fs::write(&file, "-- two rows; one statement each\nINSERT INTO t1 (id, name) VALUES (1, 'a;b');\nINSERT INTO t2 (id, name) VALUES (1, 'c');\n").expect("write");
    let chain = Chain::new(2);
    let test_db = Template::new(&chain)
        .test_db(Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    Fixture::sql_file(&file).apply(&db).await.expect("fixture");
    assert_eq!(strings(&db, "SELECT name FROM t1").await, ["a;b"]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t2").await, 1);
    let err = Fixture::sql_file(dir.path().join("missing.sql"))
        .apply(&db)
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("cannot read fixture"), "{err}");
    // Baked into a template: every clone has the rows.
    let baked = Template::new(&chain).fixture(Fixture::sql_file(&file));
    assert_ne!(baked.key(), Template::new(&chain).key());
    let clone = baked.test_db(Backend::Sqlite).await.expect("sqlite");
    let c = clone.open().await;
    assert_eq!(count(&c, "SELECT COUNT(*) FROM t1").await, 1);
}

//! Opening safely: hostile schema names never reach SQL, read-only opens create nothing, a
//! SQLite URL's `mode` is honoured, one handle per file also through symbolic links, a server
//! that is not there fails fast naming the cause, and TLS is used when the URL asks for it.

use std::time::{Duration, Instant};

use db_core::{Database, Error, OpenOptions, describe_db_err};
use db_testkit::{Backend, TestDb, count};
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn hostile_schema_names_are_refused_before_connecting() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let db = test_db.open().await;
    db.execute_unprepared("CREATE TABLE victims (v INT)")
        .await
        .expect("create");
    for (schema, says) in [
        (
            "public\"; DROP TABLE victims; --",
            "invalid schema name `public\"; DROP TABLE victims; --`: the quote character \" is not allowed",
        ),
        ("a,public", "`,` is not allowed"),
        ("", "invalid schema name ``: the name is empty"),
        (
            "line\nbreak",
            "invalid schema name `line\\nbreak`: control character",
        ),
        (
            &"s".repeat(64),
            "64 bytes long, but PostgreSQL keeps at most 63 (a longer name would be truncated)",
        ),
    ] {
        let err = Database::open(test_db.options().schema(schema))
            .await
            .expect_err(schema);
        assert!(
            matches!(err, Error::InvalidIdentifier { .. }),
            "{schema:?}: {err}"
        );
        assert!(err.to_string().contains(says), "{schema:?}: {err}");
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM victims").await,
        0,
        "the table survives"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 'public%' OR nspname LIKE 's%'"
        )
        .await,
        1,
        "no schema was created (only public exists)"
    );

    // An unusual but valid name is quoted, not refused.
    let odd = Database::open(test_db.options().schema("Crmp Data ü"))
        .await
        .expect("odd but valid");
    odd.execute_unprepared("CREATE TABLE t (v INT)")
        .await
        .expect("create in the schema");
    let schema: String = odd
        .query_one_raw(Statement::from_string(
            odd.get_database_backend(),
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 't'",
        ))
        .await
        .expect("query")
        .expect("row")
        .try_get_by_index(0)
        .expect("text");
    assert_eq!(schema, "Crmp Data ü");
}

#[tokio::test]
async fn schemas_are_refused_where_the_backend_has_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/x.sqlite3", dir.path().display());
    let err = Database::open(OpenOptions::new(url).schema("crmp"))
        .await
        .expect_err("sqlite has no schemas");
    assert!(
        matches!(
            err,
            Error::SchemaUnsupported {
                backend: "sqlite",
                ..
            }
        ),
        "{err}"
    );
    assert!(!dir.path().join("x.sqlite3").exists(), "nothing created");
}

#[tokio::test]
async fn read_only_opens_create_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo/folder/device.sqlite3");
    let url = format!("sqlite://{}", path.display());
    for options in [
        OpenOptions::new(url.clone()).read_only(true),
        OpenOptions::new(format!("{url}?mode=ro")),
        OpenOptions::new(format!("{url}?mode=rw")),
    ] {
        let err = Database::open(options).await.expect_err("missing file");
        assert!(matches!(err, Error::DatabaseMissing { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("it was opened read-only, so it is not created"),
            "{err}"
        );
    }
    assert!(!dir.path().join("typo").exists(), "no folder was created");

    // An existing file opens read-only: reads work, writes fail, the journal mode is untouched.
    let existing = dir.path().join("device.sqlite3");
    let rw = Database::open(OpenOptions::new(format!("sqlite://{}", existing.display())))
        .await
        .expect("create");
    rw.execute_unprepared("CREATE TABLE t (v INT)")
        .await
        .expect("create");
    rw.execute_unprepared("INSERT INTO t VALUES (1)")
        .await
        .expect("insert");
    rw.close().await.expect("close");
    let ro = Database::open(OpenOptions::new(format!(
        "sqlite://{}?mode=ro",
        existing.display()
    )))
    .await
    .expect("read-only");
    assert!(ro.is_read_only());
    assert_eq!(count(&ro, "SELECT COUNT(*) FROM t").await, 1);
    let write = ro
        .execute_unprepared("INSERT INTO t VALUES (2)")
        .await
        .expect_err("read-only");
    assert!(describe_db_err(&write).contains("readonly"), "{write}");
    ro.close().await.expect("close");

    // Unknown parameters are refused, not ignored.
    for (query, says) in [
        ("?mode=readonly", "`mode=readonly` is not a SQLite mode"),
        ("?cache=shared", "unknown parameter `cache`"),
        ("?mode=ro&mode=rwc", "`mode` is given twice"),
    ] {
        let err = Database::open(OpenOptions::new(format!(
            "sqlite://{}{query}",
            existing.display()
        )))
        .await
        .expect_err(query);
        assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
        assert!(err.to_string().contains(says), "{query}: {err}");
    }
}

#[tokio::test]
async fn a_read_only_postgres_open_does_not_create_the_schema() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let err = Database::open(test_db.options().schema("not_there").read_only(true))
        .await
        .expect_err("missing schema");
    assert!(matches!(err, Error::SchemaMissing { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "schema `not_there` does not exist in this database; it was opened read-only, so it is not created (check `--schema`, or run `upgrade` to create it)"
    );
    let db = test_db.open().await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'not_there'"
        )
        .await,
        0
    );
    // Sessions of a read-only open refuse writes.
    let ro = Database::open(test_db.options().read_only(true))
        .await
        .expect("read-only");
    let err = ro
        .execute_unprepared("CREATE TABLE t (v INT)")
        .await
        .expect_err("read-only transaction");
    assert!(
        describe_db_err(&err).contains("read-only transaction"),
        "{}",
        describe_db_err(&err)
    );
}

#[cfg(unix)]
#[tokio::test]
async fn one_handle_per_file_also_through_symbolic_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real.sqlite3");
    let link = dir.path().join("link.sqlite3");
    let dangling = dir.path().join("later.sqlite3");
    let target = dir.path().join("created-later.sqlite3");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    std::os::unix::fs::symlink(&target, &dangling).expect("dangling symlink");
    let url = |p: &std::path::Path| format!("sqlite://{}", p.display());

    let db = Database::connect(&url(&real))
        .await
        .expect("open the real file");
    let err = Database::connect(&url(&link))
        .await
        .expect_err("the same file through a link");
    assert!(matches!(err, Error::AlreadyOpen { .. }), "{err}");
    drop(db);
    let by_link = Database::connect(&url(&link))
        .await
        .expect("open through the link");
    assert!(matches!(
        Database::connect(&url(&real)).await,
        Err(Error::AlreadyOpen { .. })
    ));
    drop(by_link);

    // A dangling link: its target is created on open, and counts as the same file.
    let first = Database::connect(&url(&dangling))
        .await
        .expect("open through a dangling link");
    assert!(target.exists(), "the link's target was created");
    assert!(matches!(
        Database::connect(&url(&target)).await,
        Err(Error::AlreadyOpen { .. })
    ));
    drop(first);

    // A hard link is the same file (same device and inode), whichever name opened it first,
    // also when the first open created the file.
    let hard = dir.path().join("hard.sqlite3");
    let fresh = dir.path().join("fresh.sqlite3");
    let fresh_link = dir.path().join("fresh-link.sqlite3");
    let db = Database::connect(&url(&real)).await.expect("open");
    std::fs::hard_link(&real, &hard).expect("hard link");
    assert!(matches!(
        Database::connect(&url(&hard)).await,
        Err(Error::AlreadyOpen { .. })
    ));
    drop(db);
    let created = Database::connect(&url(&fresh)).await.expect("create");
    std::fs::hard_link(&fresh, &fresh_link).expect("hard link");
    assert!(matches!(
        Database::connect(&url(&fresh_link)).await,
        Err(Error::AlreadyOpen { .. })
    ));
    drop(created);
    Database::connect(&url(&fresh_link))
        .await
        .expect("free again once closed");
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_naming_the_cause() {
    for url in [
        "postgres://postgres@127.0.0.1:5999/x",
        "mysql://root@127.0.0.1:5999/x",
    ] {
        let started = Instant::now();
        let err = Database::connect(url)
            .await
            .expect_err("nothing listens on 5999");
        let took = started.elapsed();
        assert!(took <= Duration::from_secs(6), "{url}: took {took:?}");
        let text = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        assert!(
            text.starts_with(&format!("cannot connect to {url}")),
            "{text}"
        );
        assert!(
            text.to_lowercase().contains("connection refused"),
            "{url}: {text}"
        );
    }
    // A shorter limit is honoured.
    let started = Instant::now();
    let err = Database::open(
        OpenOptions::new("postgres://postgres@127.0.0.1:5999/x")
            .connect_timeout(Duration::from_secs(1)),
    )
    .await
    .expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
}

#[tokio::test]
async fn postgres_errors_read_without_driver_noise() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let db = test_db.open().await;
    let err = db
        .execute_unprepared("SELECT * FROM no_such_table")
        .await
        .expect_err("missing");
    assert_eq!(
        describe_db_err(&err),
        "relation \"no_such_table\" does not exist (SQLSTATE 42P01)"
    );
}

/// TLS when the URL asks for it (`sslmode=require`), none on loopback by default. The local
/// PostgreSQL has `ssl = on` with Debian's snakeoil certificate; a server without SSL skips
/// with a printed reason.
#[tokio::test]
async fn tls_when_the_url_asks_for_it() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let plain = test_db.open().await;
    let ssl_on: String = plain
        .query_one_raw(Statement::from_string(
            plain.get_database_backend(),
            "SHOW ssl",
        ))
        .await
        .expect("show ssl")
        .expect("row")
        .try_get_by_index(0)
        .expect("text");
    let uses_tls = |db: Database| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            ))
            .await
            .expect("pg_stat_ssl")
            .expect("row");
        row.try_get_by_index::<bool>(0).expect("bool")
    };
    assert!(
        !uses_tls(plain).await,
        "loopback goes without TLS unless asked"
    );
    if ssl_on != "on" {
        db_testkit::skip(&format!(
            "the local PostgreSQL runs with ssl = {ssl_on}, so TLS cannot be tested against it"
        ));
        return;
    }
    let tls = Database::connect(&format!("{}?sslmode=require", test_db.url()))
        .await
        .expect("TLS connection");
    assert!(uses_tls(tls).await, "sslmode=require gives a TLS session");
}

/// MySQL/MariaDB: TLS when `ssl-mode=REQUIRED`, none on loopback by default; a server built or
/// configured without SSL (as the local MariaDB is) skips with a printed reason.
#[tokio::test]
async fn mysql_tls_when_the_url_asks_for_it() {
    let Some(test_db) = TestDb::new(Backend::MySql).await else {
        return;
    };
    let db = test_db.open().await;
    let cipher = |db: &Database| {
        let db = db.connection().clone();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
                ))
                .await
                .expect("status")
                .expect("row");
            row.try_get_by_index::<String>(1).expect("text")
        }
    };
    assert_eq!(
        cipher(&db).await,
        "",
        "loopback goes without TLS unless asked"
    );
    let have_ssl: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SHOW VARIABLES LIKE 'have_ssl'",
        ))
        .await
        .expect("variables")
        .map(|r| r.try_get_by_index::<String>(1).expect("text"))
        .unwrap_or_default();
    if have_ssl != "YES" {
        let err = Database::connect(&format!("{}?ssl-mode=REQUIRED", test_db.url()))
            .await
            .expect_err("no TLS to be had");
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        db_testkit::skip(&format!(
            "the local MariaDB has have_ssl = {have_ssl:?}; only the refusal of ssl-mode=REQUIRED was checked"
        ));
        return;
    }
    let tls = Database::connect(&format!("{}?ssl-mode=REQUIRED", test_db.url()))
        .await
        .expect("TLS connection");
    assert_ne!(
        cipher(&tls).await,
        "",
        "ssl-mode=REQUIRED gives a TLS session"
    );
}

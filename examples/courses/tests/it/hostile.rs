//! Hostile and mistaken command lines: nothing reaches SQL unchecked, no wrong database is
//! chosen silently, reading commands create nothing, no input panics, and an unreachable server
//! fails fast saying why.

use std::process::Command;
use std::time::{Duration, Instant};

use db_testkit::{Backend, TestDb, schema_snapshot};
use proptest::prelude::*;

use crate::{HEAD, count, migrate, ok, run, stderr, stdout};

#[tokio::test]
async fn the_schema_never_reaches_sql_unchecked() {
    let Some(test_db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let url = test_db.url();
    ok(url, &["upgrade", "head"]);
    let hostile = "public\"; DROP TABLE course_members; --";
    for command in [
        &["current"][..],
        &["upgrade", "head"],
        &["history", "-i"],
        &["stamp", "base"],
        &["downgrade", "base"],
        &["upgrade", "--sql", "base:head"],
    ] {
        let mut args = vec!["--schema", hostile];
        args.extend_from_slice(command);
        let o = migrate(url, &args);
        assert_eq!(o.status.code(), Some(1), "{command:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid schema name `public\"; DROP TABLE course_members; --`: the quote character \" is not allowed"),
            "{command:?}: {}",
            stderr(&o)
        );
    }
    for (schema, says) in [
        ("", "invalid schema name ``: the name is empty"),
        (&"s".repeat(64) as &str, "64 bytes long"),
    ] {
        let o = migrate(url, &["--schema", schema, "upgrade", "head"]);
        assert_eq!(o.status.code(), Some(1), "{schema:?}");
        assert!(stderr(&o).contains(says), "{schema:?}: {}", stderr(&o));
    }
    let db = test_db.open().await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM course_members").await,
        0,
        "the table survives"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname LIKE 's%' OR nspname LIKE 'public%'"
        )
        .await,
        1
    );
    // A legitimate schema still works, and reading a missing one creates nothing.
    let o = migrate(url, &["--schema", "missing_schema", "current"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("schema `missing_schema` does not exist"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname = 'missing_schema'"
        )
        .await,
        0
    );
    ok(url, &["--schema", "Tenant A", "upgrade", "head"]);
    assert_eq!(
        ok(url, &["--schema", "Tenant A", "current"]),
        format!("{HEAD} (head)\n")
    );
}

#[tokio::test]
async fn the_database_selection_is_never_guessed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.sqlite3");
    let b = dir.path().join("b.sqlite3");
    let config = dir.path().join("migrate.toml");
    std::fs::write(
        &config,
        format!("default = \"a\"\n[databases.a]\nurl = \"sqlite://{}\"\n[databases.b]\nurl = \"sqlite://{}\"\n", a.display(), b.display()),
    )
    .expect("config");
    let c = config.to_str().expect("utf-8");
    for (args, says) in [
        (
            vec!["-c", c, "-x", "db", "upgrade", "head"],
            "`db` is not KEY=VALUE",
        ),
        (
            vec!["-c", c, "-x", "db=", "upgrade", "head"],
            "`-x db=` needs a label",
        ),
        (
            vec!["-c", c, "-x", "database=b", "upgrade", "head"],
            "unknown key `database`",
        ),
        (
            vec!["-c", c, "--db", "a", "-x", "db=b", "upgrade", "head"],
            "conflicting database selections: --db `a` and -x db= `b`",
        ),
        (
            vec!["-c", c, "-x", "db=a", "-x", "db=b", "upgrade", "head"],
            "conflicting database selections",
        ),
        (
            vec![
                "-c",
                c,
                "--url",
                "sqlite://x.sqlite3",
                "--db",
                "b",
                "upgrade",
                "head",
            ],
            "--url and --db `b` both select a database",
        ),
        (
            vec!["-c", c, "--db", "", "upgrade", "head"],
            "a value is required for '--db <LABEL>'",
        ),
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(!a.exists() && !b.exists(), "no database was touched");
    // The same label twice is not a conflict.
    let o = run(&["-c", c, "--db", "b", "-x", "db=b", "upgrade", "head"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(b.exists() && !a.exists());

    // `mode=ro` is honoured: writing commands refuse, reading ones work.
    let url = format!("sqlite://{}?mode=ro", b.display());
    for args in [
        &["upgrade", "head"][..],
        &["downgrade", "base"],
        &["stamp", "base"],
        &["restore"],
    ] {
        let o = migrate(&url, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("but the database URL opens it read-only (`mode=ro`)"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert_eq!(ok(&url, &["current"]), format!("{HEAD} (head)\n"));
    let o = migrate(
        &format!("sqlite://{}?mode=bogus", b.display()),
        &["current"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`mode=bogus` is not a SQLite mode"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn reading_commands_create_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let typo = dir.path().join("dta/courses.sqlite3");
    let url = format!("sqlite://{}", typo.display());
    for args in [
        &["current"][..],
        &["history", "-i"],
        &["check"],
        &["backup"],
        &["revision", "--autogenerate", "-m", "x"],
    ] {
        let o = migrate(&url, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("no SQLite database at"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(&format!("cannot open the database for `{}`", args[0])),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = migrate(&url, &["heads"]);
    assert!(o.status.success());
    assert!(
        !dir.path().join("dta").exists(),
        "no folder or file was created"
    );
    // Writing commands still create the database.
    ok(&url, &["upgrade", "head"]);
    assert!(typo.exists());
}

#[tokio::test]
async fn an_unreachable_server_fails_within_the_connect_timeout() {
    for url in [
        "postgres://postgres@127.0.0.1:5999/x",
        "mysql://root@127.0.0.1:5999/x",
    ] {
        let started = Instant::now();
        let o = migrate(url, &["current"]);
        let took = started.elapsed();
        assert!(took <= Duration::from_secs(6), "{url}: {took:?}");
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stderr(&o),
            format!(
                "error: cannot open the database for `current`: cannot connect to {url}: Connection refused (os error 111)\n"
            )
        );
    }
    // The limit is configurable.
    let started = Instant::now();
    let o = migrate(
        "postgres://postgres@127.0.0.1:5999/x",
        &["--connect-timeout", "1", "current"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr(&o).contains("Connection refused"), "{}", stderr(&o));
    let o = migrate(
        "postgres://postgres@127.0.0.1:5999/x",
        &["--connect-timeout", "-1", "current"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random and hostile strings as targets, `-x`, `--db`, `--schema` and URLs: the binary never
    /// panics (exit 101), and the database is unchanged unless the command succeeded.
    #[test]
    fn no_argument_panics_or_changes_the_database(
        value in prop_oneof![
            any::<String>(),
            "\\PC{0,10}",
            Just("ü".to_owned()),
            Just("'; DROP TABLE courses; --".to_owned()),
            Just("e7a2c8b41d56+99999999999999999999".to_owned()),
            Just("naming@-1".to_owned()),
        ],
        slot in 0usize..6,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("courses.sqlite3");
        let url = format!("sqlite://{}", file.display());
        ok(&url, &["upgrade", "c5e07a93d1f2"]);
        let snapshot = || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let db = db_core::Database::open(db_core::OpenOptions::new(url.clone()).read_only(true)).await.expect("open");
                let s = schema_snapshot(&db).await.expect("snapshot");
                db.close().await.expect("close");
                s
            })
        };
        let before = snapshot();
        let args: Vec<String> = match slot {
            0 => vec!["--url".into(), url.clone(), "upgrade".into(), value.clone()],
            1 => vec!["--url".into(), url.clone(), "downgrade".into(), value.clone()],
            2 => vec!["--url".into(), url.clone(), "-x".into(), value.clone(), "stamp".into(), "head".into()],
            3 => vec!["--url".into(), url.clone(), "--schema".into(), value.clone(), "upgrade".into(), "head".into()],
            4 => vec!["--db".into(), value.clone(), "upgrade".into(), "head".into()],
            _ => vec!["--url".into(), format!("sqlite://{}?{value}", file.display()), "upgrade".into(), "head".into()],
        };
        let o = Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("DATABASE_SCHEMA")
            .current_dir(dir.path())
            .output()
            .expect("runs");
        prop_assert!(matches!(o.status.code(), Some(0..=2)), "{args:?}: {:?} {}", o.status, stderr(&o));
        if !o.status.success() {
            prop_assert_eq!(snapshot(), before, "{:?}", args);
        }
    }
}

/// Reading commands work for a user who may not write the database or its folder (an operator
/// inspecting a device's database); writing commands fail saying why. Needs root (to switch to
/// `nobody` with `setpriv`); otherwise the test says it is skipped.
#[cfg(unix)]
#[tokio::test]
async fn reading_commands_need_no_write_access() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(is_root && has_setpriv) {
        db_testkit::skip("switching to an unprivileged user needs root and setpriv");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("courses.sqlite3");
    let url = format!("sqlite://{}", file.display());
    ok(&url, &["upgrade", "head"]);
    let binary = dir.path().join("courses-migrate");
    std::fs::copy(env!("CARGO_BIN_EXE_courses-migrate"), &binary).expect("copy the binary");
    for (path, mode) in [
        (dir.path(), 0o755),
        (binary.as_path(), 0o755),
        (file.as_path(), 0o644),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .args(["--url", &url])
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .expect("setpriv runs")
    };
    let o = as_nobody(&["current"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{HEAD} (head)\n"));
    let o = as_nobody(&["history", "-i"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("(head) (current)"), "{}", stdout(&o));
    let o = as_nobody(&["check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = as_nobody(&["downgrade", "-1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("readonly database"), "{}", stderr(&o));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "nothing was created beside the database: {names:?}"
    );
    assert_eq!(ok(&url, &["current"]), format!("{HEAD} (head)\n"));
}

/// Random passwords, with the characters that break naive parsing (`/ ? # @ :` and percent
/// signs), in every place a URL or a configuration holds one: no command prints them, on
/// stdout or stderr, whatever fails (a URL the driver cannot parse, a bad port, an unknown
/// database, a TOML syntax error on the `url` line).
#[test]
fn no_password_reaches_any_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alphabet: Vec<char> = "abXY09/?#@:%&=;~".chars().collect();
    let mut rng = db_testkit::SeededRng::new(0x2545_F491_4F6C_DD1D);
    for round in 0..3 {
        let mut secret = String::from("S3cr");
        for _ in 0..8 {
            secret.push(*rng.pick(&alphabet));
        }
        let urls = [
            format!("postgres://postgres:{secret}@127.0.0.1:5432/postgres"),
            format!("postgres://postgres:{secret}@127.0.0.1:5432/no_such_db_{round}"),
            format!("postgres://postgres:{secret}@127.0.0.1:99999/x"),
            format!("mysql://root:{secret}@127.0.0.1:3306/no_such_db_{round}"),
            format!("postgres://postgres@127.0.0.1:5432/no_such_db_{round}?password={secret}"),
            format!("postgres://postgres@127.0.0.1:1/x?sslmode=disable&password={secret}"),
        ];
        for url in &urls {
            for args in [
                &["--connect-timeout", "1", "current"][..],
                &["--connect-timeout", "1", "current", "--verbose"],
                &["--connect-timeout", "1", "current", "--format", "json"],
                &["--connect-timeout", "1", "upgrade", "head"],
            ] {
                if url.ends_with("/postgres") && args.contains(&"upgrade") {
                    // The server's own database is only read.
                    continue;
                }
                let o = migrate(url, args);
                let shown = format!("{}{}", stdout(&o), stderr(&o));
                assert!(!shown.contains(&secret), "{url} {args:?}: {shown}");
                assert!(!shown.contains("S3cr"), "{url} {args:?}: {shown}");
            }
        }
        // The same passwords in configuration files, well-formed or broken on the url line.
        let config = dir.path().join("db.toml");
        for text in [
            format!(
                "default = \"a\"\n[databases.a]\nurl = \"{}\"\nconnect_timeout = 1\n",
                urls[1]
            ),
            format!("default = \"a\"\n[databases.a]\nurl = \"{}\n", urls[0]),
            format!("default = \"a\"\n[databases.a]\nurl = {}\n", urls[0]),
            format!(
                "default = \"a\"\n[databases.a]\nurl = \"postgres://p@h/x\"\npassword = \"{secret}\"\n"
            ),
        ] {
            std::fs::write(&config, &text).expect("config");
            let o = run(&["-c", config.to_str().expect("utf-8"), "current"]);
            assert_eq!(o.status.code(), Some(1), "{text}: {}", stderr(&o));
            let shown = format!("{}{}", stdout(&o), stderr(&o));
            assert!(!shown.contains("S3cr"), "{text}: {shown}");
        }
    }
}

/// A huge configuration value is neither echoed nor slow: the file is refused by its size
/// before it is parsed, and a long value within the limit is cut in the message.
#[test]
fn huge_configuration_values_are_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("db.toml");
    let started = Instant::now();
    std::fs::write(
        &config,
        format!(
            "default = \"a\"\n[databases.a]\nurl = \"{}\"\n",
            "x".repeat(50 << 20)
        ),
    )
    .expect("config");
    let o = run(&["-c", config.to_str().expect("utf-8"), "current"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("at most 1048576 are read"),
        "{}",
        stderr(&o)
    );
    std::fs::write(
        &config,
        format!(
            "default = \"{}\"\n[databases.a]\nurl = \"sqlite://x\"\n",
            "y".repeat(500_000)
        ),
    )
    .expect("config");
    let o = run(&["-c", config.to_str().expect("utf-8"), "current"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).len() < 3000,
        "{} bytes of error",
        stderr(&o).len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A misspelt top-level key is an error, not a silent fall-back to the embedded default
/// database (which an `upgrade` would then migrate).
#[test]
fn a_misspelt_top_level_key_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("db.toml");
    let a = dir.path().join("a.sqlite3");
    std::fs::write(
        &config,
        format!(
            "defualt = \"a\"\n[databases.a]\nurl = \"sqlite://{}\"\n",
            a.display()
        ),
    )
    .expect("config");
    let o = Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
        .args(["-c", config.to_str().expect("utf-8"), "upgrade", "head"])
        .env_remove("DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown top-level key `defualt`"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
    let created: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        created,
        [std::ffi::OsString::from("db.toml")],
        "no database was created"
    );
}

/// A server that accepts connections and never answers fails within the connect timeout
/// (`--connect-timeout` or the configuration's `connect_timeout`), saying it did not answer.
#[test]
fn a_silent_server_fails_within_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    for scheme in ["postgres://postgres", "mysql://root"] {
        let url = format!("{scheme}@127.0.0.1:{port}/x");
        let started = Instant::now();
        let o = migrate(&url, &["--connect-timeout", "2", "current"]);
        let took = started.elapsed();
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(took < Duration::from_millis(2900), "{url}: {took:?}");
        assert!(
            stderr(&o).contains("did not answer"),
            "{url}: {}",
            stderr(&o)
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("db.toml");
    std::fs::write(&config, format!("default = \"a\"\n[databases.a]\nurl = \"postgres://postgres@127.0.0.1:{port}/x\"\nconnect_timeout = 1\n")).expect("config");
    let started = Instant::now();
    let o = run(&["-c", config.to_str().expect("utf-8"), "current"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}

//! The migrator CLI run in-process (`cli::run`): target syntax is a usage error (exit 2)
//! before anything is opened, and `revision` / `merge` choose parents as Alembic does.

use std::process::ExitCode;

use db_migrate::cli::{App, run};
use db_migrate::scaffold::RevisionOptions;
use db_migrate::{Migrator, RevRange, Target};
use proptest::prelude::*;

use crate::support::{branched, noop};

fn app() -> App {
    fn migrator() -> db_migrate::Result<Migrator> {
        Ok(branched())
    }
    App {
        name: "t",
        migrator,
        default_url: None,
        default_config: None,
        migrations_dir: None,
    }
}

/// Runs the CLI against a SQLite file in a fresh folder; the exit code, stdout, and whether
/// the database file exists afterwards.
fn cli(args: &[&str]) -> (ExitCode, String, bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("db.sqlite");
    let url = format!("sqlite://{}", file.display());
    let mut argv = vec!["t", "--url", url.as_str()];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = runtime.block_on(run(&app(), argv, &mut out, &|_| None));
    (code, String::from_utf8(out).expect("utf-8"), file.exists())
}

#[test]
fn malformed_targets_are_usage_errors_and_open_nothing() {
    let cases: &[&[&str]] = &[
        &["upgrade", ""],
        &["upgrade", "a:b:c"],
        &["upgrade", "base:"],
        &["upgrade", "base:head"],
        &["downgrade", "head:base"],
        &["downgrade", "a1a1\u{7}"],
        &["stamp", "head", "a1a1:b2b2", "--sql"],
        &["stamp", "a1a1:b2b2"],
        &["history", "-r", "head"],
        &["history", "-r", ":a:b"],
    ];
    for args in cases {
        let (code, out, created) = cli(args);
        assert_eq!(code, ExitCode::from(2), "{args:?}: {out}");
        assert!(!created, "{args:?} created the database");
    }
}

#[test]
fn well_formed_targets_run() {
    let (code, out, created) = cli(&["upgrade", "left@head"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(created);
    let (code, out, _) = cli(&["upgrade", "base:c3c3", "--sql"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("c3c3c3c3"), "{out}");
    let (code, out, _) = cli(&["history", "-r", "c3d4:"]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(
        out.contains("c3d4d4d4") && out.contains("f6f6f6f6") && !out.contains("a1a1a1a1 "),
        "{out}"
    );
    // Syntax is fine but the revision is unknown: a runtime error (exit 1), not usage.
    let (code, _, created) = cli(&["upgrade", "zzzz9999"]);
    assert_eq!(code, ExitCode::FAILURE);
    assert!(created, "upgrade creates the database before planning");
}

#[test]
fn revision_and_merge_choose_parents_as_alembic() {
    let two_heads = Migrator::new(vec![
        noop("a1a1a1a1"),
        noop("b2b2b2b2").revises("a1a1a1a1"),
        noop("c3c3c3c3").revises("a1a1a1a1").branch_label("side"),
    ])
    .expect("graph");
    let err = two_heads
        .new_revision("x", &RevisionOptions::default())
        .expect_err("two heads");
    assert!(err.to_string().contains("multiple heads"), "{err}");
    let on_side = two_heads
        .new_revision(
            "x",
            &RevisionOptions {
                head: Some("side".into()),
                ..RevisionOptions::default()
            },
        )
        .expect("labelled head");
    assert_eq!(on_side.down_revisions, ["c3c3c3c3"]);
    let root = two_heads
        .new_revision(
            "x",
            &RevisionOptions {
                head: Some("base".into()),
                rev_id: Some("d4d4d4d4".into()),
                ..RevisionOptions::default()
            },
        )
        .expect("new root");
    assert!(root.down_revisions.is_empty());
    assert_eq!(root.revision.as_str(), "d4d4d4d4");
    let merge = two_heads
        .new_merge("m", &[], None, None)
        .expect("merge heads");
    assert_eq!(merge.down_revisions, ["b2b2b2b2", "c3c3c3c3"]);
    let err = two_heads
        .new_merge("m", &["b2b2".into(), "b2b2b2b2".into()], None, None)
        .expect_err("one revision");
    assert!(err.to_string().contains("at least two revisions"), "{err}");
    let err = two_heads
        .new_revision(
            "x",
            &RevisionOptions {
                head: Some("side".into()),
                rev_id: Some("a1a1a1a1".into()),
                ..RevisionOptions::default()
            },
        )
        .expect_err("duplicate id");
    assert!(err.to_string().contains("a1a1a1a1"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any string parses or is refused with a message, never panics; what parses prints back
    /// as written and splits at its one `:`.
    #[test]
    fn target_syntax_round_trips(text in "(?s).{0,12}", range in "[a-z0-9@+:-]{0,10}") {
        for t in [&text, &range] {
            match t.parse::<Target>() {
                Ok(target) => {
                    prop_assert_eq!(target.to_string(), t.clone());
                    prop_assert!(!target.end().is_empty());
                    prop_assert_eq!(target.is_range(), t.contains(':'));
                    prop_assert!(t.matches(':').count() <= 1);
                    prop_assert!(!t.chars().any(char::is_control));
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            if let Ok(r) = t.parse::<RevRange>() {
                prop_assert_eq!(t.matches(':').count(), 1);
                prop_assert_eq!(r.to_string(), t.clone());
            }
        }
    }
}

/// The transaction mode comes from `--transaction`, else the configuration's `[migrations]`
/// table, else the migrator: with `transaction = "single"` in the file a failing third
/// migration takes the first two with it; `--transaction per-migration` overrides the file.
#[test]
fn the_transaction_mode_is_read_from_the_configuration() {
    use crate::support::sql;
    fn failing() -> db_migrate::Result<Migrator> {
        Migrator::new(vec![
            sql(
                "aa11aa11",
                &["CREATE TABLE a (id INTEGER PRIMARY KEY)"],
                &["DROP TABLE a"],
            ),
            sql(
                "bb22bb22",
                &["CREATE TABLE b (id INTEGER PRIMARY KEY)"],
                &["DROP TABLE b"],
            )
            .revises("aa11aa11"),
            sql(
                "cc33cc33",
                &["CREATE TABLE a (id INTEGER PRIMARY KEY)"],
                &["DROP TABLE c"],
            )
            .revises("bb22bb22"),
        ])
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("migrate.toml");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Writes the configuration (`settings` and a database in `file`) and the app reading it.
    let configured = |file: &str, settings: &str| {
        let db = dir.path().join(file);
        std::fs::write(
            &config,
            format!(
                "{settings}\n[databases.local]\nurl = \"sqlite://{}\"\n",
                db.display()
            ),
        )
        .expect("config");
        let app = App {
            name: "t",
            migrator: failing,
            default_url: None,
            default_config: Some(config.clone()),
            migrations_dir: None,
        };
        (app, db)
    };
    let cli = |app: &App, args: &[&str]| {
        let mut out = Vec::new();
        let argv = ["t", "--db", "local"].iter().chain(args).copied();
        let code = runtime.block_on(run(app, argv, &mut out, &|_| None));
        (
            code,
            String::from_utf8(out).expect("utf-8").trim().to_owned(),
        )
    };
    // Upgrades (the third migration fails) and returns where the database is.
    let run_in = |file: &str, settings: &str, extra: &[&str]| {
        let (app, _) = configured(file, settings);
        let args: Vec<&str> = extra.iter().copied().chain(["upgrade", "head"]).collect();
        assert_eq!(cli(&app, &args).0, ExitCode::from(1));
        let (code, current) = cli(&app, &["current"]);
        assert_eq!(code, ExitCode::SUCCESS);
        current
    };
    // Single from the file: nothing stays.
    assert_eq!(
        run_in(
            "single.sqlite",
            "[migrations]\ntransaction = \"single\"",
            &[]
        ),
        ""
    );
    // The flag wins over the file.
    assert_eq!(
        run_in(
            "flag.sqlite",
            "[migrations]\ntransaction = \"single\"",
            &["--transaction", "per-migration"]
        ),
        "bb22bb22"
    );
    // No setting: the migrator's own (one transaction per migration).
    assert_eq!(run_in("default.sqlite", "", &[]), "bb22bb22");
    // A value that is not a mode is a configuration error naming the choices; nothing runs.
    let (app, db) = configured("bad.sqlite", "[migrations]\ntransaction = \"one\"");
    let (code, _) = cli(&app, &["upgrade", "head"]);
    assert_eq!(code, ExitCode::from(1));
    assert!(!db.exists(), "nothing was opened");
    // So is a misspelt key of the table.
    let (app, db) = configured("typo.sqlite", "[migrations]\ntransacton = \"single\"");
    assert_eq!(cli(&app, &["upgrade", "head"]).0, ExitCode::from(1));
    assert!(!db.exists(), "nothing was opened");
    // Commands that run no migrations do not read it.
    assert_eq!(cli(&app, &["heads"]).0, ExitCode::SUCCESS);
}

//! End-to-end tests of the course example: the `courses-migrate` binary on SQLite, PostgreSQL
//! and MariaDB, concurrent runners, and hand-over with Alembic.

mod alembic;
mod check;
mod cli;
mod concurrency;
mod crash;
mod hostile;
mod offline;
mod seed;
mod status;
mod testkit;

use std::process::{Command, Output};

pub(crate) use db_testkit::{count, strings};

/// The head of the course revisions.
const HEAD: &str = "3e5f7a9b1c2d";

/// Runs `courses-migrate ARGS…` with no configuration from the environment.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_courses-migrate"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .env("NO_COLOR", "1")
        .output()
        .expect("courses-migrate runs")
}

/// Runs `courses-migrate --url URL ARGS…` with no configuration from the environment.
fn migrate(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--url", url];
    all.extend_from_slice(args);
    run(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `courses-migrate`, asserting success, and returns its stdout.
#[track_caller]
fn ok(url: &str, args: &[&str]) -> String {
    let o = migrate(url, args);
    assert!(
        o.status.success(),
        "courses-migrate {args:?} failed: {}",
        stderr(&o)
    );
    stdout(&o)
}

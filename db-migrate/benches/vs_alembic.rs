//! The migrator next to Alembic and sea-orm-migration, side by side in one run, on one
//! generated chain of migrations (the same SQL for all three tools: each revision creates a
//! table and an index), whole processes timed:
//!
//! - `upgrade head` from an empty database,
//! - `upgrade head` at head (the no-op every device pays on every boot),
//! - `current`,
//! - `downgrade base`,
//! - and the floor: a process of the tool that starts and ends with no work (this binary; for
//!   Alembic, its Python running `pass`),
//!
//! db-migrate twice: one transaction per migration (its default) and `--transaction single`
//! (Alembic's default), on SQLite and PostgreSQL (when it is running), printing the median and
//! the spread (min–max)
//! of each, and, on PostgreSQL, the statements and commits each upgrade from empty issued
//! (from the server's statement log when it is readable; that run is separate, since logging
//! every statement slows the server down).
//!
//! Alembic is installed into a virtual environment under `target/bench-venv` (pip, once);
//! without Python its column is left out.
//!
//! Run with: `cargo bench -p db-migrate --bench vs_alembic` (`BENCH_MIGRATIONS`, default 200;
//! `BENCH_RUNS`, default 15). CI runs a smoke: `BENCH_MIGRATIONS=20 BENCH_RUNS=3`.
//!
//! The binary is also the worker each measurement starts: `vs_alembic --worker ours ARGS…`
//! is a migrator CLI over the generated chain, `--worker seaorm up|down|status URL` runs
//! sea-orm-migration's `MigratorTrait` over the same chain.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use sea_orm_migration::prelude::*;

/// The number of migrations of the chain.
fn chain_len() -> usize {
    std::env::var("BENCH_MIGRATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// The revision id of migration `i` (1-based): 12 hex digits, as Alembic's.
fn rev(i: usize) -> String {
    format!("{:012x}", 0xa1b2_c3d4_0000_u64 + i as u64)
}

fn up_sql(i: usize) -> [String; 2] {
    [
        format!(
            "CREATE TABLE t{i} (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, value INTEGER)"
        ),
        format!("CREATE INDEX ix_t{i}_name ON t{i} (name)"),
    ]
}

fn down_sql(i: usize) -> String {
    format!("DROP TABLE t{i}")
}

/// One migration of the chain, for db-migrate and sea-orm-migration alike.
struct Step(usize, String);

impl MigrationName for Step {
    fn name(&self) -> &str {
        &self.1
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Step {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in up_sql(self.0) {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&down_sql(self.0))
            .await
            .map(drop)
    }
}

fn ours() -> db_migrate::Result<db_migrate::Migrator> {
    let scripts = (1..=chain_len())
        .map(|i| {
            let s = db_migrate::Script::new(rev(i), Step(i, format!("m{i:04}_create_t{i}")))
                .message(format!("create t{i}"));
            if i == 1 { s } else { s.revises(rev(i - 1)) }
        })
        .collect();
    db_migrate::Migrator::new(scripts)
}

struct SeaOrmChain;

impl MigratorTrait for SeaOrmChain {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        (1..=chain_len())
            .map(|i| Box::new(Step(i, format!("m{i:04}_create_t{i}"))) as Box<dyn MigrationTrait>)
            .collect()
    }
}

fn worker(args: &[String]) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("ours") => {
            let app = db_migrate::cli::App {
                name: "bench-migrate",
                migrator: ours,
                default_url: None,
                default_config: None,
                migrations_dir: None,
            };
            let argv = std::iter::once("bench-migrate".to_owned()).chain(args[1..].iter().cloned());
            let mut out = std::io::stdout().lock();
            runtime.block_on(db_migrate::cli::run(&app, argv, &mut out, &|k| {
                std::env::var(k).ok()
            }))
        }
        Some("seaorm") => {
            let (command, url) = (args[1].as_str(), args[2].as_str());
            runtime.block_on(async {
                let db = sea_orm::Database::connect(url).await.expect("connect");
                match command {
                    "up" => SeaOrmChain::up(&db, None).await.expect("up"),
                    "down" => SeaOrmChain::down(&db, Some(u32::MAX)).await.expect("down"),
                    _ => {
                        let applied = SeaOrmChain::get_applied_migrations(&db)
                            .await
                            .expect("status");
                        if let Some(last) = applied.last() {
                            println!("{}", last.name());
                        }
                    }
                }
                let _ = db.close().await;
            });
            ExitCode::SUCCESS
        }
        // The floor: this binary started and ended with no work.
        Some("idle") => ExitCode::SUCCESS,
        _ => ExitCode::from(2),
    }
}

/// An Alembic project over the same chain, with its Python.
struct Alembic {
    python: PathBuf,
    dir: PathBuf,
}

impl Alembic {
    /// A virtual environment with Alembic (and psycopg2) under `target/bench-venv`, reused when
    /// it works; `None` when Python or pip is not available.
    fn install(target: &Path, dir: PathBuf) -> Option<Self> {
        let venv = target.join("bench-venv");
        let python = venv.join("bin/python");
        let works = |p: &Path| {
            Command::new(p)
                .args(["-c", "import alembic, psycopg2"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !works(&python) {
            println!("installing Alembic into {} …", venv.display());
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success())
                && Command::new(venv.join("bin/pip"))
                    .args([
                        "install",
                        "-q",
                        "--disable-pip-version-check",
                        "alembic>=1.13",
                        "psycopg2-binary>=2.9",
                    ])
                    .status()
                    .is_ok_and(|s| s.success());
            if !made || !works(&python) {
                println!("(Alembic could not be installed: its column is left out)");
                return None;
            }
        }
        let versions = dir.join("versions");
        std::fs::create_dir_all(&versions).ok()?;
        std::fs::write(
            dir.join("alembic.ini"),
            "[alembic]\nscript_location = %(here)s\n",
        )
        .ok()?;
        std::fs::write(
            dir.join("env.py"),
            "from alembic import context\nfrom sqlalchemy import create_engine\n\
             url = context.get_x_argument(as_dictionary=True)['url']\n\
             engine = create_engine(url)\n\
             with engine.connect() as connection:\n\
             \x20   context.configure(connection=connection, target_metadata=None)\n\
             \x20   with context.begin_transaction():\n\
             \x20       context.run_migrations()\n",
        )
        .ok()?;
        std::fs::write(dir.join("script.py.mako"), "").ok()?;
        for i in 1..=chain_len() {
            let down = if i == 1 {
                "None".to_owned()
            } else {
                format!("'{}'", rev(i - 1))
            };
            let [create, index] = up_sql(i);
            std::fs::write(
                versions.join(format!("{}_create_t{i}.py", rev(i))),
                format!(
                    "from alembic import op\n\nrevision = '{}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\
                     def upgrade():\n    op.execute(\"{create}\")\n    op.execute(\"{index}\")\n\n\
                     def downgrade():\n    op.execute(\"{}\")\n",
                    rev(i),
                    down_sql(i)
                ),
            )
            .ok()?;
        }
        Some(Self { python, dir })
    }

    fn command(&self, url: &str, args: &[&str]) -> Command {
        let mut c = Command::new(&self.python);
        c.args(["-m", "alembic", "-c"])
            .arg(self.dir.join("alembic.ini"))
            .args(["-x", &format!("url={url}")])
            .args(args);
        c
    }
}

/// A database for one tool: a SQLite file or a fresh PostgreSQL database; its URLs for our
/// tools and for SQLAlchemy.
struct Db {
    url: String,
    sqlalchemy: String,
    pg_name: Option<String>,
}

impl Db {
    /// A new empty database; on PostgreSQL with `log_statement = 'all'` when `logged` (the
    /// run that counts statements only: logging every statement slows the server down, so the
    /// timed runs go without it).
    fn fresh(backend: &str, dir: &Path, name: &str, logged: bool) -> Self {
        if backend == "sqlite" {
            let file = dir.join(format!("{name}.sqlite3"));
            let _ = std::fs::remove_file(&file);
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{name}.sqlite3{suffix}")));
            }
            return Self {
                url: format!("sqlite://{}", file.display()),
                sqlalchemy: format!("sqlite:///{}", file.display()),
                pg_name: None,
            };
        }
        let db = format!("bench_{name}");
        psql(&format!("DROP DATABASE IF EXISTS {db}"));
        psql(&format!("CREATE DATABASE {db}"));
        if logged {
            psql(&format!("ALTER DATABASE {db} SET log_statement = 'all'"));
        }
        Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{db}"),
            sqlalchemy: format!("postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"),
            pg_name: Some(db),
        }
    }
}

fn psql(sql: &str) {
    let _ = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-qAtc",
            sql,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn postgres_up() -> bool {
    std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().expect("addr"),
        Duration::from_secs(1),
    )
    .is_ok()
        && Command::new("psql")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The three tools' commands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Alembic,
    SeaOrm,
    Ours,
    /// db-migrate with `--transaction single` (Alembic's default grouping).
    OursSingle,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Self::Alembic => "Alembic",
            Self::SeaOrm => "sea-orm-migration",
            Self::Ours => "db-migrate",
            Self::OursSingle => "db-migrate single",
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Upgrade,
    Downgrade,
    Current,
    /// Start the process and end it (the floor every command pays).
    Nothing,
}

fn command(tool: Tool, op: Op, db: &Db, alembic: Option<&Alembic>) -> Option<Command> {
    let exe = std::env::current_exe().ok()?;
    Some(match tool {
        Tool::Alembic if matches!(op, Op::Nothing) => {
            let mut c = Command::new(&alembic?.python);
            c.args(["-c", "pass"]);
            c
        }
        Tool::Ours | Tool::OursSingle | Tool::SeaOrm if matches!(op, Op::Nothing) => {
            let mut c = Command::new(exe);
            c.args(["--worker", "idle"]);
            c
        }
        Tool::Ours | Tool::OursSingle => {
            let mut c = Command::new(exe);
            c.args(["--worker", "ours", "--url", &db.url]);
            if tool == Tool::OursSingle {
                c.args(["--transaction", "single"]);
            }
            c.args(match op {
                Op::Upgrade => &["upgrade", "head"][..],
                Op::Downgrade => &["downgrade", "base"][..],
                Op::Current | Op::Nothing => &["current"][..],
            });
            c.env("RUST_LOG", "warn");
            c
        }
        Tool::SeaOrm => {
            let mut c = Command::new(exe);
            let url = if db.pg_name.is_none() {
                format!("{}?mode=rwc", db.url)
            } else {
                db.url.clone()
            };
            c.args([
                "--worker",
                "seaorm",
                match op {
                    Op::Upgrade => "up",
                    Op::Downgrade => "down",
                    Op::Current | Op::Nothing => "status",
                },
                &url,
            ]);
            c
        }
        Tool::Alembic => alembic?.command(
            &db.sqlalchemy,
            match op {
                Op::Upgrade => &["upgrade", "head"][..],
                Op::Downgrade => &["downgrade", "base"][..],
                Op::Current | Op::Nothing => &["current"][..],
            },
        ),
    })
}

/// Runs `c` to completion and returns how long it took; panics when it fails.
fn timed(mut c: Command) -> Duration {
    let start = Instant::now();
    let out = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Median and spread, in milliseconds.
fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    format!(
        "{median:>8.1} ms ({:.1}–{:.1})",
        ms(times[0]),
        ms(times[times.len() - 1])
    )
}

/// The server log's lines for `db` written while `run` ran: (statements, commits).
fn statements(db: &str, run: impl FnOnce()) -> Option<(usize, usize)> {
    let log = std::fs::read_dir("/var/log/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))?;
    let before = std::fs::metadata(&log).ok()?.len();
    run();
    std::thread::sleep(Duration::from_millis(200));
    let text = std::fs::read(&log).ok()?;
    let new = String::from_utf8_lossy(text.get(usize::try_from(before).ok()?..)?).into_owned();
    let tag = format!("@{db} LOG:  ");
    let lines: Vec<&str> = new
        .lines()
        .filter_map(|l| l.split_once(tag.as_str()).map(|(_, rest)| rest))
        .filter(|rest| rest.starts_with("statement:") || rest.starts_with("execute "))
        .collect();
    let commits = lines
        .iter()
        .filter(|l| l.to_ascii_uppercase().contains("COMMIT"))
        .count();
    Some((lines.len(), commits))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        return worker(&args[i + 1..]);
    }
    let runs: usize = Ord::max(
        std::env::var("BENCH_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(15),
        1,
    );
    let n = chain_len();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let work = tempfile::tempdir().expect("tempdir");
    let alembic = Alembic::install(&target, work.path().join("alembic"));
    let mut backends = vec!["sqlite"];
    if postgres_up() {
        backends.push("postgres");
    } else {
        println!("(PostgreSQL is not running on 127.0.0.1:5432: left out)");
    }
    let tools: Vec<Tool> = [Tool::Alembic, Tool::SeaOrm, Tool::Ours, Tool::OursSingle]
        .into_iter()
        .filter(|t| *t != Tool::Alembic || alembic.is_some())
        .collect();
    println!("\n{n} migrations, {runs} runs each, whole process timed: median (min–max)");
    for backend in backends {
        println!(
            "\n{backend:<36}{}",
            tools
                .iter()
                .map(|t| format!("{:>30}", t.name()))
                .collect::<String>()
        );
        let mut rows: Vec<(String, Vec<String>)> = [
            "upgrade head from empty",
            "upgrade head at head (no-op)",
            "current",
            "downgrade base",
            "process start, no work (floor)",
        ]
        .iter()
        .map(|r| ((*r).to_owned(), Vec::new()))
        .collect();
        let mut counts = Vec::new();
        for tool in &tools {
            let name = format!(
                "{}_{}",
                backend,
                tool.name().replace(['-', ' '], "_").to_ascii_lowercase()
            );
            let cmd = |op, db: &Db| command(*tool, op, db, alembic.as_ref()).expect("command");
            let (mut from_empty, mut noop, mut current, mut down, mut floor) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let db = Db::fresh(backend, work.path(), &name, false);
                from_empty.push(timed(cmd(Op::Upgrade, &db)));
                noop.push(timed(cmd(Op::Upgrade, &db)));
                current.push(timed(cmd(Op::Current, &db)));
                down.push(timed(cmd(Op::Downgrade, &db)));
                floor.push(timed(cmd(Op::Nothing, &db)));
            }
            if backend == "postgres" {
                let db = Db::fresh(backend, work.path(), &name, true);
                let counted = statements(db.pg_name.as_deref().unwrap_or_default(), || {
                    timed(cmd(Op::Upgrade, &db));
                });
                counts.push(counted);
                psql(&format!(
                    "DROP DATABASE IF EXISTS {}",
                    db.pg_name.unwrap_or_default()
                ));
            }
            for (row, times) in rows
                .iter_mut()
                .zip([from_empty, noop, current, down, floor])
            {
                row.1.push(summary(times));
            }
        }
        for (label, cells) in rows {
            println!(
                "{label:<36}{}",
                cells.iter().map(|c| format!("{c:>30}")).collect::<String>()
            );
        }
        if !counts.is_empty() {
            let cells: String = counts
                .iter()
                .map(|c| match c {
                    Some((s, k)) => format!("{:>30}", format!("{s} statements, {k} commits")),
                    None => format!("{:>30}", "(server log not readable)"),
                })
                .collect();
            println!("{:<36}{cells}", "statements, upgrade from empty");
        }
    }
    ExitCode::SUCCESS
}

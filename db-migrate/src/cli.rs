//! The migrator command line (Alembic's `alembic` command), for an application's ~15-line
//! `main`:
//!
//! ```no_run
//! use std::process::ExitCode;
//! # fn scripts() -> Vec<db_migrate::Script> { Vec::new() }
//! fn main() -> ExitCode {
//!     db_migrate::cli::main(db_migrate::cli::App {
//!         name: "app-migrate",
//!         migrator: || db_migrate::Migrator::new(scripts()),
//!         default_url: Some("sqlite://data/app.sqlite3".into()),
//!         default_config: None,
//!         migrations_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations").into()),
//!     })
//! }
//! ```
//!
//! The database is chosen by, in order: `--url`; `--db LABEL` or `-x db=LABEL` from the
//! configuration file (`-c FILE`, else the app's default file when it exists); the
//! `DATABASE_URL` variable; the configuration's `default` label; the app's default URL. The
//! schema by `--schema`, then `DATABASE_SCHEMA`, then the configuration. The transaction
//! mode of `upgrade`, `downgrade` and `reset` by `--transaction`, then the configuration's
//! `[migrations]` table (`transaction = "single"` or `"per-migration"`, Alembic's
//! `transaction_per_migration`), then the migrator's own
//! ([`Migrator::transaction_mode`](crate::Migrator::transaction_mode)).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::NonEmptyStringValueParser;
use clap::{CommandFactory, Parser, Subcommand};
use db_core::{Config, Database, OpenOptions};

use crate::backup::{BackupPolicy, RestoreOptions, SystemClock, backup};
use crate::error::{Error, Result};
use crate::migrator::{ChangedScripts, Migrator, StampMode};
use crate::scaffold::{RevisionOptions, write_revision};
use crate::target::{RevRange, Target};

/// What an application gives its migrator binary.
#[derive(Debug)]
pub struct App {
    /// The binary's name, for `--help`.
    pub name: &'static str,
    /// Builds the migrator (validating the revision graph).
    pub migrator: fn() -> Result<Migrator>,
    /// The database used when nothing else names one (e.g. the embedded SQLite file).
    pub default_url: Option<String>,
    /// A configuration file read when `-c` is not given and the file exists.
    pub default_config: Option<PathBuf>,
    /// The folder `revision` writes new scripts into; its registry is `<folder>.rs`.
    pub migrations_dir: Option<PathBuf>,
}

#[derive(Debug, Parser)]
#[command(
    about = "Alembic-style migrations for a sea-orm application",
    disable_help_subcommand = true
)]
struct Args {
    /// Database URL (sqlite://path[?mode=ro|rw|rwc], postgres://…, mysql://…); not together
    /// with --db.
    #[arg(long, global = true, value_parser = NonEmptyStringValueParser::new())]
    url: Option<String>,
    /// A database label of the configuration file.
    #[arg(long = "db", global = true, value_name = "LABEL", value_parser = NonEmptyStringValueParser::new())]
    db: Option<String>,
    /// Alembic's `-x key=value`; `-x db=LABEL` selects a database as `--db` does (the only
    /// key this migrator reads).
    #[arg(short = 'x', global = true, value_name = "KEY=VALUE", value_parser = parse_x)]
    x: Vec<XArg>,
    /// The configuration file with `[databases.<label>]` sections.
    #[arg(short = 'c', long = "config", global = true, value_name = "FILE", value_parser = clap::builder::PathBufValueParser::new())]
    config: Option<PathBuf>,
    /// PostgreSQL schema (search_path and version table).
    #[arg(long, global = true)]
    schema: Option<String>,
    /// `per-migration` (one transaction per migration, the default) or `single` (the whole
    /// run in one transaction on PostgreSQL and SQLite: all or nothing; Alembic's default;
    /// refused on MySQL/MariaDB, whose DDL commits implicitly); overrides the configuration's
    /// `[migrations] transaction`.
    #[arg(long, global = true, value_name = "MODE")]
    transaction: Option<crate::TransactionMode>,
    /// How long to wait for a server's first connection, in seconds [default: the
    /// configuration's `connect_timeout`, else 5]. A server that accepts the connection and
    /// never answers fails within it too.
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_seconds)]
    connect_timeout: Option<f64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Upgrade to a later version: head, heads, <rev>, <prefix>, +N, <rev>+N, <branch>@head.
    Upgrade {
        #[arg(allow_hyphen_values = true)]
        target: Target,
        /// Back up a SQLite database first when something is pending (kept: 3).
        #[arg(long)]
        backup: bool,
        /// Print the SQL instead of running it (offline mode); TARGET may be `start:end`.
        #[arg(long)]
        sql: bool,
        /// Refuse to run when applied migrations' sources changed since they ran (default:
        /// warn).
        #[arg(long)]
        refuse_changed_scripts: bool,
    },
    /// Revert to a previous version: base, <rev>, <prefix>, -N, <rev>-N.
    Downgrade {
        #[arg(allow_hyphen_values = true)]
        target: Target,
        /// Print the SQL instead of running it (offline mode); TARGET must be `start:end`.
        #[arg(long)]
        sql: bool,
    },
    /// Display the current revision(s) of the database.
    Current {
        #[arg(short, long)]
        verbose: bool,
        /// Exit 3 unless the database is at every head (Alembic's `--check-heads`), for
        /// readiness probes and deploy scripts.
        #[arg(long)]
        check_heads: bool,
        /// `text` (Alembic's lines) or `json` (documented fields, for scripts).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List revisions, newest first.
    History {
        /// Range `start:end` (either side may be empty; `current`, `base`, `head` allowed).
        #[arg(short = 'r', long = "rev-range", allow_hyphen_values = true)]
        rev_range: Option<RevRange>,
        /// Mark the database's current revisions (connects to the database).
        #[arg(short = 'i', long)]
        indicate_current: bool,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show the heads of the revision graph.
    Heads {
        #[arg(short, long)]
        verbose: bool,
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show branch points.
    Branches,
    /// Back up the SQLite database now (`VACUUM INTO`, verified, pruned to the newest 3).
    Backup,
    /// Replace the SQLite database with a backup (the newest that verifies when FILE is not
    /// given); the replaced file is kept as `<file>.before-restore-<time>`.
    Restore {
        file: Option<PathBuf>,
        /// Restore a file without this migrator's version table or at an unknown revision.
        #[arg(long)]
        force: bool,
    },
    /// Show one revision.
    Show { rev: String },
    /// Set the version table to the given revision(s) without running migrations.
    Stamp {
        #[arg(required = true, allow_hyphen_values = true)]
        revisions: Vec<Target>,
        /// Delete every row of the version table first, even unknown revisions.
        #[arg(long)]
        purge: bool,
        /// Print the SQL instead of running it (offline mode); a revision may be `start:end`.
        #[arg(long)]
        sql: bool,
    },
    /// Create a new revision file whose down_revision is the current head.
    Revision {
        /// The message.
        #[arg(short, long)]
        message: String,
        /// The down_revision (default: the single head); `base` starts a new root.
        #[arg(long)]
        head: Option<String>,
        /// Use this id instead of a random one.
        #[arg(long)]
        rev_id: Option<String>,
        /// A branch label for the new revision.
        #[arg(long)]
        branch_label: Option<String>,
        /// Revisions the new one depends on.
        #[arg(long)]
        depends_on: Vec<String>,
        /// Compare the registered entities with the database (at head) and write the
        /// operations that make them match, for review.
        #[arg(long)]
        autogenerate: bool,
    },
    /// Merge two or more revisions (default: all heads) into one new revision.
    Merge {
        /// The message.
        #[arg(short, long)]
        message: String,
        /// The revisions to merge: ids, prefixes, `heads` (default).
        revisions: Vec<String>,
        /// Use this id instead of a random one.
        #[arg(long)]
        rev_id: Option<String>,
        /// A branch label for the new revision.
        #[arg(long)]
        branch_label: Option<String>,
    },
    /// Report dangerous operations in the migrations (drop table/column, rename as drop+add,
    /// NOT NULL without default, type narrowing, SQLite ALTERs that need a rebuild); exit 1
    /// when any is not allowed by its script's `allow_lint`.
    Lint {
        /// Lint what `upgrade` would run on the selected database, starting from its schema
        /// (SQLite: a copy with its rows; servers: a snapshot of the schema); it is only read.
        #[arg(long)]
        live: bool,
    },
    /// Exit 1 and print the differences when the entities and the migrated schema disagree
    /// (`alembic check`, a CI gate); exit 0 when they match.
    Check {
        /// `text` or `json`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the seeders (development data): the named ones, or all, in their order, in one
    /// transaction; the database must be at head.
    Seed {
        /// Seeders to run (default: all).
        names: Vec<String>,
        /// List the seeders instead of running them.
        #[arg(long, conflicts_with_all = ["names", "force"])]
        list: bool,
        /// Run against a database marked `production = true` in its configuration.
        #[arg(long)]
        force: bool,
    },
    /// Clean the database for development: drop every table, view and enum type of its
    /// schema (but those the migrator's filter excludes), upgrade to head, optionally seed.
    Reset {
        /// Run all seeders afterwards.
        #[arg(long)]
        seed: bool,
        /// Run against a database marked `production = true` in its configuration.
        #[arg(long)]
        force: bool,
    },
}

fn production(force: bool) -> crate::Production {
    if force {
        crate::Production::Force
    } else {
        crate::Production::Refuse
    }
}

/// A positive number of seconds (at most a day).
fn parse_seconds(value: &str) -> std::result::Result<f64, String> {
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "`{value}` is not a number of seconds between 0 and 86400"
        )),
    }
}

/// How `current`, `heads`, `history` and `check` print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Alembic's lines.
    Text,
    /// One JSON document (the fields are listed in the README).
    Json,
}

/// One `-x KEY=VALUE` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
enum XArg {
    /// `-x db=LABEL`.
    Db(String),
}

/// Parses `-x`: only `db=LABEL` is read here, so anything else is a usage error rather than
/// silently ignored.
fn parse_x(value: &str) -> std::result::Result<XArg, String> {
    let Some((key, label)) = value.split_once('=') else {
        return Err(format!(
            "`{value}` is not KEY=VALUE; select a database with `-x db=LABEL`"
        ));
    };
    match key {
        "db" if label.is_empty() => Err("`-x db=` needs a label: `-x db=LABEL`".into()),
        "db" => Ok(XArg::Db(label.to_owned())),
        other => Err(format!(
            "unknown key `{other}`; this migrator reads only `-x db=LABEL`"
        )),
    }
}

/// What a command does with the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Reads the migration scripts only.
    None,
    /// Renders SQL for the database's backend without connecting (`--sql`).
    Offline,
    /// Reads the database: opened read-only, never created.
    Read,
    /// Changes the database (or its file).
    Write,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Upgrade { .. } => "upgrade",
            Self::Downgrade { .. } => "downgrade",
            Self::Current { .. } => "current",
            Self::History { .. } => "history",
            Self::Heads { .. } => "heads",
            Self::Branches => "branches",
            Self::Backup => "backup",
            Self::Restore { .. } => "restore",
            Self::Show { .. } => "show",
            Self::Stamp { .. } => "stamp",
            Self::Revision { .. } => "revision",
            Self::Merge { .. } => "merge",
            Self::Lint { .. } => "lint",
            Self::Check { .. } => "check",
            Self::Seed { .. } => "seed",
            Self::Reset { .. } => "reset",
        }
    }

    /// Whether the command runs migrations (and so has a transaction mode).
    fn runs_migrations(&self) -> bool {
        matches!(
            self,
            Self::Upgrade { .. } | Self::Downgrade { .. } | Self::Reset { .. }
        )
    }

    fn access(&self) -> Access {
        match self {
            Self::Heads { .. }
            | Self::Branches
            | Self::Show { .. }
            | Self::Merge { .. }
            | Self::Seed { list: true, .. }
            | Self::Lint { live: false }
            | Self::History {
                indicate_current: false,
                ..
            }
            | Self::Revision {
                autogenerate: false,
                ..
            } => Access::None,
            Self::Upgrade { sql: true, .. }
            | Self::Downgrade { sql: true, .. }
            | Self::Stamp { sql: true, .. } => Access::Offline,
            Self::Current { .. }
            | Self::History {
                indicate_current: true,
                ..
            }
            | Self::Check { .. }
            | Self::Lint { live: true }
            | Self::Backup
            | Self::Revision {
                autogenerate: true, ..
            } => Access::Read,
            Self::Upgrade { sql: false, .. }
            | Self::Downgrade { sql: false, .. }
            | Self::Stamp { sql: false, .. }
            | Self::Seed { list: false, .. }
            | Self::Reset { .. }
            | Self::Restore { .. } => Access::Write,
        }
    }
}

/// A usage error when a range `start:end` is given where none is allowed: only `--sql` runs
/// render a range (Alembic: "Range revision not allowed"), and of `stamp`'s revisions only
/// the first.
fn ranges_only_offline(command: &Command) -> std::result::Result<(), String> {
    let (name, targets, sql): (&str, Vec<&Target>, bool) = match command {
        Command::Upgrade { target, sql, .. } => ("upgrade", vec![target], *sql),
        Command::Downgrade { target, sql } => ("downgrade", vec![target], *sql),
        Command::Stamp { revisions, sql, .. } => {
            if let Some(t) = revisions.iter().skip(1).find(|t| t.is_range()) {
                return Err(format!(
                    "`{t}`: only the first revision of `stamp --sql` may be a range `start:end`"
                ));
            }
            ("stamp", revisions.iter().take(1).collect(), *sql)
        }
        Command::Current { .. }
        | Command::History { .. }
        | Command::Heads { .. }
        | Command::Branches
        | Command::Backup
        | Command::Restore { .. }
        | Command::Show { .. }
        | Command::Revision { .. }
        | Command::Merge { .. }
        | Command::Lint { .. }
        | Command::Check { .. }
        | Command::Seed { .. }
        | Command::Reset { .. } => return Ok(()),
    };
    match targets.into_iter().find(|t| t.is_range()) {
        Some(t) if !sql => Err(format!(
            "`{t}`: a range `start:end` is only allowed with `{name} --sql` (offline mode); give one target"
        )),
        _ => Ok(()),
    }
}

/// The configuration label the arguments select, or a usage error when they disagree: `--url`
/// with a label, or two different labels (`--db a -x db=b`).
fn selected_label(args: &Args) -> std::result::Result<Option<String>, String> {
    let mut labels: Vec<(&str, &str)> = Vec::new();
    if let Some(db) = &args.db {
        labels.push(("--db", db));
    }
    for XArg::Db(label) in &args.x {
        labels.push(("-x db=", label));
    }
    let Some(&(first_flag, first)) = labels.first() else {
        return Ok(None);
    };
    if let Some(&(flag, other)) = labels.iter().find(|(_, l)| *l != first) {
        return Err(format!(
            "conflicting database selections: {first_flag} `{first}` and {flag} `{other}`; give one"
        ));
    }
    if args.url.is_some() {
        return Err(format!(
            "--url and {first_flag} `{first}` both select a database; give one"
        ));
    }
    Ok(Some(first.to_owned()))
}

/// Runs the CLI with the process's arguments on a new Tokio runtime; prints errors as one
/// `error: …` line on stderr and returns the exit code: 0 on success, 1 on failure (and
/// `check` finding differences), 2 on a usage error, 3 for `current --check-heads` when the
/// database is not at every head.
#[must_use]
pub fn main(app: App) -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A progress bar over the steps when stderr is a terminal; plain lines otherwise.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = crate::progress::Progress::new(terminal);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(progress.clone())
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(crate::progress::Plain)
                .with_writer(progress.clone()),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let code = runtime.block_on(run(&app, std::env::args_os(), &mut stdout, &|k| {
        std::env::var(k).ok()
    }));
    progress.clear();
    code
}

/// Runs the CLI with `args` (the first is the program name), writing normal output to `out`,
/// reading variables through `env`. Returns the exit code; errors go to stderr as one line.
pub async fn run<I, T>(
    app: &App,
    args: I,
    out: &mut dyn Write,
    env: &dyn Fn(&str) -> Option<String>,
) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(a) => a,
        Err(e) => {
            if e.use_stderr() {
                // clap quotes the offending argument: scrubbed and cut like any message.
                eprint!("{}", shown_error(&e.render().to_string()));
                return ExitCode::from(2);
            }
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    // Passwords of every URL this run may use are hidden in all it prints, from here on.
    for url in args.url.iter().cloned().chain(env("DATABASE_URL")) {
        db_core::redact::remember_secrets(&url);
    }
    if let Err(message) = selected_label(&args) {
        let _ = Args::command()
            .bin_name(app.name)
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .print();
        return ExitCode::from(2);
    }
    if let Err(message) = ranges_only_offline(&args.command) {
        let _ = Args::command()
            .bin_name(app.name)
            .error(clap::error::ErrorKind::ValueValidation, message)
            .print();
        return ExitCode::from(2);
    }
    match execute(app, args, out, env).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", shown_error(&format!("error: {}", error_chain(&e))));
            match e {
                Error::HeadsNotApplied { .. } => ExitCode::from(3),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// `error` and its sources joined with `: `. A driver error ends the chain with its readable
/// cause ([`db_core::describe_db_err`]: the server's message and SQLSTATE, without sqlx's
/// wrapping and PostgreSQL's `at line N`).
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let (s_text, last) = match s.downcast_ref::<sea_orm::DbErr>() {
            Some(db) => (db_core::describe_db_err(db), true),
            None => (s.to_string(), false),
        };
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        if last {
            break;
        }
        source = s.source();
    }
    text
}

/// Writes `value` as one line of JSON.
/// The longest error the CLI prints, in characters: a message names what went wrong, and
/// user values in it are already cut ([`db_core::redact::bounded`]); this is the last bound.
const MAX_ERROR_CHARS: usize = 2000;

/// An error text as the CLI prints it: without secrets ([`db_core::scrub`]) and at most
/// [`MAX_ERROR_CHARS`] characters.
fn shown_error(text: &str) -> String {
    db_core::redact::bounded_to(&db_core::scrub(text), MAX_ERROR_CHARS).into_owned()
}

fn write_json(out: &mut dyn Write, value: &serde_json::Value) -> Result<()> {
    // Error texts inside (a failed step's message) are scrubbed like stderr.
    write_lines(out, &[db_core::scrub(&value.to_string())])
}

fn write_lines(out: &mut dyn Write, lines: &[String]) -> Result<()> {
    for l in lines {
        writeln!(out, "{l}").map_err(|source| Error::Io {
            what: "writing the output".into(),
            source,
        })?;
    }
    Ok(())
}

async fn execute(
    app: &App,
    args: Args,
    out: &mut dyn Write,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let mut migrator = (app.migrator)()?;
    // The transaction mode: `--transaction`, else the configuration's `[migrations]`, else
    // the migrator's own; the file is read for it only by commands that run migrations.
    let configured = if args.transaction.is_none() && args.command.runs_migrations() {
        match config_path(app, &args) {
            Some(path) => MigrationsSettings::from_path(&path)?.transaction,
            None => None,
        }
    } else {
        None
    };
    if let Some(mode) = args.transaction.or(configured) {
        migrator = migrator.transaction_mode(mode);
    }
    if let Command::Upgrade {
        refuse_changed_scripts: true,
        ..
    } = &args.command
    {
        migrator = migrator.changed_scripts(ChangedScripts::Refuse);
    }
    let cx = Context {
        app,
        args: &args,
        env,
        migrator,
    };
    let graph = cx.migrator.graph();
    match &args.command {
        Command::Upgrade {
            target,
            backup,
            sql,
            refuse_changed_scripts: _,
        } => cx.upgrade(out, target, *backup, *sql).await,
        Command::Downgrade { target, sql } => cx.downgrade(out, target, *sql).await,
        Command::Current {
            verbose,
            check_heads,
            format,
        } => cx.current(out, *verbose, *check_heads, *format).await,
        Command::History {
            rev_range,
            indicate_current,
            format,
        } => {
            cx.history(out, rev_range.as_ref(), *indicate_current, *format)
                .await
        }
        Command::Heads {
            verbose,
            format: Format::Text,
        } => write_lines(out, &graph.heads_lines(*verbose)),
        Command::Heads {
            format: Format::Json,
            ..
        } => write_json(out, &serde_json::json!({ "heads": graph.heads_json() })),
        Command::Branches => write_lines(out, &graph.branches_lines()),
        Command::Backup => cx.backup(out).await,
        Command::Restore { file, force } => cx.restore(out, file.clone(), *force).await,
        Command::Show { rev } => write_lines(out, &graph.show(rev)?),
        Command::Stamp {
            revisions,
            purge,
            sql,
        } => {
            cx.stamp(
                out,
                revisions,
                if *purge {
                    StampMode::Purge
                } else {
                    StampMode::Update
                },
                *sql,
            )
            .await
        }
        Command::Revision {
            message,
            head,
            rev_id,
            branch_label,
            depends_on,
            autogenerate,
        } => {
            let options = RevisionOptions {
                head: head.clone(),
                rev_id: rev_id.clone(),
                branch_label: branch_label.clone(),
                depends_on: depends_on.clone(),
            };
            cx.revision(out, message, &options, *autogenerate).await
        }
        Command::Merge {
            message,
            revisions,
            rev_id,
            branch_label,
        } => {
            let new = cx.migrator.new_merge(
                message,
                revisions,
                rev_id.as_deref(),
                branch_label.as_deref(),
            )?;
            let file = write_revision(&cx.migrations_dir()?, &new)?;
            write_lines(out, &[format!("  Generating {} ...  done", file.display())])
        }
        Command::Lint { live } => cx.lint(out, *live).await,
        Command::Check { format } => cx.check(out, *format).await,
        Command::Seed { names, list, force } => cx.seed(out, names, *list, *force).await,
        Command::Reset { seed, force } => cx.reset(out, *seed, *force).await,
    }
}

/// What every command function needs: the application, its arguments and environment, and
/// the migrator.
struct Context<'a> {
    app: &'a App,
    args: &'a Args,
    env: &'a dyn Fn(&str) -> Option<String>,
    migrator: Migrator,
}

impl Context<'_> {
    /// Opens the selected database as the command needs it (read-only for reading commands,
    /// refused when a writing command is given a read-only URL), runs `body`, and closes it.
    async fn with_db<R>(&self, body: impl AsyncFnOnce(&Database) -> Result<R>) -> Result<R> {
        let command = self.args.command.name();
        // One command, one session: a pool of one connection, which the runner's locked run
        // reuses instead of opening a second.
        let mut options = self.open_options()?.max_connections(1);
        match self.args.command.access() {
            Access::Read => options = options.read_only(true),
            Access::Write => refuse_read_only(&options, command)?,
            Access::None | Access::Offline => {}
        }
        let db = Database::open(options)
            .await
            .map_err(|source| Error::Open {
                command,
                source: Box::new(source),
            })?;
        let result = body(&db).await;
        let _ = db.close().await;
        result
    }

    fn open_options(&self) -> Result<OpenOptions> {
        open_options(self.app, self.args, self.env)
    }

    /// The backend and schema of the selected database, without connecting (`--sql`); the
    /// URL and schema are checked as an open would.
    fn offline_backend(&self) -> Result<(sea_orm::DbBackend, Option<String>)> {
        let options = self.open_options()?;
        Ok((
            options.validate()?,
            options.schema_name().map(str::to_owned),
        ))
    }

    fn migrations_dir(&self) -> Result<PathBuf> {
        self.app
            .migrations_dir
            .clone()
            .ok_or_else(|| Error::RevisionFile {
                path: "<none>".into(),
                reason: "this migrator has no migrations folder configured".into(),
            })
    }

    async fn upgrade(
        &self,
        out: &mut dyn Write,
        target: &Target,
        with_backup: bool,
        sql: bool,
    ) -> Result<()> {
        let m = &self.migrator;
        if sql {
            let (backend, schema) = self.offline_backend()?;
            let text = m
                .upgrade_sql(backend, target.as_str(), schema.as_deref())
                .await?;
            return write_lines(out, &[text]);
        }
        self.with_db(async |db| {
            if !with_backup {
                m.upgrade(db, target.as_str()).await?;
                return Ok(());
            }
            let (_, taken) = m
                .upgrade_with_backup(db, target.as_str(), &BackupPolicy::default(), &SystemClock)
                .await?;
            match taken {
                Some(b) => write_lines(out, &[format!("backup {}", b.path.display())]),
                None => Ok(()),
            }
        })
        .await
    }

    async fn downgrade(&self, out: &mut dyn Write, target: &Target, sql: bool) -> Result<()> {
        let m = &self.migrator;
        if sql {
            let (backend, schema) = self.offline_backend()?;
            let text = m
                .downgrade_sql(backend, target.as_str(), schema.as_deref())
                .await?;
            return write_lines(out, &[text]);
        }
        self.with_db(async |db| m.downgrade(db, target.as_str()).await.map(drop))
            .await
    }

    async fn stamp(
        &self,
        out: &mut dyn Write,
        revisions: &[Target],
        mode: StampMode,
        sql: bool,
    ) -> Result<()> {
        let m = &self.migrator;
        let targets: Vec<&str> = revisions.iter().map(Target::as_str).collect();
        if sql {
            let (backend, schema) = self.offline_backend()?;
            let text = m.stamp_sql(backend, &targets, schema.as_deref()).await?;
            return write_lines(out, &[text]);
        }
        self.with_db(async |db| m.stamp(db, &targets, mode).await.map(drop))
            .await
    }

    async fn seed(
        &self,
        out: &mut dyn Write,
        names: &[String],
        list: bool,
        force: bool,
    ) -> Result<()> {
        let m = &self.migrator;
        if list {
            let lines: Vec<String> = m
                .seeders()
                .into_iter()
                .map(|(name, about)| {
                    if about.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{name}  {about}")
                    }
                })
                .collect();
            return write_lines(out, &lines);
        }
        self.with_db(async |db| {
            let done = m.seed(db, names, production(force)).await?;
            let lines: Vec<String> = done.iter().map(|n| format!("seeded {n}")).collect();
            write_lines(out, &lines)
        })
        .await
    }

    async fn reset(&self, out: &mut dyn Write, seed: bool, force: bool) -> Result<()> {
        let m = &self.migrator;
        self.with_db(async |db| {
            let report = m.reset(db, seed, production(force)).await?;
            let mut lines = vec![format!(
                "dropped {} tables, {} views, {} enum types; upgraded {} revisions",
                report.dropped.tables.len(),
                report.dropped.views.len(),
                report.dropped.enum_types.len(),
                report.steps.len()
            )];
            lines.extend(report.seeded.iter().map(|n| format!("seeded {n}")));
            write_lines(out, &lines)
        })
        .await
    }

    async fn current(
        &self,
        out: &mut dyn Write,
        verbose: bool,
        check_heads: bool,
        format: Format,
    ) -> Result<()> {
        let m = &self.migrator;
        self.with_db(async |db| {
            let current = m.current(db).await?;
            let graph = m.graph();
            let (sorted, heads) = m.sorted_with_heads(current.clone());
            let at_head = sorted == heads;
            match format {
                Format::Text => {
                    if verbose {
                        // Alembic's header, password hidden (`obfuscate_url_pw`).
                        let url = db_core::redact_url(db.options().url());
                        write_lines(out, &[format!("Current revision(s) for {url}:")])?;
                    }
                    write_lines(out, &graph.current_lines(&current, verbose))?;
                    write_unresolved(out, m, db).await?;
                    if verbose {
                        let changed = m.changed_since_applied(db).await?;
                        let lines: Vec<String> =
                            changed.iter().map(|c| format!("! {c}")).collect();
                        write_lines(out, &lines)?;
                    }
                }
                Format::Json => {
                    let unresolved = m.unresolved(db).await?;
                    let changed = m.changed_since_applied(db).await?;
                    write_json(
                        out,
                        &serde_json::json!({
                            "current": current,
                            "effective_heads": graph.current_revisions(&current),
                            "heads": heads,
                            "at_head": at_head,
                            "revisions": current.iter().filter_map(|c| graph.script(c)).map(|s| graph.revision_json(s, Some(true))).collect::<Vec<_>>(),
                            "unknown": current.iter().filter(|c| graph.script(c).is_none()).collect::<Vec<_>>(),
                            "unresolved": unresolved.map(|r| serde_json::json!({
                                "revision": r.revision,
                                "direction": r.direction,
                                "status": r.status,
                                "since": r.applied_at,
                                "error": r.error,
                            })),
                            "changed_scripts": changed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        }),
                    )?;
                }
            }
            if check_heads && !at_head {
                return Err(Error::HeadsNotApplied {
                    current: if sorted.is_empty() {
                        "<base>".into()
                    } else {
                        sorted.join(", ")
                    },
                    heads: heads.join(", "),
                });
            }
            Ok(())
        })
        .await
    }

    async fn history(
        &self,
        out: &mut dyn Write,
        range: Option<&RevRange>,
        indicate_current: bool,
        format: Format,
    ) -> Result<()> {
        let m = &self.migrator;
        let range = range.map(ToString::to_string);
        let print = |out: &mut dyn Write, current: Option<&[String]>| match format {
            Format::Text => write_lines(
                out,
                &m.graph()
                    .history(range.as_deref(), current.unwrap_or_default())?,
            ),
            Format::Json => write_json(
                out,
                &serde_json::json!({ "revisions": m.graph().history_json(range.as_deref(), current)? }),
            ),
        };
        if !indicate_current {
            return print(out, None);
        }
        self.with_db(async |db| {
            let current = m.current(db).await?;
            print(out, Some(&current))?;
            if format == Format::Text {
                write_unresolved(out, m, db).await?;
            }
            Ok(())
        })
        .await
    }

    async fn backup(&self, out: &mut dyn Write) -> Result<()> {
        let m = &self.migrator;
        self.with_db(async |db| {
            let policy = BackupPolicy {
                min_interval: std::time::Duration::ZERO,
                ..BackupPolicy::default()
            };
            let revision = m.current(db).await?.join("+");
            match backup(db, &policy, &revision, &SystemClock).await? {
                Some(b) => write_lines(out, &[format!("backup {}", b.path.display())]),
                None => Ok(()),
            }
        })
        .await
    }

    async fn restore(&self, out: &mut dyn Write, file: Option<PathBuf>, force: bool) -> Result<()> {
        let options = self.open_options()?;
        if !db_core::Dialect::of(options.backend()?)?.is_embedded() {
            return Err(Error::NotASqliteFile);
        }
        refuse_read_only(&options, "restore")?;
        options.validate()?;
        let db_core::SqliteLocation::File(path) = db_core::sqlite_location(options.url()) else {
            return Err(Error::NotASqliteFile);
        };
        let restored = self
            .migrator
            .restore(
                &path,
                &RestoreOptions {
                    backup: file,
                    policy: BackupPolicy::default(),
                    force,
                },
            )
            .await?;
        let mut lines = vec![format!(
            "restored {} from {}",
            restored.database.display(),
            restored.backup.display()
        )];
        if let Some(previous) = &restored.previous {
            lines.push(format!(
                "the replaced database is kept at {}",
                previous.display()
            ));
        }
        write_lines(out, &lines)
    }

    async fn revision(
        &self,
        out: &mut dyn Write,
        message: &str,
        options: &RevisionOptions,
        autogenerate: bool,
    ) -> Result<()> {
        let m = &self.migrator;
        let dir = self.migrations_dir()?;
        if !autogenerate {
            let file = write_revision(&dir, &m.new_revision(message, options)?)?;
            return write_lines(out, &[format!("  Generating {} ...  done", file.display())]);
        }
        let mut generate = async |db: &Database| {
            let new = m.new_revision(message, options)?;
            let changes = m.compare(db).await?;
            if changes.is_empty() {
                return write_lines(
                    out,
                    &["No changes in schema detected; nothing written.".into()],
                );
            }
            let file = crate::scaffold::write_revision_source(&dir, &new, &|module| {
                crate::autogenerate::render_migration(&new, module, &changes)
            })?;
            rustfmt(&file);
            let mut lines: Vec<String> =
                changes.iter().map(|c| format!("  Detected {c}")).collect();
            lines.push(format!("  Generating {} ...  done", file.display()));
            write_lines(out, &lines)
        };
        // A new project (no revisions yet) whose SQLite file does not exist yet: its first
        // autogenerate compares with an empty in-memory database instead of creating the file.
        // With revisions the database must exist (a missing one is more likely a typo).
        let options = self.open_options()?;
        if m.graph().heads().is_empty()
            && let db_core::SqliteLocation::File(path) = db_core::sqlite_location(options.url())
            && options
                .backend()
                .ok()
                .and_then(|b| db_core::Dialect::of(b).ok())
                == Some(db_core::Dialect::Sqlite)
            && !path.exists()
        {
            tracing::info!(
                "no database at {} yet: comparing the entities with an empty database",
                path.display()
            );
            let db = Database::connect("sqlite::memory:")
                .await
                .map_err(|source| Error::Open {
                    command: "revision",
                    source: Box::new(source),
                })?;
            let result = generate(&db).await;
            let _ = db.close().await;
            return result;
        }
        self.with_db(generate).await
    }

    async fn lint(&self, out: &mut dyn Write, live: bool) -> Result<()> {
        let m = &self.migrator;
        if !live {
            return report_lint(out, &m.lint().await?);
        }
        self.with_db(async |db| report_lint(out, &m.lint_database(db).await?))
            .await
    }

    async fn check(&self, out: &mut dyn Write, format: Format) -> Result<()> {
        let m = &self.migrator;
        self.with_db(async |db| {
            let changes = m.compare(db).await?;
            let changed = m.changed_since_applied(db).await?;
            let ok = changes.is_empty() && changed.is_empty();
            match format {
                Format::Json => write_json(
                    out,
                    &serde_json::json!({
                        "ok": ok,
                        "changes": changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "changed_scripts": changed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    }),
                )?,
                Format::Text if ok => {
                    write_lines(out, &["No new upgrade operations detected.".into()])?;
                }
                Format::Text => {
                    let mut lines: Vec<String> = changes.iter().map(|c| format!("  {c}")).collect();
                    lines.extend(changed.iter().map(|c| format!("  changed script {c}")));
                    write_lines(out, &lines)?;
                }
            }
            if ok {
                return Ok(());
            }
            Err(Error::SchemaDiffers {
                count: changes.len() + changed.len(),
            })
        })
        .await
    }
}

/// Prints lint findings; [`Error::LintFindings`] when there are any.
fn report_lint(out: &mut dyn Write, findings: &[crate::lint::LintFinding]) -> Result<()> {
    if findings.is_empty() {
        return write_lines(out, &["No dangerous operations found.".into()]);
    }
    let lines: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
    write_lines(out, &lines)?;
    Err(Error::LintFindings {
        count: findings.len(),
    })
}

/// [`Error::ReadOnly`] when the options open read-only (`?mode=ro`) for a command that writes.
fn refuse_read_only(options: &OpenOptions, command: &'static str) -> Result<()> {
    if options.is_read_only() {
        return Err(Error::ReadOnly { command });
    }
    Ok(())
}

/// A line saying that a step is part-way (MySQL), after `current` and `history`.
async fn write_unresolved(out: &mut dyn Write, migrator: &Migrator, db: &Database) -> Result<()> {
    if let Some(r) = migrator.unresolved(db).await? {
        write_lines(
            out,
            &[format!(
                "! {} {} is {} since {} and may be partly applied: repair the schema, then `stamp` the revision it matches{}",
                r.direction,
                r.revision,
                r.status,
                r.applied_at,
                r.error
                    .as_deref()
                    .map(|e| format!(" (recorded error: {e})"))
                    .unwrap_or_default()
            )],
        )?;
    }
    Ok(())
}

/// Formats a generated file with rustfmt when it is installed (as Alembic's post-write hooks
/// run black); without it the file stays as generated, which is already formatted.
fn rustfmt(file: &std::path::Path) {
    let ran = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(file)
        .status();
    if let Err(e) = ran {
        tracing::debug!("rustfmt not run on {}: {e}", file.display());
    }
}

/// The configuration file: `-c FILE`, else the app's default file when it exists.
fn config_path(app: &App, args: &Args) -> Option<PathBuf> {
    args.config
        .clone()
        .or_else(|| app.default_config.clone().filter(|p| p.exists()))
}

/// The migrator's own table of the configuration file, beside `[databases.<label>]`:
///
/// ```toml
/// [migrations]
/// transaction = "single"   # or "per-migration"; Alembic's transaction_per_migration
/// ```
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MigrationsSettings {
    /// The run's transaction grouping, unless `--transaction` is given.
    #[serde(default, deserialize_with = "transaction_mode")]
    transaction: Option<crate::TransactionMode>,
}

impl MigrationsSettings {
    /// The `[migrations]` table of the file at `path` (all defaults when it has none).
    fn from_path(path: &Path) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            migrations: MigrationsSettings,
        }
        Ok(db_core::read_toml::<File>(path)?.migrations)
    }
}

fn transaction_mode<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<crate::TransactionMode>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

fn open_options(
    app: &App,
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<OpenOptions> {
    let label = selected_label(args).map_err(|reason| Error::Usage { reason })?;
    let config = match &config_path(app, args) {
        Some(p) => Some(Config::from_path(p)?),
        None => None,
    };
    let mut options = if let Some(url) = &args.url {
        OpenOptions::new(url.clone())
    } else if let Some(label) = &label {
        config
            .as_ref()
            .ok_or(db_core::Error::NoDatabase)
            .and_then(|c| c.database(Some(label)))?
    } else if let Some(url) = env("DATABASE_URL").filter(|u| !u.is_empty()) {
        OpenOptions::new(url)
    } else if let Some(opts) = config
        .as_ref()
        .filter(|c| c.default.is_some())
        .map(|c| c.database(None))
    {
        opts?
    } else if let Some(url) = &app.default_url {
        OpenOptions::new(url.clone())
    } else {
        return Err(db_core::Error::NoDatabase.into());
    };
    if let Some(schema) = args
        .schema
        .clone()
        .or_else(|| env("DATABASE_SCHEMA").filter(|s| !s.is_empty()))
    {
        options = options.schema(schema);
    }
    if let Some(seconds) = args.connect_timeout {
        options = options.connect_timeout(std::time::Duration::from_secs_f64(seconds));
    }
    Ok(options)
}

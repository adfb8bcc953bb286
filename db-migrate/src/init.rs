//! `init`: a new migrations crate for a service, ready for `revision --autogenerate` (Alembic's
//! `alembic init`, which writes `alembic.ini`, `env.py` and `versions/`).
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("shop");
//! let written = db_migrate::init::init(&path, &db_migrate::init::InitOptions::default()).unwrap();
//! assert!(written.iter().any(|f| f.ends_with("src/bin/shop-migrate.rs")));
//! // A second `init` refuses to overwrite.
//! assert!(db_migrate::init::init(&path, &db_migrate::init::InitOptions::default()).is_err());
//! ```
//!
//! The crate it writes (`<name>` is the folder's name):
//!
//! ```text
//! <path>/Cargo.toml                  the package `<name>-migrations` and the binary `<name>-migrate`
//! <path>/README.md                   the commands
//! <path>/.gitignore                  data/ (the default SQLite file), target/
//! <path>/src/lib.rs                  `entities`, `migrations`, `migrator()`
//! <path>/src/entities.rs             your sea-orm entities
//! <path>/src/migrations.rs           the registry, with the markers `revision` writes between
//! <path>/src/migrations/             the revisions
//! <path>/src/bin/<name>-migrate.rs   the migrator command line
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::scaffold::{MODULES_END, SCRIPTS_END};

/// The marker line in `src/migrations.rs` before which entities are registered.
pub const ENTITIES_END: &str = "// db-migrate: entities end";

/// The backend a new crate is set up for: its database features and its default URL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: `sqlite://data/<name>.sqlite3`, created on the first `upgrade` (the default).
    #[default]
    Sqlite,
    /// PostgreSQL: `postgres://postgres@127.0.0.1:5432/<name>`.
    Postgres,
    /// MySQL / MariaDB: `mysql://root@127.0.0.1:3306/<name>`.
    MySql,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            other => Err(format!(
                "unknown backend `{other}`; choose sqlite, postgres or mysql"
            )),
        }
    }
}

impl Backend {
    fn feature(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    fn default_url(self, name: &str) -> String {
        match self {
            Self::Sqlite => format!("sqlite://data/{name}.sqlite3"),
            Self::Postgres => format!("postgres://postgres@127.0.0.1:5432/{name}"),
            Self::MySql => format!("mysql://root@127.0.0.1:3306/{name}"),
        }
    }
}

/// What [`init`] writes.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// The backend (default SQLite).
    pub backend: Backend,
    /// The service's name (default: the folder's name); letters, digits, `-` and `_`,
    /// starting with a letter.
    pub name: Option<String>,
    /// Where the toolkit's crates are (the folder holding `db-core/` and `db-migrate/`), for
    /// `path` dependencies; default: the sources this binary was built from.
    pub toolkit: Option<PathBuf>,
}

/// Writes a migrations crate at `path` (see the [module](self) docs) and returns the files
/// written. `path` may exist only as an empty folder: nothing is ever overwritten (Alembic's
/// `init` refuses a non-empty directory too).
///
/// # Errors
/// [`Error::RevisionFile`] when `path` exists and is not an empty folder, the name is not
/// a valid package name, or a file cannot be written (what was written before stays, so the
/// message names it).
pub fn init(path: &Path, options: &InitOptions) -> Result<Vec<PathBuf>> {
    let refuse = |reason: String| Error::RevisionFile {
        path: path.display().to_string(),
        reason,
    };
    if path.exists() {
        let empty = std::fs::read_dir(path)
            .map_err(|e| refuse(format!("cannot read it: {e}")))?
            .next()
            .is_none();
        if !empty {
            return Err(refuse(
                "it already exists and is not empty; `init` never overwrites (choose a new folder)"
                    .into(),
            ));
        }
    }
    let name = match &options.name {
        Some(n) => n.clone(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| refuse("the folder has no usable name; give --name".into()))?
            .to_owned(),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(refuse(format!(
            "`{name}` is not a package name: letters, digits, `-` and `_`, starting with a letter (give --name)"
        )));
    }
    let toolkit = options
        .toolkit
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let toolkit = std::fs::canonicalize(&toolkit).unwrap_or(toolkit);
    let snake = name.replace('-', "_");
    let files = files(&name, &snake, options.backend, &toolkit);
    let mut written = Vec::new();
    for (relative, text) in files {
        let file = path.join(relative);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| refuse(format!("cannot create {}: {e}", dir.display())))?;
        }
        // `create_new`: never replace a file, even one that appeared meanwhile.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .map_err(|e| refuse(format!("cannot create {}: {e}", file.display())))?;
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(|e| refuse(format!("cannot write {}: {e}", file.display())))?;
        written.push(file);
    }
    let versions = path.join("src/migrations");
    std::fs::create_dir_all(&versions)
        .map_err(|e| refuse(format!("cannot create {}: {e}", versions.display())))?;
    Ok(written)
}

/// The files of a new crate: (path relative to the crate, text).
fn files(name: &str, snake: &str, backend: Backend, toolkit: &Path) -> Vec<(String, String)> {
    let feature = backend.feature();
    let toolkit = toolkit.display().to_string().replace('\\', "/");
    let url = backend.default_url(snake);
    // SQLite's default file sits in the crate's `data/`, wherever the binary is run from.
    let url_expr = match backend {
        Backend::Sqlite => format!(
            "concat!(\"sqlite://\", env!(\"CARGO_MANIFEST_DIR\"), \"/data/{snake}.sqlite3\")"
        ),
        Backend::Postgres | Backend::MySql => format!("{url:?}"),
    };
    let cargo = format!(
        r#"[package]
name = "{name}-migrations"
version = "0.1.0"
edition = "2024"
publish = false

# Its own workspace, so that it builds on its own wherever it is placed.
[workspace]

[[bin]]
name = "{name}-migrate"
path = "src/bin/{name}-migrate.rs"

[dependencies]
async-trait = "0.1"
db-core = {{ path = "{toolkit}/db-core", default-features = false, features = ["{feature}"] }}
db-migrate = {{ path = "{toolkit}/db-migrate", default-features = false, features = ["cli", "{feature}"] }}
sea-orm = {{ version = "2.0.4", default-features = false, features = ["macros", "runtime-tokio", "with-chrono", "with-json", "with-uuid"] }}
sea-orm-migration = {{ version = "2.0.4", default-features = false, features = ["runtime-tokio"] }}
"#
    );
    let lib = format!(
        r#"//! {name}'s database: its sea-orm entities and the migrations that create their tables.
//!
//! `cargo run --bin {name}-migrate -- upgrade head` migrates the default database; the service
//! migrates on open with `db_core::Database::open_migrated(options, &{snake}_migrations::migrator()?.on_open(Default::default()))`.

pub mod entities;
pub mod migrations;

pub use migrations::migrator;
"#
    );
    let entities =
        r#"//! The service's sea-orm entities. Register each in `migrations::entities()`; then
//! `revision --autogenerate -m "…"` writes the migration that creates or changes its table.
//!
//! ```ignore
//! pub mod product {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "products")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i64,
//!         pub name: String,
//!     }
//!
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!
//!     impl ActiveModelBehavior for ActiveModel {}
//! }
//! ```
"#
        .to_owned();
    let migrations = format!(
        r#"//! The revisions, oldest first. `{name}-migrate revision -m MSG` (or `--autogenerate`) adds
//! files to `migrations/` and registers them between the marker lines below; keep the
//! markers.

use db_migrate::autogenerate::Entities;
use db_migrate::{{Migrator, Script}};

{MODULES_END}

/// Every revision.
#[must_use]
pub fn scripts() -> Vec<Script> {{
    vec![
        {SCRIPTS_END}
    ]
}}

/// The entities whose tables these migrations own (Alembic's `target_metadata`): `check` and
/// `revision --autogenerate` compare them with the database.
#[must_use]
pub fn entities() -> Entities {{
    Entities::new()
        // .register(crate::entities::product::Entity)
        {ENTITIES_END}
}}

/// The migrator over [`scripts`] and [`entities`].
///
/// # Errors
/// A revision-graph error (two heads, an unknown down_revision, …).
pub fn migrator() -> db_migrate::Result<Migrator> {{
    Ok(Migrator::new(scripts())?.entities(entities()))
}}
"#
    );
    let bin = format!(
        r#"//! {name}'s migrator: Alembic's commands (`upgrade`, `downgrade`, `current`, `history`,
//! `revision --autogenerate`, `check`, …) over this crate's revisions.

use std::process::ExitCode;

fn main() -> ExitCode {{
    db_migrate::cli::main(db_migrate::cli::App {{
        name: "{name}-migrate",
        migrator: {snake}_migrations::migrator,
        default_url: Some({url_expr}.into()),
        default_config: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/{name}.toml").into()),
        migrations_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations").into()),
    }})
}}
"#
    );
    let readme = format!(
        r#"# {name}-migrations

The database of {name}: sea-orm entities (`src/entities.rs`) and the migrations that make their
tables (`src/migrations/`), with the migrator `{name}-migrate`.

```sh
M="cargo run -q --bin {name}-migrate --"
# 1. write an entity in src/entities.rs and register it in src/migrations.rs `entities()`
$M revision --autogenerate -m "create products"   # review the file it writes
$M upgrade head
$M current                     # `<rev> (head)`; `current --check-heads` exits 3 until migrated
$M check                       # exit 1 when the entities and the migrations disagree (CI)
$M history; $M downgrade -1
```

The database: `--url`, or `-c {name}.toml --db LABEL` (`[databases.LABEL] url = "…"`), or
`DATABASE_URL`, or `{url}`.
"#
    );
    let gitignore = "/data/\n/target/\n".to_owned();
    vec![
        ("Cargo.toml".into(), cargo),
        ("README.md".into(), readme),
        (".gitignore".into(), gitignore),
        ("src/lib.rs".into(), lib),
        ("src/entities.rs".into(), entities),
        ("src/migrations.rs".into(), migrations),
        (format!("src/bin/{name}-migrate.rs"), bin),
    ]
}

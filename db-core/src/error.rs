//! db-core's [`Error`], and [`describe_db_err`], which turns a driver error into the server's
//! message and SQLSTATE.

use std::path::PathBuf;

use sea_orm::DbErr;

use crate::dialect::IdentKind;

/// What can go wrong while configuring, opening or using a [`Database`](crate::Database).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}")]
    ConfigRead {
        /// The file that was read.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or does not have the expected shape.
    #[error("configuration file {path} is malformed")]
    ConfigParse {
        /// The file that was parsed.
        path: PathBuf,
        /// Where and why, without the line's text (it may hold a password).
        #[source]
        source: TomlError,
    },
    /// The configuration file is larger than any configuration needs.
    #[error("configuration file {path} is {size} bytes; at most {max} are read")]
    ConfigTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes ([`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES)).
        max: u64,
    },
    /// A value of a database's configuration is out of range.
    #[error("database `{label}` in the configuration: `{key}`: {reason}")]
    ConfigValue {
        /// The database's label.
        label: String,
        /// The key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// A database label was asked for that the configuration does not define.
    #[error("no database labelled `{label}` in the configuration; known labels: {known}")]
    UnknownLabel {
        /// The label that was asked for.
        label: String,
        /// The labels the configuration defines, comma separated.
        known: String,
    },
    /// Neither a URL nor a label was given and there is no default.
    #[error("no database given: pass a URL, a label from the configuration, or set DATABASE_URL")]
    NoDatabase,
    /// The URL's scheme names no backend this build supports.
    #[error(
        "unsupported database URL `{url}`: expected sqlite://, postgres:// or mysql:// (is the backend's feature enabled?)"
    )]
    UnsupportedUrl {
        /// The URL, with any password removed.
        url: String,
    },
    /// Another [`Database`](crate::Database) of this process already has the SQLite file open.
    #[error(
        "the SQLite database {path} is already open in this process; share the existing `Database` handle instead of opening a second one"
    )]
    AlreadyOpen {
        /// The canonical path of the file.
        path: PathBuf,
    },
    /// The folder of a SQLite file could not be created.
    #[error("cannot create the folder {path} for the SQLite database")]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The connection's backend is one sea-orm added after this library was written.
    #[error("the {backend} backend is not supported by this version of db-core")]
    UnsupportedBackend {
        /// sea-orm's name of the backend.
        backend: String,
    },
    /// Connecting to the database failed, or no connection came within the connect timeout.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, with any password removed.
        url: String,
        /// The cause: the driver's error (`connection refused`, an authentication failure, a
        /// timeout after the configured seconds).
        #[source]
        source: DbErr,
    },
    /// An identifier from outside the program (a schema, table or database name) breaks the
    /// backend's rules; nothing was sent to the database.
    #[error("invalid {kind} name `{}`: {reason}", escape_controls(name))]
    InvalidIdentifier {
        /// What the name names.
        kind: IdentKind,
        /// The name as given.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A database URL is malformed or carries a parameter this library does not honour.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL, with any password removed.
        url: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A schema was configured for a backend without schemas.
    #[error(
        "a schema (`{}`) was given for a {backend} database, but schemas are a PostgreSQL setting; on MySQL the database in the URL is the schema, SQLite has none",
        escape_controls(schema)
    )]
    SchemaUnsupported {
        /// The schema as given.
        schema: String,
        /// `sqlite` or `mysql`.
        backend: &'static str,
    },
    /// A read-only open found no SQLite database file; nothing was created.
    #[error(
        "no SQLite database at {path}: it was opened read-only, so it is not created (check the path, or run `upgrade` to create it)"
    )]
    DatabaseMissing {
        /// The path as given.
        path: PathBuf,
    },
    /// A read-only open found no PostgreSQL schema of that name; nothing was created.
    #[error(
        "schema `{}` does not exist in this database; it was opened read-only, so it is not created (check `--schema`, or run `upgrade` to create it)",
        escape_controls(schema)
    )]
    SchemaMissing {
        /// The schema.
        schema: String,
    },
    /// Creating the configured PostgreSQL schema failed.
    #[error("cannot create schema `{}`", escape_controls(schema))]
    CreateSchema {
        /// The schema.
        schema: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// The migrator given to [`Database::open_migrated`](crate::Database::open_migrated) failed.
    #[error("migrating the database on open failed")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A statement failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// Tables reference each other in a cycle, so no order empties them one by one.
    #[error(
        "the tables {tables} reference each other in a cycle; empty them yourself (e.g. with deferred constraints)"
    )]
    ForeignKeyCycle {
        /// The tables of the cycle, comma separated.
        tables: String,
    },
    /// A table to keep has rows that reference a table to empty.
    #[error(
        "the kept table `{kept}` has rows referencing `{emptied}`, which would be emptied; empty `{kept}` too or keep `{emptied}`"
    )]
    KeptTableReferences {
        /// The kept table.
        kept: String,
        /// The table it references.
        emptied: String,
    },
}

/// The readable text of a driver error, for messages: the server's own message and SQLSTATE
/// (`permission denied for database courses (SQLSTATE 42501)`), without sea-orm's and sqlx's
/// prefixes or PostgreSQL's `at line N`. Other errors keep their display text.
#[must_use]
pub fn describe_db_err(error: &DbErr) -> String {
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    if let DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))
    | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) = error
    {
        return crate::dialect::sqlx_cause(e);
    }
    match error {
        DbErr::Conn(sea_orm::RuntimeErr::Internal(text)) => text.clone(),
        other => other.to_string(),
    }
}

/// `text` with control characters escaped (`\n`, `\u{0}`), so a hostile name cannot forge
/// lines of output.
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The error with its driver message and reasons passed through
    /// [`scrub`](crate::redact::scrub): a driver quotes a URL it cannot parse as given, password
    /// included.
    #[must_use]
    pub fn scrubbed(self) -> Self {
        match self {
            Self::Connect { url, source } => Self::Connect {
                url,
                source: crate::redact::scrub_db_err(source),
            },
            Self::InvalidUrl { url, reason } => Self::InvalidUrl {
                url,
                reason: crate::redact::scrub(&reason),
            },
            other => other,
        }
    }
}

/// A TOML file that does not parse or does not fit: the line and column, and the parser's
/// reason with any secret scrubbed ([`scrub`](crate::redact::scrub)) and user values
/// bounded ([`bounded`](crate::redact::bounded)). Unlike the parser's own message it never quotes the
/// line, which may hold a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TomlError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.reason),
            _ => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for TomlError {}

//! Connections, configuration, transaction scopes and migrate-on-open for services on sea-orm.
//!
//! A [`Database`] is opened from [`OpenOptions`] (a URL) or from a named database of a TOML
//! [`Config`]. SQLite is the embedded default for devices (a file under a data folder, WAL,
//! `foreign_keys=ON`, a busy timeout, one handle per file per process); PostgreSQL (with a
//! schema) and MariaDB/MySQL serve servers. [`Database::transaction`] and [`transaction`] run
//! scopes that commit on `Ok` and roll back on `Err` or panic; nested scopes are savepoints.
//! A migrator implements [`Migrate`] so that [`Database::open_migrated`] brings the schema to
//! head before the handle is returned.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use db_core::{Database, OpenOptions, transaction};
//! use sea_orm::{ConnectionTrait, DbErr};
//!
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite://{}/data/app.sqlite3", dir.path().display());
//! let db = Database::open(OpenOptions::new(url)).await?;
//! db.execute_unprepared("CREATE TABLE notes (body TEXT NOT NULL)").await?;
//!
//! // Commits: the scope returned Ok.
//! db.transaction(|txn| Box::pin(async move {
//!     txn.execute_unprepared("INSERT INTO notes VALUES ('kept')").await?;
//!     // A nested scope is a savepoint; its error rolls back only its own work.
//!     let inner: Result<(), DbErr> = transaction(txn, |sp| Box::pin(async move {
//!         sp.execute_unprepared("INSERT INTO notes VALUES ('dropped')").await?;
//!         Err(DbErr::Custom("changed my mind".into()))
//!     })).await;
//!     assert!(inner.is_err());
//!     Ok::<_, DbErr>(())
//! })).await?;
//!
//! let rows = db.query_all_raw(sea_orm::Statement::from_string(
//!     db.get_database_backend(), "SELECT body FROM notes")).await?;
//! assert_eq!(rows.len(), 1);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! | feature    | default | enables |
//! |------------|---------|---------|
//! | `sqlite`   | yes     | SQLite through sqlx (bundled libsqlite3) |
//! | `postgres` | no      | PostgreSQL through sqlx |
//! | `mysql`    | no      | MySQL and MariaDB through sqlx |
//! | `tls-rustls` | no    | TLS to servers through rustls: `sslmode` (PostgreSQL) / `ssl-mode` (MySQL) in the URL is honoured; without it a loopback host goes without TLS, other hosts use TLS when offered |

mod config;
mod connect;
mod database;
mod dialect;
mod error;
mod migrate;
pub mod redact;
mod transaction;
mod truncate;
pub mod types;

pub use crate::config::{Config, DatabaseConfig, KNOWN_TOP_LEVEL, MAX_CONFIG_BYTES, read_toml};
pub use crate::database::{
    Database, ForeignKeys, OpenOptions, PoolOptions, SqliteFileClaim, SqliteLocation,
    canonical_file_path, claim_sqlite_file, sqlite_location,
};
pub use crate::dialect::{
    CloneScript, CopyIn, Dialect, IdentKind, SchemaObjects, SessionScope, Unencodable,
};
pub use crate::error::{Error, Result, TomlError, describe_db_err};
pub use crate::migrate::{BoxError, Migrate, MigrationHarness, RevisionInfo};
pub use crate::redact::{redact_url, scrub};
pub use crate::transaction::{AsDbErr, RetryPolicy, RetrySafe, transaction};
pub use crate::truncate::{drop_all, drop_all_ordered, truncate_all};

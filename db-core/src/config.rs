//! The TOML configuration: named databases (`[databases.<label>]`) with URL, schema and
//! options, read into [`OpenOptions`](crate::OpenOptions).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::{OpenOptions, PoolOptions};

/// A configuration file with named databases, as PyCDS's `alembic.ini` sections selected with
/// `-x db=<label>`:
///
/// ```toml
/// default = "dev"            # optional: the label used when none is given
///
/// [databases.dev]
/// url = "postgres://postgres@127.0.0.1/courses"
/// schema = "crmp"            # optional, PostgreSQL only
///
/// [databases.device]
/// url = "sqlite://data/device.sqlite3"
/// ```
///
/// Other tables in the file (for example db-migrate's `[migrations]`) are ignored here; an
/// unknown key inside a `[databases.<label>]` table is a [`Error::ConfigParse`].
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Config {
    /// The label used when none is given.
    #[serde(default)]
    pub default: Option<String>,
    /// Named databases, by label.
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
}

/// One named database of a [`Config`]. A key it does not know is an error naming the known
/// ones (a misspelt `production = true` must not pass silently as a development database).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// The connection URL.
    pub url: String,
    /// The PostgreSQL schema (search_path and version table).
    #[serde(default)]
    pub schema: Option<String>,
    /// Pooled connections (SQLAlchemy's `pool_size`).
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// Connections allowed beyond `pool_size` (SQLAlchemy's `max_overflow`; the pool's
    /// maximum is their sum).
    #[serde(default)]
    pub max_overflow: Option<u32>,
    /// Connections kept open when idle.
    #[serde(default)]
    pub min_connections: Option<u32>,
    /// Seconds a query waits for a free connection (SQLAlchemy's `pool_timeout`).
    #[serde(default)]
    pub pool_timeout: Option<f64>,
    /// Seconds an idle connection is kept.
    #[serde(default)]
    pub idle_timeout: Option<f64>,
    /// Seconds a connection lives before it is replaced (SQLAlchemy's `pool_recycle`).
    #[serde(default)]
    pub pool_recycle: Option<f64>,
    /// Ping connections before use (SQLAlchemy's `pool_pre_ping`).
    #[serde(default)]
    pub pool_pre_ping: bool,
    /// Seconds opening waits for the server's first connection.
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    /// A production database: the migrator's `seed` and `reset` refuse it unless forced
    /// ([`OpenOptions::production`]).
    #[serde(default)]
    pub production: bool,
}

/// Reads the TOML file at `path` into `T`: the databases as [`Config`], or another tool's
/// own tables of the same file (db-migrate reads its `[migrations]` table this way); tables
/// `T` does not name are ignored.
///
/// # Errors
/// [`Error::ConfigRead`] when the file cannot be read, [`Error::ConfigParse`] (with the line
/// and column) when it is not TOML or does not fit `T`.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| Error::ConfigParse {
        path: path.to_owned(),
        source,
    })
}

impl Config {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// [`Error::ConfigRead`] or [`Error::ConfigParse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        read_toml(path)
    }

    /// The [`OpenOptions`] of the database labelled `label`, or of the `default` label when
    /// `label` is `None`.
    ///
    /// # Errors
    /// [`Error::UnknownLabel`] naming the known labels, or [`Error::NoDatabase`] when no label
    /// was given and the file has no default.
    pub fn database(&self, label: Option<&str>) -> Result<OpenOptions> {
        let label = label.or(self.default.as_deref()).ok_or(Error::NoDatabase)?;
        let entry = self
            .databases
            .get(label)
            .ok_or_else(|| Error::UnknownLabel {
                label: label.to_owned(),
                known: self
                    .databases
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut options = OpenOptions::new(entry.url.clone());
        if let Some(schema) = &entry.schema {
            options = options.schema(schema.clone());
        }
        let seconds = |key: &str, v: Option<f64>| -> Result<Option<Duration>> {
            v.map(|s| {
                Duration::try_from_secs_f64(s).map_err(|_| Error::ConfigValue {
                    label: label.to_owned(),
                    key: key.to_owned(),
                    reason: format!("{s} is not a number of seconds ≥ 0"),
                })
            })
            .transpose()
        };
        if entry.pool_size.is_some() || entry.max_overflow.is_some() {
            let size = entry.pool_size.unwrap_or(5);
            options = options
                .max_connections(size.saturating_add(entry.max_overflow.unwrap_or(0)).max(1));
        }
        if let Some(t) = seconds("connect_timeout", entry.connect_timeout)? {
            options = options.connect_timeout(t);
        }
        let pool = PoolOptions {
            min_connections: entry.min_connections,
            acquire_timeout: seconds("pool_timeout", entry.pool_timeout)?,
            idle_timeout: seconds("idle_timeout", entry.idle_timeout)?,
            max_lifetime: seconds("pool_recycle", entry.pool_recycle)?,
            test_before_acquire: entry.pool_pre_ping,
        };
        Ok(options.pool(pool).production(entry.production))
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn pool_settings_in_sqlalchemy_terms() {
        let config: Config = toml::from_str(
            "[databases.app]\nurl = \"postgres://p@h/db\"\npool_size = 5\nmax_overflow = 10\n\
             pool_timeout = 2.5\npool_recycle = 1800\npool_pre_ping = true\nmin_connections = 1\nproduction = true\n",
        )
        .expect("valid toml");
        let options = config.database(Some("app")).expect("app");
        let pool = options.pool_options();
        assert_eq!(
            pool.acquire_timeout,
            Some(std::time::Duration::from_millis(2500))
        );
        assert_eq!(
            pool.max_lifetime,
            Some(std::time::Duration::from_secs(1800))
        );
        assert_eq!(pool.min_connections, Some(1));
        assert!(pool.test_before_acquire);
        assert!(options.is_production());
        let bad: Config =
            toml::from_str("[databases.app]\nurl = \"sqlite://x\"\npool_timeout = -1\n")
                .expect("toml");
        let err = bad.database(Some("app")).expect_err("negative");
        assert_eq!(
            err.to_string(),
            "database `app` in the configuration: `pool_timeout`: -1 is not a number of seconds ≥ 0"
        );
    }

    #[test]
    fn labels_and_default() {
        let config: Config = toml::from_str(
            "default = \"dev\"\n[databases.dev]\nurl = \"sqlite://a.sqlite3\"\n\
             [databases.prod]\nurl = \"postgres://p@h/db\"\nschema = \"crmp\"\n[migrations]\nx = 1\n",
        )
        .expect("valid toml");
        assert_eq!(
            config.database(None).expect("default").url(),
            "sqlite://a.sqlite3"
        );
        let prod = config.database(Some("prod")).expect("prod");
        assert_eq!(prod.schema_name(), Some("crmp"));
        let err = config
            .database(Some("nope"))
            .expect_err("unknown")
            .to_string();
        assert_eq!(
            err,
            "no database labelled `nope` in the configuration; known labels: dev, prod"
        );
    }

    /// A misspelt key of a database is an error naming it and the known keys, with its line;
    /// other tables of the file stay free.
    #[test]
    fn unknown_keys_of_a_database_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("db.toml");
        std::fs::write(
            &file,
            "[databases.prod]\nurl = \"postgres://p@h/db\"\nprodution = true\n[other]\nanything = 1\n",
        )
        .expect("write");
        let err = super::Config::from_path(&file).expect_err("misspelt key");
        let err = format!(
            "{err}: {}",
            std::error::Error::source(&err).expect("the TOML error")
        );
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("unknown field `prodution`"), "{err}");
        assert!(err.contains("`production`"), "{err}");
        std::fs::write(
            &file,
            "[databases.prod]\nurl = \"postgres://p@h/db\"\nproduction = true\n[other]\nanything = 1\n",
        )
        .expect("write");
        let config = super::Config::from_path(&file).expect("valid");
        assert!(config.database(Some("prod")).expect("prod").is_production());
    }
}

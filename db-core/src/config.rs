//! The TOML configuration: named databases (`[databases.<label>]`) with URL, schema and
//! options, read into [`OpenOptions`](crate::OpenOptions).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result, TomlError};
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
/// Every top-level key must be known: `default`, `databases`, the toolkit's own tables
/// (`migrations`), `app` (a table for the application's own settings) and the tables named in
/// `app_tables = ["server", …]`. Anything else (`defualt = "dev"`) is an
/// [`Error::ConfigParse`] naming the known keys, as is an unknown key inside a
/// `[databases.<label>]` table: a typo must not silently select another database.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Config {
    /// The label used when none is given.
    #[serde(default)]
    pub default: Option<String>,
    /// Named databases, by label.
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// Top-level tables that belong to the application and are not checked here.
    #[serde(default)]
    pub app_tables: Vec<String>,
    /// Every other top-level key, checked by [`Config::from_path`].
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

/// Top-level keys of the configuration file that the toolkit reads (db-migrate's
/// `[migrations]` among them) or leaves to the application (`[app]`).
pub const KNOWN_TOP_LEVEL: [&str; 5] = ["default", "databases", "migrations", "app", "app_tables"];

/// The largest configuration file read, in bytes (1 MiB): a configuration is a few lines;
/// a larger file is refused before it costs memory or time.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl TomlError {
    fn new(error: &toml::de::Error, text: &str) -> Self {
        let (line, column) = match error.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        let reason = crate::redact::scrub(error.message().trim());
        Self {
            line,
            column,
            reason: crate::redact::bounded_to(&reason, 600).into_owned(),
        }
    }

    fn unknown_key(key: &str, text: &str) -> Self {
        let line = text.lines().position(|l| {
            let l = l.trim_start().trim_start_matches('[').trim_start();
            l.starts_with(key) && l[key.len()..].trim_start().starts_with(['=', ']', '.'])
        });
        let mut known = KNOWN_TOP_LEVEL.to_vec();
        known.retain(|k| *k != "app_tables");
        Self {
            line: line.map(|l| l + 1),
            column: line.map(|_| 1),
            reason: format!(
                "unknown top-level key `{}`; known: {}; put the application's own settings under `[app]` or name their tables in `app_tables = [...]`",
                crate::redact::bounded(key),
                known.join(", ")
            ),
        }
    }
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
    let text = read_config_text(path)?;
    toml::from_str(&text).map_err(|e| Error::ConfigParse {
        path: path.to_owned(),
        source: TomlError::new(&e, &text),
    })
}

/// The file's text, refused beyond [`MAX_CONFIG_BYTES`] before it is read.
fn read_config_text(path: &Path) -> Result<String> {
    let read_error = |source| Error::ConfigRead {
        path: path.to_owned(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(Error::ConfigTooLarge {
            path: path.to_owned(),
            size,
            max: MAX_CONFIG_BYTES,
        });
    }
    std::fs::read_to_string(path).map_err(read_error)
}

impl Config {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// [`Error::ConfigRead`] or [`Error::ConfigParse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = read_config_text(path)?;
        let config: Self = toml::from_str(&text).map_err(|e| Error::ConfigParse {
            path: path.to_owned(),
            source: TomlError::new(&e, &text),
        })?;
        if let Some(key) = config
            .rest
            .keys()
            .find(|k| !KNOWN_TOP_LEVEL.contains(&k.as_str()) && !config.app_tables.contains(k))
        {
            return Err(Error::ConfigParse {
                path: path.to_owned(),
                source: TomlError::unknown_key(key, &text),
            });
        }
        Ok(config)
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
                label: crate::redact::bounded(label).into_owned(),
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
            "app_tables = [\"other\"]\n[databases.prod]\nurl = \"postgres://p@h/db\"\nprodution = true\n[other]\nanything = 1\n",
        )
        .expect("write");
        let err = super::Config::from_path(&file).expect_err("misspelt key");
        let err = format!(
            "{err}: {}",
            std::error::Error::source(&err).expect("the TOML error")
        );
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("unknown field `prodution`"), "{err}");
        assert!(err.contains("`production`"), "{err}");
        std::fs::write(
            &file,
            "app_tables = [\"other\"]\n[databases.prod]\nurl = \"postgres://p@h/db\"\nproduction = true\n[other]\nanything = 1\n[app]\nport = 1\n[migrations]\n",
        )
        .expect("write");
        let config = super::Config::from_path(&file).expect("valid");
        assert!(config.database(Some("prod")).expect("prod").is_production());
    }

    /// A misspelt top-level key is an error naming it, its line and the known keys: `defualt`
    /// must not silently leave the choice to the embedded default database.
    #[test]
    fn unknown_top_level_keys_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("db.toml");
        for (text, key, line) in [
            (
                "defualt = \"a\"\n[databases.a]\nurl = \"sqlite://a\"\n",
                "defualt",
                1,
            ),
            (
                "default = \"a\"\n[databases.a]\nurl = \"sqlite://a\"\n[server]\nport = 1\n",
                "server",
                4,
            ),
            (
                "default = \"a\"\n[database.a]\nurl = \"sqlite://a\"\n",
                "database",
                2,
            ),
        ] {
            std::fs::write(&file, text).expect("write");
            let err = super::Config::from_path(&file).expect_err("unknown key");
            let shown = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
            assert!(
                shown.contains(&format!("unknown top-level key `{key}`")),
                "{shown}"
            );
            assert!(shown.contains(&format!("line {line},")), "{shown}");
            assert!(
                shown.contains("default, databases, migrations, app"),
                "{shown}"
            );
        }
    }

    /// A syntax error on the `url` line names the line, never its text (the password), and a
    /// huge file or value is refused or cut, quickly.
    #[test]
    fn config_errors_show_no_secret_and_no_unbounded_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("db.toml");
        std::fs::write(&file, "[databases.a]\nurl = \"postgres://u:S3cret@h/db\n").expect("write");
        let err = super::Config::from_path(&file).expect_err("syntax");
        let shown = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
        assert!(!shown.contains("S3cret"), "{shown}");
        assert!(shown.contains("line 2"), "{shown}");
        std::fs::write(
            &file,
            format!("[databases.a]\nurl = \"{}\"\n", "x".repeat(2 << 20)),
        )
        .expect("write");
        let err = super::Config::from_path(&file).expect_err("too large");
        assert!(
            err.to_string().contains("at most 1048576 are read"),
            "{err}"
        );
        std::fs::write(
            &file,
            format!("[databases.a]\nurl = {}\n", "1".repeat(500_000)),
        )
        .expect("write");
        let err = super::Config::from_path(&file).expect_err("not a string");
        let shown = format!("{err}: {}", std::error::Error::source(&err).expect("cause"));
        assert!(shown.len() < 1000, "{} bytes", shown.len());
    }
}

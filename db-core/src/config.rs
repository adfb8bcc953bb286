//! The TOML configuration: named databases (`[databases.<label>]`) with URL, schema and
//! options, read into [`OpenOptions`](crate::OpenOptions).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::OpenOptions;
use crate::error::{Error, Result};

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
/// Other tables in the file (for example db-migrate's `[migrations]`) are ignored here.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Config {
    /// The label used when none is given.
    #[serde(default)]
    pub default: Option<String>,
    /// Named databases, by label.
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
}

/// One named database of a [`Config`].
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The connection URL.
    pub url: String,
    /// The PostgreSQL schema (search_path and version table).
    #[serde(default)]
    pub schema: Option<String>,
}

impl Config {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// [`Error::ConfigRead`] or [`Error::ConfigParse`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| Error::ConfigParse {
            path: path.to_owned(),
            source,
        })
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
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

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
}

use std::path::PathBuf;

use sea_orm::DbErr;

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
        /// What the TOML parser said.
        #[source]
        source: toml::de::Error,
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
    /// Connecting to the database failed.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, with any password removed.
        url: String,
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
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `url` with the password part of its authority replaced by `***`, for messages and logs.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_password_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("sqlite://data/x.sqlite3"),
            "sqlite://data/x.sqlite3"
        );
    }
}

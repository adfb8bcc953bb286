//! db-kvstore's [`Error`]: every way a `set`, a `sync` or a registration fails. A failed `set`
//! has changed nothing; its text is what the server receives as `handler_error`, openmodule's
//! text first where openmodule has one.

use sea_orm::DbErr;

/// How a `previous_e_tag` disagrees with the device (openmodule's `ETagMismatchException`
/// texts, which servers may match on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ETagProblem {
    /// The key is absent but the request names a previous e_tag.
    GivenButNotInDatabase,
    /// The key is present but the request names no previous e_tag.
    NoPrevious,
    /// The key's e_tag differs from the previous e_tag given.
    DoesNotMatch,
}

impl ETagProblem {
    /// openmodule's text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GivenButNotInDatabase => "Previous ETag given but not in database",
            Self::NoPrevious => "No previous ETag",
            Self::DoesNotMatch => "Previous ETag does not match",
        }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `previous_e_tag` disagrees with the device; nothing was written.
    #[error("{}: key `{key}` has e_tag {}, the request expected {}", problem.as_str(), fmt_tag(*actual), fmt_tag(*expected))]
    ETagMismatch {
        /// Which rule failed.
        problem: ETagProblem,
        /// The key.
        key: String,
        /// The request's `previous_e_tag`.
        expected: Option<i128>,
        /// The device's e_tag (`None`: the key is absent).
        actual: Option<i64>,
    },
    /// A key or value is larger than the store takes ([`KvStore::max_key_chars`],
    /// [`KvStore::max_value_bytes`]); refused before the database, nothing was written.
    ///
    /// [`KvStore::max_key_chars`]: crate::KvStore::max_key_chars
    /// [`KvStore::max_value_bytes`]: crate::KvStore::max_value_bytes
    #[error("the {what} of key `{key}` is {size} long, above the store's limit of {limit} ({unit})", unit = if *what == "key" { "characters" } else { "bytes" })]
    EntryTooLarge {
        /// The key (cut to 200 characters).
        key: String,
        /// `key` or `value`.
        what: &'static str,
        /// Its size: characters of a key, bytes of a value.
        size: usize,
        /// The limit in the same unit.
        limit: usize,
    },
    /// A `set` waited longer than the store's queue deadline for the sets ahead of it
    /// ([`KvStore::queue_deadline`]); nothing was written. The server retries it or repairs it
    /// with its next sync.
    ///
    /// [`KvStore::queue_deadline`]: crate::KvStore::queue_deadline
    #[error(
        "store `{service}` is busy: this set waited {waited:?} behind {ahead} earlier set(s) and was not applied; send it again"
    )]
    Busy {
        /// The store's service name.
        service: String,
        /// How long it waited.
        waited: std::time::Duration,
        /// Sets that were applied or queued ahead of it when it arrived.
        ahead: usize,
    },
    /// A key appears twice in one `set`; nothing was written.
    #[error("key `{key}` appears more than once in one set; send each key once")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A value without an e_tag; nothing was written.
    #[error("key `{key}` has a value but no e_tag; every stored entry needs the server's e_tag")]
    ValueWithoutETag {
        /// The key.
        key: String,
    },
    /// An e_tag outside 64 bits; nothing was written.
    #[error("the e_tag {e_tag} of key `{key}` does not fit a 64-bit integer")]
    ETagOutOfRange {
        /// The key.
        key: String,
        /// The e_tag as sent.
        e_tag: i128,
    },
    /// A value is not valid JSON; nothing was written.
    #[error("the value of key `{key}` is not valid JSON: {source}")]
    InvalidJson {
        /// The key.
        key: String,
        /// The parser's error.
        #[source]
        source: crate::wire::JsonError,
    },
    /// The store's `parse_value` refused a value; nothing was written.
    #[error("the value of key `{key}` was refused: {reason}")]
    ParseValue {
        /// The key.
        key: String,
        /// Why (the hook's error text).
        reason: String,
    },
    /// A database statement failed; the transaction was rolled back.
    #[error("{context}")]
    Db {
        /// What was being done.
        context: String,
        /// The driver's error.
        #[source]
        source: DbErr,
    },
    /// A temporary file holding a large sync's keys or reply failed.
    #[error("{context}: {source}")]
    Spool {
        /// What was being done.
        context: String,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
    /// A store cannot be registered.
    #[error("cannot register the store of service `{service}`: {reason}")]
    Registration {
        /// The store's service name.
        service: String,
        /// Why.
        reason: String,
    },
}

fn fmt_tag<T: std::fmt::Display>(tag: Option<T>) -> String {
    tag.map_or_else(|| "none".to_owned(), |t| t.to_string())
}

/// db-kvstore's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a context to database errors.
pub(crate) trait DbContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> DbContext<T> for Result<T, DbErr> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Db {
            context: what(),
            source,
        })
    }
}

//! Building sea-orm pools: SQLite files and memory with the device defaults, and server pools
//! that fail within the connect timeout naming the cause.

use std::path::Path;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use crate::database::OpenOptions;
use crate::dialect::{self, Dialect, IdentKind};
use crate::error::{Error, Result};
use crate::redact::redact_url;

/// How long a pooled connection may be waited for once the database is open.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// The per-session settings of a server connection, applied to every pooled connection and to
/// the probe that explains a failure.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    expect(dead_code, reason = "read by the server backends' connect options")
)]
pub(crate) struct ServerSession {
    /// The quoted schema for `search_path` (PostgreSQL).
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "only PostgreSQL's connect options read it")
    )]
    pub(crate) search_path: Option<String>,
    /// Sessions default to read-only transactions (PostgreSQL).
    #[cfg_attr(
        not(feature = "postgres"),
        allow(dead_code, reason = "only PostgreSQL's connect options read it")
    )]
    pub(crate) read_only: bool,
    /// The URL names a TLS mode (`sslmode` / `ssl-mode`); otherwise loopback goes without TLS.
    pub(crate) tls_mode_given: bool,
}

impl ServerSession {
    pub(crate) fn new(options: &OpenOptions, dialect: Dialect) -> Result<Self> {
        let search_path = match options.schema_name() {
            Some(schema) => Some(dialect.quote(IdentKind::Schema, schema)?),
            None => None,
        };
        let query = options.url().split_once('?').map_or("", |(_, q)| q);
        let tls_mode_given = query.split('&').any(|kv| {
            let key = kv
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            matches!(key.as_str(), "sslmode" | "ssl-mode" | "ssl_mode")
        });
        Ok(Self {
            search_path,
            read_only: options.is_read_only(),
            tls_mode_given,
        })
    }
}

#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    expect(dead_code, reason = "used by the server backends' connect options")
)]
/// Whether `host` is this machine (`localhost`, `127.x`, `::1`) or a Unix socket path.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Applies the pool settings that were set (the rest keep sqlx's defaults).
fn apply_pool(opts: &mut sea_orm::ConnectOptions, pool: &crate::PoolOptions) {
    if let Some(n) = pool.min_connections {
        opts.min_connections(n);
    }
    if let Some(d) = pool.acquire_timeout {
        opts.acquire_timeout(d);
    }
    if let Some(d) = pool.idle_timeout {
        opts.idle_timeout(d);
    }
    if let Some(d) = pool.max_lifetime {
        opts.max_lifetime(d);
    }
    opts.test_before_acquire(pool.test_before_acquire);
}

fn base_connect_options(url: String) -> sea_orm::ConnectOptions {
    let mut opts = sea_orm::ConnectOptions::new(url);
    opts.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
    opts
}

/// A pool on a PostgreSQL or MySQL server. The first connection must come within
/// `options.connect_timeout`; when it does not, one direct connection attempt names the cause
/// (sqlx's pool retries a refused connection silently until its own timeout).
pub(crate) async fn connect_server(
    options: &OpenOptions,
    backend: DbBackend,
    max: Option<u32>,
) -> Result<DatabaseConnection> {
    let dialect = Dialect::of(backend)?;
    let session = ServerSession::new(options, dialect)?;
    let mut opts = base_connect_options(options.url().to_owned());
    opts.connect_lazy(true);
    if let Some(max) = max {
        opts.max_connections(max).min_connections(0);
    }
    apply_pool(&mut opts, options.pool_options());
    if max == Some(1) {
        opts.idle_timeout(None).max_lifetime(None);
    }
    dialect::configure_server(dialect, &mut opts, &session);
    let fail = |source: DbErr| Error::Connect {
        url: redact_url(options.url()),
        source,
    };
    let limit = options.connect_timeout_duration();
    let deadline = tokio::time::Instant::now() + limit;
    let conn = sea_orm::Database::connect(opts).await.map_err(fail)?;
    // The first connection and, from halfway on, one direct attempt that names why none comes
    // (sqlx's pool retries a refused connection silently); both end at the one deadline, so a
    // server that accepts and never answers fails within the connect timeout, not twice it.
    let (result, cause) = {
        // Started halfway, so that an open that works costs no second connection.
        let probe = async {
            tokio::time::sleep(limit / 2).await;
            dialect::probe_server(dialect, options.url(), &session, limit / 2).await
        };
        tokio::pin!(probe);
        let ping = tokio::time::timeout_at(deadline, conn.ping());
        tokio::pin!(ping);
        let mut cause: Option<DbErr> = None;
        loop {
            tokio::select! {
                biased;
                result = &mut ping => break (result, cause),
                found = &mut probe, if cause.is_none() => cause = Some(found),
            }
        }
    };
    match result {
        Ok(Ok(())) => Ok(conn),
        Ok(Err(e)) => Err(fail(e)),
        Err(_elapsed) => {
            let _ = conn.close_by_ref().await;
            Err(fail(cause.unwrap_or_else(|| dialect::no_connection(limit))))
        }
    }
}

/// A pool on a SQLite file with the device defaults (WAL, `synchronous=NORMAL`, busy timeout),
/// or read-only without touching the file's journal mode.
///
/// A read-only open needs no write access: when SQLite cannot open a WAL database read-only
/// because its folder is not writable (it would create the `-shm` index there) and there is no
/// write-ahead log to read, the file is opened `immutable` instead. With a non-empty `-wal`
/// beside it that would read stale data, so the error stands.
#[cfg(feature = "sqlite")]
pub(crate) async fn connect_sqlite_file(
    options: &OpenOptions,
    path: &Path,
    max: u32,
    foreign_keys: bool,
    create: bool,
) -> Result<DatabaseConnection> {
    let read_only = options.is_read_only();
    let first = sqlite_pool(options, path, max, foreign_keys, create, false).await;
    let error = match first {
        Ok(conn) => return Ok(conn),
        Err(e) if read_only && !has_write_ahead_log(path) => e,
        Err(e) => {
            return Err(Error::Connect {
                url: redact_url(options.url()),
                source: e,
            });
        }
    };
    tracing::debug!(error = %error, "opening the SQLite file immutable: it cannot be opened read-only in place");
    sqlite_pool(options, path, max, foreign_keys, create, true)
        .await
        .map_err(|_| Error::Connect {
            url: redact_url(options.url()),
            source: error,
        })
}

/// Whether `<path>-wal` exists and holds frames.
#[cfg(feature = "sqlite")]
fn has_write_ahead_log(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(std::path::PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

#[cfg(feature = "sqlite")]
async fn sqlite_pool(
    options: &OpenOptions,
    path: &Path,
    max: u32,
    foreign_keys: bool,
    create: bool,
    immutable: bool,
) -> std::result::Result<DatabaseConnection, DbErr> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut opts = base_connect_options(format!("sqlite://{}", path.display()));
    let path = path.to_owned();
    let busy = options.busy_timeout_duration();
    let read_only = options.is_read_only();
    opts.max_connections(max).min_connections(0);
    apply_pool(&mut opts, options.pool_options());
    if max == 1 {
        opts.idle_timeout(None).max_lifetime(None);
    }
    opts.map_sqlx_sqlite_opts(move |o| {
        let o = o
            .filename(&path)
            .foreign_keys(foreign_keys)
            .busy_timeout(busy);
        if read_only {
            o.read_only(true)
                .create_if_missing(false)
                .immutable(immutable)
        } else {
            o.create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        }
    });
    sea_orm::Database::connect(opts).await
}

/// A private in-memory SQLite database on a single connection.
#[cfg(feature = "sqlite")]
pub(crate) async fn connect_sqlite_memory(options: &OpenOptions) -> Result<DatabaseConnection> {
    let mut opts = base_connect_options("sqlite::memory:".to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None);
    opts.map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
    sea_orm::Database::connect(opts)
        .await
        .map_err(|source| Error::Connect {
            url: redact_url(options.url()),
            source,
        })
}

#[cfg(not(feature = "sqlite"))]
pub(crate) async fn connect_sqlite_file(
    options: &OpenOptions,
    _path: &Path,
    _max: u32,
    _foreign_keys: bool,
    _create: bool,
) -> Result<DatabaseConnection> {
    Err(Error::UnsupportedUrl {
        url: redact_url(options.url()),
    })
}

#[cfg(not(feature = "sqlite"))]
pub(crate) async fn connect_sqlite_memory(options: &OpenOptions) -> Result<DatabaseConnection> {
    Err(Error::UnsupportedUrl {
        url: redact_url(options.url()),
    })
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "/var/run/postgresql",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["db.example.com", "10.0.0.5", "192.168.1.1", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}

//! MySQL's and MariaDB's rules.

pub(super) const TABLE_EXISTS_SQL: &str = "SELECT 1 FROM information_schema.tables \
     WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?";

/// MySQL and MariaDB allow 64 characters in database, table, column and index names.
const MAX_IDENT_CHARS: usize = 64;

pub(super) const SESSION_SCOPE_SQL: &str = "SELECT DATABASE() AS db, DATABASE() AS sch";

pub(super) const SCHEMA_EXISTS_SQL: &str =
    "SELECT 1 FROM information_schema.schemata WHERE schema_name = ?";

pub(super) fn check(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars > MAX_IDENT_CHARS {
        return Err(format!(
            "{chars} characters long, but MySQL allows at most {MAX_IDENT_CHARS}"
        ));
    }
    if name.ends_with(' ') {
        return Err("MySQL names may not end with a space".into());
    }
    if name.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(
            "MySQL names may only use characters of the Basic Multilingual Plane (no emoji)".into(),
        );
    }
    Ok(())
}

/// `` `name` `` with inner `` ` `` doubled.
pub(super) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(feature = "mysql")]
fn session_options(
    o: sea_orm::sqlx::mysql::MySqlConnectOptions,
    session: &crate::connect::ServerSession,
) -> sea_orm::sqlx::mysql::MySqlConnectOptions {
    use sea_orm::sqlx::mysql::MySqlSslMode;
    if !session.tls_mode_given
        && (o.get_socket().is_some() || crate::connect::is_loopback(o.get_host()))
    {
        return o.ssl_mode(MySqlSslMode::Disabled);
    }
    o
}

#[cfg(feature = "mysql")]
pub(super) fn configure(
    opts: &mut sea_orm::ConnectOptions,
    session: &crate::connect::ServerSession,
) {
    let session = session.clone();
    opts.map_sqlx_mysql_opts(move |o| session_options(o, &session));
}

#[cfg(feature = "mysql")]
pub(super) async fn probe(
    url: &str,
    session: &crate::connect::ServerSession,
    limit: std::time::Duration,
) -> Option<String> {
    match url.parse::<sea_orm::sqlx::mysql::MySqlConnectOptions>() {
        Ok(options) => super::connect_once(session_options(options, session), limit).await,
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(not(feature = "mysql"))]
pub(super) fn configure(_: &mut sea_orm::ConnectOptions, _: &crate::connect::ServerSession) {}

#[cfg(not(feature = "mysql"))]
pub(super) async fn probe(
    _: &str,
    _: &crate::connect::ServerSession,
    _: std::time::Duration,
) -> Option<String> {
    None
}

/// See [`Dialect::schema_snapshot_sql`](super::Dialect::schema_snapshot_sql).
pub(super) const SNAPSHOT_SQL: &[&str] = &[
    "SELECT CONCAT('column ', table_name, '.', column_name, ' ', column_type, ' ', is_nullable, ' ', \
     COALESCE(column_default, '')) AS line FROM information_schema.columns \
     WHERE table_schema = DATABASE() ORDER BY table_name, column_name",
    "SELECT CONCAT('index ', table_name, ' ', index_name, ' ', seq_in_index, ' ', column_name, ' ', non_unique) AS line \
     FROM information_schema.statistics WHERE table_schema = DATABASE() \
     ORDER BY table_name, index_name, seq_in_index",
];

/// See [`Dialect::table_graph`](super::Dialect::table_graph), for the session's database.
pub(super) const TABLE_GRAPH_SQL: &str = "SELECT t.table_name, k.referenced_table_name \
     FROM information_schema.tables t LEFT JOIN information_schema.key_column_usage k \
     ON k.table_schema = t.table_schema AND k.table_name = t.table_name \
     AND k.referenced_table_name IS NOT NULL \
     WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' ORDER BY 1";

//! PostgreSQL's rules.

pub(super) const TABLE_EXISTS_SQL: &str = "SELECT 1 FROM information_schema.tables \
     WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2";

/// PostgreSQL keeps `NAMEDATALEN - 1` = 63 bytes of an identifier and silently truncates the rest.
const MAX_IDENT_BYTES: usize = 63;

pub(super) const SESSION_SCOPE_SQL: &str =
    "SELECT current_database()::text AS db, current_schema()::text AS sch";

pub(super) const SCHEMA_EXISTS_SQL: &str =
    "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1";

pub(super) fn check(name: &str) -> Result<(), String> {
    if name.len() > MAX_IDENT_BYTES {
        return Err(format!(
            "{} bytes long, but PostgreSQL keeps at most {MAX_IDENT_BYTES} (a longer name would be truncated)",
            name.len()
        ));
    }
    if name.contains(',') {
        return Err("`,` is not allowed (it separates search_path entries)".into());
    }
    Ok(())
}

/// `"name"` with inner `"` doubled (also SQLite's quoting).
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(feature = "postgres")]
fn session_options(
    o: sea_orm::sqlx::postgres::PgConnectOptions,
    session: &crate::connect::ServerSession,
) -> sea_orm::sqlx::postgres::PgConnectOptions {
    use sea_orm::sqlx::postgres::PgSslMode;
    let mut o = o;
    if !session.tls_mode_given
        && (o.get_socket().is_some() || crate::connect::is_loopback(o.get_host()))
    {
        o = o.ssl_mode(PgSslMode::Disable);
    }
    if let Some(path) = &session.search_path {
        o = o.options([("search_path", path.as_str())]);
    }
    if session.read_only {
        o = o.options([("default_transaction_read_only", "on")]);
    }
    o
}

#[cfg(feature = "postgres")]
pub(super) fn configure(
    opts: &mut sea_orm::ConnectOptions,
    session: &crate::connect::ServerSession,
) {
    let session = session.clone();
    opts.map_sqlx_postgres_opts(move |o| session_options(o, &session));
}

#[cfg(feature = "postgres")]
pub(super) async fn probe(
    url: &str,
    session: &crate::connect::ServerSession,
    limit: std::time::Duration,
) -> Option<String> {
    match url.parse::<sea_orm::sqlx::postgres::PgConnectOptions>() {
        Ok(options) => super::connect_once(session_options(options, session), limit).await,
        Err(e) => Some(e.to_string()),
    }
}

#[cfg(not(feature = "postgres"))]
pub(super) fn configure(_: &mut sea_orm::ConnectOptions, _: &crate::connect::ServerSession) {}

#[cfg(not(feature = "postgres"))]
pub(super) async fn probe(
    _: &str,
    _: &crate::connect::ServerSession,
    _: std::time::Duration,
) -> Option<String> {
    None
}

/// See [`Dialect::schema_snapshot_sql`](super::Dialect::schema_snapshot_sql).
pub(super) const SNAPSHOT_SQL: &[&str] = &[
    "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
     || ' ' || COALESCE(column_default, '') AS line FROM information_schema.columns \
     WHERE table_schema = current_schema() ORDER BY table_name, column_name",
    "SELECT 'index ' || tablename || ' ' || indexdef AS line FROM pg_indexes \
     WHERE schemaname = current_schema() ORDER BY tablename, indexname",
    "SELECT 'constraint ' || table_name || ' ' || constraint_name || ' ' || constraint_type AS line \
     FROM information_schema.table_constraints WHERE table_schema = current_schema() \
     AND constraint_type <> 'CHECK' ORDER BY table_name, constraint_name",
];

/// See [`Dialect::table_graph`](super::Dialect::table_graph), for the session's schema.
pub(super) const TABLE_GRAPH_SQL: &str = "SELECT c.relname::text, r.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'f' \
     LEFT JOIN pg_class r ON r.oid = k.confrelid \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1";

//! SQLite's rules.

pub(super) const TABLE_EXISTS_SQL: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?";

use super::SessionScope;

/// SQLite takes any name; only the common rules (no NUL, controls or quotes) apply.
pub(super) fn check(_name: &str) -> Result<(), String> {
    Ok(())
}

/// A SQLite connection works in its `main` database; there are no schemas.
pub(super) fn session_scope() -> SessionScope {
    SessionScope {
        database: "main".into(),
        schema: "main".into(),
    }
}

/// See [`Dialect::schema_snapshot_sql`](super::Dialect::schema_snapshot_sql).
pub(super) const SNAPSHOT_SQL: &[&str] = &[
    "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line FROM sqlite_master \
     WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
];

/// See [`Dialect::table_graph`](super::Dialect::table_graph): every table with the table each
/// of its foreign keys references (`NULL` when it has none).
pub(super) const TABLE_GRAPH_SQL: &str = "SELECT m.name, f.\"table\" FROM sqlite_master m \
     LEFT JOIN pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name";

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
/// Structure, not `CREATE TABLE` text: a table rebuilt by a batch operation is spelt
/// differently but is the same table. CHECK constraints live only in that text and are not
/// compared.
pub(super) const SNAPSHOT_SQL: &[&str] = &[
    "SELECT 'table ' || name AS line FROM sqlite_master \
     WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
    "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || \
     CASE p.\"notnull\" WHEN 1 THEN ' NOT NULL' ELSE ' NULL' END || \
     ' default ' || COALESCE(p.dflt_value, '-') || ' pk ' || p.pk AS line \
     FROM sqlite_master m JOIN pragma_table_info(m.name) p \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
    "SELECT 'foreign key ' || m.name || ' (' || f.\"from\" || ') references ' || f.\"table\" || \
     ' (' || COALESCE(f.\"to\", '') || ') on delete ' || f.on_delete || ' on update ' || f.on_update AS line \
     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
    "SELECT 'index ' || m.name || ' ' || CASE WHEN i.origin = 'c' THEN i.name ELSE i.origin END || \
     CASE i.\"unique\" WHEN 1 THEN ' unique' ELSE '' END || ' (' || \
     (SELECT group_concat(COALESCE(x.name, '<expr>'), ', ') FROM pragma_index_xinfo(i.name) x WHERE x.key = 1) || \
     ')' || COALESCE(' where ' || substr(s.sql, instr(upper(s.sql), ' WHERE ') + 7), '') AS line \
     FROM sqlite_master m JOIN pragma_index_list(m.name) i \
     LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = i.name AND i.partial = 1 \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1",
    "SELECT type || ' ' || name || ' ' || sql AS line FROM sqlite_master \
     WHERE type IN ('view', 'trigger') ORDER BY 1",
];

/// See [`Dialect::table_graph`](super::Dialect::table_graph): every table with the table each
/// of its foreign keys references (`NULL` when it has none).
pub(super) const TABLE_GRAPH_SQL: &str = "SELECT m.name, f.\"table\" FROM sqlite_master m \
     LEFT JOIN pragma_foreign_key_list(m.name) f \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY m.name";

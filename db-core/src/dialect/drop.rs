//! Dropping a schema's objects for a development reset: what the session's database (schema on
//! PostgreSQL) holds, and the statements that drop it whatever its foreign keys.

use sea_orm::{ConnectionTrait, Statement};

use super::Dialect;

/// The objects of the session's database (the current schema on PostgreSQL), by kind, each
/// list sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaObjects {
    /// Base tables (SQLite's own `sqlite_*` tables excluded).
    pub tables: Vec<String>,
    /// Views.
    pub views: Vec<String>,
    /// PostgreSQL enum types (`CREATE TYPE … AS ENUM`, which sea-orm's enums create); empty on
    /// the other backends.
    pub enum_types: Vec<String>,
}

impl SchemaObjects {
    /// Whether there is nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.views.is_empty() && self.enum_types.is_empty()
    }

    /// Keeps only the objects for which `keep(name)` is true.
    #[must_use]
    pub fn retain(mut self, keep: impl Fn(&str) -> bool) -> Self {
        self.tables.retain(|t| keep(t));
        self.views.retain(|t| keep(t));
        self.enum_types.retain(|t| keep(t));
        self
    }
}

const SQLITE_OBJECTS_SQL: &str = "SELECT type, name FROM sqlite_master \
     WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
const POSTGRES_OBJECTS_SQL: &str = "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'view' \
     ELSE 'table' END, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') \
     AND NOT (c.relkind = 'r' AND c.relispartition) \
     UNION ALL SELECT 'enum', t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
     WHERE n.nspname = current_schema() AND t.typtype = 'e' ORDER BY 2";
const MYSQL_OBJECTS_SQL: &str = "SELECT CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END, \
     table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
     AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY 2";

impl Dialect {
    /// The tables, views and (PostgreSQL) enum types of the session's database or schema.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn schema_objects(
        self,
        conn: &impl ConnectionTrait,
    ) -> Result<SchemaObjects, sea_orm::DbErr> {
        let sql = match self {
            Self::Sqlite => SQLITE_OBJECTS_SQL,
            Self::Postgres => POSTGRES_OBJECTS_SQL,
            Self::MySql => MYSQL_OBJECTS_SQL,
        };
        let mut objects = SchemaObjects::default();
        for row in conn
            .query_all_raw(Statement::from_string(self.backend(), sql))
            .await?
        {
            let kind: String = row.try_get_by_index(0)?;
            let name: String = row.try_get_by_index(1)?;
            match kind.as_str() {
                "view" => objects.views.push(name),
                "enum" => objects.enum_types.push(name),
                _ => objects.tables.push(name),
            }
        }
        Ok(objects)
    }

    /// The statements dropping `objects` (trusted names from
    /// [`schema_objects`](Self::schema_objects), quoted here) whatever foreign keys join their
    /// tables, cycles included: views first, then tables (PostgreSQL: `CASCADE`; SQLite:
    /// foreign keys deferred to the end of the transaction, by when no row is left; MySQL:
    /// `FOREIGN_KEY_CHECKS` off for the session), then enum types. When `FOREIGN_KEY_CHECKS`
    /// is switched off, the last statement switches it back on and must run even if an
    /// earlier one failed. SQLite and PostgreSQL run them in one transaction; MySQL commits
    /// each DDL statement on its own.
    #[must_use]
    pub fn drop_objects_sql(self, objects: &SchemaObjects) -> Vec<String> {
        let q = |n: &str| self.quote_trusted(n);
        let mut sql = Vec::new();
        for v in &objects.views {
            sql.push(format!("DROP VIEW IF EXISTS {}", q(v)));
        }
        match self {
            Self::Postgres => {
                for t in &objects.tables {
                    sql.push(format!("DROP TABLE IF EXISTS {} CASCADE", q(t)));
                }
                for e in &objects.enum_types {
                    sql.push(format!("DROP TYPE IF EXISTS {} CASCADE", q(e)));
                }
            }
            Self::Sqlite => {
                if !objects.tables.is_empty() {
                    sql.push("PRAGMA defer_foreign_keys = ON".to_owned());
                }
                for t in &objects.tables {
                    sql.push(format!("DROP TABLE IF EXISTS {}", q(t)));
                }
            }
            Self::MySql => {
                if !objects.tables.is_empty() {
                    sql.push("SET FOREIGN_KEY_CHECKS = 0".to_owned());
                    for t in &objects.tables {
                        sql.push(format!("DROP TABLE IF EXISTS {}", q(t)));
                    }
                    sql.extend(self.drop_restore_sql().map(str::to_owned));
                }
            }
        }
        sql
    }

    /// The statement that ends [`drop_objects_sql`](Self::drop_objects_sql)'s statements by
    /// restoring the session (MySQL: `FOREIGN_KEY_CHECKS` back on); it must run even when an
    /// earlier statement failed. `None` where nothing is restored.
    #[must_use]
    pub fn drop_restore_sql(self) -> Option<&'static str> {
        match self {
            Self::MySql => Some("SET FOREIGN_KEY_CHECKS = 1"),
            Self::Postgres | Self::Sqlite => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Dialect, SchemaObjects};

    #[test]
    fn drops_views_then_tables_then_types() {
        let objects = SchemaObjects {
            tables: vec!["a".into(), "b\"x".into()],
            views: vec!["v".into()],
            enum_types: vec!["mood".into()],
        };
        assert_eq!(
            Dialect::Postgres.drop_objects_sql(&objects),
            [
                "DROP VIEW IF EXISTS \"v\"",
                "DROP TABLE IF EXISTS \"a\" CASCADE",
                "DROP TABLE IF EXISTS \"b\"\"x\" CASCADE",
                "DROP TYPE IF EXISTS \"mood\" CASCADE"
            ]
        );
        let mysql = Dialect::MySql.drop_objects_sql(&objects);
        assert_eq!(
            mysql.first().map(String::as_str),
            Some("DROP VIEW IF EXISTS `v`")
        );
        assert_eq!(
            mysql.last().map(String::as_str),
            Some("SET FOREIGN_KEY_CHECKS = 1")
        );
        assert!(
            Dialect::Sqlite
                .drop_objects_sql(&SchemaObjects::default())
                .is_empty()
        );
    }
}

//! Cloning a server database from a sealed template: PostgreSQL's `CREATE DATABASE … TEMPLATE`
//! and, for MySQL/MariaDB (which has no such thing), a replay of the template's DDL captured
//! once (`SHOW CREATE TABLE` / `VIEW` / `TRIGGER`) followed by `INSERT … SELECT` of its rows.
//! db-testkit's per-test databases come from here.

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use super::{Dialect, IdentKind};
use crate::error::{Error, Result};

/// The table MySQL templates carry to say they are complete (PostgreSQL uses
/// `pg_database.datistemplate`); it is not copied into clones.
const SEALED_MARKER: &str = "_template_sealed";

/// What turns an empty name into a copy of a template, captured once per template
/// ([`Dialect::clone_script`]) and replayed per clone ([`CloneScript::statements`]).
///
/// Run the statements in order on one connection of their own: on MySQL they switch its
/// default database (`USE`) and its foreign-key checks.
#[derive(Clone, Debug)]
pub struct CloneScript {
    dialect: Dialect,
    template: String,
    /// MySQL: the template's DDL (tables, then row copies, views, triggers).
    body: Vec<String>,
    /// MySQL: what a reset needs to know of the template.
    reset: Option<MySqlReset>,
}

/// The template's state a MySQL clone is reset to.
#[derive(Clone, Debug)]
struct MySqlReset {
    /// The template's schema as [`mysql_schema_lines`] lists it.
    schema: Vec<String>,
    /// Base tables.
    tables: Vec<String>,
    /// `INSERT … SELECT` of the template's rows, by table, with `{db}` for the clone.
    copies: Vec<(String, String)>,
    /// Each base table's `AUTO_INCREMENT` counter in the template.
    auto_increments: Vec<(String, Option<u64>)>,
}

impl CloneScript {
    /// Whether a used clone can be brought back to the template's state with
    /// [`CloneScript::reset`] — cheaper than dropping it and cloning again where a clone is a
    /// DDL replay (MySQL/MariaDB).
    #[must_use]
    pub fn resets(&self) -> bool {
        self.reset.is_some()
    }

    /// Brings clone `name`, which a test used, back to the template's state: when its schema
    /// (tables, columns, indexes, foreign keys, views, triggers) still matches the template's,
    /// every table is emptied and the template's rows copied back in one transaction with
    /// foreign-key checks off, and `AUTO_INCREMENT` counters that moved are set back. Returns
    /// `false` — and changes nothing — when the schema differs (the caller drops the clone) or
    /// the dialect has no resets.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for `name`, [`Error::Db`].
    pub async fn reset(&self, conn: &sea_orm::DatabaseConnection, name: &str) -> Result<bool> {
        let Some(reset) = &self.reset else {
            return Ok(false);
        };
        let quoted = self.dialect.quote(IdentKind::Database, name)?;
        let txn = conn.begin().await?;
        if mysql_schema_lines(&txn, name).await? != reset.schema {
            return Ok(false);
        }
        txn.execute_unprepared("SET FOREIGN_KEY_CHECKS = 0").await?;
        for table in &reset.tables {
            txn.execute_unprepared(&format!(
                "DELETE FROM {quoted}.{}",
                self.dialect.quote_trusted(table)
            ))
            .await?;
        }
        for (_, copy) in &reset.copies {
            txn.execute_unprepared(&copy.replace("{db}", &quoted))
                .await?;
        }
        txn.execute_unprepared("SET FOREIGN_KEY_CHECKS = 1").await?;
        let now = mysql_auto_increments(&txn, name).await?;
        txn.commit().await?;
        for (table, value) in &reset.auto_increments {
            let moved = now.iter().any(|(t, v)| t == table && v != value);
            if let (true, Some(v)) = (moved, value) {
                conn.execute_unprepared(&format!(
                    "ALTER TABLE {quoted}.{} AUTO_INCREMENT = {v}",
                    self.dialect.quote_trusted(table)
                ))
                .await?;
            }
        }
        Ok(true)
    }

    /// The statements that create database `name` as a copy of the template.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for `name`.
    pub fn statements(&self, name: &str) -> Result<Vec<String>> {
        let quoted = self.dialect.quote(IdentKind::Database, name)?;
        let template = self.dialect.quote_trusted(&self.template);
        Ok(match self.dialect {
            Dialect::Postgres => vec![format!("CREATE DATABASE {quoted} TEMPLATE {template}")],
            Dialect::MySql => {
                let mut out = Vec::with_capacity(self.body.len() + 4);
                out.extend(self.dialect.create_database_sql(name)?);
                out.push(format!("USE {quoted}"));
                out.push("SET FOREIGN_KEY_CHECKS = 0".into());
                // Views and triggers name the template's tables qualified; rows are copied
                // from it on purpose (`INSERT … SELECT … FROM template.t`), so only the
                // `CREATE VIEW` / `CREATE TRIGGER` statements are re-pointed.
                let from = format!("{template}.");
                let to = format!("{quoted}.");
                out.extend(self.body.iter().map(|s| {
                    if s.starts_with("INSERT") {
                        s.clone()
                    } else {
                        s.replace(&from, &to)
                    }
                }));
                out.push("SET FOREIGN_KEY_CHECKS = 1".into());
                out
            }
            Dialect::Sqlite => Vec::new(),
        })
    }
}

impl Dialect {
    /// How database `template` (sealed with [`Dialect::seal_template_sql`]) is cloned on this
    /// server; `None` on SQLite, where a copy of the file is the clone. Reads the template's
    /// catalog on MySQL (every table's `SHOW CREATE TABLE`, its non-generated columns for the
    /// row copy, views and triggers); nothing on PostgreSQL.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`] for `template`, [`Error::Db`] when the catalog cannot be
    /// read.
    pub async fn clone_script(
        self,
        conn: &impl ConnectionTrait,
        template: &str,
    ) -> Result<Option<CloneScript>> {
        let quoted = self.quote(IdentKind::Database, template)?;
        let (body, reset) = match self {
            Self::Sqlite => return Ok(None),
            Self::Postgres => (Vec::new(), None),
            Self::MySql => {
                let (body, reset) = mysql_body(self, conn, template, &quoted).await?;
                (body, Some(reset))
            }
        };
        Ok(Some(CloneScript {
            dialect: self,
            template: template.to_owned(),
            body,
            reset,
        }))
    }

    /// Marks database `name` as a complete template, the last step of building it:
    /// PostgreSQL `ALTER DATABASE … IS_TEMPLATE true ALLOW_CONNECTIONS false` (no session can
    /// then block a clone); MySQL creates the marker table `_template_sealed` in it. Empty on
    /// SQLite.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`].
    pub fn seal_template_sql(self, name: &str) -> Result<Vec<String>> {
        let quoted = self.quote(IdentKind::Database, name)?;
        Ok(match self {
            Self::Sqlite => Vec::new(),
            Self::Postgres => vec![format!(
                "ALTER DATABASE {quoted} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            )],
            Self::MySql => vec![format!(
                "CREATE TABLE {quoted}.{} (id INT PRIMARY KEY)",
                self.quote_trusted(SEALED_MARKER)
            )],
        })
    }

    /// The statements that drop template `name` (PostgreSQL refuses to drop a database still
    /// marked as a template, so it is unmarked first). Empty on SQLite.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`].
    pub fn drop_template_sql(self, name: &str) -> Result<Vec<String>> {
        let quoted = self.quote(IdentKind::Database, name)?;
        let mut out = Vec::new();
        if self == Self::Postgres {
            out.push(format!("ALTER DATABASE {quoted} WITH IS_TEMPLATE false"));
        }
        out.extend(self.drop_database_sql(name)?);
        Ok(out)
    }

    /// Whether database `name` exists and is sealed (see [`Dialect::seal_template_sql`]):
    /// `None` when it does not exist, `Some(false)` for a half-built template (a crashed
    /// build), `Some(true)` when complete. Always `None` on SQLite.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub async fn template_sealed(
        self,
        conn: &impl ConnectionTrait,
        name: &str,
    ) -> Result<Option<bool>> {
        let sql = match self {
            Self::Sqlite => return Ok(None),
            Self::Postgres => {
                "SELECT CAST(CASE WHEN datistemplate THEN 1 ELSE 0 END AS BIGINT) AS v FROM pg_database WHERE datname = $1"
            }
            Self::MySql => {
                "SELECT CAST(COUNT(t.table_name) AS SIGNED) AS v FROM information_schema.schemata s \
                 LEFT JOIN information_schema.tables t ON t.table_schema = s.schema_name \
                 AND t.table_name = '_template_sealed' WHERE s.schema_name = ? \
                 GROUP BY s.schema_name"
            }
        };
        let row = conn
            .query_one_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                sql,
                [name.into()],
            ))
            .await?;
        Ok(match row {
            None => None,
            Some(r) => Some(r.try_get::<i64>("", "v")? > 0),
        })
    }

    /// The names of the server's databases that start with `prefix` (taken literally), sorted.
    /// Empty on SQLite.
    ///
    /// # Errors
    /// [`Error::Db`].
    pub async fn databases_with_prefix(
        self,
        conn: &impl ConnectionTrait,
        prefix: &str,
    ) -> Result<Vec<String>> {
        let sql = match self {
            Self::Sqlite => return Ok(Vec::new()),
            Self::Postgres => "SELECT datname::text AS n FROM pg_database ORDER BY 1",
            Self::MySql => {
                "SELECT CAST(schema_name AS CHAR) AS n FROM information_schema.schemata ORDER BY 1"
            }
        };
        let rows = conn
            .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let n: String = r.try_get("", "n")?;
            if n.starts_with(prefix) {
                out.push(n);
            }
        }
        Ok(out)
    }
}

async fn mysql_body(
    dialect: Dialect,
    conn: &impl ConnectionTrait,
    template: &str,
    quoted: &str,
) -> Result<(Vec<String>, MySqlReset)> {
    let backend = conn.get_database_backend();
    let query = |sql: &str, values: Vec<sea_orm::Value>| {
        Statement::from_sql_and_values(backend, sql, values)
    };
    let tables = conn
        .query_all_raw(query(
            "SELECT CAST(table_name AS CHAR) AS n, CAST(table_type AS CHAR) AS k \
             FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
            vec![template.into()],
        ))
        .await?;
    let mut creates = Vec::new();
    let mut copies = Vec::new();
    let mut reset_copies = Vec::new();
    let mut base_tables = Vec::new();
    let mut views = Vec::new();
    for t in tables {
        let name: String = t.try_get("", "n")?;
        let kind: String = t.try_get("", "k")?;
        if name == SEALED_MARKER {
            continue;
        }
        let table = format!("{quoted}.{}", dialect.quote_trusted(&name));
        if kind == "VIEW" {
            let row = show(conn, &format!("SHOW CREATE VIEW {table}")).await?;
            views.push(row);
            continue;
        }
        creates.push(show(conn, &format!("SHOW CREATE TABLE {table}")).await?);
        base_tables.push(name.clone());
        let has_rows = conn
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT 1 AS x FROM {table} LIMIT 1"),
            ))
            .await?
            .is_some();
        if has_rows {
            let cols = conn
                .query_all_raw(query(
                    "SELECT CAST(column_name AS CHAR) AS c FROM information_schema.columns \
                     WHERE table_schema = ? AND table_name = ? AND extra NOT LIKE '%GENERATED%' \
                     ORDER BY ordinal_position",
                    vec![template.into(), name.clone().into()],
                ))
                .await?
                .iter()
                .map(|r| {
                    r.try_get::<String>("", "c")
                        .map(|c| dialect.quote_trusted(&c))
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(", ");
            copies.push(format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {table}",
                dialect.quote_trusted(&name)
            ));
            reset_copies.push((
                name.clone(),
                format!(
                    "INSERT INTO {{db}}.{} ({cols}) SELECT {cols} FROM {table}",
                    dialect.quote_trusted(&name)
                ),
            ));
        }
    }
    let triggers = conn
        .query_all_raw(query(
            "SELECT CAST(trigger_name AS CHAR) AS n FROM information_schema.triggers \
             WHERE trigger_schema = ? ORDER BY trigger_name",
            vec![template.into()],
        ))
        .await?;
    let mut trigger_sql = Vec::new();
    for t in triggers {
        let name: String = t.try_get("", "n")?;
        trigger_sql.push(
            show_column(
                conn,
                &format!(
                    "SHOW CREATE TRIGGER {quoted}.{}",
                    dialect.quote_trusted(&name)
                ),
                2,
            )
            .await?,
        );
    }
    let mut body = creates;
    body.extend(copies);
    body.extend(views);
    body.extend(trigger_sql);
    let reset = MySqlReset {
        schema: mysql_schema_lines(conn, template).await?,
        tables: base_tables,
        copies: reset_copies,
        auto_increments: mysql_auto_increments(conn, template).await?,
    };
    Ok((body, reset))
}

/// Database `db`'s schema, one sorted line per table, column, index column, foreign key, view
/// and trigger, with `db`'s own name taken out of view and trigger bodies (so a clone's lines
/// equal its template's).
async fn mysql_schema_lines(conn: &impl ConnectionTrait, db: &str) -> Result<Vec<String>> {
    const SQL: &str = "SELECT CAST(CONCAT_WS(' ', 'table', table_name, table_type) AS CHAR) AS l \
         FROM information_schema.tables WHERE table_schema = ? AND table_name <> '_template_sealed' \
         UNION ALL SELECT CAST(CONCAT_WS(' ', 'column', table_name, column_name, ordinal_position, column_type, \
         is_nullable, IFNULL(column_default, '~'), extra) AS CHAR) \
         FROM information_schema.columns WHERE table_schema = ? AND table_name <> '_template_sealed' \
         UNION ALL SELECT CAST(CONCAT_WS(' ', 'index', table_name, index_name, seq_in_index, column_name, non_unique) AS CHAR) \
         FROM information_schema.statistics WHERE table_schema = ? AND table_name <> '_template_sealed' \
         UNION ALL SELECT CAST(CONCAT_WS(' ', 'foreign key', table_name, constraint_name, referenced_table_name, \
         update_rule, delete_rule) AS CHAR) FROM information_schema.referential_constraints WHERE constraint_schema = ? \
         UNION ALL SELECT CAST(CONCAT_WS(' ', 'view', table_name, REPLACE(view_definition, CONCAT('`', ?, '`.'), '')) AS CHAR) \
         FROM information_schema.views WHERE table_schema = ? \
         UNION ALL SELECT CAST(CONCAT_WS(' ', 'trigger', trigger_name, event_object_table, action_timing, \
         event_manipulation, REPLACE(action_statement, CONCAT('`', ?, '`.'), '')) AS CHAR) \
         FROM information_schema.triggers WHERE trigger_schema = ?";
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            SQL,
            std::iter::repeat_n(sea_orm::Value::from(db), 8),
        ))
        .await?;
    let mut lines = rows
        .iter()
        .map(|r| r.try_get::<String>("", "l"))
        .collect::<Result<Vec<_>, _>>()?;
    lines.sort();
    Ok(lines)
}

/// Each base table of `db` with its `AUTO_INCREMENT` counter (`None` without one).
async fn mysql_auto_increments(
    conn: &impl ConnectionTrait,
    db: &str,
) -> Result<Vec<(String, Option<u64>)>> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "SELECT CAST(table_name AS CHAR) AS t, CAST(auto_increment AS UNSIGNED) AS v \
             FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' \
             AND table_name <> '_template_sealed' ORDER BY table_name",
            [db.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "t")?,
                r.try_get::<Option<u64>>("", "v")?,
            ))
        })
        .collect()
}

/// The second column of a `SHOW CREATE …` row: the statement.
async fn show(conn: &impl ConnectionTrait, sql: &str) -> Result<String> {
    show_column(conn, sql, 1).await
}

async fn show_column(conn: &impl ConnectionTrait, sql: &str, column: usize) -> Result<String> {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?
        .ok_or_else(|| Error::Db(sea_orm::DbErr::RecordNotFound(sql.to_owned())))?;
    Ok(row.try_get_by_index::<String>(column)?)
}

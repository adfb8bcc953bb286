//! MySQL / MariaDB's part of the migration dialect: catalog discovery (`information_schema`).

use std::collections::BTreeMap;

use sea_orm::sea_query::{ColumnType, StringLen};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use db_core::Dialect;
use sea_orm::Statement;

use super::NativeAlter;
use crate::autogenerate::discover::{b, os, rows, s};
use crate::autogenerate::model::{
    ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, canonical_default,
    canonical_type, column_type_of, parse_action, with_args,
};
use crate::batch::{AlterColumn, err, exec, quote, type_sql};
use crate::error::{DbContext, Error, Result};
use crate::version_table::LockKey;
use sea_orm::DatabaseConnection;
use std::time::Duration;

const BACKEND: DbBackend = DbBackend::MySql;

pub(super) async fn discover(db: &impl ConnectionTrait, only: Value) -> Result<SchemaModel, DbErr> {
    let backend = BACKEND;
    let mut model = SchemaModel::default();
    // MariaDB stores JSON as LONGTEXT with a json_valid() check named after the column.
    let json_checks: Vec<(String, String)> = rows(
        db,
        "SELECT table_name, constraint_name FROM information_schema.check_constraints \
         WHERE constraint_schema = DATABASE() AND check_clause LIKE 'json\\_valid(%' AND (? IS NULL OR table_name = ?)",
        vec![only.clone(), only.clone()],
    )
    .await
    .unwrap_or_default()
    .iter()
    .map(|r| Ok((s(r, 0)?, s(r, 1)?)))
    .collect::<Result<_, DbErr>>()?;
    for c in rows(
        db,
        "SELECT c.table_name, c.column_name, c.column_type, c.is_nullable, c.column_default, c.extra \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = DATABASE() AND t.table_type = 'BASE TABLE' AND (? IS NULL OR c.table_name = ?) \
         ORDER BY c.table_name, c.ordinal_position",
        vec![only.clone(), only.clone()],
    )
    .await?
    {
        let table = s(&c, 0)?;
        let name = s(&c, 1)?;
        let mut sql_type = canonical_type(backend, &s(&c, 2)?);
        if sql_type == "longtext" && json_checks.iter().any(|(t, n)| *t == table && *n == name) {
            sql_type = "json".into();
        }
        let extra = s(&c, 5)?.to_ascii_lowercase();
        let t = model.tables.entry(table.clone()).or_insert_with(|| TableModel {
            name: table,
            ..TableModel::default()
        });
        t.columns.push(ColumnModel {
            column_type: column_type_of(backend, &sql_type),
            nullable: s(&c, 3)? == "YES",
            default: os(&c, 4)?.and_then(|d| canonical_default(&d, &sql_type)),
            auto_increment: extra.contains("auto_increment"),
            renamed_from: None,
            name,
            sql_type,
        });
    }
    let mut indexes: BTreeMap<(String, String), IndexModel> = BTreeMap::new();
    for ix in rows(
        db,
        "SELECT table_name, index_name, non_unique, column_name FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND (? IS NULL OR table_name = ?) ORDER BY table_name, index_name, seq_in_index",
        vec![only.clone(), only.clone()],
    )
    .await?
    {
        let key = (s(&ix, 0)?, s(&ix, 1)?);
        let unique = !b(&ix, 2)?;
        let column = s(&ix, 3)?;
        indexes
            .entry(key.clone())
            .or_insert_with(|| IndexModel {
                name: Some(key.1.clone()),
                columns: Vec::new(),
                unique,
            })
            .columns
            .push(column);
    }
    let mut fks: BTreeMap<(String, String), ForeignKeyModel> = BTreeMap::new();
    for fk in rows(
        db,
        "SELECT k.table_name, k.constraint_name, k.referenced_table_name, k.column_name, k.referenced_column_name, \
         r.delete_rule, r.update_rule FROM information_schema.key_column_usage k \
         JOIN information_schema.referential_constraints r \
           ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name \
         WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL AND (? IS NULL OR k.table_name = ?) \
         ORDER BY k.table_name, k.constraint_name, k.ordinal_position",
        vec![only.clone(), only],
    )
    .await?
    {
        let key = (s(&fk, 0)?, s(&fk, 1)?);
        let e = fks.entry(key.clone()).or_insert_with(|| ForeignKeyModel {
            name: Some(key.1.clone()),
            columns: Vec::new(),
            ref_table: String::new(),
            ref_columns: Vec::new(),
            on_delete: None,
            on_update: None,
        });
        e.ref_table = s(&fk, 2)?;
        e.columns.push(s(&fk, 3)?);
        e.ref_columns.push(s(&fk, 4)?);
        e.on_delete = parse_action(&s(&fk, 5)?);
        e.on_update = parse_action(&s(&fk, 6)?);
    }
    for ((table, name), ix) in indexes {
        let Some(t) = model.tables.get_mut(&table) else {
            continue;
        };
        if name == "PRIMARY" {
            t.primary_key = ix.columns;
            continue;
        }
        // MySQL creates an index for each foreign key that has none, named after it.
        if !ix.unique
            && fks
                .get(&(table.clone(), name.clone()))
                .is_some_and(|fk| fk.columns == ix.columns)
        {
            continue;
        }
        t.indexes.push(ix);
    }
    for ((table, _), fk) in fks {
        if let Some(t) = model.tables.get_mut(&table) {
            t.foreign_keys.push(fk);
        }
    }
    Ok(model)
}

/// MySQL's names for a type (`int(11)` → `int`, `tinyint(1)` and `boolean` → `bool`,
/// `integer unsigned` → `int unsigned`, …), for [`canonical_type`].
pub(super) fn canonical_type_name(base: String, args: Option<String>) -> String {
    let ints = [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "integer",
        "bigint",
    ];
    if base == "tinyint" && args.as_deref() == Some("1") || base == "bool" || base == "boolean" {
        return "bool".into();
    }
    if let Some(unsigned) = base.strip_suffix(" unsigned")
        && ints.contains(&unsigned)
    {
        let n = if unsigned == "integer" {
            "int"
        } else {
            unsigned
        };
        return format!("{n} unsigned");
    }
    if ints.contains(&base.as_str()) {
        return if base == "integer" {
            "int".into()
        } else {
            base
        };
    }
    let name = match base.as_str() {
        "double precision" | "double" => "double",
        "numeric" | "decimal" => "decimal",
        other => return with_args(other, args),
    };
    with_args(name, args)
}

/// The sea-query types only MySQL spells this way (`varchar(255)` is sea-query's default
/// string length here).
pub(super) fn column_type(base: &str, n: &dyn Fn(usize) -> Option<u32>) -> Option<ColumnType> {
    Some(match base {
        "varchar" if n(0) == Some(255) => ColumnType::String(StringLen::None),
        "tinyint" => ColumnType::TinyInteger,
        // db-core's UTC timestamp column (`Dialect::utc_timestamp_type`).
        "datetime" if n(0) == Some(6) => ColumnType::Timestamp,
        "datetime" => ColumnType::DateTime,
        "timestamp" => ColumnType::TimestampWithTimeZone,
        _ => return None,
    })
}

/// The row of an `information_schema` query filtered by `table_name = ?` and a second name.
async fn catalog_row(
    db: &impl ConnectionTrait,
    sql: &str,
    table: &str,
    name: &str,
) -> Result<Option<sea_orm::QueryResult>, DbErr> {
    db.query_one_raw(Statement::from_sql_and_values(
        BACKEND,
        sql,
        [table.into(), name.into()],
    ))
    .await
}

/// MySQL's `ALTER TABLE`: constraints are dropped by kind, `MODIFY COLUMN` restates the whole
/// definition, `RENAME TABLE`.
pub(super) struct MySql;

impl NativeAlter for MySql {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn drop_constraint(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let row = catalog_row(db, "SELECT constraint_type FROM information_schema.table_constraints WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = ?", table, name)
            .await?
            .ok_or_else(|| err(table, format!("no constraint named `{name}`")))?;
        let kind: String = row.try_get_by_index(0)?;
        let (t, n) = (quote(BACKEND, table), quote(BACKEND, name));
        let sql = match kind.as_str() {
            "FOREIGN KEY" => format!("ALTER TABLE {t} DROP FOREIGN KEY {n}"),
            "UNIQUE" => format!("ALTER TABLE {t} DROP INDEX {n}"),
            _ => format!("ALTER TABLE {t} DROP CONSTRAINT {n}"),
        };
        exec(db, &sql).await
    }

    async fn drop_foreign_key(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let (t, n) = (quote(BACKEND, table), quote(BACKEND, name));
        exec(db, &format!("ALTER TABLE {t} DROP FOREIGN KEY {n}")).await?;
        // MySQL made an index named after the key when none covered its columns; it
        // outlives the key, so drop it too (what PostgreSQL and SQLite leave).
        let auto_index = catalog_row(db, "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = ?", table, name)
            .await?;
        if auto_index.is_some() {
            exec(db, &format!("ALTER TABLE {t} DROP INDEX {n}")).await?;
        }
        Ok(())
    }

    async fn drop_unique(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let (t, n) = (quote(BACKEND, table), quote(BACKEND, name));
        exec(db, &format!("ALTER TABLE {t} DROP INDEX {n}")).await
    }

    fn rename_table(&self, table: &str, to: &str) -> String {
        format!(
            "RENAME TABLE {} TO {}",
            quote(BACKEND, table),
            quote(BACKEND, to)
        )
    }

    async fn alter_column(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        column: &str,
        change: &AlterColumn,
    ) -> Result<(), DbErr> {
        let (t, c) = (quote(BACKEND, table), quote(BACKEND, column));
        // MODIFY needs the whole definition, so read what is not changing.
        let row = catalog_row(db, "SELECT column_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?", table, column)
            .await?
            .ok_or_else(|| err(table, format!("no column `{column}`")))?;
        let current_type: String = row.try_get_by_index(0)?;
        let nullable: String = row.try_get_by_index(1)?;
        let current_default: Option<String> = row.try_get_by_index(2)?;
        let ty = change
            .type_
            .as_ref()
            .map_or(current_type, |t| type_sql(BACKEND, t));
        let nullable = change.nullable.unwrap_or(nullable == "YES");
        let default = match &change.default {
            Some(d) => d.clone(),
            None => current_default.filter(|d| d != "NULL"),
        };
        let mut sql = format!(
            "ALTER TABLE {t} MODIFY COLUMN {c} {ty} {}",
            if nullable { "NULL" } else { "NOT NULL" }
        );
        if let Some(d) = default {
            sql.push_str(&format!(" DEFAULT {d}"));
        }
        exec(db, &sql).await
    }
}

/// `GET_LOCK`, waiting up to `timeout` (whole seconds).
pub(super) async fn lock(
    conn: &DatabaseConnection,
    key: LockKey,
    timeout: Duration,
) -> Result<LockKey> {
    let secs = timeout.as_secs();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            BACKEND,
            "SELECT GET_LOCK(?, ?) AS locked",
            [
                key.name.as_str().into(),
                i64::try_from(secs).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await
        .context(|| format!("taking the migration lock of {}", key.described))?;
    let locked: Option<i64> = match row {
        Some(r) => r
            .try_get("", "locked")
            .context(|| format!("taking the migration lock of {}", key.described))?,
        None => None,
    };
    if locked == Some(1) {
        Ok(key)
    } else {
        Err(Error::LockTimeout {
            lock: format!("{} ({})", key.name, key.described),
            seconds: secs,
        })
    }
}

/// The statement releasing [`lock`]'s lock.
pub(super) fn unlock(key: LockKey) -> Statement {
    Statement::from_sql_and_values(BACKEND, "SELECT RELEASE_LOCK(?)", [key.name.into()])
}

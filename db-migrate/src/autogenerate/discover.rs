//! Reads the live schema of a database into a [`SchemaModel`].
//!
//! The catalogs are read directly (SQLite's `pragma_*` table functions, PostgreSQL's
//! `pg_catalog`, MySQL's `information_schema`) rather than through sea-schema, because the
//! comparison needs what sea-schema's typed model drops or lacks: the declared type spelling
//! with its length, non-unique indexes on PostgreSQL, and SQLite's constraint names. Each
//! backend's queries live in its migration dialect module (`crate::dialect`).

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};

use super::model::{SchemaModel, TableModel};

/// Discovers every base table of the connection's database (SQLite, MySQL) or of `schema`
/// (PostgreSQL; `None` = `current_schema()`).
///
/// # Errors
/// The database's error when a catalog query fails.
pub async fn discover(
    db: &impl ConnectionTrait,
    schema: Option<&str>,
) -> Result<SchemaModel, DbErr> {
    discover_in(db, schema, None).await
}

/// One table of the connection's default schema, as [`discover`] reads it (`None` when there
/// is no such table); the catalog queries are restricted to that table.
///
/// # Errors
/// The database's error when a catalog query fails.
pub(crate) async fn discover_table(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Option<TableModel>, DbErr> {
    Ok(discover_in(db, None, Some(table))
        .await?
        .tables
        .remove(table))
}

/// Every table, or only `table` when given (the queries take it as a nullable parameter).
async fn discover_in(
    db: &impl ConnectionTrait,
    schema: Option<&str>,
    table: Option<&str>,
) -> Result<SchemaModel, DbErr> {
    let only = Value::String(table.map(str::to_owned));
    let dialect = db_core::Dialect::of(db.get_database_backend())
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    crate::dialect::discover(dialect, db, schema, only).await
}

pub(crate) async fn rows(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
}

pub(crate) fn s(r: &QueryResult, i: usize) -> Result<String, DbErr> {
    r.try_get_by_index::<Option<String>>(i)
        .map(Option::unwrap_or_default)
}

pub(crate) fn os(r: &QueryResult, i: usize) -> Result<Option<String>, DbErr> {
    r.try_get_by_index::<Option<String>>(i)
}

pub(crate) fn i(r: &QueryResult, idx: usize) -> Result<i64, DbErr> {
    r.try_get_by_index::<i64>(idx)
        .or_else(|_| r.try_get_by_index::<i32>(idx).map(i64::from))
}

pub(crate) fn b(r: &QueryResult, idx: usize) -> Result<bool, DbErr> {
    r.try_get_by_index::<bool>(idx)
        .or_else(|_| i(r, idx).map(|v| v != 0))
}

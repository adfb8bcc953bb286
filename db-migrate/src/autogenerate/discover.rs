//! Reads the live schema of a database into a [`SchemaModel`].
//!
//! The catalogs are read directly (SQLite's `pragma_*` table functions, PostgreSQL's
//! `pg_catalog`, MySQL's `information_schema`) rather than through sea-schema, because the
//! comparison needs what sea-schema's typed model drops or lacks: the declared type spelling
//! with its length, non-unique indexes on PostgreSQL, and SQLite's constraint names.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use super::model::{
    ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, canonical_default,
    canonical_type, column_type_of, parse_action,
};
use crate::batch::sqlite_sql::{ConstraintKind, Element, parse_create_table};

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
    match db_core::Dialect::of(db.get_database_backend())
        .map_err(|e| DbErr::Custom(e.to_string()))?
    {
        db_core::Dialect::Postgres => postgres(db, schema, only).await,
        db_core::Dialect::MySql => mysql(db, only).await,
        db_core::Dialect::Sqlite => sqlite(db, only).await,
    }
}

async fn rows(
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

fn s(r: &QueryResult, i: usize) -> Result<String, DbErr> {
    r.try_get_by_index::<Option<String>>(i)
        .map(Option::unwrap_or_default)
}

fn os(r: &QueryResult, i: usize) -> Result<Option<String>, DbErr> {
    r.try_get_by_index::<Option<String>>(i)
}

fn i(r: &QueryResult, idx: usize) -> Result<i64, DbErr> {
    r.try_get_by_index::<i64>(idx)
        .or_else(|_| r.try_get_by_index::<i32>(idx).map(i64::from))
}

fn b(r: &QueryResult, idx: usize) -> Result<bool, DbErr> {
    r.try_get_by_index::<bool>(idx)
        .or_else(|_| i(r, idx).map(|v| v != 0))
}

async fn sqlite(db: &impl ConnectionTrait, only: Value) -> Result<SchemaModel, DbErr> {
    let backend = DbBackend::Sqlite;
    let mut model = SchemaModel::default();
    let tables = rows(
        db,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND (? IS NULL OR name = ?) ORDER BY name",
        vec![only.clone(), only],
    )
    .await?;
    for row in tables {
        let name = s(&row, 0)?;
        let create_sql = s(&row, 1)?;
        let parsed = parse_create_table(&create_sql);
        let autoincrement = create_sql.to_ascii_uppercase().contains("AUTOINCREMENT");
        let mut t = TableModel {
            name: name.clone(),
            ..TableModel::default()
        };
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in rows(
            db,
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)",
            vec![name.clone().into()],
        )
        .await?
        {
            let col = s(&c, 0)?;
            let sql_type = canonical_type(backend, &s(&c, 1)?);
            let pk_pos = i(&c, 4)?;
            if pk_pos > 0 {
                pk.push((pk_pos, col.clone()));
            }
            t.columns.push(ColumnModel {
                default: os(&c, 3)?.and_then(|d| canonical_default(&d, &sql_type)),
                column_type: column_type_of(backend, &sql_type),
                auto_increment: pk_pos > 0 && autoincrement,
                nullable: !b(&c, 2)? && pk_pos == 0,
                renamed_from: None,
                name: col,
                sql_type,
            });
        }
        pk.sort();
        t.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        for ix in rows(
            db,
            "SELECT name, \"unique\", origin FROM pragma_index_list(?) ORDER BY seq",
            vec![name.clone().into()],
        )
        .await?
        {
            let ix_name = s(&ix, 0)?;
            let origin = s(&ix, 2)?;
            if origin == "pk" {
                continue;
            }
            let columns = rows(
                db,
                "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
                vec![ix_name.clone().into()],
            )
            .await?
            .iter()
            .map(|r| s(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
            t.indexes.push(IndexModel {
                // Autoindexes of UNIQUE constraints have no name of their own.
                name: (origin == "c").then_some(ix_name),
                columns,
                unique: b(&ix, 1)?,
            });
        }
        let mut fks: BTreeMap<i64, ForeignKeyModel> = BTreeMap::new();
        for fk in rows(
            db,
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq",
            vec![name.clone().into()],
        )
        .await?
        {
            let e = fks.entry(i(&fk, 0)?).or_insert_with(|| ForeignKeyModel {
                name: None,
                columns: Vec::new(),
                ref_table: String::new(),
                ref_columns: Vec::new(),
                on_delete: None,
                on_update: None,
            });
            e.ref_table = s(&fk, 1)?;
            e.columns.push(s(&fk, 2)?);
            e.ref_columns.push(s(&fk, 3)?);
            e.on_update = parse_action(&s(&fk, 4)?);
            e.on_delete = parse_action(&s(&fk, 5)?);
        }
        let named: Vec<(String, Vec<String>)> = parsed
            .map(|p| {
                p.elements
                    .into_iter()
                    .filter_map(|e| match e {
                        Element::Constraint {
                            name: Some(n),
                            kind: ConstraintKind::ForeignKey,
                            columns,
                            ..
                        } => Some((n, columns)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for mut fk in fks.into_values() {
            fk.name = named
                .iter()
                .find(|(_, cols)| *cols == fk.columns)
                .map(|(n, _)| n.clone());
            t.foreign_keys.push(fk);
        }
        model.tables.insert(name, t);
    }
    Ok(model)
}

async fn postgres(
    db: &impl ConnectionTrait,
    schema: Option<&str>,
    only: Value,
) -> Result<SchemaModel, DbErr> {
    let backend = DbBackend::Postgres;
    let schema = match schema {
        Some(s) => s.to_owned(),
        None => {
            let r = rows(db, "SELECT current_schema()::text", vec![]).await?;
            r.first()
                .map(|r| s(r, 0))
                .transpose()?
                .unwrap_or_else(|| "public".into())
        }
    };
    let mut model = SchemaModel::default();
    if matches!(only, Value::String(None)) {
        for e in rows(
            db,
            "SELECT t.typname::text, e.enumlabel::text FROM pg_type t \
             JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 ORDER BY t.typname, e.enumsortorder",
            vec![schema.clone().into()],
        )
        .await?
        {
            model.enums.entry(s(&e, 0)?).or_default().push(s(&e, 1)?);
        }
    }
    for c in rows(
        db,
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
         pg_get_expr(d.adbin, d.adrelid), a.attidentity::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND ($2::text IS NULL OR c.relname = $2) \
         ORDER BY c.relname, a.attnum",
        vec![schema.clone().into(), only.clone()],
    )
    .await?
    {
        let table = s(&c, 0)?;
        let sql_type = canonical_type(backend, &s(&c, 2)?);
        let raw_default = os(&c, 4)?;
        let serial = raw_default.as_deref().is_some_and(|d| d.starts_with("nextval("));
        let identity = !s(&c, 5)?.is_empty();
        let t = model.tables.entry(table.clone()).or_insert_with(|| TableModel {
            name: table,
            ..TableModel::default()
        });
        t.columns.push(ColumnModel {
            name: s(&c, 1)?,
            column_type: column_type_of(backend, &sql_type),
            nullable: !b(&c, 3)?,
            default: if serial {
                None
            } else {
                raw_default.and_then(|d| canonical_default(&d, &sql_type))
            },
            auto_increment: serial || identity,
            renamed_from: None,
            sql_type,
        });
    }
    // Primary keys, unique constraints and every other index.
    for ix in rows(
        db,
        "SELECT t.relname::text, i.relname::text, x.indisprimary, x.indisunique, \
         (SELECT array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',') \
            FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord) \
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum), \
         x.indexprs IS NOT NULL OR x.indpred IS NOT NULL \
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 AND ($2::text IS NULL OR t.relname = $2) \
         ORDER BY t.relname, i.relname",
        vec![schema.clone().into(), only.clone()],
    )
    .await?
    {
        let Some(t) = model.tables.get_mut(&s(&ix, 0)?) else {
            continue;
        };
        let columns: Vec<String> = s(&ix, 4)?.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect();
        if b(&ix, 5)? {
            // Expression and partial indexes are not compared (Alembic skips them too).
            continue;
        }
        if b(&ix, 2)? {
            t.primary_key = columns;
            continue;
        }
        t.indexes.push(IndexModel {
            name: Some(s(&ix, 1)?),
            columns,
            unique: b(&ix, 3)?,
        });
    }
    for fk in rows(
        db,
        "SELECT t.relname::text, c.conname::text, r.relname::text, \
         (SELECT array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',') FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) \
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), \
         (SELECT array_to_string(array_agg(a.attname::text ORDER BY k.ord), ',') FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord) \
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), \
         c.confdeltype::text, c.confupdtype::text \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE c.contype = 'f' AND n.nspname = $1 \
         AND ($2::text IS NULL OR t.relname = $2) ORDER BY t.relname, c.conname",
        vec![schema.into(), only],
    )
    .await?
    {
        let Some(t) = model.tables.get_mut(&s(&fk, 0)?) else {
            continue;
        };
        let code = |c: String| match c.as_str() {
            "c" => parse_action("CASCADE"),
            "n" => parse_action("SET NULL"),
            "d" => parse_action("SET DEFAULT"),
            "r" => parse_action("RESTRICT"),
            _ => None,
        };
        t.foreign_keys.push(ForeignKeyModel {
            name: Some(s(&fk, 1)?),
            ref_table: s(&fk, 2)?,
            columns: s(&fk, 3)?.split(',').map(str::to_owned).collect(),
            ref_columns: s(&fk, 4)?.split(',').map(str::to_owned).collect(),
            on_delete: code(s(&fk, 5)?),
            on_update: code(s(&fk, 6)?),
        });
    }
    Ok(model)
}

async fn mysql(db: &impl ConnectionTrait, only: Value) -> Result<SchemaModel, DbErr> {
    let backend = DbBackend::MySql;
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

//! PostgreSQL's part of the migration dialect: catalog discovery (`pg_catalog`).

use sea_orm::sea_query::ColumnType;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use db_core::Dialect;

use super::NativeAlter;
use crate::autogenerate::discover::{b, os, rows, s};
use crate::autogenerate::model::{
    ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, canonical_default,
    canonical_type, column_type_of, parse_action, with_args,
};
use crate::batch::{AlterColumn, exec, quote, type_sql};
use crate::error::{DbContext, Result};
use crate::version_table::LockKey;
use sea_orm::{DatabaseConnection, Statement};

const BACKEND: DbBackend = DbBackend::Postgres;

pub(super) async fn discover(
    db: &impl ConnectionTrait,
    schema: Option<&str>,
    only: Value,
) -> Result<SchemaModel, DbErr> {
    let backend = BACKEND;
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

/// PostgreSQL's names for a type (`int4`, `serial` → `integer`, `character varying` →
/// `varchar`, `timestamp with time zone` → `timestamptz`, …), for [`canonical_type`].
pub(super) fn canonical_type_name(base: String, args: Option<String>) -> String {
    let name = match base.as_str() {
        "int" | "int4" | "integer" | "serial" | "serial4" => "integer",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "int2" | "smallint" | "smallserial" | "serial2" => "smallint",
        "bool" | "boolean" => "boolean",
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "char",
        "decimal" | "numeric" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        "float8" | "double precision" | "double" => "double precision",
        "float4" | "real" => "real",
        other => return with_args(other, args),
    };
    with_args(name, args)
}

/// The sea-query types only PostgreSQL spells this way.
pub(super) fn column_type(base: &str) -> Option<ColumnType> {
    Some(match base {
        "timestamp" => ColumnType::DateTime,
        "timestamptz" => ColumnType::TimestampWithTimeZone,
        "jsonb" => ColumnType::JsonBinary,
        "uuid" => ColumnType::Uuid,
        "bytea" => ColumnType::Binary(16),
        _ => return None,
    })
}

/// PostgreSQL's `ALTER TABLE`.
pub(super) struct Postgres;

impl NativeAlter for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn drop_constraint(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let q = |n: &str| quote(BACKEND, n);
        exec(
            db,
            &format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(name)),
        )
        .await
    }

    async fn drop_foreign_key(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        self.drop_constraint(db, table, name).await
    }

    async fn drop_unique(
        &self,
        db: &impl ConnectionTrait,
        table: &str,
        name: &str,
    ) -> Result<(), DbErr> {
        let (t, n) = (quote(BACKEND, table), quote(BACKEND, name));
        // A constraint takes its index with it; a bare unique index is dropped alone.
        exec(
            db,
            &format!("ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {n}"),
        )
        .await?;
        exec(db, &format!("DROP INDEX IF EXISTS {n}")).await
    }

    fn rename_table(&self, table: &str, to: &str) -> String {
        format!(
            "ALTER TABLE {} RENAME TO {}",
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
        let t = quote(BACKEND, table);
        let c = quote(BACKEND, column);
        if let Some(ty) = &change.type_ {
            let ty = type_sql(BACKEND, ty);
            exec(
                db,
                &format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}"),
            )
            .await?;
        }
        match change.nullable {
            Some(true) => {
                exec(
                    db,
                    &format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"),
                )
                .await?
            }
            Some(false) => {
                exec(
                    db,
                    &format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
                )
                .await?
            }
            None => {}
        }
        match &change.default {
            Some(Some(d)) => {
                exec(
                    db,
                    &format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {d}"),
                )
                .await
            }
            Some(None) => {
                exec(
                    db,
                    &format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT"),
                )
                .await
            }
            None => Ok(()),
        }
    }
}

/// `pg_advisory_lock`: waits until the lock is free.
pub(super) async fn lock(conn: &DatabaseConnection, key: LockKey) -> Result<LockKey> {
    conn.execute_raw(Statement::from_sql_and_values(
        BACKEND,
        "SELECT pg_advisory_lock($1)",
        [key.id.into()],
    ))
    .await
    .context(|| format!("taking the migration lock of {}", key.described))?;
    Ok(key)
}

/// The statement releasing [`lock`]'s lock.
pub(super) fn unlock(key: LockKey) -> Statement {
    Statement::from_sql_and_values(BACKEND, "SELECT pg_advisory_unlock($1)", [key.id.into()])
}

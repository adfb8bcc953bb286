//! SQLite's part of the migration dialect: catalog discovery (`sqlite_master`, `pragma_*`
//! table functions and the `CREATE TABLE` text for constraint names).

use std::collections::BTreeMap;

use sea_orm::sea_query::ColumnType;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};

use crate::autogenerate::discover::{b, i, os, rows, s};
use crate::autogenerate::model::{
    ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, canonical_default,
    canonical_type, column_type_of, parse_action, portable_types, render_type, with_args,
};
use crate::batch::sqlite_sql::{ConstraintKind, Element, parse_create_table};
use crate::cleanup::drop_alembic_tmp_tables;
use crate::error::{DbContext, Result};
use crate::version_table::VersionTable;
use sea_orm::DatabaseConnection;
use std::time::Instant;

pub(super) async fn discover(db: &impl ConnectionTrait, only: Value) -> Result<SchemaModel, DbErr> {
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

/// SQLite keeps the declared spelling; only `int` becomes `integer`, for [`canonical_type`].
pub(super) fn canonical_type_name(base: String, args: Option<String>) -> String {
    let name = match base.as_str() {
        "int" | "integer" => "integer",
        other => return with_args(other, args),
    };
    with_args(name, args)
}

/// The sea-query types only SQLite spells this way.
pub(super) fn column_type(base: &str) -> Option<ColumnType> {
    (base == "blob").then_some(ColumnType::Binary(16))
}

/// SQLite keeps the declared spelling: the portable type whose SQLite rendering it is.
pub(super) fn declared_column_type(canonical: &str) -> Option<ColumnType> {
    portable_types()
        .into_iter()
        .find(|t| render_type(DbBackend::Sqlite, t) == canonical)
}

/// See [`super::set_deadline`]: the progress handler runs every 10,000 virtual-machine steps.
pub(super) async fn set_deadline(
    conn: &DatabaseConnection,
    deadline: Option<Instant>,
) -> Result<()> {
    #[cfg(feature = "sqlite")]
    {
        let fail = |e: sea_orm::sqlx::Error| crate::error::Error::Db {
            context: "setting the migration deadline".into(),
            source: DbErr::Custom(e.to_string()),
        };
        let mut pooled = conn
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(fail)?;
        let mut handle = pooled.lock_handle().await.map_err(fail)?;
        match deadline {
            Some(d) => handle.set_progress_handler(10_000, move || Instant::now() < d),
            None => handle.remove_progress_handler(),
        }
    }
    #[cfg(not(feature = "sqlite"))]
    let _ = (conn, deadline);
    Ok(())
}

/// See [`super::ensure_version_table`].
pub(super) async fn ensure_version_table(
    conn: &DatabaseConnection,
    table: &VersionTable,
) -> Result<()> {
    let txn = crate::migrator::begin(conn)
        .await
        .context(|| "starting a transaction".into())?;
    drop_alembic_tmp_tables(&txn)
        .await
        .context(|| "dropping leftover temporary tables".into())?;
    table
        .ensure(&txn)
        .await
        .context(|| format!("creating the version table {}", table.described()))?;
    txn.commit()
        .await
        .context(|| format!("creating the version table {}", table.described()))
}

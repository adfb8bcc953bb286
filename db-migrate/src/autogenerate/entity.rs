//! The registry of entities a migrator owns, and their tables as [`TableModel`]s.

use std::fmt;
use std::sync::Arc;

use sea_orm::sea_query::ColumnType;
use sea_orm::sea_query::{IndexCreateStatement, SqliteQueryBuilder, TableCreateStatement};
use sea_orm::{DbBackend, EntityTrait, Schema};

use super::model::{
    ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, canonical_default,
    render_type,
};

type Builder =
    Arc<dyn Fn(DbBackend) -> (TableCreateStatement, Vec<IndexCreateStatement>) + Send + Sync>;

/// The entities whose tables a migrator owns, as openmodule's `register_bases([...])` and
/// Alembic's `target_metadata`: autogenerate and `check` compare these tables, and only
/// these, with the database (see [`Filter`](super::Filter) to manage more).
///
/// ```
/// mod note {
///     use sea_orm::entity::prelude::*;
///     #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
///     #[sea_orm(table_name = "notes")]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         #[sea_orm(indexed)]
///         pub title: String,
///     }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///     impl ActiveModelBehavior for ActiveModel {}
/// }
/// let entities = db_migrate::autogenerate::Entities::new().register(note::Entity);
/// assert_eq!(entities.table_names(), ["notes"]);
/// ```
#[derive(Clone, Default)]
pub struct Entities {
    entities: Vec<(String, Builder)>,
    indexes: Vec<IndexCreateStatement>,
}

impl fmt::Debug for Entities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entities")
            .field("tables", &self.table_names())
            .field("indexes", &self.indexes.len())
            .finish()
    }
}

impl Entities {
    /// No entities.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entity: its table, columns (`renamed_from`, `unique`, `indexed`, `unique_key`
    /// included), primary key and the foreign keys of its `belongs_to` relations. Registering
    /// a table twice keeps the first.
    #[must_use]
    pub fn register<E: EntityTrait + Default>(mut self, entity: E) -> Self {
        let table = entity.table_name().to_owned();
        if self.entities.iter().any(|(t, _)| *t == table) {
            return self;
        }
        let build: Builder = Arc::new(|backend| {
            let schema = Schema::new(backend);
            (
                schema.create_table_from_entity(E::default()),
                schema.create_index_from_entity(E::default()),
            )
        });
        self.entities.push((table, build));
        self
    }

    /// Declares an index that entity attributes cannot express (a composite or non-unique
    /// multi-column index), as SQLAlchemy's `__table_args__ = (Index(...),)`:
    /// `Index::create().name("ix_members_course_role").table("course_members").col("course_id").col("role_id").to_owned()`.
    #[must_use]
    pub fn index(mut self, index: IndexCreateStatement) -> Self {
        self.indexes.push(index);
        self
    }

    /// The registered table names, in registration order.
    #[must_use]
    pub fn table_names(&self) -> Vec<&str> {
        self.entities.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// The columns (`table.column`) holding zone-less timestamps (sea-orm's `DateTime`, a
    /// `NaiveDateTime`: `ColumnType::DateTime`), which
    /// [`NaiveTimestamps::Forbid`](crate::NaiveTimestamps::Forbid) refuses; a
    /// [`UtcDateTime`](db_core::types::UtcDateTime) or `DateTimeUtc` column is not one.
    #[must_use]
    pub fn naive_timestamp_columns(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (name, build) in &self.entities {
            let (table, _) = build(DbBackend::Sqlite);
            for c in table.get_columns() {
                if c.get_column_type() == Some(&ColumnType::DateTime) {
                    found.push(format!("{name}.{}", c.get_column_name()));
                }
            }
        }
        found
    }

    /// The registered tables as the backend would create them.
    #[must_use]
    pub fn model(&self, backend: DbBackend) -> SchemaModel {
        let mut model = SchemaModel::default();
        for (name, build) in &self.entities {
            let (table, indexes) = build(backend);
            let mut t = table_model(backend, name, &table);
            // sea-orm turns an enum column into `custom("<type>")` for PostgreSQL (it creates the
            // type separately); the SQLite build keeps `ColumnType::Enum` with its values. Every
            // backend's model carries the enum, so the generated migration (which creates the
            // type on PostgreSQL only) is the same whichever backend it came from.
            let (neutral, _) = build(DbBackend::Sqlite);
            for c in neutral.get_columns() {
                if let Some(
                    ty @ ColumnType::Enum {
                        name: type_name,
                        variants,
                    },
                ) = c.get_column_type()
                    && let Some(column) =
                        t.columns.iter_mut().find(|m| m.name == c.get_column_name())
                {
                    column.column_type = Some(ty.clone());
                    model.enums.insert(
                        type_name.to_string(),
                        variants.iter().map(ToString::to_string).collect(),
                    );
                }
            }
            for index in indexes.iter().chain(
                self.indexes
                    .iter()
                    .filter(|i| index_table(i).as_deref() == Some(name.as_str())),
            ) {
                let spec = index.get_index_spec();
                t.indexes.push(IndexModel {
                    name: spec.get_name().map(str::to_owned),
                    columns: spec.get_column_names(),
                    unique: index.is_unique_key(),
                });
            }
            model.tables.insert(name.clone(), t);
        }
        model
    }
}

/// The table an index statement is on (sea-query has no getter: read it from the SQL).
fn index_table(index: &IndexCreateStatement) -> Option<String> {
    let sql = index.to_string(SqliteQueryBuilder);
    let (_, rest) = sql.split_once(" ON \"")?;
    rest.split_once('"').map(|(t, _)| t.to_owned())
}

/// SQL text of an expression on a backend.
pub(crate) fn expr_sql(backend: DbBackend, expr: &sea_orm::sea_query::SimpleExpr) -> String {
    crate::version_table::dialect(backend).expr_sql(expr)
}

fn table_model(backend: DbBackend, name: &str, table: &TableCreateStatement) -> TableModel {
    let mut t = TableModel {
        name: name.to_owned(),
        ..TableModel::default()
    };
    for c in table.get_columns() {
        let spec = c.get_column_spec();
        let column_type = c.get_column_type().cloned();
        let sql_type = column_type
            .as_ref()
            .map(|ty| render_type(backend, ty))
            .unwrap_or_default();
        let name = c.get_column_name();
        if spec.primary_key {
            t.primary_key.push(name.clone());
        }
        if spec.unique {
            t.indexes.push(IndexModel {
                name: None,
                columns: vec![name.clone()],
                unique: true,
            });
        }
        let renamed_from = spec.comment.as_deref().and_then(|c| {
            let (_, rest) = c.rsplit_once("renamed_from \"")?;
            rest.strip_suffix('"').map(str::to_owned)
        });
        t.columns.push(ColumnModel {
            default: spec
                .default
                .as_ref()
                .and_then(|d| canonical_default(&expr_sql(backend, d), &sql_type)),
            sql_type,
            column_type,
            nullable: spec.nullable != Some(false) && !spec.primary_key,
            auto_increment: spec.auto_increment,
            renamed_from,
            name,
        });
    }
    for index in table.get_indexes() {
        if index.is_primary_key() {
            t.primary_key = index.get_index_spec().get_column_names();
        }
    }
    let pk = t.primary_key.clone();
    for c in &mut t.columns {
        if pk.contains(&c.name) {
            c.nullable = false;
        }
    }
    for fk in table.get_foreign_key_create_stmts() {
        let fk = fk.get_foreign_key();
        t.foreign_keys.push(ForeignKeyModel {
            name: fk.get_name().map(str::to_owned),
            columns: fk.get_columns(),
            ref_table: fk
                .get_ref_table()
                .map(|r| r.sea_orm_table().to_string())
                .unwrap_or_default(),
            ref_columns: fk.get_ref_columns(),
            on_delete: fk.get_on_delete(),
            on_update: fk.get_on_update(),
        });
    }
    t
}

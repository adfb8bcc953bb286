//! Soft delete: rows are archived by setting a timestamp column (`archived_at`, as the course
//! platform's models do) instead of being deleted, restored by clearing it, and queries ask
//! for live or archived rows explicitly.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Select, Value,
};

use crate::query::update_by_query;

/// An entity whose rows are archived instead of deleted.
///
/// ```
/// # mod note { use sea_orm::entity::prelude::*;
/// # #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// # #[sea_orm(table_name = "note")]
/// # pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub archived_at: Option<DateTime> }
/// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// # impl ActiveModelBehavior for ActiveModel {} }
/// impl db_helpers::SoftDelete for note::Entity {
///     fn archived_at() -> note::Column {
///         note::Column::ArchivedAt
///     }
/// }
/// ```
pub trait SoftDelete: EntityTrait {
    /// The nullable timestamp column that says when a row was archived (`NULL`: live).
    fn archived_at() -> Self::Column;

    /// The live rows: `find()` with `archived_at IS NULL` (use it wherever archived rows must
    /// not show).
    #[must_use]
    fn find_live() -> Select<Self> {
        Self::find().filter(Self::archived_at().is_null())
    }

    /// The archived rows only.
    #[must_use]
    fn find_archived() -> Select<Self> {
        Self::find().filter(Self::archived_at().is_not_null())
    }
}

/// Archives the live rows `query` selects: `archived_at` = now (UTC; a `timestamptz` column
/// gets an aware value, a plain timestamp the UTC wall time). Rows already archived keep their
/// first timestamp. Returns how many rows were archived.
///
/// # Errors
/// The driver's error; nothing changes then.
pub async fn archive<E: SoftDelete>(
    db: &impl ConnectionTrait,
    query: Select<E>,
) -> Result<u64, DbErr> {
    let column = E::archived_at();
    let now = now_for(column.def().get_column_type());
    update_by_query(db, query.filter(column.is_null()), |u| {
        u.col_expr(column, Expr::val(now))
    })
    .await
}

/// Restores the archived rows `query` selects (`archived_at` = `NULL`). Returns how many.
///
/// # Errors
/// The driver's error; nothing changes then.
pub async fn restore<E: SoftDelete>(
    db: &impl ConnectionTrait,
    query: Select<E>,
) -> Result<u64, DbErr> {
    let column = E::archived_at();
    let null = now_for(column.def().get_column_type()).as_null();
    update_by_query(db, query.filter(column.is_not_null()), |u| {
        u.col_expr(column, Expr::val(null))
    })
    .await
}

/// The current time as a value for a column of type `column` (UTC).
pub(crate) fn now_for(column: &ColumnType) -> Value {
    let now = chrono::Utc::now();
    match column {
        ColumnType::TimestampWithTimeZone => Value::ChronoDateTimeUtc(Some(now)),
        _ => Value::ChronoDateTime(Some(now.naive_utc())),
    }
}

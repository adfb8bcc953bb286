//! Update and delete by query, `count`, `exists` and `distinct`: openmodule's
//! `db_helper.update_query` and `delete_query`, and the one-liners SQLAlchemy's
//! `Query.count()`, `exists()` and `Query(col).distinct()` give.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, Iterable, PaginatorTrait, PrimaryKeyToColumn, QueryFilter,
    QuerySelect, QueryTrait, Select, UpdateMany,
};

/// Updates every row `query` selects and returns how many rows changed (as openmodule's
/// `update_query`). `set` adds the assignments to sea-orm's `UpdateMany` (`col_expr`, `set`).
/// The query may join, filter on other tables, order and limit: the rows are chosen by primary
/// key through it, as `UPDATE t … WHERE pk IN (SELECT pk FROM (<query>) AS q)` — the derived
/// table lets MySQL update a table its subquery reads.
///
/// ```no_run
/// # async fn demo(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// # use sea_orm::entity::prelude::*;
/// # mod item { use sea_orm::entity::prelude::*;
/// # #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
/// # #[sea_orm(table_name = "item")]
/// # pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub grp: i32, pub name: String }
/// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// # impl ActiveModelBehavior for ActiveModel {} }
/// use sea_orm::sea_query::Expr;
/// let changed = db_helpers::update_by_query(
///     db,
///     item::Entity::find().filter(item::Column::Grp.eq(3)),
///     |u| u.col_expr(item::Column::Name, Expr::value("renamed")),
/// )
/// .await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// The driver's error; nothing changes then.
pub async fn update_by_query<E, F>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    set: F,
) -> Result<u64, DbErr>
where
    E: EntityTrait,
    F: FnOnce(UpdateMany<E>) -> UpdateMany<E>,
{
    let update = set(E::update_many()).filter(chosen_by(query));
    Ok(update.exec(db).await?.rows_affected)
}

/// Deletes every row `query` selects and returns how many were deleted (openmodule's
/// `delete_query`); the query may join, order and limit, as in [`update_by_query`].
///
/// # Errors
/// The driver's error (a foreign key that forbids the delete, among others); nothing is
/// deleted then.
pub async fn delete_by_query<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
) -> Result<u64, DbErr> {
    let delete = E::delete_many().filter(chosen_by(query));
    Ok(delete.exec(db).await?.rows_affected)
}

/// How many rows `query` selects (`SELECT COUNT(*) FROM (<query>)`, as SQLAlchemy's
/// `Query.count()`).
///
/// # Errors
/// The driver's error.
pub async fn count<E>(db: &impl ConnectionTrait, query: Select<E>) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    query.count(db).await
}

/// Whether `query` selects at least one row (`SELECT 1 … LIMIT 1`, as SQLAlchemy's
/// `exists()`).
///
/// # Errors
/// The driver's error.
pub async fn exists<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
) -> Result<bool, DbErr> {
    let mut q = query.select_only().expr(Expr::val(1)).limit(1).into_query();
    let stmt = db.get_database_backend().build(q.clear_order_by());
    Ok(db.query_one_raw(stmt).await?.is_some())
}

/// The distinct values of `column` among the rows `query` selects, in ascending order
/// (`SELECT DISTINCT col … ORDER BY col`, SQLAlchemy's `session.query(col).distinct()`);
/// `NULL` is one value (`Option<V>` reads it). The query's own ordering is replaced, as
/// PostgreSQL requires of `DISTINCT`.
///
/// # Errors
/// The driver's error, or a type error when `V` does not fit the column.
pub async fn distinct<E, V>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    column: E::Column,
) -> Result<Vec<V>, DbErr>
where
    E: EntityTrait,
    V: sea_orm::TryGetable,
{
    let mut q = query.select_only().column(column).distinct().into_query();
    q.clear_order_by()
        .order_by((E::default(), column), sea_orm::sea_query::Order::Asc);
    let stmt = db.get_database_backend().build(&q);
    db.query_all_raw(stmt)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<V>(0))
        .collect()
}

/// `pk IN (SELECT pk FROM (<query>) AS q)` (a tuple for a composite key).
fn chosen_by<E: EntityTrait>(query: Select<E>) -> sea_orm::sea_query::SimpleExpr {
    let keys: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    let mut inner: SelectStatement = query.into_query();
    inner.clear_selects();
    for k in &keys {
        inner.column((E::default(), *k));
    }
    let alias = Alias::new("chosen_rows");
    let mut outer = Query::select();
    for k in &keys {
        outer.column((alias.clone(), *k));
    }
    outer.from_subquery(inner, alias);
    let key_expr = if keys.len() == 1 {
        Expr::col((E::default(), keys[0]))
    } else {
        Expr::tuple(keys.iter().map(|k| Expr::col((E::default(), *k))))
    };
    key_expr.in_subquery(outer)
}

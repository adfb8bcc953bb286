//! Batched iteration in constant memory: openmodule's `yield_per` / SQLAlchemy's
//! `Query.yield_per`, done by keyset on the primary key so that each batch is one indexed
//! query and memory holds one batch, however many rows there are.

use std::num::NonZeroU64;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, Iterable, ModelTrait, Order, PrimaryKeyToColumn,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Value,
};

/// `query`'s rows in batches of up to `size`, in primary-key order: each batch is
/// `<query> AND pk > <last of the previous batch> ORDER BY pk LIMIT size`, so rows inserted
/// behind the cursor are not seen twice and memory holds one batch. The query's own ORDER BY
/// and LIMIT are replaced. The entity needs a single-column primary key.
///
/// # Errors
/// Each item is the batch or the driver's error; a composite primary key is an error as the
/// first item.
pub fn batches<'a, E, C>(
    db: &'a C,
    query: Select<E>,
    size: NonZeroU64,
) -> impl Stream<Item = Result<Vec<E::Model>, DbErr>> + Send + 'a
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait + Sync,
{
    let key = single_key::<E>();
    stream::try_unfold((Some(None::<Value>), query), move |(state, query)| {
        let key = key.clone();
        async move {
            let Some(last) = state else {
                return Ok(None);
            };
            let key = key?;
            let mut q = query.clone();
            QueryTrait::query(&mut q).clear_order_by();
            let mut q = q.order_by(key, Order::Asc).limit(size.get());
            if let Some(last) = last {
                q = q.filter(Expr::col((E::default(), key)).gt(last));
            }
            let rows = q.all(db).await?;
            if rows.is_empty() {
                return Ok(None);
            }
            let next = (rows.len() as u64 == size.get()).then(|| rows.last().map(|m| m.get(key)));
            Ok(Some((rows, (next, query))))
        }
    })
}

/// [`batches`] flattened: one row at a time, still fetched `size` at a time.
///
/// # Errors
/// As [`batches`].
pub fn rows<'a, E, C>(
    db: &'a C,
    query: Select<E>,
    size: NonZeroU64,
) -> impl Stream<Item = Result<E::Model, DbErr>> + Send + 'a
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: ConnectionTrait + Sync,
{
    batches(db, query, size)
        .map_ok(|batch| stream::iter(batch.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
}

/// The entity's primary-key column, or why keyset iteration cannot use it.
pub(crate) fn single_key<E: EntityTrait>() -> Result<E::Column, DbErr> {
    let mut keys = E::PrimaryKey::iter().map(|k| k.into_column());
    match (keys.next(), keys.next()) {
        (Some(k), None) => Ok(k),
        _ => Err(DbErr::Custom(format!(
            "keyset iteration over {} needs a single-column primary key",
            E::default().table_name()
        ))),
    }
}

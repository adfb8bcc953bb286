//! Bulk writes: insert and upsert many rows in chunks that stay under the backend's
//! bind-parameter limit (db-core's dialect: SQLite 32,766, PostgreSQL and MySQL 65,535), in one
//! transaction — the course platform's bulk operations, SQLAlchemy's `bulk_insert_mappings`
//! and `insert().on_conflict_do_update()`.

use db_core::Dialect;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Iterable, TransactionSession,
    TransactionTrait,
};

/// Inserts `models` (active models of one entity) as multi-row `INSERT`s of as many rows as
/// fit under the backend's bind-parameter limit, all in one transaction (a savepoint inside a
/// transaction): either every row is inserted or none. Returns the rows inserted.
///
/// # Errors
/// The driver's error (a duplicate key, a NOT NULL column left unset); nothing is inserted.
pub async fn insert_chunked<A, C>(db: &C, models: Vec<A>) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait + TransactionTrait,
{
    write_chunked(db, models, None).await
}

/// Inserts `models`, and where a row conflicts on `conflict` (a primary key or unique
/// constraint's columns) updates `update` from the new row instead — or, with `update` empty,
/// leaves the existing row (PostgreSQL and SQLite `ON CONFLICT … DO UPDATE / DO NOTHING`,
/// MySQL `ON DUPLICATE KEY UPDATE`, which ignores `conflict` and uses every unique key).
/// Chunked and in one transaction as [`insert_chunked`]. Returns the driver's affected-row
/// count (MySQL counts an updated row twice, and an unchanged one not at all).
///
/// # Errors
/// The driver's error; nothing is written.
pub async fn upsert<A, C>(
    db: &C,
    models: Vec<A>,
    conflict: &[<A::Entity as EntityTrait>::Column],
    update: &[<A::Entity as EntityTrait>::Column],
) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait + TransactionTrait,
{
    let mut on_conflict = OnConflict::columns(conflict.iter().copied());
    if update.is_empty() {
        // MySQL has no DO NOTHING: sea-query writes `ON DUPLICATE KEY UPDATE <key> = <key>`.
        on_conflict.do_nothing_on(conflict.iter().copied());
    } else {
        on_conflict.update_columns(update.iter().copied());
    }
    write_chunked(db, models, Some(on_conflict)).await
}

async fn write_chunked<A, C>(
    db: &C,
    models: Vec<A>,
    on_conflict: Option<OnConflict>,
) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait + TransactionTrait,
{
    if models.is_empty() {
        return Ok(0);
    }
    let rows = rows_per_statement::<A::Entity>(db)?;
    let txn = db.begin().await?;
    let mut written = 0;
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<A> = models.by_ref().take(rows).collect();
        let mut insert = <A::Entity as EntityTrait>::insert_many(chunk);
        if let Some(c) = &on_conflict {
            insert = insert.on_conflict(c.clone());
        }
        written += insert.exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// Rows per statement: the backend's bind-parameter limit over the entity's column count (an
/// upper bound of the parameters a row binds).
fn rows_per_statement<E: EntityTrait>(db: &impl ConnectionTrait) -> Result<usize, DbErr> {
    let dialect =
        Dialect::of(db.get_database_backend()).map_err(|e| DbErr::Custom(e.to_string()))?;
    let columns = E::Column::iter().count().max(1);
    Ok((dialect.max_bind_params() / columns).max(1))
}

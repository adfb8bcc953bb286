//! Bulk writes: insert and upsert many rows in chunks that stay under the backend's
//! bind-parameter limit (db-core's dialect: SQLite 32,766, PostgreSQL and MySQL 65,535), in one
//! transaction — the course platform's bulk operations, SQLAlchemy's `bulk_insert_mappings`
//! and `insert().on_conflict_do_update()`.

use db_core::Dialect;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityName, EntityTrait, IdenStatic, Iterable,
    TransactionSession, TransactionTrait,
};

/// Inserts `models` (active models of one entity) the fastest correct way the backend has,
/// all or nothing, and returns the rows inserted (SQLAlchemy's `bulk_insert_mappings`):
///
/// - PostgreSQL, given the pool (a `DatabaseConnection`, e.g. db-core's
///   `Database::connection()`), when every
///   model sets the same columns: one `COPY … FROM STDIN` ([`db_core::CopyIn`], as `psql
///   \copy`);
/// - SQLite and MySQL, when every model sets the same columns: one prepared 1,000-row
///   `INSERT` (fewer when the bind-parameter limit needs it), cached by the driver and
///   executed again for every chunk, in one transaction (a savepoint inside a transaction);
/// - otherwise (PostgreSQL inside a transaction, models setting different columns, a value
///   COPY cannot carry): sea-orm's multi-row `INSERT`s of as many rows as fit under the
///   backend's bind-parameter limit, in one transaction.
///
/// Columns a model leaves unset get their defaults. `before_save` is not called, as with
/// sea-orm's `insert_many`.
///
/// # Errors
/// The driver's error (a duplicate key, a NOT NULL column left unset); nothing is inserted.
pub async fn insert_chunked<A, C>(db: &C, models: Vec<A>) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait + TransactionTrait + 'static,
{
    if models.is_empty() {
        return Ok(0);
    }
    if let Some(pool) = pool_of(db)
        && let Some(copy) = copy_of(db, &models)?
    {
        return copy.send(pool).await;
    }
    if let Some(written) = insert_prepared(db, &models).await? {
        return Ok(written);
    }
    write_chunked(db, models, None).await
}

/// The pool behind `db` when it is one (not a transaction).
fn pool_of<C: 'static>(db: &C) -> Option<&sea_orm::DatabaseConnection> {
    let any: &dyn std::any::Any = db;
    any.downcast_ref::<sea_orm::DatabaseConnection>()
}

/// Which columns every model sets (`true`) and their names, or `None` when the models set
/// different columns (so one statement shape cannot carry them all).
fn common_columns<A: ActiveModelTrait>(models: &[A]) -> Option<(Vec<bool>, Vec<&'static str>)> {
    let set = |model: &A, c| !matches!(model.get(c), sea_orm::ActiveValue::NotSet);
    let first = models.first()?;
    let mask: Vec<bool> = <A::Entity as EntityTrait>::Column::iter()
        .map(|c| set(first, c))
        .collect();
    let same = models.iter().all(|m| {
        <A::Entity as EntityTrait>::Column::iter()
            .zip(&mask)
            .all(|(c, on)| set(m, c) == *on)
    });
    let names = <A::Entity as EntityTrait>::Column::iter()
        .zip(&mask)
        .filter(|(_, on)| **on)
        .map(|(c, _)| c.as_str())
        .collect();
    same.then_some((mask, names))
}

/// Appends the values `model` sets, in column order, for the columns of `mask`.
fn push_values<A: ActiveModelTrait>(model: &A, mask: &[bool], out: &mut Vec<sea_orm::Value>) {
    for (c, on) in <A::Entity as EntityTrait>::Column::iter().zip(mask) {
        if *on
            && let sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) = model.get(c)
        {
            out.push(v);
        }
    }
}

/// `models` as one `COPY`, when the backend has it and every model sets the same columns with
/// values COPY can carry.
fn copy_of<A: ActiveModelTrait>(
    db: &impl ConnectionTrait,
    models: &[A],
) -> Result<Option<db_core::CopyIn>, DbErr> {
    let dialect =
        Dialect::of(db.get_database_backend()).map_err(|e| DbErr::Custom(e.to_string()))?;
    let Some((mask, names)) = common_columns(models) else {
        return Ok(None);
    };
    let entity = A::Entity::default();
    let Some(mut copy) =
        db_core::CopyIn::new(dialect, entity.schema_name(), entity.table_name(), &names)
            .map_err(|e| DbErr::Custom(e.to_string()))?
    else {
        return Ok(None);
    };
    let mut row = Vec::with_capacity(names.len());
    for model in models {
        row.clear();
        push_values(model, &mask, &mut row);
        if copy.push_row(&row).is_err() {
            return Ok(None);
        }
    }
    Ok(Some(copy))
}

/// Rows per prepared statement on SQLite and MySQL: large enough to amortise a round trip,
/// small enough that the driver's cached statement stays cheap to bind.
const PREPARED_ROWS: usize = 1000;

/// Inserts `models` through one cached prepared statement of up to [`PREPARED_ROWS`] rows,
/// executed again for every chunk, in one transaction; `None` when the models set different
/// columns. Not where enum columns need the casts sea-orm adds ([`Dialect::needs_enum_casts`]).
async fn insert_prepared<A, C>(db: &C, models: &[A]) -> Result<Option<u64>, DbErr>
where
    A: ActiveModelTrait,
    C: ConnectionTrait + TransactionTrait,
{
    let dialect =
        Dialect::of(db.get_database_backend()).map_err(|e| DbErr::Custom(e.to_string()))?;
    if dialect.needs_enum_casts() {
        return Ok(None);
    }
    let Some((mask, names)) = common_columns(models) else {
        return Ok(None);
    };
    let entity = A::Entity::default();
    let sql = |rows: usize| {
        dialect
            .insert_rows_sql(entity.schema_name(), entity.table_name(), &names, rows)
            .map_err(|e| DbErr::Custom(e.to_string()))
    };
    let rows = (dialect.max_bind_params() / names.len().max(1)).clamp(1, PREPARED_ROWS);
    let full = sql(rows)?;
    let txn = db.begin().await?;
    let mut written = 0;
    for chunk in models.chunks(rows) {
        let mut values = Vec::with_capacity(chunk.len() * names.len());
        for model in chunk {
            push_values(model, &mask, &mut values);
        }
        let text = if chunk.len() == rows {
            full.clone()
        } else {
            sql(chunk.len())?
        };
        written += txn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                dialect.backend(),
                text,
                values,
            ))
            .await?
            .rows_affected();
    }
    txn.commit().await?;
    Ok(Some(written))
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

//! Leftover `_alembic_tmp_*` tables of an interrupted SQLite rebuild, dropped before a run.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The prefix of the temporary tables a SQLite table rebuild creates (Alembic's
/// `_alembic_tmp_<table>`, so leftovers of Alembic's batch mode are found too).
pub const TMP_TABLE_PREFIX: &str = "_alembic_tmp_";

/// Drops the temporary tables an interrupted SQLite table rebuild left behind and returns
/// their names (openmodule's `drop_alembic_tmp_tables`). Does nothing where the dialect does
/// not alter tables by rebuilding them ([`db_core::Dialect::alters_by_rebuild`]).
/// The runner calls it before migrating and logs each table it drops.
///
/// # Errors
/// The driver's error.
pub async fn drop_alembic_tmp_tables(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let rebuilds = db_core::Dialect::of(db.get_database_backend())
        .is_ok_and(db_core::Dialect::alters_by_rebuild);
    if !rebuilds {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ? ORDER BY name",
            [i64::try_from(TMP_TABLE_PREFIX.len()).unwrap_or(13).into(), TMP_TABLE_PREFIX.into()],
        ))
        .await?;
    let mut dropped = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        db.execute_unprepared(&format!(
            "DROP TABLE {}",
            db_core::Dialect::Sqlite.quote_trusted(&name)
        ))
        .await?;
        tracing::warn!(table = %name, "dropped a temporary table left by an interrupted migration");
        dropped.push(name);
    }
    Ok(dropped)
}

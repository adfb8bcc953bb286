//! Emptying a database for the next test or a development reset: every table's rows deleted,
//! children before parents, in one write transaction (openmodule-test's
//! `truncate_all_tables`, `reference/kv-sync-protocol.md` §2).

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::ConnectionTrait;

use crate::database::Database;
use crate::error::{Error, Result};

/// Deletes every row of every table of the session's database (the schema on PostgreSQL)
/// except the tables named in `keep` (e.g. `alembic_version`), children before the tables
/// they reference, all in one write transaction. Returns the emptied tables in the order
/// they were emptied. Tables are emptied with `DELETE`, so sequences and `AUTOINCREMENT`
/// counters keep counting, as openmodule's helper does.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_orm::ConnectionTrait;
///
/// let db = db_core::Database::connect("sqlite::memory:").await?;
/// db.execute_unprepared("CREATE TABLE parent (id INTEGER PRIMARY KEY)").await?;
/// db.execute_unprepared("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent (id))").await?;
/// db.execute_unprepared("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)").await?;
/// db.execute_unprepared("INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1)").await?;
/// assert_eq!(db_core::truncate_all(&db, &["alembic_version"]).await?, ["child", "parent"]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
///
/// # Errors
/// [`Error::ForeignKeyCycle`] when tables reference each other in a cycle (a table that
/// references itself is fine); [`Error::KeptTableReferences`] when a kept table has rows and
/// references an emptied table; [`Error::Db`] when a statement fails. Nothing is deleted on
/// error.
pub async fn truncate_all(db: &Database, keep: &[&str]) -> Result<Vec<String>> {
    let dialect = db.dialect();
    let graph = dialect.table_graph(db.connection()).await?;
    let order = children_first(&graph, keep)?;
    let txn = dialect.begin_write(db.connection()).await?;
    for (kept, parents) in graph.iter().filter(|(t, _)| keep.contains(&t.as_str())) {
        let Some(emptied) = parents.iter().find(|p| order.contains(p)) else {
            continue;
        };
        let sql = format!("SELECT 1 FROM {} LIMIT 1", dialect.quote_trusted(kept));
        if txn
            .query_one_raw(sea_orm::Statement::from_string(dialect.backend(), sql))
            .await?
            .is_some()
        {
            return Err(Error::KeptTableReferences {
                kept: kept.clone(),
                emptied: emptied.clone(),
            });
        }
    }
    for table in &order {
        let self_referencing = graph.get(table).is_some_and(|p| p.contains(table));
        let statements = dialect.delete_all_sql(table, self_referencing);
        for (i, sql) in statements.iter().enumerate() {
            if let Err(e) = txn.execute_unprepared(sql).await {
                // The last of several statements restores the session (it goes back to the
                // pool): run it even though this one failed.
                if i + 1 < statements.len()
                    && let Some(restore) = statements.last()
                {
                    let _ = txn.execute_unprepared(restore).await;
                }
                return Err(e.into());
            }
        }
    }
    txn.commit().await?;
    Ok(order)
}

/// Drops every table, view and (PostgreSQL) enum type of the session's database (the schema
/// on PostgreSQL) for which `drop(name)` is true, whatever foreign keys join them, and returns
/// what was dropped: a development "clean the database" (the game backend's routine,
/// SQLAlchemy's `metadata.drop_all` without needing the metadata). On SQLite and PostgreSQL
/// everything goes in one transaction (all or nothing); MySQL commits each `DROP` on its own.
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_orm::ConnectionTrait;
///
/// let db = db_core::Database::connect("sqlite::memory:").await?;
/// db.execute_unprepared("CREATE TABLE a (id INTEGER PRIMARY KEY, b INTEGER REFERENCES b (id))").await?;
/// db.execute_unprepared("CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES a (id))").await?;
/// db.execute_unprepared("CREATE TABLE other (id INTEGER PRIMARY KEY)").await?;
/// db.execute_unprepared("CREATE VIEW both_ids AS SELECT a.id FROM a JOIN b ON b.a = a.id").await?;
/// let dropped = db_core::drop_all(&db, |name| name != "other").await?;
/// assert_eq!((dropped.tables, dropped.views), (vec!["a".to_owned(), "b".to_owned()], vec!["both_ids".to_owned()]));
/// assert_eq!(db.dialect().schema_objects(db.connection()).await?.tables, ["other"]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
///
/// # Errors
/// [`Error::Db`] when a statement fails; on SQLite and PostgreSQL nothing is dropped then.
pub async fn drop_all(db: &Database, drop: impl Fn(&str) -> bool) -> Result<crate::SchemaObjects> {
    drop_all_ordered(db, drop, |_| false).await
}

/// [`drop_all`], dropping the tables for which `last(name)` is true after every other object:
/// a migrator's version table goes last, so that a drop interrupted where DDL is not
/// transactional (MySQL) leaves the version rows of tables that may still exist, never tables
/// beside an empty version table.
///
/// # Errors
/// As [`drop_all`].
pub async fn drop_all_ordered(
    db: &Database,
    drop: impl Fn(&str) -> bool,
    last: impl Fn(&str) -> bool,
) -> Result<crate::SchemaObjects> {
    let dialect = db.dialect();
    let mut objects = dialect.schema_objects(db.connection()).await?.retain(drop);
    // A stable partition: the others in their order, then the last ones.
    objects.tables.sort_by_key(|t| last(t));
    let statements = dialect.drop_objects_sql(&objects);
    let txn = dialect.begin_write(db.connection()).await?;
    for (i, sql) in statements.iter().enumerate() {
        if let Err(e) = txn.execute_unprepared(sql).await {
            // The last statement may restore the pooled session (MySQL's foreign-key
            // checks): run it even though this one failed.
            if let Some(restore) = dialect.drop_restore_sql()
                && i + 1 < statements.len()
            {
                let _ = txn.execute_unprepared(restore).await;
            }
            return Err(e.into());
        }
    }
    txn.commit().await?;
    Ok(objects)
}

/// The tables of `graph` (table → tables it references) but `keep`, each after every table
/// that references it; ties by name.
fn children_first(
    graph: &BTreeMap<String, BTreeSet<String>>,
    keep: &[&str],
) -> Result<Vec<String>> {
    let tables: BTreeSet<&str> = graph
        .keys()
        .map(String::as_str)
        .filter(|t| !keep.contains(t))
        .collect();
    // For each table, the other tables (to be emptied) that reference it.
    let mut children: BTreeMap<&str, BTreeSet<&str>> =
        tables.iter().map(|t| (*t, BTreeSet::new())).collect();
    for (child, parents) in graph {
        if !tables.contains(child.as_str()) {
            continue;
        }
        for parent in parents {
            if parent != child
                && let Some(set) = children.get_mut(parent.as_str())
            {
                set.insert(child.as_str());
            }
        }
    }
    let mut order: Vec<String> = Vec::with_capacity(tables.len());
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < tables.len() {
        let ready: Vec<&str> = tables
            .iter()
            .copied()
            .filter(|t| !done.contains(t) && children[t].iter().all(|c| done.contains(c)))
            .collect();
        if ready.is_empty() {
            let rest: Vec<&str> = tables
                .iter()
                .copied()
                .filter(|t| !done.contains(t))
                .collect();
            return Err(Error::ForeignKeyCycle {
                tables: rest.join(", "),
            });
        }
        for t in ready {
            done.insert(t);
            order.push(t.to_owned());
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::children_first;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(t, ps)| {
                (
                    (*t).to_owned(),
                    ps.iter().map(|p| (*p).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn children_come_before_parents() {
        let g = graph(&[
            ("org", &[]),
            ("user", &["org"]),
            ("member", &["user", "course"]),
            ("course", &["org"]),
            ("tree", &["tree"]),
            ("alembic_version", &[]),
        ]);
        assert_eq!(
            children_first(&g, &["alembic_version"]).expect("order"),
            ["member", "tree", "course", "user", "org"]
        );
        let cycle = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &[])]);
        let err = children_first(&cycle, &[]).expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "the tables a, b reference each other in a cycle; empty them yourself (e.g. with deferred constraints)"
        );
    }
}

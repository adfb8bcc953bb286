//! Migrations made of SQL strings, for tests.

use db_migrate::{Migrator, Script};
use sea_orm_migration::prelude::*;

/// A migration that runs SQL statements up and down.
pub(crate) struct Sql {
    name: String,
    up: Vec<String>,
    down: Vec<String>,
}

impl MigrationName for Sql {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Sql {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for s in &self.up {
            manager.get_connection().execute_unprepared(s).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for s in &self.down {
            manager.get_connection().execute_unprepared(s).await?;
        }
        Ok(())
    }
}

/// A script `rev` running `up` / `down`.
pub(crate) fn sql(rev: &str, up: &[&str], down: &[&str]) -> Script {
    Script::new(
        rev,
        Sql {
            name: rev.to_owned(),
            up: up.iter().map(|s| (*s).to_owned()).collect(),
            down: down.iter().map(|s| (*s).to_owned()).collect(),
        },
    )
    .message(format!("migration {rev}"))
}

/// A script that does nothing.
pub(crate) fn noop(rev: &str) -> Script {
    sql(rev, &[], &[])
}

/// base -> a1 -> b2 (branchpoint) -> c3 (label `left`) / d4 (label `right`) -> merge e5 -> f6
pub(crate) fn branched() -> Migrator {
    Migrator::new(vec![
        noop("a1a1a1a1"),
        noop("b2b2b2b2").revises("a1a1a1a1"),
        noop("c3c3c3c3").revises("b2b2b2b2").branch_label("left"),
        noop("c3d4d4d4").revises("b2b2b2b2").branch_label("right"),
        noop("e5e5e5e5").merges(["c3c3c3c3", "c3d4d4d4"]),
        noop("f6f6f6f6").revises("e5e5e5e5"),
    ])
    .expect("valid graph")
}

/// A migration that applies batch alterations (and nothing down).
pub(crate) struct Batch {
    name: String,
    batches: Vec<db_migrate::BatchAlter>,
}

impl MigrationName for Batch {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Batch {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for b in &self.batches {
            db_migrate::batch_alter_table(manager.get_connection(), b.clone()).await?;
        }
        Ok(())
    }
}

/// A script `rev` applying `batches`.
pub(crate) fn batch(rev: &str, batches: Vec<db_migrate::BatchAlter>) -> Script {
    Script::new(
        rev,
        Batch {
            name: rev.to_owned(),
            batches,
        },
    )
    .message(format!("batch {rev}"))
}

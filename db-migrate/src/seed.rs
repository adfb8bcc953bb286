//! Seeders: named, ordered, idempotent functions that put development data into a migrated
//! database (the game backend's `app/db/seeders`, `reference/004`), and `reset`, its "clean
//! the database": drop what the migrator owns, upgrade to head, seed.
//!
//! A seeder must be idempotent: running it twice leaves the same rows as running it once
//! (upsert by a natural key, or delete its rows and insert them again as the game backend's
//! `PlayerSeeder` does). `db_testkit::checks::seeders_idempotent` checks it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use db_core::Database;
use sea_orm::{DatabaseTransaction, DbErr};

use crate::error::{DbContext, Error, Result};
use crate::migrator::Migrator;

/// One seeder: a name (for `seed NAME` and `seed --list`), an optional description, and
/// `run`, which writes its rows through the transaction it is given (the game backend's
/// `Seeder` with `name` and `async def run(self, session)`).
///
/// ```
/// use db_migrate::Seeder;
/// use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};
///
/// struct Players;
///
/// #[async_trait::async_trait]
/// impl Seeder for Players {
///     fn name(&self) -> &str { "players" }
///     async fn run(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
///         // delete-then-insert keeps it idempotent, as the game backend's PlayerSeeder does
///         txn.execute_unprepared("DELETE FROM players").await?;
///         txn.execute_unprepared("INSERT INTO players (name, level) VALUES ('Arne', 67), ('Auby', 69)").await?;
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Seeder: Send + Sync {
    /// The seeder's name: letters, digits, `_` and `-`, unique within a migrator.
    fn name(&self) -> &str;

    /// One line for `seed --list` (default: none).
    fn description(&self) -> &str {
        ""
    }

    /// Writes the seeder's rows. It must be idempotent: a second run leaves the same rows.
    ///
    /// # Errors
    /// The driver's error; the whole `seed` run is then rolled back.
    async fn run(&self, txn: &DatabaseTransaction) -> Result<(), DbErr>;
}

/// The seeders of a migrator, in the order they run.
#[derive(Clone, Default)]
pub(crate) struct Seeders(pub(crate) Vec<Arc<dyn Seeder>>);

impl fmt::Debug for Seeders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|s| s.name()))
            .finish()
    }
}

/// Whether a database marked as production (`production = true`,
/// [`OpenOptions::production`](db_core::OpenOptions::production)) may be seeded or reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Production {
    /// Refuse a production database (the default).
    #[default]
    Refuse,
    /// Go ahead anyway (`--force`).
    Force,
}

/// What [`Migrator::reset`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResetReport {
    /// The tables, views and enum types dropped.
    pub dropped: db_core::SchemaObjects,
    /// The migrations run to reach head, oldest first.
    pub steps: Vec<crate::Step>,
    /// The seeders run, in order (none unless asked).
    pub seeded: Vec<String>,
}

impl Migrator {
    /// Adds `seeder` after those already added; seeders run in the order they were added.
    ///
    /// # Panics
    /// When a seeder of that name was added already or the name is not made of letters,
    /// digits, `_` and `-` (a programming error in the migrator's definition).
    #[must_use]
    pub fn seeder(mut self, seeder: impl Seeder + 'static) -> Self {
        let name = seeder.name();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "seeder name `{name}` must be letters, digits, `_` and `-`"
        );
        assert!(
            self.seeders.0.iter().all(|s| s.name() != name),
            "seeder `{name}` is added twice"
        );
        self.seeders.0.push(Arc::new(seeder));
        self
    }

    /// The seeders' names and descriptions, in the order they run (`seed --list`).
    #[must_use]
    pub fn seeders(&self) -> Vec<(&str, &str)> {
        self.seeders
            .0
            .iter()
            .map(|s| (s.name(), s.description()))
            .collect()
    }

    /// Runs the seeders named in `names` (all when empty), in the order they were added, in
    /// one write transaction: all of them or, on an error, none. The database must be at
    /// head, so that seeders see the tables they write.
    ///
    /// # Errors
    /// [`Error::UnknownSeeder`] for a name not added (nothing runs); [`Error::Production`]
    /// for a database marked production without [`Production::Force`]; [`Error::NotAtHead`];
    /// [`Error::SeedFailed`] naming the seeder, after rolling everything back.
    pub async fn seed(
        &self,
        db: &Database,
        names: &[String],
        production: Production,
    ) -> Result<Vec<String>> {
        let chosen = self.chosen_seeders(names)?;
        refuse_production(db, "seed", production)?;
        self.require_at_head(db, "seeding").await?;
        run_seeders(db, &chosen).await
    }

    /// The game backend's "clean the database" for development: drops every table, view and
    /// (PostgreSQL) enum type of the database's schema that the migrator's
    /// [`Filter`](crate::autogenerate::Filter) does not exclude (the version table
    /// included), upgrades to head, then runs all seeders when `seed` is true.
    ///
    /// # Errors
    /// [`Error::Production`] for a database marked production without [`Production::Force`]
    /// (nothing is dropped); [`Error::Db`] when dropping fails (SQLite and PostgreSQL: nothing
    /// is dropped); then the errors of [`upgrade`](Self::upgrade) and [`seed`](Self::seed).
    pub async fn reset(
        &self,
        db: &Database,
        seed: bool,
        production: Production,
    ) -> Result<ResetReport> {
        refuse_production(db, "reset", production)?;
        // Under the migration lock, as every runner: a concurrent upgrade waits instead of
        // finding its tables gone mid-run. The version and history tables go last.
        let table = self.table_for(db)?;
        let (conn, locked) = self.lock_for(db, &table).await?;
        let dropped = db_core::drop_all_ordered(
            db,
            |name| !self.filter.excludes(name),
            |name| name == table.name || name == table.history,
        )
        .await
        .map_err(|e| match e {
            db_core::Error::Db(source) => Error::Db {
                context: "dropping the database's tables".into(),
                source,
            },
            other => Error::Open {
                command: "reset",
                source: Box::new(other),
            },
        });
        self.release(db, conn, locked).await;
        let dropped = dropped?;
        for t in &dropped.tables {
            tracing::info!(table = %t, "dropped table {t}");
        }
        let steps = self.upgrade(db, "heads").await?;
        let seeded = if seed {
            run_seeders(db, &self.seeders.0).await?
        } else {
            Vec::new()
        };
        Ok(ResetReport {
            dropped,
            steps,
            seeded,
        })
    }

    fn chosen_seeders(&self, names: &[String]) -> Result<Vec<Arc<dyn Seeder>>> {
        if let Some(unknown) = names
            .iter()
            .find(|n| self.seeders.0.iter().all(|s| s.name() != n.as_str()))
        {
            let known: Vec<&str> = self.seeders.0.iter().map(|s| s.name()).collect();
            return Err(Error::UnknownSeeder {
                name: unknown.clone(),
                known: if known.is_empty() {
                    "this migrator has no seeders".into()
                } else {
                    format!("the seeders are: {}", known.join(", "))
                },
            });
        }
        Ok(self
            .seeders
            .0
            .iter()
            .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name()))
            .cloned()
            .collect())
    }
}

fn refuse_production(db: &Database, command: &'static str, production: Production) -> Result<()> {
    if db.options().is_production() && production == Production::Refuse {
        return Err(Error::Production { command });
    }
    Ok(())
}

async fn run_seeders(db: &Database, seeders: &[Arc<dyn Seeder>]) -> Result<Vec<String>> {
    let txn = db
        .dialect()
        .begin_write(db.connection())
        .await
        .context(|| "starting the seed transaction".into())?;
    let mut done = Vec::with_capacity(seeders.len());
    for s in seeders {
        let started = std::time::Instant::now();
        if let Err(source) = s.run(&txn).await {
            let _ = txn.rollback().await;
            return Err(Error::SeedFailed {
                seeder: s.name().to_owned(),
                source,
            });
        }
        tracing::info!(
            seeder = s.name(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "seeded"
        );
        done.push(s.name().to_owned());
    }
    txn.commit()
        .await
        .context(|| "committing the seeders' rows".into())?;
    Ok(done)
}

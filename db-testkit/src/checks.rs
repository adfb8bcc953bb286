//! Migration test helpers and ready-made checks, after pytest-alembic's built-in tests
//! (`test_single_head_revision`, `test_upgrade`, `test_model_definitions_match_ddl`,
//! `test_up_down_consistency`) and its experimental stairway/"downgrade leaves no trace"
//! tests, and openmodule-test's `AlembicMigrationTestMixin` (`migrate_up`, `migrate_down`).
//!
//! Every check takes the migrator as db-core's [`MigrationHarness`] (db-migrate's `Migrator`)
//! and a backend, makes its own test database, and returns a [`CheckFailure`] that names the
//! check, the revision and what differs. On an unreachable backend (without `CI`) a check is
//! reported as skipped and returns `Ok`.
//!
//! ```no_run
//! # async fn demo(migrator: &dyn db_core::MigrationHarness) -> Result<(), db_testkit::checks::CheckFailure> {
//! use db_testkit::{Backend, checks};
//!
//! checks::single_head(migrator)?;
//! checks::upgrade(migrator, Backend::Sqlite).await?;
//! checks::stairway(migrator, Backend::Sqlite).await?; // up, down, up: no trace, inverse
//! checks::entities_match(migrator, Backend::Sqlite).await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;

use db_core::{BoxError, Database, MigrationHarness};
use sea_orm::ConnectionTrait;

use crate::{Backend, TestDb, schema_snapshot};

/// A check that found a problem: which check, at which revision, and what.
#[derive(Debug, thiserror::Error)]
#[error("{check} check failed{}: {detail}", at(.revision.as_deref()))]
#[non_exhaustive]
pub struct CheckFailure {
    /// The check: `single head`, `upgrade`, `stairway`, `no trace`, `downgrade inverse`,
    /// `entities match`, `not edited`, `seeders idempotent`.
    pub check: &'static str,
    /// The revision at fault, when one is.
    pub revision: Option<String>,
    /// What differs or failed, with the schema lines that differ (`+` only after, `-` only
    /// before).
    pub detail: String,
}

fn at(revision: Option<&str>) -> String {
    revision.map_or_else(String::new, |r| format!(" at revision {r}"))
}

impl CheckFailure {
    fn new(check: &'static str, revision: Option<&str>, detail: impl fmt::Display) -> Self {
        Self {
            check,
            revision: revision.map(str::to_owned),
            detail: detail.to_string(),
        }
    }
}

/// A migrator driven step by step on one test database (openmodule-test's
/// `AlembicMigrationTestMixin`, pytest-alembic's `alembic_runner`): migrate up or down to any
/// revision, write rows at one revision with [`MigrationRunner::db`], read them after later
/// migrations.
#[derive(Debug)]
pub struct MigrationRunner<'a> {
    harness: &'a dyn MigrationHarness,
    db: Database,
    test_db: TestDb,
}

impl<'a> MigrationRunner<'a> {
    /// A runner on a fresh, empty database (at base). `None` when the backend is unreachable
    /// and `CI` is unset (reported as skipped).
    ///
    /// # Panics
    /// As [`TestDb::new`].
    pub async fn new(harness: &'a dyn MigrationHarness, backend: Backend) -> Option<Self> {
        let test_db = TestDb::new(backend).await?;
        Some(Self::on(harness, test_db).await)
    }

    /// A runner on `test_db`, e.g. [`TestDb::from_file`] to start from a copy of an existing
    /// database file.
    ///
    /// # Panics
    /// When the database cannot be opened.
    pub async fn on(harness: &'a dyn MigrationHarness, test_db: TestDb) -> Self {
        let db = test_db.open().await;
        Self {
            harness,
            db,
            test_db,
        }
    }

    /// Upgrades to `target` (Alembic's syntax) and returns the revisions applied.
    ///
    /// # Errors
    /// The migrator's error (the database stays at the revision before the failing step).
    pub async fn upgrade(&self, target: &str) -> Result<Vec<String>, BoxError> {
        self.harness.upgrade_to(&self.db, target).await
    }

    /// Downgrades to `target` (`base`, a revision, `-1`, `<rev>-1`) and returns the revisions
    /// undone.
    ///
    /// # Errors
    /// As [`MigrationRunner::upgrade`].
    pub async fn downgrade(&self, target: &str) -> Result<Vec<String>, BoxError> {
        self.harness.downgrade_to(&self.db, target).await
    }

    /// The version table's rows, sorted (empty at base).
    ///
    /// # Errors
    /// The database's error.
    pub async fn current(&self) -> Result<Vec<String>, BoxError> {
        self.harness.current(&self.db).await
    }

    /// The open database, to insert rows at the current revision and read them later.
    #[must_use]
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The test database underneath.
    #[must_use]
    pub fn test_db(&self) -> &TestDb {
        &self.test_db
    }

    /// [`schema_snapshot`] of the database now.
    ///
    /// # Errors
    /// The database's error.
    pub async fn snapshot(&self) -> Result<String, BoxError> {
        Ok(schema_snapshot(self.db.connection()).await?)
    }
}

/// The migration set has exactly one head (pytest-alembic's `test_single_head_revision`).
///
/// # Errors
/// A [`CheckFailure`] listing the heads and saying to merge them.
pub fn single_head(harness: &dyn MigrationHarness) -> Result<(), CheckFailure> {
    let heads = harness.heads();
    match heads.len() {
        1 => Ok(()),
        0 => Err(CheckFailure::new(
            "single head",
            None,
            "there are no revisions",
        )),
        _ => Err(CheckFailure::new(
            "single head",
            None,
            format!(
                "{} heads: {}; join them with `merge`",
                heads.len(),
                heads.join(", ")
            ),
        )),
    }
}

/// An empty database upgrades from base to head, ends at the heads, downgrades back to base,
/// and upgrades again to the same schema (pytest-alembic's `test_upgrade` and
/// `test_up_down_consistency`).
///
/// # Errors
/// A [`CheckFailure`] naming the failing step.
pub async fn upgrade(harness: &dyn MigrationHarness, backend: Backend) -> Result<(), CheckFailure> {
    const CHECK: &str = "upgrade";
    let Some(run) = MigrationRunner::new(harness, backend).await else {
        return Ok(());
    };
    let failed = |what: &str, e: BoxError| CheckFailure::new(CHECK, None, format!("{what}: {e}"));
    run.upgrade("heads")
        .await
        .map_err(|e| failed("upgrade base → heads failed", e))?;
    let current = run
        .current()
        .await
        .map_err(|e| failed("reading current", e))?;
    if current != harness.heads() {
        return Err(CheckFailure::new(
            CHECK,
            None,
            format!(
                "after upgrade heads the database is at [{}], not at the heads [{}]",
                current.join(", "),
                harness.heads().join(", ")
            ),
        ));
    }
    let first = run.snapshot().await.map_err(|e| failed("snapshot", e))?;
    run.downgrade("base")
        .await
        .map_err(|e| failed("downgrade heads → base failed", e))?;
    run.upgrade("heads")
        .await
        .map_err(|e| failed("upgrade base → heads after a downgrade failed", e))?;
    let second = run.snapshot().await.map_err(|e| failed("snapshot", e))?;
    if first != second {
        return Err(CheckFailure::new(
            CHECK,
            None,
            format!(
                "upgrading again after downgrade base gives another schema:\n{}",
                diff(&first, &second)
            ),
        ));
    }
    Ok(())
}

/// Every revision, in upgrade order, goes up, down and up again without error (the stairway
/// test), and its downgrade is exact: the schema after the downgrade equals the schema before
/// the upgrade ("downgrade leaves no trace": tables, columns, types, defaults, indexes,
/// version rows), and upgrading again gives the schema of the first upgrade ("the downgrade
/// is the inverse of the upgrade").
///
/// # Errors
/// A [`CheckFailure`] naming the revision and the schema lines that differ.
pub async fn stairway(
    harness: &dyn MigrationHarness,
    backend: Backend,
) -> Result<(), CheckFailure> {
    walk(harness, backend, Compare::Both).await
}

/// The stairway walk checking only that each downgrade leaves no trace.
///
/// # Errors
/// As [`stairway`].
pub async fn no_trace(
    harness: &dyn MigrationHarness,
    backend: Backend,
) -> Result<(), CheckFailure> {
    walk(harness, backend, Compare::AfterDowngrade).await
}

/// The stairway walk checking only that upgrading again after a downgrade gives the schema of
/// the first upgrade.
///
/// # Errors
/// As [`stairway`].
pub async fn downgrade_inverse(
    harness: &dyn MigrationHarness,
    backend: Backend,
) -> Result<(), CheckFailure> {
    walk(harness, backend, Compare::AfterReupgrade).await
}

/// The registered entities match the schema the migrations make (pytest-alembic's
/// `test_model_definitions_match_ddl`, `alembic check`): no autogenerate change is pending.
///
/// # Errors
/// A [`CheckFailure`] listing the differences, or saying that the migrator has no entities.
pub async fn entities_match(
    harness: &dyn MigrationHarness,
    backend: Backend,
) -> Result<(), CheckFailure> {
    const CHECK: &str = "entities match";
    let Some(test_db) = TestDb::migrated(backend, harness).await else {
        return Ok(());
    };
    let db = test_db.open().await;
    let diffs = harness
        .entity_differences(&db)
        .await
        .map_err(|e| CheckFailure::new(CHECK, None, e))?;
    let _ = db.close().await;
    match diffs {
        None => Err(CheckFailure::new(
            CHECK,
            None,
            "the migrator has no entities registered (Migrator::entities)",
        )),
        Some(d) if d.is_empty() => Ok(()),
        Some(d) => Err(CheckFailure::new(
            CHECK,
            None,
            format!(
                "the entities differ from the migrated schema; autogenerate a revision:\n  {}",
                d.join("\n  ")
            ),
        )),
    }
}

/// No migration applied to `db` was edited since (its recorded checksum against the script's
/// now): run it on a copy of a real database ([`TestDb::from_file`]) or one a previous
/// release migrated.
///
/// # Errors
/// A [`CheckFailure`] naming every edited revision.
pub async fn not_edited(harness: &dyn MigrationHarness, db: &Database) -> Result<(), CheckFailure> {
    const CHECK: &str = "not edited";
    let edited = harness
        .edited_since_applied(db)
        .await
        .map_err(|e| CheckFailure::new(CHECK, None, e))?;
    if edited.is_empty() {
        return Ok(());
    }
    Err(CheckFailure::new(
        CHECK,
        None,
        format!(
            "applied migrations were edited; add a new revision instead:\n  {}",
            edited.join("\n  ")
        ),
    ))
}

/// The seeders are idempotent (the game backend's seeders, `db-migrate`'s `Seeder`): on a
/// migrated database, running them all a second time leaves every table with the row count
/// the first run left.
///
/// # Errors
/// A [`CheckFailure`] naming each table whose count changed (`table: first → second`), or
/// the seeder error.
pub async fn seeders_idempotent(
    harness: &dyn MigrationHarness,
    backend: Backend,
) -> Result<(), CheckFailure> {
    const CHECK: &str = "seeders idempotent";
    let Some(test_db) = TestDb::migrated(backend, harness).await else {
        return Ok(());
    };
    let db = test_db.open().await;
    let fail = |e: &dyn fmt::Display| CheckFailure::new(CHECK, None, e);
    let mut counts = Vec::new();
    for run in ["first", "second"] {
        harness
            .seed_all(&db)
            .await
            .map_err(|e| fail(&format!("the {run} run failed: {e}")))?;
        counts.push(table_counts(&db).await.map_err(|e| fail(&e))?);
    }
    let _ = db.close().await;
    let changed: Vec<String> = counts[1]
        .iter()
        .filter(|(t, n)| counts[0].get(*t) != Some(n))
        .map(|(t, n)| format!("{t}: {} → {n}", counts[0].get(t).copied().unwrap_or(0)))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(CheckFailure::new(
        CHECK,
        None,
        format!(
            "a second seed run changed row counts; make the seeders upsert or replace their rows:\n  {}",
            changed.join("\n  ")
        ),
    ))
}

/// Every table's row count.
async fn table_counts(
    db: &Database,
) -> Result<std::collections::BTreeMap<String, i64>, sea_orm::DbErr> {
    let dialect = db.dialect();
    let mut counts = std::collections::BTreeMap::new();
    for table in dialect.table_graph(db.connection()).await?.into_keys() {
        let sql = format!("SELECT COUNT(*) FROM {}", dialect.quote_trusted(&table));
        let n: i64 = db
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(dialect.backend(), sql))
            .await?
            .map_or(Ok(0), |row| row.try_get_by_index(0))?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// Runs every check that needs no database of the user's: [`single_head`], [`upgrade`],
/// [`stairway`], [`seeders_idempotent`] and, when the migrator has entities,
/// [`entities_match`].
///
/// # Errors
/// The first failure.
pub async fn all(harness: &dyn MigrationHarness, backend: Backend) -> Result<(), CheckFailure> {
    single_head(harness)?;
    upgrade(harness, backend).await?;
    stairway(harness, backend).await?;
    seeders_idempotent(harness, backend).await?;
    match entities_match(harness, backend).await {
        Err(e) if e.detail.starts_with("the migrator has no entities") => Ok(()),
        other => other,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    AfterDowngrade,
    AfterReupgrade,
    Both,
}

async fn walk(
    harness: &dyn MigrationHarness,
    backend: Backend,
    compare: Compare,
) -> Result<(), CheckFailure> {
    let check = match compare {
        Compare::Both => "stairway",
        Compare::AfterDowngrade => "no trace",
        Compare::AfterReupgrade => "downgrade inverse",
    };
    let Some(run) = MigrationRunner::new(harness, backend).await else {
        return Ok(());
    };
    let revisions = harness.revisions();
    let Some(first) = revisions.first() else {
        return Ok(());
    };
    let fail = |rev: &str, what: &str, e: BoxError| {
        CheckFailure::new(check, Some(rev), format!("{what}: {e}"))
    };
    // The version and history tables come with the first upgrade and stay at base: make them
    // before the first "before" snapshot, checking that nothing else stays.
    let empty = run
        .snapshot()
        .await
        .map_err(|e| fail(&first.revision, "snapshot of the empty database", e))?;
    run.upgrade(&first.revision)
        .await
        .map_err(|e| fail(&first.revision, "upgrade failed", e))?;
    run.downgrade("base")
        .await
        .map_err(|e| fail(&first.revision, "downgrade to base failed", e))?;
    let base = run
        .snapshot()
        .await
        .map_err(|e| fail(&first.revision, "snapshot at base", e))?;
    let state = harness.state_tables();
    let left: String = base
        .lines()
        .filter(|l| !empty.lines().any(|e| e == *l) && !names_any(l, &state))
        .collect::<Vec<_>>()
        .join("\n");
    if compare != Compare::AfterReupgrade && !left.is_empty() {
        return Err(trace(check, &first.revision, "", &left));
    }
    for r in &revisions {
        let rev = r.revision.as_str();
        let run = &run;
        let snap = |what: &'static str| async move {
            run.snapshot()
                .await
                .map_err(|e| CheckFailure::new(check, Some(rev), format!("snapshot {what}: {e}")))
        };
        let before = snap("before the upgrade").await?;
        let rows_before = run
            .current()
            .await
            .map_err(|e| fail(rev, "reading current", e))?;
        run.upgrade(rev)
            .await
            .map_err(|e| fail(rev, "upgrade failed", e))?;
        let after_up = snap("after the upgrade").await?;
        // `<rev>@-1` steps down only the branch `rev` is on (Alembic resolves a revision id
        // as a branch), so other branches' heads stay; a root goes to base (`<rev>-1`); a
        // merge (where one step down is ambiguous) goes down to its first parent, which may
        // also take down other revisions above that parent: they are upgraded again, so the
        // comparison is with the same revisions applied.
        let down = match r.down_revisions.as_slice() {
            [] => format!("{rev}-1"),
            [_] => format!("{rev}@-1"),
            [first, ..] => first.clone(),
        };
        run.downgrade(&down)
            .await
            .map_err(|e| fail(rev, "downgrade failed", e))?;
        let rows = run
            .current()
            .await
            .map_err(|e| fail(rev, "reading current", e))?;
        for row in rows_before.iter().filter(|b| !rows.contains(b)) {
            run.upgrade(row)
                .await
                .map_err(|e| fail(rev, &format!("upgrade back to {row} failed"), e))?;
        }
        let after_down = snap("after the downgrade").await?;
        if compare != Compare::AfterReupgrade && after_down != before {
            return Err(trace(check, rev, &before, &after_down));
        }
        run.upgrade(rev)
            .await
            .map_err(|e| fail(rev, "upgrade after its downgrade failed", e))?;
        let again = snap("after the second upgrade").await?;
        if compare != Compare::AfterDowngrade && again != after_up {
            return Err(CheckFailure::new(
                check,
                Some(rev),
                format!(
                    "upgrading again after its downgrade gives another schema, so the downgrade is not the inverse of the upgrade (- first upgrade, + second):\n{}",
                    diff(&after_up, &again)
                ),
            ));
        }
    }
    let _ = run.db.close().await;
    Ok(())
}

/// The failure of revision `rev` whose downgrade turned snapshot `before` into `after`.
fn trace(check: &'static str, rev: &str, before: &str, after: &str) -> CheckFailure {
    CheckFailure::new(
        check,
        Some(rev),
        format!(
            "its downgrade leaves a trace (- only before the upgrade, + still there after the downgrade):\n{}",
            diff(before, after)
        ),
    )
}

/// Whether snapshot line `line` (`<kind> <table>[.<column>] …`) is about one of `tables`.
fn names_any(line: &str, tables: &[String]) -> bool {
    let words: Vec<&str> = line.split(' ').collect();
    words.iter().take(3).any(|w| {
        tables.iter().any(|t| {
            w.strip_prefix(t.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    })
}

/// The lines only in `a` (`-`) and only in `b` (`+`), indented.
fn diff(a: &str, b: &str) -> String {
    let a: BTreeSet<&str> = a.lines().collect();
    let b: BTreeSet<&str> = b.lines().collect();
    let mut out = Vec::new();
    for l in a.difference(&b) {
        out.push(format!("  - {l}"));
    }
    for l in b.difference(&a) {
        out.push(format!("  + {l}"));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_names_lines_on_each_side() {
        assert_eq!(diff("a\nb\nc", "a\nc\nd"), "  - b\n  + d");
        assert_eq!(diff("x", "x"), "");
    }
}

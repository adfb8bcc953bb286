//! `lint`: dangerous operations in migrations, found by running every upgrade on an in-memory
//! SQLite shadow database and comparing the schema before and after each step.

use std::fmt;

use sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::SchemaManager;

use crate::autogenerate::{Change, Filter, diff_models, discover};
use crate::error::{DbContext, Result};
use crate::migrator::{Migrator, run_migration};
use crate::offline::recording_connection;

/// A rule of `lint`, allowed per migration with [`Script::allow_lint`](crate::Script::allow_lint).
/// Written (in findings, and parsed by [`FromStr`](std::str::FromStr)) as its kebab-case name.
///
/// ```
/// use db_migrate::lint::LintRule;
///
/// assert_eq!(LintRule::DropColumn.to_string(), "drop-column");
/// assert_eq!("type-narrowing".parse::<LintRule>().unwrap(), LintRule::TypeNarrowing);
/// assert!("drop-colum".parse::<LintRule>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LintRule {
    /// `drop-table`: a table and its rows are dropped.
    DropTable,
    /// `drop-column`: a column and its data are dropped.
    DropColumn,
    /// `rename-as-drop-add`: a column dropped and a compatible one added, the data-loss trap
    /// of a rename autogenerate could not see.
    RenameAsDropAdd,
    /// `not-null-without-default`: a NOT NULL column added without a default fails on a table
    /// with rows.
    NotNullWithoutDefault,
    /// `type-narrowing`: values may not fit the new type.
    TypeNarrowing,
    /// `sqlite-needs-rebuild`: an ALTER SQLite cannot run; use `batch_alter_table`.
    SqliteNeedsRebuild,
}

impl LintRule {
    /// Every rule, in the order findings are documented.
    pub const ALL: [LintRule; 6] = [
        Self::DropTable,
        Self::DropColumn,
        Self::RenameAsDropAdd,
        Self::NotNullWithoutDefault,
        Self::TypeNarrowing,
        Self::SqliteNeedsRebuild,
    ];

    /// The rule's kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DropTable => "drop-table",
            Self::DropColumn => "drop-column",
            Self::RenameAsDropAdd => "rename-as-drop-add",
            Self::NotNullWithoutDefault => "not-null-without-default",
            Self::TypeNarrowing => "type-narrowing",
            Self::SqliteNeedsRebuild => "sqlite-needs-rebuild",
        }
    }
}

impl fmt::Display for LintRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LintRule {
    type Err = crate::Error;

    /// # Errors
    /// [`Error::UnknownLintRule`](crate::Error::UnknownLintRule) naming the known rules.
    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| crate::Error::UnknownLintRule {
                rule: name.to_owned(),
                known: Self::ALL.map(Self::as_str).join(", "),
            })
    }
}

/// One dangerous operation in one migration; the rules are [`LintRule`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintFinding {
    /// The migration.
    pub revision: String,
    /// The rule, as [`Script::allow_lint`](crate::Script::allow_lint) takes it.
    pub rule: LintRule,
    /// What was found.
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.revision, self.rule, self.message)
    }
}

impl Migrator {
    /// Lints every migration's upgrade, oldest first, skipping the rules each script allows.
    /// Migrations run on an empty in-memory SQLite database; one that fails there is reported
    /// (`sqlite-needs-rebuild` for an ALTER SQLite lacks, `not-null-without-default` for
    /// SQLite's refusal to add such a column) and ends the run.
    ///
    /// # Errors
    /// [`Error::Db`](crate::Error::Db) when the shadow database cannot be opened or read.
    pub async fn lint(&self) -> Result<Vec<LintFinding>> {
        let (conn, recording) = recording_connection(DbBackend::Sqlite).await?;
        let plan = self.graph().plan_upgrade(&[], "heads")?;
        self.lint_plan(&conn, &recording, &plan, false).await
    }

    /// Lints what `upgrade heads` would run on `db`, starting from its real schema (a hand-over
    /// chain often starts with an empty baseline revision, which leaves an empty shadow without
    /// the tables later migrations alter). SQLite: the database is copied with `VACUUM INTO`
    /// to a temporary file and the pending migrations run there, and findings that depend on
    /// rows (NOT NULL without a default) say how many the table has. PostgreSQL and MySQL: the
    /// live schema is recreated on the SQLite shadow (a baseline snapshot, without rows). `db`
    /// is only read.
    ///
    /// # Errors
    /// [`Error::Db`](crate::Error::Db) when the copy or the catalog reads fail.
    pub async fn lint_database(&self, db: &db_core::Database) -> Result<Vec<LintFinding>> {
        let rows = self.current(db).await?;
        let plan = self.graph().plan_upgrade(&rows, "heads")?;
        match crate::dialect::live_lint(db.dialect()) {
            crate::dialect::LiveLint::OnCopy => self.lint_on_copy(db, &plan).await,
            crate::dialect::LiveLint::OnSchemaSnapshot => self.lint_on_snapshot(db, &plan).await,
        }
    }

    /// SQLite: the pending migrations run on a `VACUUM INTO` copy of the database, rows
    /// included.
    async fn lint_on_copy(
        &self,
        db: &db_core::Database,
        plan: &crate::plan::Plan,
    ) -> Result<Vec<LintFinding>> {
        let dir = tempfile::tempdir().map_err(|e| crate::Error::Backup {
            path: std::env::temp_dir(),
            reason: format!("cannot make a folder for the lint copy: {e}"),
        })?;
        let copy = dir.path().join("lint.sqlite3");
        let literal = copy.to_string_lossy().replace('\'', "''");
        db.execute_unprepared(&format!("VACUUM INTO '{literal}'"))
            .await
            .context(|| "copying the database for lint".into())?;
        let (conn, recording) =
            crate::offline::recording_connection_on(DbBackend::Sqlite, Some(copy)).await?;
        self.lint_plan(&conn, &recording, plan, true).await
    }

    /// PostgreSQL and MySQL: the live schema (tables, columns and their types, primary keys,
    /// indexes) is recreated on the in-memory SQLite shadow, a baseline snapshot, and the
    /// pending migrations are linted there. Rows are not copied.
    async fn lint_on_snapshot(
        &self,
        db: &db_core::Database,
        plan: &crate::plan::Plan,
    ) -> Result<Vec<LintFinding>> {
        use sea_orm::sea_query::{ColumnDef, Index, SqliteQueryBuilder, Table};
        let live = discover(db.connection(), db.schema())
            .await
            .context(|| "reading the live schema for lint".into())?;
        let (conn, recording) = recording_connection(DbBackend::Sqlite).await?;
        for (name, table) in &live.tables {
            if name.starts_with("alembic_version") {
                continue;
            }
            let mut create = Table::create();
            create.table(sea_orm::sea_query::Alias::new(name.clone()));
            for c in &table.columns {
                let ty = c
                    .column_type
                    .clone()
                    .unwrap_or_else(|| sea_orm::sea_query::ColumnType::custom(c.sql_type.clone()));
                let mut def =
                    ColumnDef::new_with_type(sea_orm::sea_query::Alias::new(c.name.clone()), ty);
                if !c.nullable {
                    def.not_null();
                }
                create.col(def);
            }
            if !table.primary_key.is_empty() {
                let mut pk = Index::create();
                for k in &table.primary_key {
                    pk.col(sea_orm::sea_query::Alias::new(k.clone()));
                }
                create.primary_key(&mut pk);
            }
            conn.execute_unprepared(&create.to_string(SqliteQueryBuilder))
                .await
                .context(|| format!("recreating {name} on the lint shadow"))?;
            for (k, ix) in table.indexes.iter().enumerate() {
                let mut index = Index::create();
                index
                    .name(format!("lint_ix_{name}_{k}"))
                    .table(sea_orm::sea_query::Alias::new(name.clone()));
                for col in &ix.columns {
                    index.col(sea_orm::sea_query::Alias::new(col.clone()));
                }
                if ix.unique {
                    index.unique();
                }
                conn.execute_unprepared(&index.to_string(SqliteQueryBuilder))
                    .await
                    .context(|| format!("recreating an index of {name} on the lint shadow"))?;
            }
        }
        let _ = recording.take();
        self.lint_plan(&conn, &recording, plan, false).await
    }

    async fn lint_plan(
        &self,
        conn: &sea_orm::DatabaseConnection,
        recording: &crate::offline::Recording,
        plan: &crate::plan::Plan,
        count_rows: bool,
    ) -> Result<Vec<LintFinding>> {
        let g = self.graph();
        let conn = conn.clone();
        recording.set_recording(true);
        let mut heads: Vec<String> = plan.start.clone();
        let mut findings = Vec::new();
        let everything = Filter {
            include: vec!["*".into()],
            ..Filter::default()
        };
        // Each step's schema after is the next one's before: one read per step.
        let mut before = discover(&conn, None)
            .await
            .context(|| "reading the shadow schema".into())?;
        while let Some((idx, dir, new_heads)) = self.next_step(plan, &heads)? {
            let script = &g.scripts[idx];
            let revision = g.id(idx).to_string();
            let mut found = Vec::new();
            let failed = run_migration(script, dir, &SchemaManager::new(&conn))
                .await
                .err();
            if let Some(e) = &failed {
                let text = e.to_string();
                let rule = if text.contains("NOT NULL column with default value NULL") {
                    LintRule::NotNullWithoutDefault
                } else {
                    LintRule::SqliteNeedsRebuild
                };
                found.push(LintFinding {
                    revision: revision.clone(),
                    rule,
                    message: format!("fails on SQLite ({text}); use batch_alter_table, or give the column a default; linting stops here"),
                });
            } else {
                let after = discover(&conn, None)
                    .await
                    .context(|| "reading the shadow schema".into())?;
                let renames = renamed_columns(&recording.take());
                for change in diff_models(&after, &before, &everything) {
                    if is_rename(&change, &renames) {
                        continue;
                    }
                    if let Some((rule, mut message)) = rule_of(&change, &before, &renames) {
                        if count_rows
                            && rule == LintRule::NotNullWithoutDefault
                            && let Change::AddColumn { table, .. }
                            | Change::AlterColumn { table, .. } = &change
                        {
                            message
                                .push_str(&format!(" ({} rows now)", rows_in(&conn, table).await?));
                        }
                        found.push(LintFinding {
                            revision: revision.clone(),
                            rule,
                            message,
                        });
                    }
                }
                before = after;
            }
            findings.extend(
                found
                    .into_iter()
                    .filter(|f| !script.allowed_lints.contains(&f.rule)),
            );
            if failed.is_some() {
                break;
            }
            heads = new_heads;
        }
        Ok(findings)
    }
}

/// The number of rows of `table` in the shadow.
async fn rows_in(conn: &sea_orm::DatabaseConnection, table: &str) -> Result<i64> {
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT COUNT(*) AS n FROM {}",
                db_core::Dialect::Sqlite.quote_trusted(table)
            ),
        ))
        .await
        .context(|| format!("counting the rows of {table}"))?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or_default())
}

/// `(table, from, to)` of every `ALTER TABLE t RENAME COLUMN a TO b` among `statements`.
fn renamed_columns(statements: &[String]) -> Vec<(String, String, String)> {
    statements
        .iter()
        .filter_map(|s| {
            let words: Vec<String> = s
                .trim_end_matches(';')
                .replace(['"', '`'], "")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
            let at = upper
                .windows(2)
                .position(|w| w[0] == "RENAME" && w[1] == "COLUMN")?;
            (upper.first()? == "ALTER" && upper.get(1)? == "TABLE" && upper.get(at + 3)? == "TO")
                .then(|| {
                    (
                        words[2].clone(),
                        words[at + 2].clone(),
                        words[at + 4].clone(),
                    )
                })
        })
        .collect()
}

/// A dropped or added column that a recorded `RENAME COLUMN` explains.
fn is_rename(change: &Change, renames: &[(String, String, String)]) -> bool {
    match change {
        Change::DropColumn { table, column, .. } => renames
            .iter()
            .any(|(t, from, _)| t == table && *from == column.name),
        Change::AddColumn { table, column } => renames
            .iter()
            .any(|(t, _, to)| t == table && *to == column.name),
        _ => false,
    }
}

fn rule_of(
    change: &Change,
    before: &crate::autogenerate::SchemaModel,
    renames: &[(String, String, String)],
) -> Option<(LintRule, String)> {
    let renamed_to = |table: &str, to: &str| renames.iter().any(|(t, _, b)| t == table && b == to);
    Some(match change {
        Change::DropTable(t) => (
            LintRule::DropTable,
            format!("drops table `{}` and its rows", t.name),
        ),
        Change::DropColumn {
            table,
            column,
            probable_rename_to: Some(to),
        } if !renamed_to(table, to) => (
            LintRule::RenameAsDropAdd,
            format!(
                "drops `{table}.{}` and adds `{to}` of a compatible type: if this is a rename, rename the column (the data in `{}` is lost)",
                column.name, column.name
            ),
        ),
        Change::DropColumn { table, column, .. } => (
            LintRule::DropColumn,
            format!("drops `{table}.{}` and its data", column.name),
        ),
        Change::AddColumn { table, column }
            if !column.nullable
                && column.default.is_none()
                && before.tables.contains_key(table) =>
        {
            (
                LintRule::NotNullWithoutDefault,
                format!(
                    "adds `{table}.{}` NOT NULL without a default: fails on a table with rows",
                    column.name
                ),
            )
        }
        Change::AlterColumn { table, from, to } if narrows(&from.sql_type, &to.sql_type) => (
            LintRule::TypeNarrowing,
            format!(
                "changes `{table}.{}` from {} to {}: values may not fit",
                to.name, from.sql_type, to.sql_type
            ),
        ),
        _ => return None,
    })
}

/// Whether `to` holds less than `from`: a shorter varchar, text to varchar, a smaller integer.
fn narrows(from: &str, to: &str) -> bool {
    let len = |t: &str| {
        t.split_once('(').and_then(|(_, r)| {
            r.trim_end_matches(')')
                .split(',')
                .next()?
                .trim()
                .parse::<u32>()
                .ok()
        })
    };
    let base = |t: &str| t.split('(').next().unwrap_or(t).to_owned();
    let rank = |t: &str| match t {
        "tinyint" => 1,
        "smallint" => 2,
        "integer" | "int" => 3,
        "bigint" => 4,
        _ => 0,
    };
    let (fb, tb) = (base(from), base(to));
    if (fb == "text" || fb.ends_with("text")) && tb == "varchar" {
        return true;
    }
    if fb == tb {
        return matches!((len(from), len(to)), (Some(a), Some(b)) if b < a)
            || (len(from).is_none() && len(to).is_some() && fb == "varchar");
    }
    rank(&fb) > 0 && rank(&tb) > 0 && rank(&tb) < rank(&fb)
}

#[cfg(test)]
mod tests {
    use super::narrows;

    #[test]
    fn renames_from_statements() {
        assert_eq!(
            super::renamed_columns(&[
                "ALTER TABLE \"courses\" RENAME COLUMN \"title\" TO \"name\";".into(),
                "ALTER TABLE t RENAME TO u;".into(),
            ]),
            [("courses".to_owned(), "title".to_owned(), "name".to_owned())]
        );
    }

    #[test]
    fn narrowing() {
        assert!(narrows("varchar(64)", "varchar(32)"));
        assert!(!narrows("varchar(20)", "varchar(32)"));
        assert!(narrows("text", "varchar(32)"));
        assert!(narrows("bigint", "integer"));
        assert!(!narrows("integer", "bigint"));
        assert!(!narrows("integer", "text"));
    }
}

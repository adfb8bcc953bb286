//! Batch table alteration (Alembic's `batch_alter_table`, "move and copy"): one description of
//! column and constraint changes that runs as native `ALTER TABLE` on PostgreSQL and MySQL and
//! as SQLite's documented table rebuild on SQLite.

pub(crate) mod sqlite_sql;

use sea_orm::sea_query::{Alias, ColumnDef, ColumnType, ForeignKeyAction, Table};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

use self::sqlite_sql::{ConstraintKind, Element, parse_create_table, tokenize};
pub use crate::cleanup::{TMP_TABLE_PREFIX, drop_alembic_tmp_tables};
use crate::dialect::NativeAlter;

/// A change to one column's type, nullability or default (unset fields stay as they are).
#[derive(Clone, Debug, Default)]
pub struct AlterColumn {
    pub(crate) type_: Option<ColumnType>,
    pub(crate) nullable: Option<bool>,
    pub(crate) default: Option<Option<String>>,
}

impl AlterColumn {
    /// No change yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes the type (rendered for each backend by sea-query).
    #[must_use]
    pub fn type_(mut self, type_: ColumnType) -> Self {
        self.type_ = Some(type_);
        self
    }

    /// Makes the column nullable (`true`) or NOT NULL (`false`).
    #[must_use]
    pub fn nullable(mut self, nullable: bool) -> Self {
        self.nullable = Some(nullable);
        self
    }

    /// Sets the server default to the SQL expression `sql` (e.g. `'draft'`, `0`, `CURRENT_TIMESTAMP`).
    #[must_use]
    pub fn default_sql(mut self, sql: impl Into<String>) -> Self {
        self.default = Some(Some(sql.into()));
        self
    }

    /// Removes the server default.
    #[must_use]
    pub fn drop_default(mut self) -> Self {
        self.default = Some(None);
        self
    }
}

#[derive(Clone, Debug)]
enum Op {
    AddColumn(Box<ColumnDef>),
    DropColumn(String),
    RenameColumn(String, String),
    AlterColumn(String, AlterColumn),
    AddUnique(String, Vec<String>),
    AddCheck(String, String),
    AddForeignKey {
        name: String,
        columns: Vec<String>,
        table: String,
        referenced: Vec<String>,
        on_delete: Option<ForeignKeyAction>,
    },
    DropConstraint(String),
    DropForeignKey(Vec<String>),
    DropUnique(Vec<String>),
    RenameTable(String),
}

/// The changes to make to one table, applied by [`batch_alter_table`].
///
/// ```
/// use db_migrate::{AlterColumn, BatchAlter};
/// use sea_orm::sea_query::{ColumnType, StringLen};
///
/// let batch = BatchAlter::new("courses")
///     .drop_column("legacy_flag")
///     .alter_column("code", AlterColumn::new().type_(ColumnType::String(StringLen::N(32))).nullable(false))
///     .add_unique("uq_courses_code", ["code"]);
/// # let _ = batch;
/// ```
#[derive(Clone, Debug)]
pub struct BatchAlter {
    table: String,
    ops: Vec<Op>,
}

impl BatchAlter {
    /// Changes to `table`.
    #[must_use]
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            ops: Vec::new(),
        }
    }

    /// Adds a column (always a native `ADD COLUMN`; on SQLite it must be nullable or have a
    /// default).
    #[must_use]
    pub fn add_column(mut self, column: ColumnDef) -> Self {
        self.ops.push(Op::AddColumn(Box::new(column)));
        self
    }

    /// Drops a column, with the indexes and constraints that use it.
    #[must_use]
    pub fn drop_column(mut self, name: impl Into<String>) -> Self {
        self.ops.push(Op::DropColumn(name.into()));
        self
    }

    /// Renames a column, keeping its data (native on every backend).
    #[must_use]
    pub fn rename_column(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.ops.push(Op::RenameColumn(from.into(), to.into()));
        self
    }

    /// Changes a column's type, nullability or default.
    #[must_use]
    pub fn alter_column(mut self, name: impl Into<String>, change: AlterColumn) -> Self {
        self.ops.push(Op::AlterColumn(name.into(), change));
        self
    }

    /// Adds a named unique constraint.
    #[must_use]
    pub fn add_unique<I, S>(mut self, name: impl Into<String>, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ops.push(Op::AddUnique(
            name.into(),
            columns.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Adds a named check constraint with the SQL condition `condition`.
    #[must_use]
    pub fn add_check(mut self, name: impl Into<String>, condition: impl Into<String>) -> Self {
        self.ops.push(Op::AddCheck(name.into(), condition.into()));
        self
    }

    /// Adds a named foreign key `columns` → `table(referenced)`.
    #[must_use]
    pub fn add_foreign_key<I, S, J, T>(
        mut self,
        name: impl Into<String>,
        columns: I,
        table: impl Into<String>,
        referenced: J,
        on_delete: Option<ForeignKeyAction>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        J: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.ops.push(Op::AddForeignKey {
            name: name.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            table: table.into(),
            referenced: referenced.into_iter().map(Into::into).collect(),
            on_delete,
        });
        self
    }

    /// Drops a named unique, check or foreign-key constraint.
    #[must_use]
    pub fn drop_constraint(mut self, name: impl Into<String>) -> Self {
        self.ops.push(Op::DropConstraint(name.into()));
        self
    }

    /// Drops the foreign key on exactly `columns`, whatever its name (SQLite's inline
    /// `REFERENCES` included): what autogenerate writes, since names differ by backend.
    #[must_use]
    pub fn drop_foreign_key<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ops.push(Op::DropForeignKey(
            columns.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Drops the unique constraint or unique index on exactly `columns`, whatever its name
    /// (an entity's `#[sea_orm(unique)]` is an inline `UNIQUE` on SQLite, a `<table>_<col>_key`
    /// constraint on PostgreSQL and an index named after the column on MySQL).
    #[must_use]
    pub fn drop_unique<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ops.push(Op::DropUnique(
            columns.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Renames the table (last, after the other changes).
    #[must_use]
    pub fn rename_table(mut self, to: impl Into<String>) -> Self {
        self.ops.push(Op::RenameTable(to.into()));
        self
    }
}

pub(crate) fn err(table: &str, what: impl std::fmt::Display) -> DbErr {
    DbErr::Migration(format!("batch alteration of table `{table}`: {what}"))
}

/// A name from the migration's own code or the catalog, quoted for `backend`.
pub(crate) fn quote(backend: DbBackend, name: &str) -> String {
    crate::version_table::dialect(backend).quote_trusted(name)
}

fn quote_list(backend: DbBackend, names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(backend, n))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn type_sql(backend: DbBackend, t: &ColumnType) -> String {
    crate::version_table::dialect(backend).column_type_sql(t)
}

fn action_sql(a: ForeignKeyAction) -> &'static str {
    match a {
        ForeignKeyAction::Restrict => "RESTRICT",
        ForeignKeyAction::Cascade => "CASCADE",
        ForeignKeyAction::SetNull => "SET NULL",
        ForeignKeyAction::NoAction => "NO ACTION",
        ForeignKeyAction::SetDefault => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

fn foreign_key_sql(
    backend: DbBackend,
    name: &str,
    columns: &[String],
    table: &str,
    referenced: &[String],
    on_delete: Option<ForeignKeyAction>,
) -> String {
    let mut s = format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        quote(backend, name),
        quote_list(backend, columns),
        quote(backend, table),
        quote_list(backend, referenced)
    );
    if let Some(a) = on_delete {
        s.push_str(" ON DELETE ");
        s.push_str(action_sql(a));
    }
    s
}

/// Applies `batch` to its table through `db` (a migration's connection or transaction):
/// native `ALTER TABLE` statements on PostgreSQL and MySQL; on SQLite, `ADD COLUMN`, column and
/// table renames natively and everything else by SQLite's 12-step rebuild — create
/// `_alembic_tmp_<table>` with the edited definition, copy the rows, drop the old table, rename
/// the new one into place, recreate its indexes, triggers and the views that use it. The
/// original `CREATE TABLE` text is edited element by element, so collations, `AUTOINCREMENT`,
/// `WITHOUT ROWID` and the rest survive.
///
/// On SQLite foreign keys must be off (the runner switches them off outside the migration's
/// transaction and runs `PRAGMA foreign_key_check` before committing); with them on, dropping
/// the old table would cascade into child tables, so this refuses.
///
/// # Errors
/// `DbErr::Migration` naming the table and the change for anything it cannot do (an unknown
/// column or constraint, dropping a primary-key column, SQLite with foreign keys on), or the
/// driver's error. It never panics.
pub async fn batch_alter_table(db: &impl ConnectionTrait, batch: BatchAlter) -> Result<(), DbErr> {
    let dialect = crate::version_table::dialect(db.get_database_backend());
    crate::dialect::batch_alter(dialect, db, batch).await
}

async fn add_column(
    db: &impl ConnectionTrait,
    table: &str,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    db.execute(Table::alter().table(Alias::new(table)).add_column(column))
        .await
        .map(|_| ())
}

pub(crate) async fn exec(db: &impl ConnectionTrait, sql: &str) -> Result<(), DbErr> {
    tracing::debug!(%sql, "batch");
    db.execute_unprepared(sql).await.map(|_| ())
}

/// Alters `batch.table` in place with the server's own `ALTER TABLE` statements; what differs
/// between PostgreSQL and MySQL comes from `alter` (the migration dialect).
pub(crate) async fn native(
    db: &impl ConnectionTrait,
    alter: &impl NativeAlter,
    batch: BatchAlter,
) -> Result<(), DbErr> {
    let backend = alter.dialect().backend();
    let table = batch.table.clone();
    let t = quote(backend, &table);
    let mut renamed_to = None;
    for op in batch.ops {
        match op {
            Op::AddColumn(mut c) => add_column(db, &table, c.as_mut()).await?,
            Op::DropColumn(c) => {
                exec(
                    db,
                    &format!("ALTER TABLE {t} DROP COLUMN {}", quote(backend, &c)),
                )
                .await?
            }
            Op::RenameColumn(a, b) => {
                exec(
                    db,
                    &format!(
                        "ALTER TABLE {t} RENAME COLUMN {} TO {}",
                        quote(backend, &a),
                        quote(backend, &b)
                    ),
                )
                .await?;
            }
            Op::AlterColumn(c, change) => alter.alter_column(db, &table, &c, &change).await?,
            Op::AddUnique(n, cols) => {
                exec(
                    db,
                    &format!(
                        "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE ({})",
                        quote(backend, &n),
                        quote_list(backend, &cols)
                    ),
                )
                .await?;
            }
            Op::AddCheck(n, cond) => {
                exec(
                    db,
                    &format!(
                        "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({cond})",
                        quote(backend, &n)
                    ),
                )
                .await?
            }
            Op::AddForeignKey {
                name,
                columns,
                table: parent,
                referenced,
                on_delete,
            } => {
                let fk = foreign_key_sql(backend, &name, &columns, &parent, &referenced, on_delete);
                exec(db, &format!("ALTER TABLE {t} ADD {fk}")).await?;
            }
            Op::DropConstraint(n) => alter.drop_constraint(db, &table, &n).await?,
            Op::DropForeignKey(cols) => {
                let live = live_table(db, &table).await?;
                let fk = live
                    .foreign_keys
                    .iter()
                    .find(|f| f.columns == cols)
                    .and_then(|f| f.name.clone())
                    .ok_or_else(|| {
                        err(
                            &table,
                            format!("drop foreign key: none on ({})", cols.join(", ")),
                        )
                    })?;
                alter.drop_foreign_key(db, &table, &fk).await?;
            }
            Op::DropUnique(cols) => {
                let live = live_table(db, &table).await?;
                let name = live
                    .indexes
                    .iter()
                    .find(|i| i.unique && i.columns == cols)
                    .and_then(|i| i.name.clone())
                    .ok_or_else(|| {
                        err(
                            &table,
                            format!("drop unique: none on ({})", cols.join(", ")),
                        )
                    })?;
                alter.drop_unique(db, &table, &name).await?;
            }
            Op::RenameTable(to) => renamed_to = Some(to),
        }
    }
    if let Some(to) = renamed_to {
        exec(db, &alter.rename_table(&table, &to)).await?;
    }
    Ok(())
}

async fn master_sql(
    db: &impl ConnectionTrait,
    kind: &str,
    table: &str,
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL ORDER BY rowid",
            [kind.into(), table.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Whether `sql` mentions the identifier `name` (as a token, quoted or not).
/// The table as it is now (for finding constraint names by columns).
async fn live_table(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<crate::autogenerate::TableModel, DbErr> {
    crate::autogenerate::discover_table(db, table)
        .await?
        .ok_or_else(|| err(table, "no such table"))
}

/// Removes the table constraint of `kind` on exactly `cols`, or, for one column, the column
/// constraint containing `keyword` (`REFERENCES …`, `UNIQUE`). Whether one was removed.
fn drop_inline(
    def: &mut sqlite_sql::CreateTable,
    _table: &str,
    cols: &[String],
    kind: ConstraintKind,
    keyword: &str,
) -> bool {
    let same = |a: &[String]| {
        a.len() == cols.len() && a.iter().zip(cols).all(|(x, y)| x.eq_ignore_ascii_case(y))
    };
    let before = def.elements.len();
    def.elements.retain(
        |e| !matches!(e, Element::Constraint { kind: k, columns, .. } if *k == kind && same(columns)),
    );
    if def.elements.len() != before {
        return true;
    }
    let [col] = cols else { return false };
    for e in &mut def.elements {
        if let Element::Column(c) = e
            && c.name.eq_ignore_ascii_case(col)
        {
            let n = c.rest.len();
            c.rest.retain(|r| {
                !r.to_ascii_uppercase()
                    .split_whitespace()
                    .any(|w| w == keyword)
            });
            return c.rest.len() != n;
        }
    }
    false
}

fn mentions(sql: &str, name: &str) -> bool {
    tokenize(sql)
        .into_iter()
        .any(|t| sqlite_sql::ident(sql, t).eq_ignore_ascii_case(name))
}

/// SQLite: the table is rebuilt (Alembic's "move and copy").
pub(crate) async fn rebuild(db: &impl ConnectionTrait, batch: BatchAlter) -> Result<(), DbErr> {
    let table = batch.table.clone();
    let fk_on = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_keys",
        ))
        .await?
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    let t = quote(DbBackend::Sqlite, &table);
    let mut rebuild = Vec::new();
    let mut renamed_to = None;
    for op in batch.ops {
        match op {
            Op::AddColumn(mut c) => add_column(db, &table, c.as_mut()).await?,
            Op::RenameColumn(a, b) => {
                exec(
                    db,
                    &format!(
                        "ALTER TABLE {t} RENAME COLUMN {} TO {}",
                        quote(DbBackend::Sqlite, &a),
                        quote(DbBackend::Sqlite, &b)
                    ),
                )
                .await?;
            }
            Op::RenameTable(to) => renamed_to = Some(to),
            Op::DropUnique(cols) => {
                // A CREATE UNIQUE INDEX goes natively; a UNIQUE in the table needs the rebuild.
                let live = live_table(db, &table).await?;
                match live
                    .indexes
                    .iter()
                    .find(|i| i.unique && i.columns == cols && i.name.is_some())
                    .and_then(|i| i.name.clone())
                {
                    Some(name) => {
                        exec(
                            db,
                            &format!("DROP INDEX {}", quote(DbBackend::Sqlite, &name)),
                        )
                        .await?
                    }
                    None => rebuild.push(Op::DropUnique(cols)),
                }
            }
            other => rebuild.push(other),
        }
    }
    if !rebuild.is_empty() {
        if fk_on != 0 {
            return Err(err(
                &table,
                "foreign keys are on, so dropping the old table would cascade into child tables; run batch alterations inside a migration (the runner switches foreign keys off outside its transaction)",
            ));
        }
        rebuild_sqlite(db, &table, rebuild).await?;
    }
    if let Some(to) = renamed_to {
        exec(
            db,
            &format!(
                "ALTER TABLE {t} RENAME TO {}",
                quote(DbBackend::Sqlite, &to)
            ),
        )
        .await?;
    }
    Ok(())
}

/// Rows per `INSERT … SELECT` of a rebuild's copy: a larger table is copied in rowid ranges
/// of this many rows, so that a long copy can say how far it got.
const COPY_CHUNK: i64 = 250_000;

/// How often a long copy logs the rows copied so far.
const COPY_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Copies every row of `table` into `tmp` (the columns `cols`, quoted). When `by_rowid` (a
/// rowid table without a column named `rowid`) and its rowids span more than [`COPY_CHUNK`],
/// it is copied in ascending rowid ranges of [`COPY_CHUNK`] rows (the order one statement
/// would scan), logging `rebuilding <table>: N rows copied (about P %, S s)` every
/// [`COPY_REPORT_EVERY`] on the progress target; otherwise in one statement. The caller's
/// transaction makes it all or nothing.
async fn copy_rows(
    db: &impl ConnectionTrait,
    table: &str,
    tmp: &str,
    cols: &str,
    by_rowid: bool,
) -> Result<(), DbErr> {
    let q = |n: &str| quote(DbBackend::Sqlite, n);
    let (t, all) = (
        q(table),
        format!(
            "INSERT INTO {} ({cols}) SELECT {cols} FROM {}",
            q(tmp),
            q(table)
        ),
    );
    let one = |sql: String, values: Vec<sea_orm::Value>| {
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    };
    let range = if by_rowid {
        db.query_one_raw(one(
            format!("SELECT min(rowid), max(rowid) FROM {t}"),
            vec![],
        ))
        .await?
        .and_then(|r| {
            Some((
                r.try_get_by_index::<Option<i64>>(0).ok()??,
                r.try_get_by_index::<Option<i64>>(1).ok()??,
            ))
        })
    } else {
        None
    };
    let Some((first, last)) = range.filter(|(lo, hi)| hi.saturating_sub(*lo) >= COPY_CHUNK) else {
        exec(db, &all).await?;
        return Ok(());
    };
    let started = std::time::Instant::now();
    let mut reported = started;
    let mut copied: u64 = 0;
    // Rows with a rowid ≥ `from` are still to copy.
    let mut from = first;
    loop {
        // The rowid of the last row of this chunk; `None` when the rest fits in it.
        let upto: Option<i64> = db
            .query_one_raw(one(
                format!(
                    "SELECT rowid FROM {t} WHERE rowid >= ? ORDER BY rowid LIMIT 1 OFFSET {}",
                    COPY_CHUNK - 1
                ),
                vec![from.into()],
            ))
            .await?
            .map(|r| r.try_get_by_index(0))
            .transpose()?;
        let (sql, values) = match upto {
            Some(hi) => (
                format!("{all} WHERE rowid >= ? AND rowid <= ?"),
                vec![from.into(), hi.into()],
            ),
            None => (format!("{all} WHERE rowid >= ?"), vec![from.into()]),
        };
        copied += db.execute_raw(one(sql, values)).await?.rows_affected();
        let next = upto.and_then(|hi| hi.checked_add(1)).filter(|n| *n <= last);
        if reported.elapsed() >= COPY_REPORT_EVERY && next.is_some() {
            reported = std::time::Instant::now();
            let done = next.unwrap_or(last).saturating_sub(first);
            // A rough share of the rowid range, for the message only.
            #[expect(clippy::cast_precision_loss, reason = "an approximate percentage")]
            let percent = done as f64 * 100.0 / (last.saturating_sub(first).max(1)) as f64;
            tracing::info!(
                target: crate::PROGRESS_TARGET,
                table,
                rows_copied = copied,
                "rebuilding {table}: {copied} rows copied (about {percent:.0} %, {} s)",
                started.elapsed().as_secs()
            );
        }
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    tracing::debug!(table, rows_copied = copied, "rebuild copy done");
    Ok(())
}

async fn rebuild_sqlite(db: &impl ConnectionTrait, table: &str, ops: Vec<Op>) -> Result<(), DbErr> {
    let q = |n: &str| quote(DbBackend::Sqlite, n);
    let create = master_sql(db, "table", table)
        .await?
        .into_iter()
        .find(|(n, _)| n == table)
        .map(|(_, sql)| sql)
        .ok_or_else(|| err(table, "no such table"))?;
    let mut def = parse_create_table(&create)
        .ok_or_else(|| err(table, "its CREATE TABLE statement could not be read"))?;
    let mut dropped: Vec<String> = Vec::new();
    for op in ops {
        match op {
            Op::DropColumn(c) => {
                let pos = def
                    .elements
                    .iter()
                    .position(
                        |e| matches!(e, Element::Column(col) if col.name.eq_ignore_ascii_case(&c)),
                    )
                    .ok_or_else(|| err(table, format!("drop column: no column `{c}`")))?;
                if let Element::Column(col) = &def.elements[pos]
                    && col
                        .rest
                        .iter()
                        .any(|r| r.to_ascii_uppercase().starts_with("PRIMARY"))
                {
                    return Err(err(
                        table,
                        format!("drop column: `{c}` is (part of) the primary key"),
                    ));
                }
                def.elements.remove(pos);
                let mut blocked = None;
                def.elements.retain(|e| match e {
                    Element::Constraint {
                        kind: ConstraintKind::PrimaryKey,
                        columns,
                        ..
                    } if columns.iter().any(|x| x.eq_ignore_ascii_case(&c)) => {
                        blocked = Some(());
                        true
                    }
                    Element::Constraint {
                        kind: ConstraintKind::Check,
                        text,
                        ..
                    } => !mentions(text, &c),
                    Element::Constraint { columns, .. } => {
                        !columns.iter().any(|x| x.eq_ignore_ascii_case(&c))
                    }
                    Element::Column(_) => true,
                });
                if blocked.is_some() {
                    return Err(err(
                        table,
                        format!("drop column: `{c}` is (part of) the primary key"),
                    ));
                }
                dropped.push(c);
            }
            Op::AlterColumn(c, change) => {
                let col = def
                    .elements
                    .iter_mut()
                    .find_map(|e| match e {
                        Element::Column(col) if col.name.eq_ignore_ascii_case(&c) => Some(col),
                        _ => None,
                    })
                    .ok_or_else(|| err(table, format!("alter column: no column `{c}`")))?;
                if let Some(ty) = &change.type_ {
                    col.type_sql = type_sql(DbBackend::Sqlite, ty);
                }
                if let Some(n) = change.nullable {
                    col.not_null = !n;
                }
                if let Some(d) = change.default {
                    col.default = d;
                }
            }
            Op::AddUnique(n, cols) => def.elements.push(Element::Constraint {
                name: Some(n.clone()),
                kind: ConstraintKind::Unique,
                text: format!(
                    "CONSTRAINT {} UNIQUE ({})",
                    q(&n),
                    quote_list(DbBackend::Sqlite, &cols)
                ),
                columns: cols,
            }),
            Op::AddCheck(n, cond) => def.elements.push(Element::Constraint {
                name: Some(n.clone()),
                kind: ConstraintKind::Check,
                text: format!("CONSTRAINT {} CHECK ({cond})", q(&n)),
                columns: Vec::new(),
            }),
            Op::AddForeignKey {
                name,
                columns,
                table: parent,
                referenced,
                on_delete,
            } => def.elements.push(Element::Constraint {
                name: Some(name.clone()),
                kind: ConstraintKind::ForeignKey,
                text: foreign_key_sql(
                    DbBackend::Sqlite,
                    &name,
                    &columns,
                    &parent,
                    &referenced,
                    on_delete,
                ),
                columns,
            }),
            Op::DropConstraint(n) => {
                let before = def.elements.len();
                def.elements.retain(|e| !matches!(e, Element::Constraint { name: Some(x), .. } if x.eq_ignore_ascii_case(&n)));
                if def.elements.len() == before {
                    return Err(err(
                        table,
                        format!("drop constraint: no constraint named `{n}`"),
                    ));
                }
            }
            Op::DropForeignKey(cols) => {
                if !drop_inline(
                    &mut def,
                    table,
                    &cols,
                    ConstraintKind::ForeignKey,
                    "REFERENCES",
                ) {
                    return Err(err(
                        table,
                        format!("drop foreign key: none on ({})", cols.join(", ")),
                    ));
                }
            }
            Op::DropUnique(cols) => {
                if !drop_inline(&mut def, table, &cols, ConstraintKind::Unique, "UNIQUE") {
                    return Err(err(
                        table,
                        format!("drop unique: none on ({})", cols.join(", ")),
                    ));
                }
            }
            Op::AddColumn(_) | Op::RenameColumn(..) | Op::RenameTable(_) => {}
        }
    }
    let indexes = master_sql(db, "index", table).await?;
    let triggers = master_sql(db, "trigger", table).await?;
    let views: Vec<(String, String)> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid",
        ))
        .await?
        .iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect::<Result<Vec<(String, String)>, DbErr>>()?
        .into_iter()
        .filter(|(_, sql)| mentions(sql, table))
        .collect();
    let copied: Vec<String> = def
        .elements
        .iter()
        .filter_map(|e| match e {
            Element::Column(c)
                if !c.rest.iter().any(|r| {
                    let u = r.to_ascii_uppercase();
                    u.starts_with("GENERATED") || u.starts_with("AS")
                }) =>
            {
                Some(q(&c.name))
            }
            _ => None,
        })
        .collect();
    let tmp = format!("{TMP_TABLE_PREFIX}{table}");
    let body = def
        .elements
        .iter()
        .map(Element::to_sql)
        .collect::<Vec<_>>()
        .join(", ");
    for (name, _) in &views {
        exec(db, &format!("DROP VIEW {}", q(name))).await?;
    }
    exec(
        db,
        &format!("CREATE TABLE {} ({body}) {}", q(&tmp), def.options),
    )
    .await?;
    // Copied in rowid ranges unless the table has no rowid or a column hides it.
    let by_rowid = !def.options.to_ascii_uppercase().contains("WITHOUT ROWID")
        && !def
            .elements
            .iter()
            .any(|e| matches!(e, Element::Column(c) if c.name.eq_ignore_ascii_case("rowid")));
    copy_rows(db, table, &tmp, &copied.join(", "), by_rowid).await?;
    exec(db, &format!("DROP TABLE {}", q(table))).await?;
    exec(
        db,
        &format!("ALTER TABLE {} RENAME TO {}", q(&tmp), q(table)),
    )
    .await?;
    for (name, sql) in indexes {
        if let Some(c) = dropped.iter().find(|c| mentions(&sql, c)) {
            tracing::info!(index = %name, column = %c, "dropped with its column");
            continue;
        }
        exec(db, &sql).await?;
    }
    for (_, sql) in triggers.into_iter().chain(views) {
        exec(db, &sql).await?;
    }
    Ok(())
}

//! Compares the entity model with the live one: the list of [`Change`]s autogenerate renders
//! and `check` prints.

use std::collections::BTreeSet;
use std::fmt;

use sea_orm::sea_query::ColumnType;

use super::model::{ColumnModel, ForeignKeyModel, IndexModel, SchemaModel, TableModel, action_sql};

/// One difference between the entities (the target) and the database, phrased as the
/// operation that makes the database match, as Alembic's `compare_metadata` entries
/// (`add_table`, `remove_column`, `modify_type`, …).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A PostgreSQL enum type an entity's column uses is missing.
    CreateEnum {
        /// The type's name.
        name: String,
        /// Its values, in order.
        values: Vec<String>,
    },
    /// A PostgreSQL enum type that only columns leaving the compared tables used.
    DropEnum {
        /// The type's name.
        name: String,
        /// Its values, in order (to recreate it on downgrade).
        values: Vec<String>,
    },
    /// A PostgreSQL enum type's values differ from the entity's.
    AlterEnum {
        /// The type's name.
        name: String,
        /// Its values now.
        from: Vec<String>,
        /// The entity's values.
        to: Vec<String>,
    },
    /// A registered entity has no table.
    AddTable(TableModel),
    /// A managed table has no entity (only tables matched by [`Filter::include`](super::Filter)).
    DropTable(TableModel),
    /// A column of the entity is missing.
    AddColumn {
        /// Table name.
        table: String,
        /// The entity's column.
        column: ColumnModel,
    },
    /// A column of the table has no field in the entity.
    DropColumn {
        /// Table name.
        table: String,
        /// The column as it is.
        column: ColumnModel,
        /// A column added in the same table with the same type: this may be a rename that
        /// autogenerate cannot see (the data-loss trap of a drop+add).
        probable_rename_to: Option<String>,
    },
    /// The entity says `renamed_from`: rename, keeping the data.
    RenameColumn {
        /// Table name.
        table: String,
        /// The old name.
        from: String,
        /// The column as the entity wants it.
        column: ColumnModel,
    },
    /// Type, nullability or (with `compare_server_default`) default differ.
    AlterColumn {
        /// Table name.
        table: String,
        /// The column as it is.
        from: ColumnModel,
        /// The column as the entity wants it.
        to: ColumnModel,
    },
    /// An index or unique constraint of the entity is missing.
    AddIndex {
        /// Table name.
        table: String,
        /// The index.
        index: IndexModel,
    },
    /// An index or unique constraint has no counterpart in the entity.
    DropIndex {
        /// Table name.
        table: String,
        /// The index.
        index: IndexModel,
    },
    /// A foreign key of the entity is missing (or its actions differ: drop + add).
    AddForeignKey {
        /// Table name.
        table: String,
        /// The foreign key.
        foreign_key: ForeignKeyModel,
    },
    /// A foreign key has no counterpart in the entity.
    DropForeignKey {
        /// Table name.
        table: String,
        /// The foreign key.
        foreign_key: ForeignKeyModel,
    },
    /// The primary key columns differ. Reported, not generated (as Alembic): write it by hand.
    PrimaryKey {
        /// Table name.
        table: String,
        /// The columns as they are.
        from: Vec<String>,
        /// The columns as the entity wants them.
        to: Vec<String>,
    },
}

/// What to compare besides the registered entities' tables.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Unregistered tables to manage as well (so that autogenerate drops them), by name or
    /// `prefix*` pattern; empty = leave every unregistered table alone (Websauna's
    /// per-package filter, the other side of Alembic's `include_object`).
    pub include: Vec<String>,
    /// Tables never compared, by name or `prefix*` pattern (Alembic's `include_object`
    /// returning false).
    pub exclude: Vec<String>,
    /// Compare server defaults too (Alembic's `compare_server_default`); on by default, as
    /// both sides' defaults are canonicalised (casts, parentheses, `now()`), so a freshly
    /// migrated database shows none.
    pub compare_server_default: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            include: Vec::new(),
            exclude: Vec::new(),
            compare_server_default: true,
        }
    }
}

impl Filter {
    /// Whether `table` is one of [`exclude`](Self::exclude)'s (by name or `prefix*`).
    #[must_use]
    pub fn excludes(&self, table: &str) -> bool {
        Self::matches(&self.exclude, table)
    }

    fn matches(patterns: &[String], table: &str) -> bool {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => table.starts_with(prefix),
            None => p == table,
        })
    }
}

/// Tables no comparison ever touches: the version tables, SQLite's own, and batch leftovers.
pub(crate) fn internal(table: &str, version_tables: &[&str]) -> bool {
    version_tables.contains(&table)
        || table.starts_with("sqlite_")
        || table.starts_with(crate::cleanup::TMP_TABLE_PREFIX)
}

/// When two spellings of a column type count as the same type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeRule {
    /// Only the same canonical spelling (`lint`, which looks for narrowing).
    Exact,
    /// SQLite's type affinity for different type names (`BIGINT` = `INTEGER`, `VARCHAR(32)` =
    /// `TEXT`), except that `INTEGER PRIMARY KEY` (the rowid alias) differs from any other
    /// integer key; the same name with other arguments (`varchar(200)` -> `varchar(250)`)
    /// still differs, so a generated migration keeps what other backends enforce.
    SqliteAffinity,
}

impl TypeRule {
    fn same(self, want: &str, have: &str, sole_key: bool) -> bool {
        match self {
            Self::Exact => want == have,
            Self::SqliteAffinity => {
                if want == have {
                    return true;
                }
                if sole_key && (want == "integer") != (have == "integer") {
                    return false;
                }
                let name = |t: &str| t.split('(').next().unwrap_or(t).trim().to_owned();
                name(want) != name(have) && sqlite_affinity(want) == sqlite_affinity(have)
            }
        }
    }
}

/// SQLite's affinity of a declared type, by the rules of `datatype3.html` §3.1, in order.
pub(crate) fn sqlite_affinity(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "TEXT"
    } else if t.contains("BLOB") || t.trim().is_empty() {
        "BLOB"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// The changes that turn `live` into `target`, in the order the upgrade applies them.
pub(crate) fn diff(
    target: &SchemaModel,
    live: &SchemaModel,
    filter: &Filter,
    version_tables: &[&str],
    types: TypeRule,
) -> Vec<Change> {
    let mut drops_fk = Vec::new();
    let mut drops_ix = Vec::new();
    let mut adds_table = Vec::new();
    let mut columns = Vec::new();
    let mut adds_ix = Vec::new();
    let mut adds_fk = Vec::new();
    let mut drops_table = Vec::new();
    let skip = |t: &str| internal(t, version_tables) || Filter::matches(&filter.exclude, t);
    for (name, want) in &target.tables {
        if skip(name) {
            continue;
        }
        let Some(have) = live.tables.get(name) else {
            adds_table.push(want.clone());
            continue;
        };
        compare_table(want, have, filter, types, &mut columns);
        for ix in &have.indexes {
            if !want.indexes.iter().any(|w| same_index(w, ix)) {
                drops_ix.push(Change::DropIndex {
                    table: name.clone(),
                    index: ix.clone(),
                });
            }
        }
        for ix in &want.indexes {
            if !have.indexes.iter().any(|h| same_index(ix, h)) {
                adds_ix.push(Change::AddIndex {
                    table: name.clone(),
                    index: ix.clone(),
                });
            }
        }
        for fk in &have.foreign_keys {
            if !want.foreign_keys.iter().any(|w| same_fk(w, fk)) {
                drops_fk.push(Change::DropForeignKey {
                    table: name.clone(),
                    foreign_key: fk.clone(),
                });
            }
        }
        for fk in &want.foreign_keys {
            if !have.foreign_keys.iter().any(|h| same_fk(fk, h)) {
                adds_fk.push(Change::AddForeignKey {
                    table: name.clone(),
                    foreign_key: fk.clone(),
                });
            }
        }
    }
    for (name, have) in &live.tables {
        if !target.tables.contains_key(name)
            && !skip(name)
            && Filter::matches(&filter.include, name)
        {
            drops_table.push(have.clone());
        }
    }
    let (creates_enum, drops_enum) = compare_enums(target, live, &skip);
    let mut out = creates_enum;
    out.extend(drops_fk);
    out.extend(drops_ix);
    out.extend(
        order_by_dependencies(adds_table)
            .into_iter()
            .map(Change::AddTable),
    );
    out.extend(columns);
    out.extend(adds_ix);
    out.extend(adds_fk);
    let mut drops = order_by_dependencies(drops_table);
    drops.reverse();
    out.extend(drops.into_iter().map(Change::DropTable));
    out.extend(drops_enum);
    out
}

/// Enum types to create or alter (before any table) and to drop (after every table): a live
/// type is dropped only when a compared table uses it and no entity does. Only PostgreSQL
/// lists its types; elsewhere a type counts as present when a live column already carries an
/// entity column that uses it, so every backend generates the same migration.
fn compare_enums(
    target: &SchemaModel,
    live: &SchemaModel,
    skip: &dyn Fn(&str) -> bool,
) -> (Vec<Change>, Vec<Change>) {
    let present_by_column = |name: &str| {
        target.tables.values().any(|t| {
            t.columns.iter().any(|c| {
                matches!(&c.column_type, Some(ColumnType::Enum { name: n, .. }) if n.to_string() == name)
                    && live
                        .tables
                        .get(&t.name)
                        .is_some_and(|lt| lt.column(&c.name).is_some())
            })
        })
    };
    let mut first = Vec::new();
    for (name, values) in &target.enums {
        match live.enums.get(name) {
            None if present_by_column(name) => {}
            None => first.push(Change::CreateEnum {
                name: name.clone(),
                values: values.clone(),
            }),
            Some(have) if have != values => first.push(Change::AlterEnum {
                name: name.clone(),
                from: have.clone(),
                to: values.clone(),
            }),
            Some(_) => {}
        }
    }
    let used_live: BTreeSet<&str> = live
        .tables
        .iter()
        .filter(|(t, _)| !skip(t))
        .flat_map(|(_, t)| t.columns.iter().map(|c| c.sql_type.as_str()))
        .collect();
    let last = live
        .enums
        .iter()
        .filter(|(name, _)| !target.enums.contains_key(*name) && used_live.contains(name.as_str()))
        .map(|(name, values)| Change::DropEnum {
            name: name.clone(),
            values: values.clone(),
        })
        .collect();
    (first, last)
}

fn compare_table(
    want: &TableModel,
    have: &TableModel,
    filter: &Filter,
    types: TypeRule,
    out: &mut Vec<Change>,
) {
    let table = want.name.clone();
    let mut added = Vec::new();
    let mut renamed_from = BTreeSet::new();
    for w in &want.columns {
        if let Some(h) = have.column(&w.name) {
            let sole_key = want.primary_key == [w.name.clone()];
            if column_differs(w, h, filter, types, sole_key) {
                out.push(Change::AlterColumn {
                    table: table.clone(),
                    from: h.clone(),
                    to: altered(w, h, filter),
                });
            }
            continue;
        }
        match w.renamed_from.as_deref().and_then(|old| have.column(old)) {
            Some(old) if want.column(&old.name).is_none() => {
                renamed_from.insert(old.name.clone());
                out.push(Change::RenameColumn {
                    table: table.clone(),
                    from: old.name.clone(),
                    column: w.clone(),
                });
                let renamed = ColumnModel {
                    name: w.name.clone(),
                    ..old.clone()
                };
                let sole_key = want.primary_key == [w.name.clone()];
                if column_differs(w, &renamed, filter, types, sole_key) {
                    out.push(Change::AlterColumn {
                        table: table.clone(),
                        to: altered(w, &renamed, filter),
                        from: renamed,
                    });
                }
            }
            _ => added.push(w.clone()),
        }
    }
    let dropped: Vec<&ColumnModel> = have
        .columns
        .iter()
        .filter(|h| want.column(&h.name).is_none() && !renamed_from.contains(&h.name))
        .collect();
    for column in &added {
        out.push(Change::AddColumn {
            table: table.clone(),
            column: column.clone(),
        });
    }
    for h in dropped {
        out.push(Change::DropColumn {
            table: table.clone(),
            column: h.clone(),
            probable_rename_to: added
                .iter()
                .find(|a| compatible(&a.sql_type, &h.sql_type))
                .map(|a| a.name.clone()),
        });
    }
    if want.primary_key != have.primary_key {
        out.push(Change::PrimaryKey {
            table,
            from: have.primary_key.clone(),
            to: want.primary_key.clone(),
        });
    }
}

/// The column an alteration goes to: `want`, keeping `have`'s default when defaults are not
/// compared, so the change neither prints nor applies a default it was not asked for.
fn altered(want: &ColumnModel, have: &ColumnModel, filter: &Filter) -> ColumnModel {
    let mut to = want.clone();
    if !filter.compare_server_default {
        to.default.clone_from(&have.default);
    }
    to
}

fn column_differs(
    want: &ColumnModel,
    have: &ColumnModel,
    filter: &Filter,
    types: TypeRule,
    sole_key: bool,
) -> bool {
    !types.same(&want.sql_type, &have.sql_type, sole_key)
        || want.nullable != have.nullable
        || (filter.compare_server_default && want.default != have.default)
}

/// Same type, or both strings: a drop+add of such columns may be a rename.
fn compatible(a: &str, b: &str) -> bool {
    let family = |t: &str| {
        let base = t.split('(').next().unwrap_or(t);
        match base {
            "varchar" | "text" | "char" | "character varying" | "longtext" | "mediumtext" => {
                "string"
            }
            other => other,
        }
        .to_owned()
    };
    a == b || family(a) == family(b)
}

fn same_index(a: &IndexModel, b: &IndexModel) -> bool {
    a.unique == b.unique && a.columns == b.columns
}

fn same_fk(a: &ForeignKeyModel, b: &ForeignKeyModel) -> bool {
    a.columns == b.columns
        && a.ref_table == b.ref_table
        && a.ref_columns == b.ref_columns
        && a.actions() == b.actions()
}

/// Parents before children (tables referenced by foreign keys first); a cycle keeps the
/// remaining tables in name order.
fn order_by_dependencies(mut tables: Vec<TableModel>) -> Vec<TableModel> {
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<TableModel> = Vec::new();
    while !tables.is_empty() {
        let names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
        let ready = tables.iter().position(|t| {
            t.foreign_keys
                .iter()
                .all(|fk| fk.ref_table == t.name || !names.contains(&fk.ref_table))
        });
        out.push(tables.remove(ready.unwrap_or(0)));
    }
    out
}

fn cols(c: &[String]) -> String {
    c.join(", ")
}

impl fmt::Display for Change {
    /// One line, as `alembic check` prints its diffs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateEnum { name, values } => {
                write!(f, "create type {name} as enum ({})", values.join(", "))
            }
            Change::DropEnum { name, .. } => write!(f, "drop type {name}"),
            Change::AlterEnum { name, from, to } => write!(
                f,
                "alter type {name}: values ({}) -> ({})",
                from.join(", "),
                to.join(", ")
            ),
            Change::AddTable(t) => write!(f, "add table {}", t.name),
            Change::DropTable(t) => write!(f, "drop table {}", t.name),
            Change::AddColumn { table, column } => write!(f, "add column {table}.{column}"),
            Change::DropColumn {
                table,
                column,
                probable_rename_to,
            } => {
                write!(f, "drop column {table}.{}", column.name)?;
                if let Some(to) = probable_rename_to {
                    write!(
                        f,
                        " (probable rename to {to}: add #[sea_orm(renamed_from = \"{}\")] to keep the data)",
                        column.name
                    )?;
                }
                Ok(())
            }
            Change::RenameColumn {
                table,
                from,
                column,
            } => {
                write!(f, "rename column {table}.{from} to {}", column.name)
            }
            Change::AlterColumn { table, from, to } => {
                write!(f, "alter column {table}.{}:", to.name)?;
                if from.sql_type != to.sql_type {
                    write!(f, " type {} -> {}", from.sql_type, to.sql_type)?;
                }
                if from.nullable != to.nullable {
                    write!(
                        f,
                        " {}",
                        if to.nullable {
                            "NOT NULL -> NULL"
                        } else {
                            "NULL -> NOT NULL"
                        }
                    )?;
                }
                if from.default != to.default {
                    write!(
                        f,
                        " default {} -> {}",
                        from.default.as_deref().unwrap_or("none"),
                        to.default.as_deref().unwrap_or("none")
                    )?;
                }
                Ok(())
            }
            Change::AddIndex { table, index } | Change::DropIndex { table, index } => {
                let verb = if matches!(self, Change::AddIndex { .. }) {
                    "add"
                } else {
                    "drop"
                };
                let kind = if index.unique { "unique" } else { "index" };
                write!(f, "{verb} {kind} ")?;
                if let Some(n) = &index.name {
                    write!(f, "{n} ")?;
                }
                write!(f, "on {table} ({})", cols(&index.columns))
            }
            Change::AddForeignKey {
                table,
                foreign_key: k,
            }
            | Change::DropForeignKey {
                table,
                foreign_key: k,
            } => {
                let verb = if matches!(self, Change::AddForeignKey { .. }) {
                    "add"
                } else {
                    "drop"
                };
                write!(
                    f,
                    "{verb} foreign key {table} ({}) -> {} ({}) ON DELETE {} ON UPDATE {}",
                    cols(&k.columns),
                    k.ref_table,
                    cols(&k.ref_columns),
                    action_sql(k.on_delete),
                    action_sql(k.on_update)
                )
            }
            Change::PrimaryKey { table, from, to } => write!(
                f,
                "primary key of {table}: ({}) -> ({}) (not generated: write this change by hand)",
                cols(from),
                cols(to)
            ),
        }
    }
}

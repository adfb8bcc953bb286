//! The backend-neutral shape of a schema that autogenerate compares: tables, columns with
//! canonical SQL types, primary keys, indexes (unique constraints included) and foreign keys.

use std::collections::BTreeMap;
use std::fmt;

use sea_orm::DbBackend;
use sea_orm::sea_query::{ColumnType, ForeignKeyAction, StringLen};

/// The tables of one schema, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaModel {
    /// Tables by name.
    pub tables: BTreeMap<String, TableModel>,
    /// PostgreSQL enum types by name, with their values in order (`CREATE TYPE … AS ENUM`);
    /// MySQL spells enums inline in the column type, SQLite has none.
    pub enums: BTreeMap<String, Vec<String>>,
}

/// One table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableModel {
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnModel>,
    /// Primary-key columns in key order (empty when none).
    pub primary_key: Vec<String>,
    /// Indexes and unique constraints (both are "unique column sets" to a comparison).
    pub indexes: Vec<IndexModel>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKeyModel>,
}

/// One column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnModel {
    /// Column name.
    pub name: String,
    /// The SQL type in a canonical spelling for the backend (see [`canonical_type`]), e.g.
    /// `varchar(32)`, `integer`, `timestamptz`.
    pub sql_type: String,
    /// The sea-query type: exact for entity columns, mapped back from `sql_type` for
    /// discovered ones (`None` when there is no sea-query equivalent).
    pub column_type: Option<ColumnType>,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// The server default as canonical SQL (see [`canonical_default`]).
    pub default: Option<String>,
    /// Whether the database assigns values (serial, identity, AUTO_INCREMENT, AUTOINCREMENT).
    pub auto_increment: bool,
    /// An entity column's `#[sea_orm(renamed_from = "…")]`.
    pub renamed_from: Option<String>,
}

/// An index, or a unique constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexModel {
    /// Its name (`None` for an entity's inline `unique` column).
    pub name: Option<String>,
    /// Indexed columns in order.
    pub columns: Vec<String>,
    /// UNIQUE index or constraint.
    pub unique: bool,
}

/// A foreign key.
#[derive(Clone, Debug)]
pub struct ForeignKeyModel {
    /// The constraint name, when known.
    pub name: Option<String>,
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// ON DELETE (`None` = the default, NO ACTION).
    pub on_delete: Option<ForeignKeyAction>,
    /// ON UPDATE (`None` = the default, NO ACTION).
    pub on_update: Option<ForeignKeyAction>,
}

impl PartialEq for ForeignKeyModel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.columns == other.columns
            && self.ref_table == other.ref_table
            && self.ref_columns == other.ref_columns
            && self.actions() == other.actions()
    }
}

impl TableModel {
    /// The column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnModel> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl ForeignKeyModel {
    /// The actions compared: RESTRICT and NO ACTION count as the default.
    /// ON DELETE / ON UPDATE as compared (`None` = NO ACTION or RESTRICT).
    pub fn actions(&self) -> (Option<&'static str>, Option<&'static str>) {
        (action_key(self.on_delete), action_key(self.on_update))
    }
}

fn action_key(a: Option<ForeignKeyAction>) -> Option<&'static str> {
    match a {
        None | Some(ForeignKeyAction::NoAction | ForeignKeyAction::Restrict) => None,
        Some(ForeignKeyAction::Cascade) => Some("CASCADE"),
        Some(ForeignKeyAction::SetNull) => Some("SET NULL"),
        Some(ForeignKeyAction::SetDefault) => Some("SET DEFAULT"),
        Some(_) => None,
    }
}

/// The SQL name of an action.
pub(crate) fn action_sql(a: Option<ForeignKeyAction>) -> &'static str {
    action_key(a).unwrap_or("NO ACTION")
}

/// Parses `CASCADE`, `SET NULL`, … as catalogs report them.
pub(crate) fn parse_action(s: &str) -> Option<ForeignKeyAction> {
    match s.trim().to_ascii_uppercase().as_str() {
        "CASCADE" => Some(ForeignKeyAction::Cascade),
        "SET NULL" => Some(ForeignKeyAction::SetNull),
        "SET DEFAULT" => Some(ForeignKeyAction::SetDefault),
        "RESTRICT" => Some(ForeignKeyAction::Restrict),
        _ => None,
    }
}

impl fmt::Display for ColumnModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{}",
            self.name,
            self.sql_type,
            if self.nullable { " NULL" } else { " NOT NULL" }
        )?;
        if let Some(d) = &self.default {
            write!(f, " DEFAULT {d}")?;
        }
        Ok(())
    }
}

/// Renders a sea-query type as the backend writes it in DDL, then canonicalises it.
#[must_use]
pub fn render_type(backend: DbBackend, ty: &ColumnType) -> String {
    canonical_type(
        backend,
        &crate::version_table::dialect(backend).column_type_sql(ty),
    )
}

/// A backend's spelling of a type, canonicalised so that aliases compare equal: lower case,
/// single spaces, no display widths, and one name per type (`character varying(32)` and
/// `varchar(32)` → `varchar(32)`; `int4`, `int`, `serial` → `integer` on PostgreSQL;
/// `int(11)` → `int` and `tinyint(1)`, `boolean` → `bool` on MySQL).
#[must_use]
pub fn canonical_type(backend: DbBackend, raw: &str) -> String {
    let mut s = raw.trim().to_ascii_lowercase().replace('"', "");
    s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s = s
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(", ", ",")
        .replace(" (", "(");
    let (base, args) = match s.find('(') {
        Some(i) => {
            let close = s.rfind(')').unwrap_or(s.len());
            let rest = s.get(close + 1..).unwrap_or("").trim().to_owned();
            let base = format!(
                "{}{}",
                &s[..i],
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(" {rest}")
                }
            );
            (base, Some(s[i + 1..close.max(i + 1)].to_owned()))
        }
        None => (s.clone(), None),
    };
    crate::dialect::canonical_type_name(crate::version_table::dialect(backend), base, args)
}

/// `name(args)`, or `name` without arguments.
pub(crate) fn with_args(name: &str, args: Option<String>) -> String {
    match args {
        Some(a) => format!("{name}({a})"),
        None => name.to_owned(),
    }
}

/// Maps a canonical type back to a sea-query type, for re-creating a discovered column in
/// generated code (a downgrade re-adding a dropped column). `None` when there is no portable
/// equivalent; the caller then writes the SQL type as a custom type.
#[must_use]
pub fn column_type_of(backend: DbBackend, canonical: &str) -> Option<ColumnType> {
    let (base, args) = match canonical.find('(') {
        Some(i) => (
            &canonical[..i],
            canonical[i + 1..]
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect::<Vec<_>>(),
        ),
        None => (canonical, Vec::new()),
    };
    let n = |i: usize| args.get(i).and_then(|a| a.parse::<u32>().ok());
    let dialect = crate::version_table::dialect(backend);
    let t = match crate::dialect::column_type(dialect, base, &n) {
        Some(t) => t,
        None => match base {
            "varchar" => ColumnType::String(n(0).map_or(StringLen::None, StringLen::N)),
            "char" => ColumnType::Char(n(0)),
            "text" => ColumnType::Text,
            "smallint" => ColumnType::SmallInteger,
            "integer" | "int" => ColumnType::Integer,
            "bigint" => ColumnType::BigInteger,
            "bool" | "boolean" => ColumnType::Boolean,
            "real" | "float" => ColumnType::Float,
            "double precision" | "double" => ColumnType::Double,
            "numeric" | "decimal" => ColumnType::Decimal(n(0).zip(n(1))),
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "json" => ColumnType::Json,
            _ => return crate::dialect::declared_column_type(dialect, canonical),
        },
    };
    (render_type(backend, &t) == canonical).then_some(t)
}

/// Types the entity side commonly produces, for matching SQLite's declared spellings.
pub(crate) fn portable_types() -> Vec<ColumnType> {
    vec![
        ColumnType::DateTime,
        ColumnType::Timestamp,
        ColumnType::TimestampWithTimeZone,
        ColumnType::Date,
        ColumnType::Time,
        ColumnType::Json,
        ColumnType::JsonBinary,
        ColumnType::Uuid,
        ColumnType::Boolean,
        ColumnType::Float,
        ColumnType::Double,
        ColumnType::Decimal(None),
        ColumnType::TinyInteger,
        ColumnType::SmallInteger,
        ColumnType::BigInteger,
        ColumnType::Text,
    ]
}

/// A default expression canonicalised for comparison: outer parentheses and PostgreSQL casts
/// removed, `now()`/`current_timestamp()` → `CURRENT_TIMESTAMP`, booleans as `true`/`false`.
#[must_use]
pub fn canonical_default(raw: &str, sql_type: &str) -> Option<String> {
    let mut s = raw.trim().to_owned();
    if s.is_empty() || s.eq_ignore_ascii_case("null") {
        return None;
    }
    while s.starts_with('(') && s.ends_with(')') && balanced(&s[1..s.len() - 1]) {
        s = s[1..s.len() - 1].trim().to_owned();
    }
    // PostgreSQL: 'x'::character varying, 0::numeric, …
    if let Some(i) = s.rfind("::")
        && !s[i + 2..].contains('\'')
    {
        s = s[..i].trim().to_owned();
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "now()"
            | "current_timestamp"
            | "current_timestamp()"
            | "localtimestamp"
            | "transaction_timestamp()"
    ) {
        return Some("CURRENT_TIMESTAMP".into());
    }
    if sql_type == "bool" || sql_type == "boolean" {
        match lower.as_str() {
            "1" | "true" | "'1'" | "'t'" => return Some("true".into()),
            "0" | "false" | "'0'" | "'f'" => return Some("false".into()),
            _ => {}
        }
    }
    if lower == "true" || lower == "false" {
        return Some(lower);
    }
    Some(s)
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(backend: DbBackend, raw: &str, expected: &str) {
        assert_eq!(canonical_type(backend, raw), expected, "{raw}");
    }

    #[test]
    fn canonical_types() {
        use sea_orm::DatabaseBackend::*;
        check(Postgres, "character varying(32)", "varchar(32)");
        check(Postgres, "varchar ( 32 )", "varchar(32)");
        check(Postgres, "timestamp with time zone", "timestamptz");
        check(Postgres, "int4", "integer");
        check(Postgres, "numeric(10, 2)", "numeric(10,2)");
        check(MySql, "int(11)", "int");
        check(MySql, "tinyint(1)", "bool");
        check(MySql, "bigint(20) unsigned", "bigint unsigned");
        check(MySql, "varchar(255)", "varchar(255)");
        check(Sqlite, "VARCHAR(32)", "varchar(32)");
        check(
            Sqlite,
            "timestamp_with_timezone_text",
            "timestamp_with_timezone_text",
        );
    }

    #[test]
    fn types_round_trip() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            for t in [
                ColumnType::String(StringLen::N(32)),
                ColumnType::String(StringLen::None),
                ColumnType::Integer,
                ColumnType::BigInteger,
                ColumnType::Text,
                ColumnType::Boolean,
                ColumnType::DateTime,
                ColumnType::TimestampWithTimeZone,
                ColumnType::Json,
            ] {
                let sql = render_type(backend, &t);
                let back = column_type_of(backend, &sql).map(|b| render_type(backend, &b));
                assert_eq!(back.as_deref(), Some(sql.as_str()), "{backend:?} {t:?}");
            }
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(
            canonical_default("'x'::character varying", "varchar").as_deref(),
            Some("'x'")
        );
        assert_eq!(
            canonical_default("(CURRENT_TIMESTAMP)", "timestamp").as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
        assert_eq!(
            canonical_default("current_timestamp()", "datetime").as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
        assert_eq!(canonical_default("1", "bool").as_deref(), Some("true"));
        assert_eq!(canonical_default("NULL", "text"), None);
    }
}

//! Renders [`Change`]s as the body of a Rust migration: `up` applies them, `down` reverts
//! them. The code is backend-neutral (sea-query builders and [`batch_alter_table`], which
//! rebuilds tables on SQLite and alters natively elsewhere), so one generated file serves
//! every backend.
//!
//! [`batch_alter_table`]: crate::batch_alter_table

use std::fmt::Write;

use sea_orm::sea_query::{ColumnType, ForeignKeyAction, StringLen};

use super::diff::Change;
use super::model::{ColumnModel, ForeignKeyModel, IndexModel, TableModel};

/// The `up` and `down` bodies (indented for a method body) for `changes`.
pub(crate) fn bodies(changes: &[Change]) -> (String, String) {
    let down: Vec<Change> = changes.iter().rev().filter_map(invert).collect();
    (body(changes), body(&down))
}

/// The change that undoes `c` (`None` for what is not generated).
fn invert(c: &Change) -> Option<Change> {
    Some(match c.clone() {
        Change::CreateEnum { name, values } => Change::DropEnum { name, values },
        Change::DropEnum { name, values } => Change::CreateEnum { name, values },
        Change::AlterEnum { name, from, to } => Change::AlterEnum {
            name,
            from: to,
            to: from,
        },
        Change::AddTable(t) => Change::DropTable(t),
        Change::DropTable(mut t) => {
            // Names read from the database differ by backend; restore with generated ones.
            for fk in &mut t.foreign_keys {
                fk.name = None;
            }
            Change::AddTable(t)
        }
        Change::AddColumn { table, column } => Change::DropColumn {
            table,
            column,
            probable_rename_to: None,
        },
        Change::DropColumn { table, column, .. } => Change::AddColumn { table, column },
        Change::RenameColumn {
            table,
            from,
            column,
        } => Change::RenameColumn {
            table,
            from: column.name.clone(),
            column: ColumnModel {
                name: from,
                ..column
            },
        },
        Change::AlterColumn { table, from, to } => Change::AlterColumn {
            table,
            from: to,
            to: from,
        },
        Change::AddIndex { table, index } => Change::DropIndex { table, index },
        Change::DropIndex { table, index } => Change::AddIndex { table, index },
        Change::AddForeignKey { table, foreign_key } => {
            Change::DropForeignKey { table, foreign_key }
        }
        Change::DropForeignKey {
            table,
            mut foreign_key,
        } => {
            foreign_key.name = None;
            Change::AddForeignKey { table, foreign_key }
        }
        Change::PrimaryKey { .. } => return None,
    })
}

const I2: &str = "        ";

fn body(changes: &[Change]) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str(&format!("{I2}let _ = manager;\n{I2}Ok(())\n"));
        return out;
    }
    let mut uses_conn = false;
    // 0. Enum types (PostgreSQL) before the tables that use them.
    for c in changes {
        match c {
            Change::CreateEnum { name, values } => {
                let _ = writeln!(
                    out,
                    "{I2}if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {{\n{I2}    manager\n{I2}        .create_type(\n{I2}            extension::postgres::Type::create()\n{I2}                .as_enum({name:?})\n{I2}                .values({})\n{I2}                .to_owned(),\n{I2}        )\n{I2}        .await?;\n{I2}}}",
                    str_array(values)
                );
            }
            Change::AlterEnum { name, from, to } => {
                for v in to.iter().filter(|v| !from.contains(v)) {
                    let _ = writeln!(
                        out,
                        "{I2}if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {{\n{I2}    manager\n{I2}        .alter_type(extension::postgres::Type::alter().name({name:?}).add_value({v:?}).to_owned())\n{I2}        .await?;\n{I2}}}"
                    );
                }
                let removed: Vec<&String> = from.iter().filter(|v| !to.contains(v)).collect();
                if !removed.is_empty() {
                    let _ = writeln!(
                        out,
                        "{I2}// review: PostgreSQL cannot remove values ({}) from enum `{name}`: recreate the type (rename it, create the new one, alter the columns with a USING cast, drop the old) by hand.",
                        removed
                            .iter()
                            .map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            _ => {}
        }
    }
    // 1. New tables, parents first, with their indexes.
    for c in changes {
        if let Change::AddTable(t) = c {
            create_table(&mut out, t);
        }
    }
    // 2. Per existing table: index drops, one batch, index creates — tables in first-seen order.
    let mut tables: Vec<&str> = Vec::new();
    for c in changes {
        if let Some(t) = altered_table(c)
            && !tables.contains(&t)
        {
            tables.push(t);
        }
    }
    for table in tables {
        let of_table: Vec<&Change> = changes
            .iter()
            .filter(|c| altered_table(c) == Some(table))
            .collect();
        for c in &of_table {
            match c {
                Change::DropIndex { index, .. } if !index.unique => {
                    let name = index.name.as_deref().unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "{I2}manager\n{I2}    .drop_index(Index::drop().name({name:?}).table({table:?}).to_owned())\n{I2}    .await?;"
                    );
                }
                Change::PrimaryKey { from, to, .. } => {
                    let _ = writeln!(
                        out,
                        "{I2}// review: the primary key of `{table}` changes from ({}) to ({}); autogenerate does not write primary-key changes: write them here by hand.",
                        from.join(", "),
                        to.join(", ")
                    );
                }
                _ => {}
            }
        }
        let mut batch = String::new();
        for c in &of_table {
            batch_op(&mut batch, c);
        }
        if !batch.is_empty() {
            uses_conn = true;
            let _ = write!(
                out,
                "{I2}batch_alter_table(\n{I2}    conn,\n{I2}    BatchAlter::new({table:?}){batch},\n{I2})\n{I2}.await?;\n"
            );
        }
        for c in &of_table {
            if let Change::AddIndex { index, .. } = c {
                create_index(&mut out, table, index);
            }
        }
    }
    // 3. Dropped tables, children first.
    for c in changes {
        if let Change::DropTable(t) = c {
            let _ = writeln!(
                out,
                "{I2}// review: drops `{}` and every row in it; the downgrade recreates the table empty.",
                t.name
            );
            let _ = writeln!(
                out,
                "{I2}manager\n{I2}    .drop_table(Table::drop().table({:?}).to_owned())\n{I2}    .await?;",
                t.name
            );
        }
    }
    // 4. Enum types no table uses any more.
    for c in changes {
        if let Change::DropEnum { name, .. } = c {
            let _ = writeln!(
                out,
                "{I2}if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {{\n{I2}    manager\n{I2}        .drop_type(extension::postgres::Type::drop().name({name:?}).to_owned())\n{I2}        .await?;\n{I2}}}"
            );
        }
    }
    out.push_str(&format!("{I2}Ok(())\n"));
    if uses_conn {
        format!("{I2}let conn = manager.get_connection();\n{out}")
    } else {
        out
    }
}

fn altered_table(c: &Change) -> Option<&str> {
    match c {
        Change::AddTable(_)
        | Change::DropTable(_)
        | Change::CreateEnum { .. }
        | Change::DropEnum { .. }
        | Change::AlterEnum { .. } => None,
        Change::AddColumn { table, .. }
        | Change::DropColumn { table, .. }
        | Change::RenameColumn { table, .. }
        | Change::AlterColumn { table, .. }
        | Change::AddIndex { table, .. }
        | Change::DropIndex { table, .. }
        | Change::AddForeignKey { table, .. }
        | Change::DropForeignKey { table, .. }
        | Change::PrimaryKey { table, .. } => Some(table),
    }
}

const B: &str = "            ";

fn batch_op(out: &mut String, c: &Change) {
    match c {
        Change::DropForeignKey { foreign_key, .. } => {
            let _ = write!(
                out,
                "\n{B}.drop_foreign_key({})",
                str_array(&foreign_key.columns)
            );
        }
        Change::DropIndex { index, .. } if index.unique => {
            let _ = write!(out, "\n{B}.drop_unique({})", str_array(&index.columns));
        }
        Change::RenameColumn { from, column, .. } => {
            let _ = write!(out, "\n{B}.rename_column({from:?}, {:?})", column.name);
        }
        Change::AddColumn { table, column } => {
            if !column.nullable && column.default.is_none() {
                let _ = write!(
                    out,
                    "\n{B}// review: `{table}.{}` is NOT NULL without a default: adding it fails on a table with rows; give it a default or add it nullable, fill it, then alter it",
                    column.name
                );
            }
            let _ = write!(
                out,
                "\n{B}.add_column({})",
                column_def(column, false, false)
            );
        }
        Change::DropColumn {
            column,
            probable_rename_to,
            ..
        } => {
            if let Some(to) = probable_rename_to {
                let _ = write!(
                    out,
                    "\n{B}// review: probable rename: `{}` is dropped and `{to}` added with a compatible type, so the data in `{}` is lost. If this is a rename, add #[sea_orm(renamed_from = \"{}\")] to the entity's `{to}` and autogenerate again",
                    column.name, column.name, column.name
                );
            } else {
                let _ = write!(out, "\n{B}// review: drops `{}` and its data", column.name);
            }
            let _ = write!(out, "\n{B}.drop_column({:?})", column.name);
        }
        Change::AlterColumn { from, to, .. } => {
            let mut change = String::from("AlterColumn::new()");
            if from.sql_type != to.sql_type {
                let _ = write!(
                    out,
                    "\n{B}// review: type {} -> {}: check that every value converts",
                    from.sql_type, to.sql_type
                );
                let _ = write!(change, ".type_({})", type_expr(to));
            }
            if from.nullable != to.nullable {
                if !to.nullable {
                    let _ = write!(
                        out,
                        "\n{B}// review: NOT NULL fails while `{}` holds NULLs: fill them first",
                        to.name
                    );
                }
                let _ = write!(change, ".nullable({})", to.nullable);
            }
            if from.default != to.default {
                match &to.default {
                    Some(d) => {
                        let _ = write!(change, ".default_sql({d:?})");
                    }
                    None => change.push_str(".drop_default()"),
                }
            }
            let _ = write!(out, "\n{B}.alter_column({:?}, {change})", to.name);
        }
        Change::AddForeignKey { table, foreign_key } => add_fk(out, table, foreign_key),
        _ => {}
    }
}

fn add_fk(out: &mut String, table: &str, fk: &ForeignKeyModel) {
    let name = identifier(
        &fk.name
            .clone()
            .unwrap_or_else(|| fk_name(table, &fk.columns)),
    );
    if fk.actions().1.is_some() {
        let _ = write!(
            out,
            "\n{B}// review: ON UPDATE is not written by batch alterations; add it by hand if it matters"
        );
    }
    let _ = write!(
        out,
        "\n{B}.add_foreign_key(\n{B}    {name:?},\n{B}    {},\n{B}    {:?},\n{B}    {},\n{B}    {},\n{B})",
        str_array(&fk.columns),
        fk.ref_table,
        str_array(&fk.ref_columns),
        action_expr(fk.on_delete)
    );
}

/// The longest constraint or index name every backend keeps: PostgreSQL's 63 bytes (MySQL
/// allows 64), so one generated migration works everywhere.
const MAX_NAME: usize = 63;

/// `name`, shortened as SQLAlchemy shortens names over a dialect's limit: the first
/// `MAX_NAME - 8` characters, `_`, and the last 4 hex digits of the name's MD5
/// (`sqlalchemy.sql.compiler._truncate_and_render_maxlen_name`). Deterministic, so the same
/// entities always generate the same name; comparison goes by columns, not names.
pub(crate) fn identifier(name: &str) -> String {
    use md5::{Digest, Md5};
    if name.chars().count() <= MAX_NAME {
        return name.to_owned();
    }
    let hex: String = Md5::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let head: String = name.chars().take(MAX_NAME - 8).collect();
    format!("{head}_{}", &hex[hex.len() - 4..])
}

/// sea-orm's naming of a relation's foreign key: `fk-<table>-<columns>`.
fn fk_name(table: &str, columns: &[String]) -> String {
    format!("fk-{table}-{}", columns.join("-"))
}

fn str_array(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn action_expr(a: Option<ForeignKeyAction>) -> String {
    match a {
        None => "None".into(),
        Some(a) => format!("Some(ForeignKeyAction::{})", action_variant(a)),
    }
}

fn action_variant(a: ForeignKeyAction) -> &'static str {
    a.variant_name()
}

fn create_table(out: &mut String, t: &TableModel) {
    let _ = write!(
        out,
        "{I2}manager\n{I2}    .create_table(\n{I2}        Table::create()\n{I2}            .table({:?})",
        t.name
    );
    let single_pk = t.primary_key.len() == 1;
    for c in &t.columns {
        let pk = single_pk && t.primary_key[0] == c.name;
        let inline_unique = t
            .indexes
            .iter()
            .any(|i| i.unique && i.name.is_none() && i.columns == [c.name.clone()]);
        let def = column_def(c, pk, inline_unique);
        let _ = write!(out, "\n{I2}            .col({def})");
    }
    if t.primary_key.len() > 1 {
        let cols: String = t
            .primary_key
            .iter()
            .map(|c| format!(".col({c:?})"))
            .collect();
        let _ = write!(out, "\n{I2}            .primary_key(Index::create(){cols})");
    }
    for fk in &t.foreign_keys {
        let name = identifier(
            &fk.name
                .clone()
                .unwrap_or_else(|| fk_name(&t.name, &fk.columns)),
        );
        let mut s = format!(
            "ForeignKey::create()\n{I2}                    .name({name:?})\n{I2}                    .from({:?}, {})\n{I2}                    .to({:?}, {})",
            t.name,
            tuple(&fk.columns),
            fk.ref_table,
            tuple(&fk.ref_columns)
        );
        if let Some(a) = fk.on_delete {
            let _ = write!(
                s,
                "\n{I2}                    .on_delete(ForeignKeyAction::{})",
                action_variant(a)
            );
        }
        if let Some(a) = fk.on_update {
            let _ = write!(
                s,
                "\n{I2}                    .on_update(ForeignKeyAction::{})",
                action_variant(a)
            );
        }
        let _ = write!(
            out,
            "\n{I2}            .foreign_key(\n{I2}                {s},\n{I2}            )"
        );
    }
    let _ = write!(
        out,
        "\n{I2}            .to_owned(),\n{I2}    )\n{I2}    .await?;\n"
    );
    for ix in &t.indexes {
        let inline = ix.unique && ix.name.is_none() && ix.columns.len() == 1;
        if !inline {
            create_index(out, &t.name, ix);
        }
    }
}

fn tuple(cols: &[String]) -> String {
    if cols.len() == 1 {
        format!("{:?}", cols[0])
    } else {
        format!(
            "({})",
            cols.iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn create_index(out: &mut String, table: &str, ix: &IndexModel) {
    // Unique constraints get `uq_<table>_<columns>`: their own names differ by backend
    // (`<table>_<col>_key` on PostgreSQL, the column on MySQL, none on SQLite), and the
    // generated code must be the same whichever database it was generated against.
    let name = identifier(&match &ix.name {
        Some(n) if !ix.unique => n.clone(),
        _ => format!(
            "{}_{}_{}",
            if ix.unique { "uq" } else { "ix" },
            table,
            ix.columns.join("_")
        ),
    });
    let cols: String = ix
        .columns
        .iter()
        .map(|c| format!("\n{I2}            .col({c:?})"))
        .collect();
    let unique = if ix.unique {
        format!("\n{I2}            .unique()")
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "{I2}manager\n{I2}    .create_index(\n{I2}        Index::create()\n{I2}            .name({name:?})\n{I2}            .table({table:?}){cols}{unique}\n{I2}            .to_owned(),\n{I2}    )\n{I2}    .await?;\n"
    );
}

/// `ColumnDef::new_with_type(…)…to_owned()` for a column; `unique` for an inline UNIQUE.
fn column_def(c: &ColumnModel, primary_key: bool, unique: bool) -> String {
    let mut s = format!(
        "\n                    ColumnDef::new_with_type({:?}, {})",
        c.name,
        type_expr(c)
    );
    let step = "\n                        ";
    if c.nullable {
        let _ = write!(s, "{step}.null()");
    } else {
        let _ = write!(s, "{step}.not_null()");
    }
    if let Some(d) = &c.default {
        let _ = write!(s, "{step}.default(Expr::cust({d:?}))");
    }
    if c.auto_increment && primary_key {
        let _ = write!(s, "{step}.auto_increment()");
    }
    if primary_key {
        let _ = write!(s, "{step}.primary_key()");
    }
    if unique {
        let _ = write!(s, "{step}.unique_key()");
    }
    // An enum's values, enforced everywhere: PostgreSQL's type and MySQL's ENUM do already,
    // SQLite (where the column is text) only through this CHECK.
    if let Some(ColumnType::Enum { variants, .. }) = &c.column_type {
        let values: Vec<String> = variants
            .iter()
            .map(|v| format!("{:?}", v.to_string()))
            .collect();
        let _ = write!(
            s,
            "{step}.check(Expr::col({:?}).is_in([{}]))",
            c.name,
            values.join(", ")
        );
    }
    let _ = write!(s, "{step}.to_owned()");
    s
}

/// A Rust expression for the column's sea-query type.
fn type_expr(c: &ColumnModel) -> String {
    let Some(t) = &c.column_type else {
        return format!("ColumnType::custom({:?})", c.sql_type);
    };
    let len = |l: &StringLen| match l {
        StringLen::N(n) => format!("StringLen::N({n})"),
        StringLen::Max => "StringLen::Max".into(),
        StringLen::None => "StringLen::None".into(),
    };
    match t {
        ColumnType::Char(n) => format!("ColumnType::Char({n:?})"),
        ColumnType::String(l) => format!("ColumnType::String({})", len(l)),
        ColumnType::VarBinary(l) => format!("ColumnType::VarBinary({})", len(l)),
        ColumnType::Decimal(p) => format!("ColumnType::Decimal({p:?})"),
        ColumnType::Binary(n) => format!("ColumnType::Binary({n})"),
        ColumnType::Text => "ColumnType::Text".into(),
        ColumnType::Blob => "ColumnType::Blob".into(),
        ColumnType::TinyInteger => "ColumnType::TinyInteger".into(),
        ColumnType::SmallInteger => "ColumnType::SmallInteger".into(),
        ColumnType::Integer => "ColumnType::Integer".into(),
        ColumnType::BigInteger => "ColumnType::BigInteger".into(),
        ColumnType::TinyUnsigned => "ColumnType::TinyUnsigned".into(),
        ColumnType::SmallUnsigned => "ColumnType::SmallUnsigned".into(),
        ColumnType::Unsigned => "ColumnType::Unsigned".into(),
        ColumnType::BigUnsigned => "ColumnType::BigUnsigned".into(),
        ColumnType::Float => "ColumnType::Float".into(),
        ColumnType::Double => "ColumnType::Double".into(),
        ColumnType::DateTime => "ColumnType::DateTime".into(),
        // db-core's UTC timestamp: `datetime(6)` on MySQL, `timestamp` elsewhere.
        ColumnType::Timestamp => "db_migrate::utc_timestamp_type(manager)".into(),
        ColumnType::TimestampWithTimeZone => "ColumnType::TimestampWithTimeZone".into(),
        ColumnType::Time => "ColumnType::Time".into(),
        ColumnType::Date => "ColumnType::Date".into(),
        ColumnType::Boolean => "ColumnType::Boolean".into(),
        ColumnType::Json => "ColumnType::Json".into(),
        ColumnType::JsonBinary => "ColumnType::JsonBinary".into(),
        ColumnType::Uuid => "ColumnType::Uuid".into(),
        // PostgreSQL: the type created by `create_type`; MySQL: inline ENUM(...); SQLite: text.
        ColumnType::Enum { name, variants } => format!(
            "ColumnType::Enum {{ name: Alias::new({:?}).into_iden(), variants: vec![{}] }}",
            name.to_string(),
            variants
                .iter()
                .map(|v| format!("Alias::new({:?}).into_iden()", v.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("ColumnType::custom({:?})", c.sql_type),
    }
}

#[cfg(test)]
mod identifier_tests {
    use super::identifier;

    #[test]
    fn long_names_are_shortened_as_sqlalchemy_does() {
        // The expected value is SQLAlchemy's: name[0:55] + "_" + md5_hex(name)[-4:].
        let long = "fk-course_member_enrolment_history_entries-course_member_enrolment_history_id";
        assert_eq!(
            identifier(long),
            "fk-course_member_enrolment_history_entries-course_membe_4879"
        );
        assert_eq!(identifier("fk-posts-author_id"), "fk-posts-author_id");
        assert!(identifier(&"x".repeat(200)).len() <= 63);
    }
}

//! PostgreSQL's bulk load, `COPY … FROM STDIN` in its text format: the fastest way to insert
//! many rows (what `psql \copy` does), used by db-helpers' `insert_chunked` on a pool.

use std::io::Write;

use sea_orm::Value;
use sea_orm::sea_query::OptionEnum;

use super::Dialect;
use crate::error::Result;

/// Rows for one `COPY <table> (<columns>) FROM STDIN`, encoded in PostgreSQL's text format as
/// they are added (`\N` for NULL; backslash, tab, newline and carriage return escaped), then
/// sent in one statement: every row is inserted or, on an error, none.
///
/// ```
/// use db_core::{CopyIn, Dialect};
/// use sea_orm::Value;
///
/// let mut copy = CopyIn::new(Dialect::Postgres, Some("app"), "notes", &["id", "body"]).unwrap().unwrap();
/// copy.push_row(&[Value::BigInt(Some(1)), Value::String(Some("tab\there".into()))]).unwrap();
/// copy.push_row(&[Value::BigInt(Some(2)), Value::String(None)]).unwrap();
/// assert_eq!(copy.statement(), "COPY \"app\".\"notes\" (\"id\", \"body\") FROM STDIN");
/// assert_eq!(copy.data(), b"1\ttab\\there\n2\t\\N\n");
/// assert!(CopyIn::new(Dialect::Sqlite, None, "notes", &["id"]).unwrap().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct CopyIn {
    statement: String,
    columns: usize,
    data: Vec<u8>,
    rows: u64,
}

/// A value [`CopyIn::push_row`] has no exact text form for (the row is not added); the
/// caller inserts the rows another way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unencodable(pub String);

impl CopyIn {
    /// A `COPY` into `table` (in `schema`, else the session's) for `columns`, on a dialect
    /// that has one: `None` on SQLite and MySQL.
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`](crate::Error::InvalidIdentifier) for a name that cannot be
    /// quoted.
    pub fn new(
        dialect: Dialect,
        schema: Option<&str>,
        table: &str,
        columns: &[&str],
    ) -> Result<Option<Self>> {
        if dialect != Dialect::Postgres {
            return Ok(None);
        }
        let quoted: Vec<String> = columns
            .iter()
            .map(|c| dialect.quote(crate::IdentKind::Column, c))
            .collect::<Result<_>>()?;
        Ok(Some(Self {
            statement: format!(
                "COPY {} ({}) FROM STDIN",
                dialect.qualified(schema, table)?,
                quoted.join(", ")
            ),
            columns: columns.len(),
            data: Vec::new(),
            rows: 0,
        }))
    }

    /// Encodes one row, one value per column.
    ///
    /// # Errors
    /// [`Unencodable`] when the row has the wrong number of values or a value has no exact
    /// text form here (a float for a 32-bit column is fine; a year before 1 AD, a string with a
    /// NUL byte, a type of a feature this crate does not build are not); the row is not added.
    pub fn push_row(&mut self, values: &[Value]) -> std::result::Result<(), Unencodable> {
        if values.len() != self.columns {
            return Err(Unencodable(format!(
                "a row of {} values for {} columns",
                values.len(),
                self.columns
            )));
        }
        let start = self.data.len();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.data.push(b'\t');
            }
            if let Err(e) = encode(v, &mut self.data) {
                self.data.truncate(start);
                return Err(e);
            }
        }
        self.data.push(b'\n');
        self.rows += 1;
        Ok(())
    }

    /// The rows added.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The `COPY … FROM STDIN` statement.
    #[must_use]
    pub fn statement(&self) -> &str {
        &self.statement
    }

    /// The encoded rows, as sent.
    #[must_use]
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Runs the `COPY` on a connection of `conn`'s pool (which carries the session's
    /// `search_path`) and returns the rows inserted. Not inside a sea-orm transaction: COPY is
    /// one statement, all or nothing on its own.
    ///
    /// # Errors
    /// The server's error (a duplicate key, a value the column type refuses); nothing is
    /// inserted then. `DbErr::Custom` when `conn` is not a PostgreSQL pool.
    pub async fn send(self, conn: &sea_orm::DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
        #[cfg(feature = "postgres")]
        if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            return send_postgres(self, conn.get_postgres_connection_pool()).await;
        }
        let _ = (self, conn);
        Err(sea_orm::DbErr::Custom(
            "COPY needs a PostgreSQL pool (db-core's `postgres` feature)".into(),
        ))
    }
}

#[cfg(feature = "postgres")]
async fn send_postgres(copy: CopyIn, pool: &sea_orm::sqlx::PgPool) -> Result<u64, sea_orm::DbErr> {
    /// Bytes per CopyData message.
    const CHUNK: usize = 1 << 20;
    let err =
        |e: sea_orm::sqlx::Error| sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into()));
    let mut conn = pool.acquire().await.map_err(err)?;
    let mut sink = conn.copy_in_raw(&copy.statement).await.map_err(err)?;
    for chunk in copy.data.chunks(CHUNK) {
        if let Err(e) = sink.send(chunk).await {
            // The server may already have refused the copy: take its reason when it has one.
            return Err(match sink.finish().await {
                Err(reason) => err(reason),
                Ok(_) => err(e),
            });
        }
    }
    sink.finish().await.map_err(err)
}

impl Dialect {
    /// `INSERT INTO <table> (<columns>) VALUES (…), (…)` with `rows` rows of placeholders
    /// (`?` or `$n`), for binding the values of a bulk insert as one prepared statement that
    /// the driver caches and executes again for every chunk of that many rows.
    ///
    /// ```
    /// use db_core::Dialect;
    /// assert_eq!(
    ///     Dialect::Postgres.insert_rows_sql(None, "t", &["a", "b"], 2).unwrap(),
    ///     "INSERT INTO \"t\" (\"a\", \"b\") VALUES ($1, $2), ($3, $4)"
    /// );
    /// assert_eq!(
    ///     Dialect::MySql.insert_rows_sql(None, "t", &["a"], 2).unwrap(),
    ///     "INSERT INTO `t` (`a`) VALUES (?), (?)"
    /// );
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidIdentifier`](crate::Error::InvalidIdentifier) for a name that cannot be
    /// quoted; [`Error::SchemaUnsupported`](crate::Error::SchemaUnsupported) for a schema on
    /// SQLite.
    pub fn insert_rows_sql(
        self,
        schema: Option<&str>,
        table: &str,
        columns: &[&str],
        rows: usize,
    ) -> Result<String> {
        let quoted: Vec<String> = columns
            .iter()
            .map(|c| self.quote(crate::IdentKind::Column, c))
            .collect::<Result<_>>()?;
        let table = match schema {
            Some(_) => self.qualified(schema, table)?,
            None => self.quote(crate::IdentKind::Table, table)?,
        };
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", quoted.join(", "));
        let mut n = 0;
        for r in 0..rows {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..columns.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&self.placeholder(n));
            }
            sql.push(')');
        }
        Ok(sql)
    }
}

/// Appends `text` with COPY's escapes; a NUL byte cannot be sent.
fn escaped(text: &str, out: &mut Vec<u8>) -> std::result::Result<(), Unencodable> {
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => return Err(Unencodable("a text value with a NUL byte".into())),
            _ => out.push(b),
        }
    }
    Ok(())
}

fn float(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let _ = write!(out, "{f:?}");
    }
}

/// Years PostgreSQL reads back as written (`0000` and negative years are BC there).
fn plain_year(year: i32) -> std::result::Result<(), Unencodable> {
    if (1..=9999).contains(&year) {
        Ok(())
    } else {
        Err(Unencodable(format!("the year {year}")))
    }
}

/// Writes `value` with `write`, or `\N` for NULL.
fn put<T>(
    value: Option<&T>,
    out: &mut Vec<u8>,
    write: impl FnOnce(&T, &mut Vec<u8>) -> std::result::Result<(), Unencodable>,
) -> std::result::Result<(), Unencodable> {
    match value {
        Some(v) => write(v, out),
        None => {
            out.extend_from_slice(b"\\N");
            Ok(())
        }
    }
}

/// Writes a `Display` value as it is (numbers, UUIDs).
fn shown<T: std::fmt::Display>(v: &T, out: &mut Vec<u8>) -> std::result::Result<(), Unencodable> {
    let _ = write!(out, "{v}");
    Ok(())
}

/// Writes a date or timestamp in `format` when its year reads back the same.
fn dated<T: chrono::Datelike>(
    v: &T,
    out: &mut Vec<u8>,
    show: impl FnOnce(&T) -> String,
) -> std::result::Result<(), Unencodable> {
    plain_year(v.year())?;
    out.extend_from_slice(show(v).as_bytes());
    Ok(())
}

fn encode(value: &Value, out: &mut Vec<u8>) -> std::result::Result<(), Unencodable> {
    const STAMP: &str = "%Y-%m-%d %H:%M:%S%.f";
    match value {
        Value::Bool(b) => put(b.as_ref(), out, |b, out| {
            out.push(if *b { b't' } else { b'f' });
            Ok(())
        }),
        Value::TinyInt(n) => put(n.as_ref(), out, shown),
        Value::SmallInt(n) => put(n.as_ref(), out, shown),
        Value::Int(n) => put(n.as_ref(), out, shown),
        Value::BigInt(n) => put(n.as_ref(), out, shown),
        Value::TinyUnsigned(n) => put(n.as_ref(), out, shown),
        Value::SmallUnsigned(n) => put(n.as_ref(), out, shown),
        Value::Unsigned(n) => put(n.as_ref(), out, shown),
        Value::BigUnsigned(n) => put(n.as_ref(), out, shown),
        Value::Float(f) => put(f.as_ref(), out, |f, out| {
            float(f64::from(*f), out);
            Ok(())
        }),
        Value::Double(f) => put(f.as_ref(), out, |f, out| {
            float(*f, out);
            Ok(())
        }),
        Value::String(s) => put(s.as_ref(), out, |s, out| escaped(s, out)),
        Value::Char(c) => put(c.as_ref(), out, |c, out| {
            escaped(c.encode_utf8(&mut [0; 4]), out)
        }),
        Value::Enum(OptionEnum::Some(e)) => escaped(&e.value, out),
        Value::Enum(OptionEnum::None(_)) => put::<()>(None, out, |_, _| Ok(())),
        // bytea's hex input `\x…`, its backslash escaped for COPY.
        Value::Bytes(b) => put(b.as_ref(), out, |b, out| {
            out.extend_from_slice(b"\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            Ok(())
        }),
        Value::Json(j) => put(j.as_ref(), out, |j, out| escaped(&j.to_string(), out)),
        Value::ChronoDate(d) => put(d.as_ref(), out, |d, out| {
            dated(d, out, |d| d.format("%Y-%m-%d").to_string())
        }),
        Value::ChronoTime(t) => put(t.as_ref(), out, |t, out| {
            shown(&t.format("%H:%M:%S%.f"), out)
        }),
        Value::ChronoDateTime(t) => put(t.as_ref(), out, |t, out| {
            dated(t, out, |t| t.format(STAMP).to_string())
        }),
        Value::ChronoDateTimeUtc(t) => put(t.as_ref(), out, |t, out| {
            dated(t, out, |t| format!("{}+00", t.format(STAMP)))
        }),
        Value::ChronoDateTimeWithTimeZone(t) => put(t.as_ref(), out, |t, out| {
            dated(t, out, |t| t.format("%Y-%m-%d %H:%M:%S%.f%:z").to_string())
        }),
        Value::ChronoDateTimeLocal(t) => put(t.as_ref(), out, |t, out| {
            dated(t, out, |t| t.format("%Y-%m-%d %H:%M:%S%.f%:z").to_string())
        }),
        Value::Uuid(u) => put(u.as_ref(), out, |u, out| shown(&u.hyphenated(), out)),
        #[allow(
            unreachable_patterns,
            reason = "variants of features other crates may enable"
        )]
        other => Err(Unencodable(format!("a value of type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::Value;

    use super::{CopyIn, Dialect};

    #[test]
    fn text_format() {
        let mut copy = CopyIn::new(Dialect::Postgres, None, "t", &["a", "b", "c", "d"])
            .expect("names")
            .expect("postgres");
        copy.push_row(&[
            Value::String(Some("a\\b\r\nc".into())),
            Value::Double(Some(f64::NEG_INFINITY)),
            Value::Bytes(Some(vec![0, 255])),
            Value::Bool(Some(true)),
        ])
        .expect("row");
        assert_eq!(copy.data(), b"a\\\\b\\r\\nc\t-Infinity\t\\\\x00ff\tt\n");
        let nul = copy.push_row(&[
            Value::String(Some("x".into())),
            Value::Double(Some(0.1)),
            Value::Bytes(None),
            Value::String(Some("\0".into())),
        ]);
        assert!(nul.is_err());
        assert_eq!(copy.rows(), 1, "a refused row is not added");
        assert_eq!(copy.data(), b"a\\\\b\\r\\nc\t-Infinity\t\\\\x00ff\tt\n");
        assert!(copy.push_row(&[Value::Int(Some(1))]).is_err());
    }
}

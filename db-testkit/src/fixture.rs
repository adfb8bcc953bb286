//! Fixtures: data a test starts from, applied to one test's database
//! ([`Fixture::apply`]) or baked into a migrated template ([`Template::fixture`]) so that every
//! clone starts with it at no cost per test.
//!
//! [`Template::fixture`]: crate::Template::fixture

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use db_core::Database;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait};
use sha2::{Digest, Sha256};

type FixtureFn = dyn for<'a> Fn(&'a Database) -> Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'a>>
    + Send
    + Sync;

/// Data to load into a test database: SQL text, a SQL file, entity models, or a closure.
///
/// A fixture baked into a template is part of the template's key: SQL by its text (a file by
/// its contents), models and closures by the name you give them — rename one when you change
/// what it inserts, or the template keeps the old data.
#[derive(Clone)]
pub struct Fixture {
    name: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Sql(String),
    File(PathBuf),
    Func(Arc<FixtureFn>),
}

impl fmt::Debug for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixture")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Fixture {
    /// SQL statements (`;`-separated, as the backend's driver runs a script: SQLite and
    /// PostgreSQL run several statements in one call, MySQL/MariaDB gets them one by one).
    #[must_use]
    pub fn sql(name: impl Into<String>, sql: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: Kind::Sql(sql.into()),
        }
    }

    /// The SQL statements of a file, read when the fixture is applied (relative paths from the
    /// crate's folder under `cargo test`).
    #[must_use]
    pub fn sql_file(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        Self {
            name: path.display().to_string(),
            kind: Kind::File(path),
        }
    }

    /// Inserts `models` (active models of one entity) with `insert_many`.
    #[must_use]
    pub fn models<A>(name: impl Into<String>, models: Vec<A>) -> Self
    where
        A: ActiveModelTrait + Clone + Send + Sync + 'static,
    {
        Self::func(name, move |db: &Database| {
            let models = models.clone();
            Box::pin(async move {
                if models.is_empty() {
                    return Ok(());
                }
                <A::Entity as EntityTrait>::insert_many(models)
                    .exec(db.connection())
                    .await
                    .map(|_| ())
            })
        })
    }

    /// Runs `f` on the database (anything sea-orm can do).
    ///
    /// ```no_run
    /// use db_testkit::Fixture;
    /// use sea_orm::ConnectionTrait;
    ///
    /// let fixture = Fixture::func("two rows", |db| Box::pin(async move {
    ///     db.connection().execute_unprepared("INSERT INTO t VALUES (1), (2)").await?;
    ///     Ok(())
    /// }));
    /// ```
    #[must_use]
    pub fn func<F>(name: impl Into<String>, f: F) -> Self
    where
        F: for<'a> Fn(&'a Database) -> Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'a>>
            + Send
            + Sync
            + 'static,
    {
        Self {
            name: name.into(),
            kind: Kind::Func(Arc::new(f)),
        }
    }

    /// The fixture's name (a file's path).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Loads the fixture into `db`.
    ///
    /// # Errors
    /// The file cannot be read ([`DbErr::Custom`] naming it), or the database's error.
    pub async fn apply(&self, db: &Database) -> Result<(), DbErr> {
        match &self.kind {
            Kind::Sql(sql) => run_script(db, sql).await,
            Kind::File(path) => {
                let sql = std::fs::read_to_string(path).map_err(|e| {
                    DbErr::Custom(format!("cannot read fixture {}: {e}", path.display()))
                })?;
                run_script(db, &sql).await
            }
            Kind::Func(f) => f(db).await,
        }
        .map_err(|e| DbErr::Custom(format!("fixture {}: {e}", self.name)))
    }

    /// What identifies this fixture in a template's key.
    pub(crate) fn key(&self) -> String {
        let content = match &self.kind {
            Kind::Sql(sql) => sql.clone(),
            Kind::File(path) => std::fs::read(path).map_or_else(
                |e| format!("unreadable: {e}"),
                |b| format!("{:x}", Sha256::digest(b)),
            ),
            Kind::Func(_) => String::new(),
        };
        format!("{}\0{content}", self.name)
    }
}

/// Runs a SQL script: in one call where the driver takes several statements, else statement by
/// statement (split outside quotes and comments).
async fn run_script(db: &Database, sql: &str) -> Result<(), DbErr> {
    let conn = db.connection();
    if db.dialect().runs_scripts() {
        return conn.execute_unprepared(sql).await.map(|_| ());
    }
    for statement in split_statements(sql) {
        conn.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// `sql` split at `;` outside quotes (`'…'`, `"…"`, `` `…` ``) and comments (`-- …`,
/// `/* … */`); empty statements dropped.
fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                cur.push(c);
                for d in chars.by_ref() {
                    cur.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for d in chars.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                cur.push(' ');
            }
            ';' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_owned());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_outside_quotes_and_comments() {
        assert_eq!(
            split_statements(
                "INSERT INTO t VALUES ('a;b'); -- c; d\n/* e; */ INSERT INTO `x;y` VALUES (\"q;\");;"
            ),
            vec![
                "INSERT INTO t VALUES ('a;b')",
                "INSERT INTO `x;y` VALUES (\"q;\")"
            ]
        );
        assert!(split_statements(" ; -- only a comment\n").is_empty());
    }
}

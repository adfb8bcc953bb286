//! [`TestDb`]: one test's database — a SQLite file in a folder of its own, or a database on the
//! local PostgreSQL or MariaDB server — removed when dropped.

use std::path::{Path, PathBuf};

use db_core::{Database, MigrationHarness, OpenOptions};
use sea_orm::DbErr;

use crate::Backend;
use crate::server::{Created, RUN, WORKER, execute_all, say, sqlite_dir, sweep_files};
use crate::template::{Recycle, Template};

/// A temporary database: a SQLite file or a server database, removed when dropped (server
/// databases in the background; whatever is still pending when the test binary exits is
/// dropped then, and what a killed run left is swept by the next run).
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    name: String,
    admin_url: Option<String>,
    dir: Option<tempfile::TempDir>,
    recycle: Option<Recycle>,
}

impl TestDb {
    /// A fresh, empty database on `backend`. `None` when the server is unreachable and `CI` is
    /// unset: the test is then reported as skipped (a line in `cargo test`'s normal output,
    /// and a summary when the test binary exits).
    ///
    /// # Panics
    /// When the server is unreachable and `CI` is set, or a temporary folder cannot be made:
    /// a test fixture has no better way to fail.
    pub async fn new(backend: Backend) -> Option<Self> {
        sweep_files();
        let name = RUN.next_name();
        let Some(admin_url) = backend.admin_url() else {
            let dir = run_dir(&name).unwrap_or_else(|e| panic!("{e}"));
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.sqlite3")).display()
            );
            return Some(Self {
                backend,
                url,
                name,
                admin_url: None,
                dir: Some(dir),
                recycle: None,
            });
        };
        let created = Created {
            backend,
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let c = created.clone();
        let made = WORKER
            .run(async move {
                let conn = WORKER.admin(&c.admin_url).await?;
                WORKER.sweep_once(c.backend, &c.admin_url).await;
                WORKER.register(c.clone());
                let sql = backend
                    .dialect()
                    .create_database_sql(&c.name)
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
                execute_all(&conn, &sql.into_iter().collect::<Vec<_>>()).await
            })
            .await;
        if let Err(e) = made {
            WORKER.drop_later(created);
            return crate::unusable(backend, &admin_url, &e);
        }
        Some(Self::on_server(backend, admin_url, name))
    }

    /// A database of its own, migrated to head by `harness` — a clone of a template migrated
    /// once per migration set (see [`Template`], which also takes fixtures). `None` as for
    /// [`TestDb::new`].
    ///
    /// # Panics
    /// As [`Template::test_db`].
    pub async fn migrated(backend: Backend, harness: &dyn MigrationHarness) -> Option<Self> {
        Template::new(harness).test_db(backend).await
    }

    /// A SQLite test database that starts as a copy of the existing database file `path` (a
    /// device's database, a database Alembic migrated): the file is checked to be SQLite and
    /// copied with its `-wal` journal, and the original is never opened.
    ///
    /// # Errors
    /// The file is missing, unreadable, or not a SQLite database.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, DbErr> {
        let path = path.as_ref();
        let mut header = [0u8; 16];
        std::io::Read::read_exact(
            &mut std::fs::File::open(path)
                .map_err(|e| DbErr::Custom(format!("cannot open {}: {e}", path.display())))?,
            &mut header,
        )
        .map_err(|e| DbErr::Custom(format!("cannot read {}: {e}", path.display())))?;
        if &header != b"SQLite format 3\0" {
            return Err(DbErr::Custom(format!(
                "{} is not a SQLite database (its header is not `SQLite format 3`)",
                path.display()
            )));
        }
        Self::sqlite_copy_of(path)
    }

    /// A SQLite test database copied from `path` (and its `-wal`, when present).
    pub(crate) fn sqlite_copy_of(path: &Path) -> Result<Self, DbErr> {
        let name = RUN.next_name();
        let dir = run_dir(&name)?;
        let target = dir.path().join(format!("{name}.sqlite3"));
        let copy = |from: &Path, to: &Path| {
            std::fs::copy(from, to).map_err(|e| {
                DbErr::Custom(format!(
                    "cannot copy {} to {}: {e}",
                    from.display(),
                    to.display()
                ))
            })
        };
        copy(path, &target)?;
        let wal = with_suffix(path, "-wal");
        if wal.exists() {
            copy(&wal, &with_suffix(&target, "-wal"))?;
        }
        Ok(Self {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", target.display()),
            name,
            admin_url: None,
            dir: Some(dir),
            recycle: None,
        })
    }

    /// The handle of server database `name`, already created and registered.
    pub(crate) fn on_server(backend: Backend, admin_url: String, name: String) -> Self {
        Self {
            backend,
            url: crate::replace_database(&admin_url, &name),
            name,
            admin_url: Some(admin_url),
            dir: None,
            recycle: None,
        }
    }

    /// This clone goes back to its template's pool when dropped (see [`Recycle`]).
    pub(crate) fn recycled_by(mut self, recycle: Recycle) -> Self {
        self.recycle = Some(recycle);
        self
    }

    /// The backend.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (the file stem on SQLite): `tk_<run>_<n>`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The temporary folder of a SQLite database (other files of the test may go there too).
    #[must_use]
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Options to open it with db-core.
    #[must_use]
    pub fn options(&self) -> OpenOptions {
        OpenOptions::new(self.url.clone())
    }

    /// Opens it with db-core.
    ///
    /// # Panics
    /// When opening fails.
    pub async fn open(&self) -> Database {
        Database::open(self.options())
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(admin_url) = self.admin_url.take() {
            let c = Created {
                backend: self.backend,
                admin_url,
                name: std::mem::take(&mut self.name),
            };
            match self.recycle.take() {
                Some(r) => r.give_back(c),
                None => WORKER.drop_later(c),
            }
        }
    }
}

/// A folder of its own for one SQLite test database, under this run's folder (swept with the
/// run when it crashed).
fn run_dir(name: &str) -> Result<tempfile::TempDir, DbErr> {
    let parent = sqlite_dir(&RUN.id);
    std::fs::create_dir_all(&parent)
        .and_then(|()| tempfile::Builder::new().prefix(name).tempdir_in(&parent))
        .map_err(|e| {
            let text = format!(
                "cannot create a temporary folder in {}: {e}",
                parent.display()
            );
            say(&text);
            DbErr::Custom(text)
        })
}

/// `path` with `suffix` appended to its file name (`x.sqlite3` → `x.sqlite3-wal`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

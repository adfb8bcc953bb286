//! Migrated templates: migrate once per migration set (and fixtures), then give every test a
//! clone — a copy of the migrated file on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL,
//! a replay of the template's DDL and rows on MySQL/MariaDB — prepared ahead in the background
//! on the servers so a test waits for a ready database, not for the clone.
//!
//! Templates outlive the test process (the next run of an unchanged migration set migrates
//! nothing): SQLite's as `<tmp>/db-testkit/templates/sqlite-<key>.sqlite3`, the servers' as
//! databases `tk_tpl_<key>`, where `<key>` hashes the harness's fingerprint and the fixtures.
//! Building takes a cross-process file lock, so concurrent test processes build a template
//! once; a crashed build is detected (an unsealed template) and redone. When a template of a
//! changed migration set is built, the older templates of the same lineage (same root
//! revisions) that no running process uses are dropped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use db_core::{CloneScript, Database, MigrationHarness, OpenOptions};
use sea_orm::DbErr;
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, mpsc};

use crate::server::{
    Created, RUN, TEMPLATE_PREFIX, WORKER, base_dir, connect, drop_database, execute_all, say,
    sweep_files,
};
use crate::test_db::with_suffix;
use crate::{Backend, Fixture, TestDb, replace_database, unusable};

/// How many clones a server template keeps ready by default.
const DEFAULT_PREPARED: usize = 2;
/// How long a template of an older migration set must have gone unused before a newer
/// template of the same lineage drops it.
const UNUSED_FOR: Duration = Duration::from_secs(600);
/// How many clones are made at once per server template.
const CLONERS: usize = 2;

/// A migration set (and optional fixtures) to give tests migrated databases from: built once,
/// cloned per test.
///
/// ```
/// # async fn demo(migrator: &dyn db_core::MigrationHarness) {
/// use db_testkit::{Backend, Template};
///
/// let Some(test_db) = Template::new(migrator).test_db(Backend::Sqlite).await else { return };
/// let db = test_db.open().await; // at head, in about a millisecond
/// # }
/// ```
#[derive(Debug)]
#[must_use]
pub struct Template<'a> {
    harness: &'a dyn MigrationHarness,
    fixtures: Vec<Fixture>,
    prepared: usize,
}

impl<'a> Template<'a> {
    /// The template of `harness`'s migrations at head (e.g. db-migrate's `Migrator`).
    pub fn new(harness: &'a dyn MigrationHarness) -> Self {
        Self {
            harness,
            fixtures: Vec::new(),
            prepared: DEFAULT_PREPARED,
        }
    }

    /// Bakes `fixture` into the template after the migrations: every clone starts with it.
    pub fn fixture(mut self, fixture: Fixture) -> Self {
        self.fixtures.push(fixture);
        self
    }

    /// How many clones a PostgreSQL or MariaDB template keeps ready in the background (default
    /// 2; at least 1). They are dropped when the test process exits.
    pub fn prepared(mut self, clones: usize) -> Self {
        self.prepared = clones.max(1);
        self
    }

    /// The harness.
    #[must_use]
    pub fn harness(&self) -> &'a dyn MigrationHarness {
        self.harness
    }

    /// The template's key: 16 hex digits of the harness's fingerprint and the fixtures.
    #[must_use]
    pub fn key(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.harness.fingerprint());
        for f in &self.fixtures {
            hash.update(b"\n");
            hash.update(f.key());
        }
        hex(&hash.finalize()[..8])
    }

    /// A database of its own for one test, migrated (and with the fixtures), dropped when the
    /// returned [`TestDb`] is. `None` when the backend's server is unreachable and `CI` is
    /// unset: the test is reported as skipped (a line in the normal output and a summary when
    /// the test binary exits).
    ///
    /// # Panics
    /// When the server is unreachable and `CI` is set, or the migrations, fixtures or the clone
    /// fail: the message says which.
    pub async fn test_db(&self, backend: Backend) -> Option<TestDb> {
        let built = self.built(backend).await?;
        Some(
            built
                .take()
                .await
                .unwrap_or_else(|e| panic!("cannot clone the migrated {backend} template: {e}")),
        )
    }

    /// The built template for `backend` (built or found on first use in this process).
    pub(crate) async fn built(&self, backend: Backend) -> Option<Arc<Built>> {
        let admin_url = backend.admin_url();
        if let Some(url) = &admin_url {
            let url2 = url.clone();
            let reachable = WORKER
                .run(async move {
                    let r = WORKER.admin(&url2).await.map(|_| ());
                    if r.is_ok() {
                        WORKER.sweep_once(backend, &url2).await;
                    }
                    r
                })
                .await;
            if let Err(e) = reachable {
                return unusable(backend, url, &e);
            }
        }
        sweep_files();
        let key = self.key();
        let cell = {
            let mut cells = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
            cells
                .entry((backend, admin_url.clone().unwrap_or_default(), key.clone()))
                .or_default()
                .clone()
        };
        let built = cell
            .get_or_try_init(|| self.build(backend, admin_url, key))
            .await
            .unwrap_or_else(|e| panic!("cannot build the migrated {backend} template: {e}"));
        Some(built.clone())
    }

    async fn build(
        &self,
        backend: Backend,
        admin_url: Option<String>,
        key: String,
    ) -> Result<Arc<Built>, DbErr> {
        let dir = base_dir().join("templates");
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, &e))?;
        let stem = match &admin_url {
            None => format!("sqlite-{key}"),
            Some(url) => format!(
                "{}-{}-{key}",
                backend.name(),
                hex(&Sha256::digest(url)[..4])
            ),
        };
        let build_lock = lock(dir.join(format!("{stem}.build")), Lock::Exclusive).await?;
        let kind = match &admin_url {
            None => self.build_file(&dir, &key).await?,
            Some(url) => self.build_server(backend, url, &key).await?,
        };
        // The shared use lock is taken before the build lock is released: a sweeper needs both
        // exclusively, so it never drops a template between its check and its first use.
        let lineage = self.lineage();
        let use_lock = lock(dir.join(format!("{stem}.use")), Lock::Shared).await?;
        if use_lock.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            let _ = (&use_lock).write_all(lineage.as_bytes());
        }
        let _ = use_lock.set_modified(SystemTime::now());
        drop(build_lock);
        sweep_older(&dir, &stem, &key, &lineage, backend, admin_url.as_deref()).await;
        Ok(Arc::new(Built {
            backend,
            admin_url,
            kind,
            _use_lock: use_lock,
        }))
    }

    /// Migrates a SQLite file once and renames it into place (a reader never sees half a
    /// template).
    async fn build_file(&self, dir: &Path, key: &str) -> Result<Kind, DbErr> {
        let path = dir.join(format!("sqlite-{key}.sqlite3"));
        if path.exists() {
            return Ok(Kind::File(path));
        }
        let building = dir.join(format!("sqlite-{key}.{}.building", RUN.id));
        remove_sqlite_files(&building);
        let url = format!("sqlite://{}", building.display());
        let db = Database::open(OpenOptions::new(url))
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let result = self.fill(&db).await;
        if result.is_ok() {
            sea_orm::ConnectionTrait::execute_unprepared(
                db.connection(),
                "PRAGMA wal_checkpoint(TRUNCATE)",
            )
            .await?;
        }
        let _ = db.close().await;
        if let Err(e) = result {
            remove_sqlite_files(&building);
            return Err(e);
        }
        std::fs::rename(&building, &path).map_err(|e| io_err(&path, &e))?;
        remove_sqlite_files(&building);
        Ok(Kind::File(path))
    }

    /// Migrates `tk_tpl_<key>` on a server once and seals it; finds it sealed when another
    /// process (or an earlier run) built it; rebuilds a half-built one.
    async fn build_server(
        &self,
        backend: Backend,
        admin_url: &str,
        key: &str,
    ) -> Result<Kind, DbErr> {
        let dialect = backend.dialect();
        let name = format!("{TEMPLATE_PREFIX}{key}");
        let created = Created {
            backend,
            admin_url: admin_url.to_owned(),
            name: name.clone(),
        };
        let (url2, name2) = (admin_url.to_owned(), name.clone());
        let sealed = WORKER
            .run(async move {
                let conn = WORKER.admin(&url2).await?;
                dialect
                    .template_sealed(&conn, &name2)
                    .await
                    .map_err(to_db_err)
            })
            .await?;
        if sealed != Some(true) {
            if sealed == Some(false) {
                say(&format!(
                    "db-testkit: rebuilding half-built template {name}"
                ));
                let c = created.clone();
                WORKER.run(async move { drop_database(&c).await }).await?;
            }
            let c = created.clone();
            WORKER
                .run(async move {
                    let conn = WORKER.admin(&c.admin_url).await?;
                    let sql = dialect.create_database_sql(&c.name).map_err(to_db_err)?;
                    execute_all(&conn, &sql.into_iter().collect::<Vec<_>>()).await
                })
                .await?;
            let db = Database::open(OpenOptions::new(replace_database(admin_url, &name)))
                .await
                .map_err(to_db_err);
            let result = match db {
                Ok(db) => {
                    let r = self.fill(&db).await;
                    let _ = db.close().await;
                    r
                }
                Err(e) => Err(e),
            };
            let c = created.clone();
            let sealed = WORKER
                .run(async move {
                    match result {
                        Ok(()) => {
                            let conn = WORKER.admin(&c.admin_url).await?;
                            let seal = dialect.seal_template_sql(&c.name).map_err(to_db_err)?;
                            execute_all(&conn, &seal).await
                        }
                        Err(e) => Err(e),
                    }
                })
                .await;
            if let Err(e) = sealed {
                let c = created.clone();
                let _ = WORKER.run(async move { drop_database(&c).await }).await;
                return Err(e);
            }
        }
        let c = created.clone();
        let script = WORKER
            .run(async move {
                let conn = WORKER.admin(&c.admin_url).await?;
                dialect
                    .clone_script(&conn, &c.name)
                    .await
                    .map_err(to_db_err)
            })
            .await?
            .ok_or_else(|| DbErr::Custom(format!("{backend} has no clone script")))?;
        Ok(Kind::Server(ClonePool::start(
            backend,
            admin_url,
            script,
            self.prepared,
        )))
    }

    /// Migrates `db` to head and applies the fixtures.
    async fn fill(&self, db: &Database) -> Result<(), DbErr> {
        self.harness
            .migrate(db)
            .await
            .map_err(|e| DbErr::Custom(format!("migrating the template failed: {e}")))?;
        for f in &self.fixtures {
            f.apply(db).await?;
        }
        Ok(())
    }

    /// The root revisions, sorted: templates of one project share them across changes.
    fn lineage(&self) -> String {
        let mut roots: Vec<String> = self
            .harness
            .revisions()
            .into_iter()
            .filter(|r| r.down_revisions.is_empty())
            .map(|r| r.revision)
            .collect();
        roots.sort();
        roots.join(",")
    }
}

/// A template built (or found) in this process.
#[derive(Debug)]
pub(crate) struct Built {
    backend: Backend,
    admin_url: Option<String>,
    kind: Kind,
    /// Shared lock that keeps other processes from sweeping the template while this one uses
    /// it.
    _use_lock: File,
}

#[derive(Debug)]
enum Kind {
    File(PathBuf),
    Server(ClonePool),
}

impl Built {
    /// A clone for one test.
    pub(crate) async fn take(&self) -> Result<TestDb, String> {
        match (&self.kind, &self.admin_url) {
            (Kind::File(path), _) => TestDb::sqlite_copy_of(path).map_err(|e| e.to_string()),
            (Kind::Server(pool), Some(admin_url)) => {
                let name = pool.take().await?;
                let test_db = TestDb::on_server(self.backend, admin_url.clone(), name);
                Ok(match pool.recycle() {
                    Some(r) => test_db.recycled_by(r),
                    None => test_db,
                })
            }
            (Kind::Server(_), None) => Err("a server template without a server".into()),
        }
    }
}

type Cells = HashMap<(Backend, String, String), Arc<OnceCell<Arc<Built>>>>;
static BUILT: LazyLock<Mutex<Cells>> = LazyLock::new(Mutex::default);

/// Clones made ahead on the worker runtime: `CLONERS` tasks each make one, hand it over through
/// a channel of `prepared` places, and make the next.
#[derive(Debug)]
struct ClonePool {
    ready: tokio::sync::Mutex<mpsc::Receiver<Result<String, String>>>,
    /// Where a used clone goes back after a reset (MySQL/MariaDB).
    back: mpsc::Sender<Result<String, String>>,
    script: Arc<CloneScript>,
}

/// How a used clone goes back to its pool: reset to the template's state in the background and
/// handed to the next test, or dropped when its schema changed or the pool is full (MySQL and
/// MariaDB, where a reset costs a fraction of a clone).
#[derive(Debug)]
pub(crate) struct Recycle {
    back: mpsc::Sender<Result<String, String>>,
    script: Arc<CloneScript>,
}

impl Recycle {
    /// Resets `c` and returns it to the pool, or drops it.
    pub(crate) fn give_back(self, c: Created) {
        let busy = WORKER.busy();
        WORKER.spawn(async move {
            let _busy = busy;
            let reset = !WORKER.stopping()
                && match WORKER.admin(&c.admin_url).await {
                    Ok(conn) => self.script.reset(&conn, &c.name).await.unwrap_or(false),
                    Err(_) => false,
                };
            if !(reset && self.back.try_send(Ok(c.name.clone())).is_ok()) {
                WORKER.drop_later(c);
            }
        });
    }
}

impl ClonePool {
    fn start(backend: Backend, admin_url: &str, script: CloneScript, prepared: usize) -> Self {
        let (tx, rx) = mpsc::channel(prepared);
        let script = Arc::new(script);
        for _ in 0..CLONERS {
            let (tx, script, url) = (tx.clone(), script.clone(), admin_url.to_owned());
            WORKER.spawn(cloner(backend, url, script, tx));
        }
        Self {
            ready: tokio::sync::Mutex::new(rx),
            back: tx,
            script,
        }
    }

    fn recycle(&self) -> Option<Recycle> {
        self.script.resets().then(|| Recycle {
            back: self.back.clone(),
            script: self.script.clone(),
        })
    }

    async fn take(&self) -> Result<String, String> {
        self.ready
            .lock()
            .await
            .recv()
            .await
            .unwrap_or_else(|| Err("the clone pool stopped (the process is exiting)".into()))
    }
}

async fn cloner(
    backend: Backend,
    admin_url: String,
    script: Arc<CloneScript>,
    tx: mpsc::Sender<Result<String, String>>,
) {
    // One connection of its own: MySQL's script switches the session's database.
    let conn = match connect(&admin_url, 1, Duration::from_secs(60)).await {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Err(e.to_string())).await;
            return;
        }
    };
    while !WORKER.stopping() && !tx.is_closed() {
        let name = RUN.next_name();
        let created = Created {
            backend,
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        WORKER.register(created.clone());
        let busy = WORKER.busy();
        let made = match script.statements(&name) {
            Ok(statements) => execute_all(&conn, &statements).await,
            Err(e) => Err(to_db_err(e)),
        };
        drop(busy);
        match made {
            Ok(()) => {
                if tx.send(Ok(name)).await.is_err() {
                    WORKER.drop_later(created);
                    return;
                }
            }
            Err(e) => {
                WORKER.drop_later(created);
                if tx.send(Err(e.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Drops the templates of the same lineage on the same server with another key that no
/// process uses (their `.build` and `.use` files can be locked exclusively) and that have not
/// been used for [`UNUSED_FOR`].
async fn sweep_older(
    dir: &Path,
    stem: &str,
    key: &str,
    lineage: &str,
    backend: Backend,
    admin_url: Option<&str>,
) {
    let prefix = stem.trim_end_matches(key);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(other) = file
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".use"))
        else {
            continue;
        };
        if other == key || other.contains('-') {
            continue;
        }
        let Ok(mut f) = File::options().read(true).write(true).open(e.path()) else {
            continue;
        };
        let mut text = String::new();
        let idle = f
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > UNUSED_FOR);
        if f.read_to_string(&mut text).is_err() || text != lineage || !idle {
            continue;
        }
        let build = dir.join(format!("{prefix}{other}.build"));
        let Ok(build) = File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(build)
        else {
            continue;
        };
        if build.try_lock().is_err() || f.try_lock().is_err() {
            continue;
        }
        let dropped = match admin_url {
            None => {
                remove_sqlite_files(&dir.join(format!("sqlite-{other}.sqlite3")));
                true
            }
            Some(url) => {
                let c = Created {
                    backend,
                    admin_url: url.to_owned(),
                    name: format!("{TEMPLATE_PREFIX}{other}"),
                };
                WORKER
                    .run(async move { drop_database(&c).await })
                    .await
                    .is_ok()
            }
        };
        if dropped {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[derive(Clone, Copy)]
enum Lock {
    Shared,
    Exclusive,
}

/// Opens (creating) `path` and waits for a lock on it, off the async threads.
async fn lock(path: PathBuf, kind: Lock) -> Result<File, DbErr> {
    tokio::task::spawn_blocking(move || {
        let f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(&path, &e))?;
        match kind {
            Lock::Shared => f.lock_shared(),
            Lock::Exclusive => f.lock(),
        }
        .map_err(|e| io_err(&path, &e))?;
        Ok(f)
    })
    .await
    .map_err(|e| DbErr::Custom(e.to_string()))?
}

/// Removes a SQLite file and its `-wal` and `-shm` companions.
pub(crate) fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(with_suffix(path, suffix));
    }
}

fn io_err(path: &Path, e: &std::io::Error) -> DbErr {
    DbErr::Custom(format!("{}: {e}", path.display()))
}

fn to_db_err(e: db_core::Error) -> DbErr {
    match e {
        db_core::Error::Db(e) => e,
        other => DbErr::Custom(other.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

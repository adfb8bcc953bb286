//! The process-wide side of test databases: the run (its id and the lock file that says it is
//! alive), the worker runtime that clones and drops server databases in the background, the
//! register of every database this process created, the sweep of crashed runs' leftovers, and
//! the clean-up at exit.
//!
//! Names: every database a run creates is `tk_<run>_<n>` (`<run>` 8 hex digits). The run holds
//! an exclusive lock on `<tmp>/db-testkit/runs/<run>.lock` for its whole life; a later run that
//! can take that lock knows the owner is gone (crashed or killed) and drops its databases.
//! Databases of runs whose lock file is absent (another machine sharing the server) are never
//! touched.

use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr};

use crate::Backend;

/// Prefix of every database and file a run creates.
pub(crate) const PREFIX: &str = "tk_";
/// Prefix of migrated templates (kept between runs, keyed by the migration set).
pub(crate) const TEMPLATE_PREFIX: &str = "tk_tpl_";

/// A server database this process created and has not dropped yet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Created {
    pub(crate) backend: Backend,
    pub(crate) admin_url: String,
    pub(crate) name: String,
}

/// This process's run.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) id: String,
    counter: AtomicU32,
    /// Held (exclusively locked) until the process ends.
    _lock: Option<File>,
}

impl Run {
    /// A fresh database or file name of this run: `tk_<run>_<n>`.
    pub(crate) fn next_name(&self) -> String {
        format!(
            "{PREFIX}{}_{}",
            self.id,
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// The folder db-testkit keeps its lock files, SQLite templates and SQLite test files in:
/// `$TMPDIR/db-testkit` (or `DB_TESTKIT_DIR`).
pub(crate) fn base_dir() -> PathBuf {
    std::env::var_os("DB_TESTKIT_DIR")
        .map_or_else(|| std::env::temp_dir().join("db-testkit"), PathBuf::from)
}

fn runs_dir() -> PathBuf {
    base_dir().join("runs")
}

/// The folder of this run's SQLite test files.
pub(crate) fn sqlite_dir(run: &str) -> PathBuf {
    base_dir().join("sqlite").join(run)
}

pub(crate) static RUN: LazyLock<Run> = LazyLock::new(|| {
    register_exit_hook();
    let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let dir = runs_dir();
    let lock = std::fs::create_dir_all(&dir)
        .and_then(|()| File::create(dir.join(format!("{id}.lock"))))
        .and_then(|f| f.try_lock().map(|()| f).map_err(std::io::Error::other));
    let lock = match lock {
        Ok(f) => Some(f),
        Err(e) => {
            say(&format!(
                "db-testkit: cannot hold a run lock in {} ({e}); databases of this run will not be swept if it crashes",
                dir.display()
            ));
            None
        }
    };
    Run {
        id,
        counter: AtomicU32::new(0),
        _lock: lock,
    }
});

/// Whether run `id` has ended without cleaning up: its lock file exists and nobody holds it.
fn run_is_dead(id: &str) -> bool {
    if id == RUN.id {
        return false;
    }
    let Ok(f) = File::options()
        .write(true)
        .open(runs_dir().join(format!("{id}.lock")))
    else {
        return false;
    };
    f.try_lock().is_ok()
}

/// The run id in a name `tk_<run>_<n>` (not a template's).
fn run_of(name: &str) -> Option<&str> {
    if name.starts_with(TEMPLATE_PREFIX) {
        return None;
    }
    let rest = name.strip_prefix(PREFIX)?;
    let (run, n) = rest.split_once('_')?;
    (run.len() == 8 && !n.is_empty()).then_some(run)
}

/// Databases of dead runs dropped at once by a sweep.
const SWEEP_PARALLEL: usize = 3;

/// The background worker: a runtime of its own (tests each have theirs, which end with the
/// test), the register of created databases, and one administrative pool per server.
#[derive(Debug)]
pub(crate) struct Worker {
    rt: tokio::runtime::Runtime,
    created: Mutex<HashSet<Created>>,
    admins: tokio::sync::Mutex<HashMap<String, Result<DatabaseConnection, String>>>,
    swept: Mutex<HashSet<String>>,
    stopping: AtomicBool,
    busy: AtomicUsize,
    skipped: Mutex<Vec<String>>,
}

pub(crate) static WORKER: LazyLock<Worker> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("db-testkit")
        .enable_all()
        .build()
        // No runtime, no server databases: nothing sensible remains for a test fixture.
        .unwrap_or_else(|e| panic!("db-testkit cannot start its worker runtime: {e}"));
    if !shutdown_hooks::add_shutdown_hook(at_exit) {
        say(
            "db-testkit: cannot register the exit hook; databases still open at exit are swept by the next run",
        );
    }
    Worker {
        rt,
        created: Mutex::new(HashSet::new()),
        admins: tokio::sync::Mutex::new(HashMap::new()),
        swept: Mutex::new(HashSet::new()),
        stopping: AtomicBool::new(false),
        busy: AtomicUsize::new(0),
        skipped: Mutex::new(Vec::new()),
    }
});

impl Worker {
    /// Runs `fut` on the worker's runtime and waits for it from any runtime: connections it
    /// opens outlive the calling test's runtime.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> T {
        match self.rt.spawn(fut).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Spawns `fut` on the worker's runtime.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        drop(self.rt.spawn(fut));
    }

    /// Whether the process is exiting (clone pools stop).
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Records `c` before it is created, so that the exit clean-up drops it even when the
    /// creation is still running.
    pub(crate) fn register(&self, c: Created) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(c);
    }

    /// Counts a creation in progress (the exit clean-up waits for it).
    pub(crate) fn busy(&self) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard
    }

    /// Drops `c` in the background (the exit clean-up finishes what is pending).
    pub(crate) fn drop_later(&'static self, c: Created) {
        let busy = self.busy();
        self.spawn(async move {
            let _busy = busy;
            match drop_database(&c).await {
                Ok(()) => self.forget(&c),
                Err(e) => say(&format!(
                    "db-testkit: could not drop test database {}: {e}",
                    c.name
                )),
            }
        });
    }

    fn forget(&self, c: &Created) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(c);
    }

    /// The administrative pool for `admin_url` (up to 4 connections), made on first use.
    pub(crate) async fn admin(&self, admin_url: &str) -> Result<DatabaseConnection, DbErr> {
        let mut admins = self.admins.lock().await;
        if let Some(c) = admins.get(admin_url) {
            return c.clone().map_err(DbErr::Custom);
        }
        // A refused or silent server fails within the short timeout of a probe (and is not
        // tried again by this process); the pool then waits up to a minute for a free
        // connection under load.
        let conn = match connect(admin_url, 1, Duration::from_secs(3)).await {
            Ok(probe) => {
                let _ = probe.close().await;
                connect(admin_url, 4, Duration::from_secs(60)).await
            }
            Err(e) => Err(e),
        };
        admins.insert(
            admin_url.to_owned(),
            conn.as_ref().cloned().map_err(ToString::to_string),
        );
        conn
    }

    /// Drops what crashed runs left on this server, once per process and server, in the
    /// background on the worker runtime: no test waits for it (a killed run can leave
    /// hundreds of databases; dropped one by one they took minutes).
    pub(crate) async fn sweep_once(&self, backend: Backend, admin_url: &str) {
        let first = self
            .swept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(admin_url.to_owned());
        if first {
            let url = admin_url.to_owned();
            self.rt.spawn(async move {
                if let Err(e) = WORKER.sweep(backend, &url).await {
                    say(&format!(
                        "db-testkit: could not sweep leftover databases: {e}"
                    ));
                }
            });
        }
    }

    /// Drops the databases of dead runs on the server of `admin_url` and returns their names.
    pub(crate) async fn sweep(
        &self,
        backend: Backend,
        admin_url: &str,
    ) -> Result<Vec<String>, DbErr> {
        let conn = self.admin(admin_url).await?;
        let dialect = backend.dialect();
        let names = dialect
            .databases_with_prefix(&conn, PREFIX)
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let dead: Vec<String> = names
            .into_iter()
            .filter(|name| run_of(name).is_some_and(run_is_dead))
            .collect();
        // A few drops at a time on the administrative pool (4 connections), leaving one for
        // the tests' own creations.
        let results: Vec<Result<String, DbErr>> = futures::stream::iter(dead)
            .map(|name| {
                let conn = conn.clone();
                async move {
                    let sql = dialect
                        .drop_database_sql(&name)
                        .map_err(|e| DbErr::Custom(e.to_string()))?;
                    execute_all(&conn, &sql.into_iter().collect::<Vec<_>>()).await?;
                    Ok(name)
                }
            })
            .buffer_unordered(SWEEP_PARALLEL)
            .collect()
            .await;
        let mut dropped = Vec::new();
        for r in results {
            dropped.push(r?);
        }
        dropped.sort();
        Ok(dropped)
    }

    /// Notes a skipped test for the summary at exit.
    pub(crate) fn note_skip(&self, line: String) {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// At exit: stops the clone pools, waits (≤ 20 s) for creations and drops in progress, then
    /// drops every database still registered and prints the skip summary.
    /// Returns whether nothing is left behind.
    fn finish(&self) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left: Vec<Created> = self
            .created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        let mut clean = true;
        if !left.is_empty() {
            // On a thread of its own: the exiting thread's thread-locals (tokio's context among
            // them) may already be gone.
            let handle = self.rt.handle().clone();
            let dropped = std::thread::scope(|s| {
                s.spawn(|| {
                    handle.block_on(async {
                        let drops = left
                            .iter()
                            .map(|c| async move { (c, drop_database(c).await) });
                        futures::future::join_all(drops).await
                    })
                })
                .join()
                .unwrap_or_default()
            });
            for (c, r) in dropped {
                if let Err(e) = r {
                    clean = false;
                    say(&format!(
                        "db-testkit: could not drop test database {} at exit (the next run sweeps it): {e}",
                        c.name
                    ));
                }
            }
        }
        let skipped =
            std::mem::take(&mut *self.skipped.lock().unwrap_or_else(PoisonError::into_inner));
        if !skipped.is_empty() {
            let mut text = format!(
                "\ndb-testkit: {} test(s) SKIPPED, in whole or in part (cargo counts them as passed):\n",
                skipped.len()
            );
            for s in skipped {
                text.push_str("  ");
                text.push_str(&s);
                text.push('\n');
            }
            say(&text);
        }
        clean
    }
}

/// Marks a creation in progress while alive.
#[derive(Debug)]
pub(crate) struct BusyGuard;

impl Drop for BusyGuard {
    fn drop(&mut self) {
        WORKER.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Registers [`at_exit`] once (`atexit`, which runs when the test binary returns from `main`
/// or calls `exit`; not when it is killed or aborts: the next run sweeps then).
fn register_exit_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if !shutdown_hooks::add_shutdown_hook(at_exit) {
            say("db-testkit: cannot register the exit hook; what is left at exit is swept by the next run");
        }
    });
}

extern "C" fn at_exit() {
    // A panic must not cross the C boundary: it would abort the exiting process.
    let _ = std::panic::catch_unwind(|| {
        let clean = LazyLock::get(&WORKER).is_none_or(Worker::finish);
        if let Some(run) = LazyLock::get(&RUN) {
            let _ = std::fs::remove_dir_all(sqlite_dir(&run.id));
            if clean {
                let _ = std::fs::remove_file(runs_dir().join(format!("{}.lock", run.id)));
            }
        }
    });
}

/// Writes `text` straight to stderr, past libtest's output capture, so it shows in the
/// normal output of `cargo test`.
pub(crate) fn say(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// A pool of `max` connections to `url` that waits up to `acquire` for a connection (sqlx
/// retries a failing connect until then).
pub(crate) async fn connect(
    url: &str,
    max: u32,
    acquire: Duration,
) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max)
        .min_connections(0)
        .acquire_timeout(acquire)
        .sqlx_logging(false);
    sea_orm::Database::connect(opts).await
}

/// Runs the dialect's `DROP DATABASE IF EXISTS` (templates are unmarked first) for `c`.
pub(crate) async fn drop_database(c: &Created) -> Result<(), DbErr> {
    let dialect = c.backend.dialect();
    let statements = if c.name.starts_with(TEMPLATE_PREFIX) {
        dialect.drop_template_sql(&c.name)
    } else {
        dialect
            .drop_database_sql(&c.name)
            .map(|s| s.into_iter().collect())
    }
    .map_err(|e| DbErr::Custom(e.to_string()))?;
    let conn = WORKER.admin(&c.admin_url).await?;
    if let Err(e) = execute_all(&conn, &statements).await {
        // A test may have made its database a template: unmark it and try again.
        let again = dialect
            .drop_template_sql(&c.name)
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        if again == statements || execute_all(&conn, &again).await.is_err() {
            return Err(e);
        }
    }
    Ok(())
}

/// Runs `statements` in order on `conn`.
pub(crate) async fn execute_all(
    conn: &impl ConnectionTrait,
    statements: &[String],
) -> Result<(), DbErr> {
    for sql in statements {
        conn.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Removes the SQLite folders of dead runs, and their lock files when older than a day (a server
/// sweep may still need a younger one); once per process.
pub(crate) fn sweep_files() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sweep_files_now);
}

/// [`sweep_files`], now.
pub(crate) fn sweep_files_now() {
    {
        let Ok(entries) = std::fs::read_dir(base_dir().join("sqlite")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if run_is_dead(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let Ok(entries) = std::fs::read_dir(runs_dir()) else {
            return;
        };
        let day = Duration::from_secs(24 * 3600);
        for e in entries.flatten() {
            let path = e.path();
            let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > day);
            if old && run_is_dead(&id) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::run_of;

    #[test]
    fn reads_the_run_of_a_name() {
        assert_eq!(run_of("tk_0123abcd_7"), Some("0123abcd"));
        assert_eq!(run_of("tk_tpl_0123abcd0123abcd"), None);
        assert_eq!(run_of("tk_short_1"), None);
        assert_eq!(run_of("t_1_2_abc"), None);
        assert_eq!(run_of("tk_0123abcd_"), None);
    }
}

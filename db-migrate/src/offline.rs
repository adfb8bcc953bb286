//! `--sql` offline mode (Alembic's offline mode): the SQL an upgrade, downgrade or stamp would
//! run, version-table statements included, printed instead of executed.
//!
//! Each migration runs against a recording connection (sea-orm's mock connection with a
//! recorder behind it). On SQLite the recorder also replays every statement into an in-memory
//! shadow database (on its own thread, the mock interface being synchronous), so batch
//! alterations can read the table definitions they rebuild; on PostgreSQL and MySQL nothing is
//! read, and a migration that queries the database stops with an error that names the query.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseConnectionType, DbBackend, DbErr, ExecResult,
    MockDatabase, MockDatabaseConnection, MockDatabaseTrait, MockExecResult, QueryResult,
    Statement, Transaction, Value,
};
use sea_orm_migration::SchemaManager;

use crate::error::{DbContext, Error, Result};
use crate::migrator::fmt_heads;
use crate::migrator::{Direction, Migrator, finish, run_migration};
use crate::plan::Plan;
use crate::target::Target;
use crate::version_table::VersionTable;

type Rows = Vec<BTreeMap<String, Value>>;

/// A request to the shadow thread: the statement, whether it is a query, where to answer.
type Request = (
    Statement,
    bool,
    mpsc::Sender<Result<(Rows, u64, u64), DbErr>>,
);

/// Records statements; on SQLite also replays them into the shadow database.
#[derive(Debug)]
struct Recorder {
    backend: DbBackend,
    shadow: Option<Mutex<mpsc::Sender<Request>>>,
    recording: Arc<Mutex<bool>>,
    statements: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn record(&self, stmt: &Statement) {
        if !*self.recording.lock().unwrap_or_else(|e| e.into_inner()) || is_read(&stmt.sql) {
            return;
        }
        let mut sql = stmt.to_string().trim().to_owned();
        if !sql.ends_with(';') {
            sql.push(';');
        }
        self.statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sql);
    }

    fn shadow(&self, stmt: Statement, query: bool) -> Option<Result<(Rows, u64, u64), DbErr>> {
        let shadow = self.shadow.as_ref()?;
        let (tx, rx) = mpsc::channel();
        let sent = shadow
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((stmt, query, tx));
        Some(match sent {
            Ok(()) => rx
                .recv()
                .unwrap_or_else(|_| Err(DbErr::Custom("the shadow database stopped".into()))),
            Err(_) => Err(DbErr::Custom("the shadow database stopped".into())),
        })
    }
}

/// Statements that only read (SQLite's reading pragmas included): not part of the output.
fn is_read(sql: &str) -> bool {
    let s = sql.trim_start().to_ascii_uppercase();
    s.starts_with("SELECT")
        // A `WITH` that writes (the version row and history row of one step) is output.
        || (s.starts_with("WITH")
            && !["UPDATE ", "INSERT ", "DELETE "]
                .iter()
                .any(|w| s.contains(w)))
        || s.starts_with("EXPLAIN")
        || (s.starts_with("PRAGMA") && !s.contains('='))
}

impl MockDatabaseTrait for Recorder {
    fn execute(&mut self, _counter: usize, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.record(&stmt);
        let (last_insert_id, mut rows_affected) = match self.shadow(stmt.clone(), false) {
            Some(r) => r.map(|(_, id, n)| (id, n))?,
            None => (0, 0),
        };
        // The version table's UPDATE (alone, or in a `WITH` with the history row) checks that
        // it replaced exactly one row; offline there is no such row (the shadow starts
        // empty), so it is taken as done.
        if stmt.sql.contains("SET version_num =") {
            rows_affected = 1;
        }
        MockDatabase::new(self.backend)
            .append_exec_results([MockExecResult {
                last_insert_id,
                rows_affected,
            }])
            .execute(0, stmt)
    }

    fn query(&mut self, _counter: usize, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.record(&stmt);
        let rows = match self.shadow(stmt.clone(), true) {
            Some(r) => r?.0,
            None if stmt
                .sql
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("INSERT") =>
            {
                // INSERT … RETURNING id of the history table.
                vec![BTreeMap::from([("id".to_owned(), Value::BigInt(Some(0)))])]
            }
            None => {
                return Err(DbErr::Custom(format!(
                    "`--sql` mode cannot read the database on {:?}, and this migration queries it (`{}`); run it online instead",
                    self.backend, stmt.sql
                )));
            }
        };
        MockDatabase::new(self.backend)
            .append_query_results([rows])
            .query(0, stmt)
    }

    fn begin(&mut self) {}

    fn commit(&mut self) {}

    fn rollback(&mut self) {}

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    fn ping(&self) -> Result<(), DbErr> {
        Ok(())
    }
}

/// A shadow row keyed so that key order is column order (`c000`, `c001`, …: mock rows are
/// read by position in key order); a single column keeps its own name, for reads by name.
fn shadow_row(r: &QueryResult) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    let names = r.column_names();
    for (i, name) in names.iter().enumerate() {
        let v = if let Ok(v) = r.try_get_by_index::<Option<String>>(i) {
            Value::String(v)
        } else if let Ok(v) = r.try_get_by_index::<Option<i64>>(i) {
            Value::BigInt(v)
        } else if let Ok(v) = r.try_get_by_index::<Option<f64>>(i) {
            Value::Double(v)
        } else {
            Value::String(None)
        };
        let key = if names.len() == 1 {
            name.clone()
        } else {
            format!("c{i:03}")
        };
        values.insert(key, v);
    }
    values
}

/// Starts the shadow SQLite database on its own thread and runtime.
fn start_shadow(file: Option<std::path::PathBuf>) -> Result<mpsc::Sender<Request>> {
    let (tx, rx) = mpsc::channel::<Request>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), DbErr>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready_tx.send(Err(DbErr::Custom(e.to_string())));
                return;
            }
        };
        runtime.block_on(async move {
            let mut opts = match &file {
                // A file URL whose name is replaced below (any path is safe that way).
                Some(_) => sea_orm::ConnectOptions::new("sqlite://shadow.sqlite3"),
                None => sea_orm::ConnectOptions::new("sqlite::memory:"),
            };
            opts.max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            if let Some(path) = file {
                opts.map_sqlx_sqlite_opts(move |o| o.filename(&path).create_if_missing(false));
            }
            let connected = match sea_orm::Database::connect(opts).await {
                Ok(db) => db
                    .execute_unprepared("PRAGMA foreign_keys = OFF")
                    .await
                    .map(|_| db),
                Err(e) => Err(e),
            };
            let db = match connected {
                Ok(db) => {
                    let _ = ready_tx.send(Ok(()));
                    db
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            while let Ok((stmt, query, answer)) = rx.recv() {
                let result = if query {
                    db.query_all_raw(stmt)
                        .await
                        .map(|rows| (rows.iter().map(shadow_row).collect(), 0, rows.len() as u64))
                } else {
                    db.execute_raw(stmt)
                        .await
                        .map(|r| (Vec::new(), r.last_insert_id(), r.rows_affected()))
                };
                let _ = answer.send(result);
            }
        });
    });
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(DbErr::Custom("the shadow database did not start".into())))
        .context(|| "opening the in-memory shadow database".into())?;
    Ok(tx)
}

impl Migrator {
    /// The version-table rows `start` stands for in an offline range: none from base, else
    /// what Alembic's `get_revisions` makes of it (`heads`, a revision, a label).
    fn offline_start(&self, start: Option<&str>) -> Result<Vec<String>> {
        match start {
            None | Some("base") => Ok(Vec::new()),
            Some(rev) => self.graph().rows_for(rev),
        }
    }

    /// The SQL `upgrade` would run from `start` to `end` for `range` = `[start:]end`
    /// (`alembic upgrade --sql base:head`), on `backend`, without touching any database: each
    /// migration between `BEGIN;` and `COMMIT;` (not on MySQL, whose DDL commits) with its
    /// version-table and history statements; the version tables are created when starting
    /// from base. `schema` (PostgreSQL) is created and put on the search path first.
    ///
    /// # Errors
    /// Target errors for `range`; [`Error::MigrationFailed`] when a migration cannot be
    /// rendered offline (on PostgreSQL and MySQL: one that reads the database).
    pub async fn upgrade_sql(
        &self,
        backend: DbBackend,
        range: &str,
        schema: Option<&str>,
    ) -> Result<String> {
        let target: Target = range.parse()?;
        let rows = self.offline_start(target.start())?;
        let plan = self.graph().plan_upgrade(&rows, target.end())?;
        self.offline(backend, schema, rows, plan, &format!("upgrade {range}"))
            .await
    }

    /// The SQL `downgrade` would run for `range` = `start:end` (`alembic downgrade --sql
    /// head:base`; the start is required, there being no database to read it from).
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] without a start; otherwise as [`Migrator::upgrade_sql`].
    pub async fn downgrade_sql(
        &self,
        backend: DbBackend,
        range: &str,
        schema: Option<&str>,
    ) -> Result<String> {
        let target: Target = range.parse()?;
        if target.start().is_none() {
            return Err(Error::InvalidTarget {
                target: range.to_owned(),
                operation: "downgrade --sql",
                reason: "give the range to render, e.g. `head:base` (there is no database to read the start from)".into(),
            });
        }
        let rows = self.offline_start(target.start())?;
        let plan = self.graph().plan_downgrade(&rows, target.end())?;
        self.offline(backend, schema, rows, plan, &format!("downgrade {range}"))
            .await
    }

    /// The SQL `stamp` would run for `targets` (`alembic stamp --sql`); the first may be a
    /// range `start:end`, else the stamp starts from base.
    ///
    /// # Errors
    /// Target errors.
    pub async fn stamp_sql(
        &self,
        backend: DbBackend,
        targets: &[&str],
        schema: Option<&str>,
    ) -> Result<String> {
        let first: Target = targets.first().copied().unwrap_or("heads").parse()?;
        let old = self.offline_start(first.start())?;
        let ends: Vec<&str> = std::iter::once(first.end())
            .chain(targets.iter().skip(1).copied())
            .collect();
        let new = self.graph().plan_stamp(&old, &ends)?;
        let range = targets.join(" ");
        let (conn, recorder) = recording_connection(backend).await?;
        let table = self.offline_table(backend, schema)?;
        let mut out = header(backend, schema, &format!("stamp {range}"))?;
        if first.start().is_none() || old.is_empty() {
            create_tables(&mut out, &table, backend);
        }
        if crate::dialect::offline_shadow(crate::version_table::dialect(backend)) {
            // The shadow runs the statements: it needs the tables (not recorded).
            table
                .ensure(&conn)
                .await
                .context(|| "preparing the shadow database".into())?;
            table
                .write_heads(&conn, &[], &old)
                .await
                .context(|| "preparing the shadow database".into())?;
        }
        recorder.set_recording(true);
        table
            .write_heads(&conn, &old, &new)
            .await
            .context(|| "rendering the stamp".into())?;
        out.push_str(&transaction(backend, recorder.take()));
        Ok(out)
    }

    fn offline_table(&self, backend: DbBackend, schema: Option<&str>) -> Result<VersionTable> {
        let mut table = self.table().clone();
        if table.schema.is_none() {
            table.schema = schema.map(str::to_owned);
        }
        table.validate(crate::version_table::dialect(backend))?;
        self.check_id_width(&table)?;
        Ok(table)
    }

    async fn offline(
        &self,
        backend: DbBackend,
        schema: Option<&str>,
        rows: Vec<String>,
        plan: Plan,
        what: &str,
    ) -> Result<String> {
        let g = self.graph();
        let (conn, recorder) = recording_connection(backend).await?;
        let table = self.offline_table(backend, schema)?;
        let mut out = header(backend, schema, what)?;
        if crate::dialect::offline_shadow(crate::version_table::dialect(backend)) {
            // Bring the shadow to the start without recording.
            table
                .ensure(&conn)
                .await
                .context(|| "preparing the shadow database".into())?;
            let mut heads: Vec<String> = Vec::new();
            for row in &rows {
                let to_start = g.plan_upgrade(&heads, row)?;
                for step in &to_start.steps {
                    run_migration(
                        &g.scripts[step.index],
                        step.direction,
                        &SchemaManager::new(&conn),
                    )
                    .await
                    .map_err(|source| Error::Offline {
                        revision: g.id(step.index).clone(),
                        direction: step.direction,
                        source,
                    })?;
                }
                heads = to_start.end().to_vec();
            }
        }
        if rows.is_empty() && matches!(plan.command, Some((Direction::Upgrade, _))) {
            create_tables(&mut out, &table, backend);
        }
        recorder.set_recording(true);
        let mut heads: Vec<String> = rows;
        while let Some((idx, dir, new_heads)) = self.next_step(&plan, &heads)? {
            let script = &g.scripts[idx];
            let (from, to) = (fmt_heads(&heads), fmt_heads(&new_heads));
            let line = format!(
                "-- Running {}",
                crate::migrator::step_line(dir, g.id(idx).as_str(), &from, &to, &script.message)
            );
            let fail = |source: DbErr| Error::Offline {
                revision: g.id(idx).clone(),
                direction: dir,
                source,
            };
            run_migration(script, dir, &SchemaManager::new(&conn))
                .await
                .map_err(&fail)?;
            finish(
                &conn,
                &table,
                script,
                dir,
                &heads,
                &new_heads,
                Instant::now(),
            )
            .await
            .map_err(&fail)?;
            out.push('\n');
            out.push_str(&line);
            out.push('\n');
            out.push_str(&transaction(backend, recorder.take()));
            heads = new_heads;
        }
        Ok(out)
    }
}

/// The recording connection and the handles to its switch and its statements.
pub(crate) struct Recording {
    recording: Arc<Mutex<bool>>,
    statements: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.statements.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn set_recording(&self, on: bool) {
        *self.recording.lock().unwrap_or_else(|e| e.into_inner()) = on;
    }
}

pub(crate) async fn recording_connection(
    backend: DbBackend,
) -> Result<(DatabaseConnection, Recording)> {
    recording_connection_on(backend, None).await
}

/// As [`recording_connection`], with the SQLite shadow on `file` (a copy of a live database)
/// instead of in memory.
pub(crate) async fn recording_connection_on(
    backend: DbBackend,
    file: Option<std::path::PathBuf>,
) -> Result<(DatabaseConnection, Recording)> {
    let shadow = if crate::dialect::offline_shadow(crate::version_table::dialect(backend)) {
        Some(Mutex::new(start_shadow(file)?))
    } else {
        None
    };
    let recording = Arc::new(Mutex::new(false));
    let statements = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        backend,
        shadow,
        recording: recording.clone(),
        statements: statements.clone(),
    };
    let conn = DatabaseConnection::from(DatabaseConnectionType::MockDatabaseConnection(Arc::new(
        MockDatabaseConnection::new(recorder),
    )));
    Ok((
        conn,
        Recording {
            recording,
            statements,
        },
    ))
}

fn header(backend: DbBackend, schema: Option<&str>, what: &str) -> Result<String> {
    let dialect = crate::version_table::dialect(backend);
    let mut out = format!(
        "-- db-migrate {what} ({}), generated offline by {}\n",
        dialect.display_name(),
        crate::version_table::TOOL_VERSION
    );
    out.push_str(&dialect.script_preamble(schema)?);
    Ok(out)
}

fn create_tables(out: &mut String, table: &VersionTable, backend: DbBackend) {
    out.push('\n');
    for sql in table.create_sql(backend) {
        out.push_str(&sql);
        out.push_str(";\n");
    }
}

/// The statements of one step, in a transaction except on MySQL.
fn transaction(backend: DbBackend, statements: Vec<String>) -> String {
    let mut out = String::new();
    let txn = crate::version_table::dialect(backend).transactional_ddl();
    if txn {
        out.push_str("BEGIN;\n");
    }
    for s in statements {
        out.push_str(&s);
        out.push('\n');
    }
    if txn {
        out.push_str("COMMIT;\n");
    }
    out
}

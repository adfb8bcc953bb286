//! A fleet over the real NATS server (127.0.0.1:4222): N devices (each its own SQLite file,
//! all in this process) take an allow-list of E entries from empty, then a 1 % change reaches
//! every device. Side by side, in one run:
//!
//! - **db-kvstore**: two `kv-server` processes on one PostgreSQL database (one NATS queue
//!   group); each device asks for its sync on going online (no offset: all at once), the
//!   servers compare e_tags and `set` what is missing; the change is made through a third
//!   server on the same database, which pushes it to every device that synced;
//! - **JetStream KV**: the same entries in a KV bucket; each device is a watcher
//!   (`watch_with_history(">")`) writing its SQLite table in transactions of up to 500 rows;
//!   the change is 100 `put`s.
//!
//! Printed per approach: time until every device holds every entry, p50/p99 per device, the
//! same for the change, CPU seconds of the server processes and of `nats-server`, bytes through
//! the devices' NATS connection, and this process's peak resident memory (all devices).
//!
//! Run with: `cargo bench -p example-device --bench fleet` (`KV_FLEET_DEVICES=1000`,
//! `KV_FLEET_ENTRIES=10000`, `KV_FLEET_ONLY=db-kvstore` or `=jetstream` for one side; needs PostgreSQL on 127.0.0.1:5432 and NATS with JetStream).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use db_kvstore::server::ServerStore;
use db_kvstore::{Status, SyncOptions, connection_status};
use example_device::{DeviceConfig, Server, start_device};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{Value, json};

#[path = "../tests/common/mod.rs"]
mod common;

/// The devices' allocator, as in the `device` and `kv-server` programs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Clock ticks per second of `/proc/<pid>/stat` (Linux's `USER_HZ`, 100 on every common
/// build).
const TICKS: f64 = 100.0;

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS
}

fn nats_server_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "nats-server").then_some(pid)
    })
}

fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

fn value(i: usize, round: usize) -> Value {
    json!({"plate": format!("PL{i}X{round}"), "holder": "fleet"})
}

struct Figures {
    name: &'static str,
    converge: (f64, f64, f64),
    change: (f64, f64, f64),
    server_cpu: f64,
    nats_cpu: f64,
    bytes_in: u64,
    bytes_out: u64,
    peak_mb: f64,
}

/// db-kvstore: two kv-server processes, devices that ask for their sync.
async fn ours(nats: &async_nats::Client, devices: usize, entries: usize) -> Figures {
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Postgres)
        .await
        .expect("PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("allow-list.json");
    let list: BTreeMap<String, Value> = (0..entries)
        .map(|i| (format!("p-{i:06}"), value(i, 0)))
        .collect();
    std::fs::write(&file, serde_json::to_vec(&list).expect("json")).expect("file");
    let root = format!("fleet{}.", uuid::Uuid::new_v4().simple());
    let file = file.to_str().expect("a UTF-8 temporary path");
    let servers: Vec<_> = (0..2)
        .map(|_| {
            common::start_kv_server(
                &["--url", test_db.url(), "--root", &root, file],
                Duration::from_secs(120),
            )
        })
        .collect();
    let (status, reader) = connection_status();
    let mut fleet = Vec::with_capacity(devices);
    for i in 0..devices {
        let config = DeviceConfig {
            url: format!(
                "sqlite://{}",
                dir.path().join(format!("dev-{i}.sqlite3")).display()
            ),
            resource: format!("dev-{i}"),
            subject_root: root.clone(),
            sync: SyncOptions {
                offset: Some(Duration::ZERO),
                sync_timeout: Duration::from_secs(120),
                ..SyncOptions::default()
            },
        };
        fleet.push(
            start_device(nats.clone(), config, reader.clone())
                .await
                .expect("device"),
        );
    }
    let server_pids: Vec<u32> = servers.iter().map(db_testkit::KillOnDrop::id).collect();
    let nats_pid = nats_server_pid();
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let (cpu0, ncpu0) = (cpu(&server_pids), nats_pid.map_or(0.0, cpu_seconds));
    let stats = nats.statistics();
    let (in0, out0) = (
        stats.in_bytes.load(Ordering::Relaxed),
        stats.out_bytes.load(Ordering::Relaxed),
    );
    reset_peak();
    eprintln!("{devices} devices started; converging");

    let start = Instant::now();
    let waits: Vec<_> = fleet
        .iter()
        .map(|d| {
            let mut events = d.sync_events();
            tokio::spawn(async move {
                loop {
                    let event = events.recv().await.expect("event");
                    if event.outcome.is_ok() {
                        return start.elapsed().as_secs_f64();
                    }
                }
            })
        })
        .collect();
    status.set(Status::Online);
    let mut converge = Vec::new();
    for w in waits {
        converge.push(w.await.expect("task"));
    }
    for (i, d) in fleet.iter().enumerate() {
        let plate = format!("PL{}X0", (i * 7919) % entries);
        assert!(
            d.may_enter(&plate).await.expect("query"),
            "device {i} holds {plate}"
        );
    }

    let db = test_db.open().await;
    let third = Server::new(
        nats.clone(),
        &root,
        ServerStore::open(&db).await.expect("store"),
    );
    let changed: Vec<(String, Option<Value>)> = (0..entries)
        .step_by(100)
        .map(|i| (format!("p-{i:06}"), Some(value(i, 1))))
        .collect();
    let count = changed.len();
    let start = Instant::now();
    let waits: Vec<_> = fleet
        .iter()
        .map(|d| {
            let mut changes = d.changes();
            tokio::spawn(async move {
                let mut seen = 0;
                while seen < count {
                    seen += changes.recv().await.expect("change").keys.len();
                }
                start.elapsed().as_secs_f64()
            })
        })
        .collect();
    third.change_many(changed).await.expect("change");
    let mut change = Vec::new();
    for w in waits {
        change.push(w.await.expect("task"));
    }
    let figures = Figures {
        name: "db-kvstore (2 kv-servers, PostgreSQL)",
        converge: percentiles(converge),
        change: percentiles(change),
        server_cpu: cpu(&server_pids) - cpu0,
        nats_cpu: nats_pid.map_or(0.0, cpu_seconds) - ncpu0,
        bytes_in: stats.in_bytes.load(Ordering::Relaxed) - in0,
        bytes_out: stats.out_bytes.load(Ordering::Relaxed) - out0,
        peak_mb: peak_mb(),
    };
    for d in fleet {
        d.shutdown().await;
    }
    drop(servers);
    figures
}

/// JetStream KV: a bucket, and a watcher per device writing its SQLite table.
async fn jetstream_kv(nats: &async_nats::Client, devices: usize, entries: usize) -> Figures {
    let js = async_nats::jetstream::new(nats.clone());
    let bucket = format!("fleet_{}", uuid::Uuid::new_v4().simple());
    // The stream a KV bucket is, made by hand: async-nats 0.51's `create_key_value` cannot
    // read nats-server 2.9's reply (the version Debian ships here).
    js.create_stream(async_nats::jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .expect("bucket stream");
    let kv = js.get_key_value(&bucket).await.expect("bucket");
    for i in 0..entries {
        let bytes = serde_json::to_vec(&value(i, 0)).expect("json");
        kv.put(format!("p-{i:06}"), bytes.into())
            .await
            .expect("put");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let nats_pid = nats_server_pid();
    let ncpu0 = nats_pid.map_or(0.0, cpu_seconds);
    let stats = nats.statistics();
    let (in0, out0) = (
        stats.in_bytes.load(Ordering::Relaxed),
        stats.out_bytes.load(Ordering::Relaxed),
    );
    reset_peak();
    let (change_started, change_clock) = tokio::sync::watch::channel(None::<Instant>);
    let start = Instant::now();
    let changes = entries.div_ceil(100);
    let mut tasks = Vec::with_capacity(devices);
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..devices {
        let db = db_core::Database::connect(&format!(
            "sqlite://{}",
            dir.path().join(format!("kv-{i}.sqlite3")).display()
        ))
        .await
        .expect("device db");
        db.execute_unprepared(
            "CREATE TABLE allow_list (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision BIGINT NOT NULL)",
        )
        .await
        .expect("table");
        let mut watch = kv.watch_with_history(">").await.expect("watch");
        let clock = change_clock.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut rows = 0usize;
            let mut updates = 0usize;
            let mut converged = None;
            let mut batch = Vec::new();
            while let Some(entry) = watch.next().await {
                let entry = entry.expect("entry");
                batch.push(entry.clone());
                if batch.len() < 500 && entry.delta > 0 {
                    continue;
                }
                let txn = db.connection().begin().await.expect("begin");
                for e in batch.drain(..) {
                    txn.execute_raw(Statement::from_sql_and_values(
                        sea_orm::DbBackend::Sqlite,
                        "INSERT INTO allow_list (key, value, revision) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision",
                        [
                            e.key.clone().into(),
                            String::from_utf8_lossy(&e.value).into_owned().into(),
                            i64::try_from(e.revision).unwrap_or(i64::MAX).into(),
                        ],
                    ))
                    .await
                    .expect("write");
                    if converged.is_some() {
                        updates += 1;
                    } else {
                        rows += 1;
                    }
                }
                txn.commit().await.expect("commit");
                if converged.is_none() && rows >= entries {
                    converged = Some(start.elapsed().as_secs_f64());
                    done.fetch_add(1, Ordering::SeqCst);
                }
                if updates >= changes {
                    let at = clock.borrow().expect("the change started");
                    return (converged.unwrap_or(f64::NAN), at.elapsed().as_secs_f64());
                }
            }
            panic!("the watcher ended");
        }));
    }
    // Every device converged before the change starts.
    while done.load(Ordering::SeqCst) < devices {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = change_started.send(Some(Instant::now()));
    for i in (0..entries).step_by(100) {
        let bytes = serde_json::to_vec(&value(i, 1)).expect("json");
        kv.put(format!("p-{i:06}"), bytes.into())
            .await
            .expect("put");
    }
    let mut converge = Vec::new();
    let mut change = Vec::new();
    for t in tasks {
        let (c, ch) = t.await.expect("task");
        converge.push(c);
        change.push(ch);
    }
    let figures = Figures {
        name: "JetStream KV (a watcher per device)",
        converge: percentiles(converge),
        change: percentiles(change),
        server_cpu: 0.0,
        nats_cpu: nats_pid.map_or(0.0, cpu_seconds) - ncpu0,
        bytes_in: stats.in_bytes.load(Ordering::Relaxed) - in0,
        bytes_out: stats.out_bytes.load(Ordering::Relaxed) - out0,
        peak_mb: peak_mb(),
    };
    let _ = js.delete_stream(format!("KV_{bucket}")).await;
    figures
}

fn main() {
    let number = |var: &str, default: usize| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let devices = number("KV_FLEET_DEVICES", 1000);
    let entries = number("KV_FLEET_ENTRIES", 10_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let nats = db_kvstore::nats::connect("nats://127.0.0.1:4222", Duration::from_secs(5))
            .await
            .expect("NATS");
        println!("{devices} devices × {entries} entries, then a 1 % change, over NATS on this machine");
        // `KV_FLEET_ONLY=db-kvstore` or `=jetstream` runs one approach (for profiling).
        let only = std::env::var("KV_FLEET_ONLY").unwrap_or_default();
        let mut results = Vec::new();
        if only != "jetstream" {
            results.push(ours(&nats, devices, entries).await);
        }
        if only != "db-kvstore" {
            results.push(jetstream_kv(&nats, devices, entries).await);
        }
        println!(
            "{:<40} | {:>22} | {:>22} | {:>10} | {:>10} | {:>16} | {:>9}",
            "approach", "converge p50/p99/max s", "change p50/p99/max s", "server CPU", "NATS CPU", "device bytes MB", "peak MB"
        );
        for f in results {
            println!(
                "{:<40} | {:>6.2} {:>6.2} {:>7.2} | {:>6.2} {:>6.2} {:>7.2} | {:>8.1} s | {:>8.1} s | {:>7.1} in {:>5.1} out | {:>9.0}",
                f.name,
                f.converge.0, f.converge.1, f.converge.2,
                f.change.0, f.change.1, f.change.2,
                f.server_cpu,
                f.nats_cpu,
                f.bytes_in as f64 / 1e6,
                f.bytes_out as f64 / 1e6,
                f.peak_mb,
            );
        }
    });
}

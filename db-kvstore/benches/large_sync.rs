//! Large syncs over the real NATS server (127.0.0.1:4222, default `max_payload`), the device in
//! its own process (this program, run again as the device) on its own SQLite file:
//!
//! - **converge**: an empty device brought to N entries by `db_kvstore::server::sync_device`
//!   (one `sync`, then `set`s of 5,000 keys);
//! - **steady sync**: one `sync` of the same N keys when nothing differs;
//! - the device's peak resident memory (`VmHWM`) and its resident memory when it was ready,
//!   and the bytes of the sync request.
//!
//! Targets (issue 23): 100,000 and 1,000,000 keys succeed; the device stays within 64 MB
//! during a 1,000,000-key sync; the sync finishes within openmodule's 30 s budget.
//!
//! Run with: `cargo bench -p db-kvstore --features nats --bench large_sync`
//! (`KV_LARGE_KEYS=100000,1000000`, `KV_LARGE_RUNS=3`: the sizes alternate round by round).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use db_kvstore::nats::{NatsRpc, connect, serve};
use db_kvstore::server::{ServerEntry, sync_device};
use db_kvstore::{CancellationToken, KvStore, KvStores, Parsed, RpcCall, RpcClient};
use sea_orm::ActiveValue::Set;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const NATS: &str = "nats://127.0.0.1:4222";
const NAME: &str = "om_bench_service";
const TIMEOUT: Duration = Duration::from_secs(120);

#[expect(unreachable_pub, reason = "an entity module as users write it")]
mod plate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_plate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub e_tag: i64,
        pub plate: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The device role: serves `kv_sync` under `prefix` on the SQLite file `path` until stdin
/// closes.
async fn device(path: &str, prefix: &str) {
    let db = db_core::Database::connect(&format!("sqlite://{path}?mode=rwc"))
        .await
        .expect("device database");
    db.execute_unprepared(
        "CREATE TABLE kv_plate (key TEXT PRIMARY KEY, e_tag BIGINT NOT NULL, plate TEXT NOT NULL)",
    )
    .await
    .expect("table");
    let mut stores = KvStores::new(&db, NAME, "res-1");
    stores
        .add(KvStore::<plate::Entity>::new(|_, value| {
            let plate = value.as_str().ok_or("a plate is a string")?.to_owned();
            Ok(Parsed::new(plate::ActiveModel {
                plate: Set(plate),
                ..Default::default()
            }))
        }))
        .expect("store");
    let nats = connect(NATS, Duration::from_secs(3)).await.expect("NATS");
    let stop = CancellationToken::new();
    serve(
        nats.clone(),
        NAME,
        prefix,
        &["kv_sync"],
        None,
        Arc::new(stores),
        stop.clone(),
    )
    .await
    .expect("serve");
    nats.flush().await.expect("flush");
    println!("ready");
    std::io::stdout().flush().expect("stdout");
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    })
    .await
    .expect("stdin");
    stop.cancel();
}

/// A field of `/proc/<pid>/status` in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Run {
    converge: Duration,
    steady: Duration,
    ready_mb: f64,
    converge_peak_mb: f64,
    steady_peak_mb: f64,
    request_bytes: usize,
}

#[expect(clippy::cast_precision_loss, reason = "figures for display")]
async fn one_run(nats: &async_nats::Client, keys: usize) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.sqlite");
    let prefix = format!("bench{}.device.res-1.", uuid::Uuid::new_v4().simple());
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("KV_BENCH_DEVICE", "1")
        .arg(path.to_str().expect("utf-8 path"))
        .arg(&prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("device process");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("ready line");
    assert_eq!(line.trim(), "ready", "the device started");
    let pid = child.id();
    let ready_mb = status_kb(pid, "VmRSS:") as f64 / 1024.0;

    let entries: BTreeMap<String, ServerEntry> = (0..keys)
        .map(|i| {
            (
                format!("plate-{i:09}"),
                ServerEntry::new(
                    Value::String(format!("P-{i}")),
                    i64::try_from(i).expect("small") + 1,
                ),
            )
        })
        .collect();
    let request_bytes = serde_json::to_vec(
        &json!({"service": NAME, "kvs": entries.iter().map(|(k, e)| (k.clone(), e.e_tag)).collect::<BTreeMap<_, _>>()}),
    )
    .expect("json")
    .len();
    let caller = NatsRpc::new(nats.clone(), "kv-server", prefix);
    let start = Instant::now();
    let summary = sync_device(&caller, NAME, &entries, 5_000, TIMEOUT)
        .await
        .expect("converges");
    let converge = start.elapsed();
    assert_eq!(summary.added, keys, "every key was set");
    let converge_peak_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    // Resets the peak (Linux ≥ 4.0), so the next reading is the steady sync's own.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");

    let kvs: BTreeMap<&str, i64> = entries.iter().map(|(k, e)| (k.as_str(), e.e_tag)).collect();
    let start = Instant::now();
    let answer = caller
        .call(
            RpcCall::new(
                "kv_sync",
                "sync",
                json!({"service": NAME, "kvs": kvs}),
                TIMEOUT,
            ),
            CancellationToken::new(),
        )
        .await
        .expect("steady sync");
    let steady = start.elapsed();
    assert_eq!(
        answer,
        json!({"additions": {}, "changes": {}, "missing": {}}),
        "nothing differs"
    );
    let steady_peak_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    drop(child.stdin.take());
    let _ = child.wait();
    Run {
        converge,
        steady,
        ready_mb,
        converge_peak_mb,
        steady_peak_mb,
        request_bytes,
    }
}

fn spread(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:>8.2} ({:.2}–{:.2})",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

#[expect(clippy::cast_precision_loss, reason = "figures for display")]
fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if std::env::var_os("KV_BENCH_DEVICE").is_some() {
        let args: Vec<String> = std::env::args().collect();
        runtime.block_on(device(&args[1], &args[2]));
        return;
    }
    let sizes: Vec<usize> = std::env::var("KV_LARGE_KEYS")
        .unwrap_or_else(|_| "100000,1000000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("KV_LARGE_KEYS: numbers"))
        .collect();
    let rounds: usize = std::env::var("KV_LARGE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    runtime.block_on(async {
        let nats = connect(NATS, Duration::from_secs(3)).await.expect("NATS");
        println!(
            "NATS max_payload {} bytes; device: its own process and SQLite file; {rounds} rounds, sizes alternating",
            nats.server_info().max_payload
        );
        let mut results: BTreeMap<usize, Vec<Run>> = BTreeMap::new();
        for _ in 0..rounds {
            for &keys in &sizes {
                results.entry(keys).or_default().push(one_run(&nats, keys).await);
            }
        }
        println!(
            "{:>9} | {:>10} | {:>24} | {:>24} | {:>8} | {:>24} | {:>24}",
            "keys",
            "request",
            "converge s (min–max)",
            "steady sync s",
            "ready MB",
            "peak MB converging",
            "peak MB steady sync"
        );
        for (keys, runs) in &results {
            let mut converge: Vec<f64> = runs.iter().map(|r| r.converge.as_secs_f64()).collect();
            let mut steady: Vec<f64> = runs.iter().map(|r| r.steady.as_secs_f64()).collect();
            let mut converge_peak: Vec<f64> = runs.iter().map(|r| r.converge_peak_mb).collect();
            let mut steady_peak: Vec<f64> = runs.iter().map(|r| r.steady_peak_mb).collect();
            let ready = runs.iter().map(|r| r.ready_mb).sum::<f64>() / runs.len() as f64;
            println!(
                "{keys:>9} | {:>7.1} MB | {:>24} | {:>24} | {ready:>8.1} | {:>24} | {:>24}",
                runs[0].request_bytes as f64 / 1e6,
                spread(&mut converge),
                spread(&mut steady),
                spread(&mut converge_peak),
                spread(&mut steady_peak),
            );
        }
    });
}

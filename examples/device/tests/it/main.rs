//! The device and two server processes over the real NATS server: the device's allow-list
//! converges on the server's entries, answers access checks over NATS, and picks up a change
//! after a reconnect.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use db_kvstore::nats::NatsRpc;
use db_kvstore::server::ServerStore;
use db_kvstore::{CancellationToken, RpcCall, RpcClient, Status, SyncOptions, connection_status};
use example_device::{DeviceConfig, Server, device_prefix, start_device};
use serde_json::{Value, json};

async fn synced(events: &mut tokio::sync::broadcast::Receiver<db_kvstore::SyncEvent>) {
    let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("a sync within 30 s")
        .expect("event");
    assert_eq!(event.outcome, Ok(()));
}

/// A device `resource` with its SQLite file in `dir`, under the subject root `root`, syncing
/// without openmodule's offset.
fn test_device(dir: &tempfile::TempDir, resource: &str, root: &str) -> DeviceConfig {
    DeviceConfig {
        url: format!(
            "sqlite://{}",
            dir.path().join(format!("{resource}.sqlite3")).display()
        ),
        resource: resource.into(),
        subject_root: root.to_owned(),
        sync: SyncOptions {
            offset: Some(Duration::ZERO),
            sync_timeout: Duration::from_secs(15),
            ..SyncOptions::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_converges_over_nats() {
    let nats =
        match db_kvstore::nats::connect("nats://127.0.0.1:4222", Duration::from_secs(3)).await {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{e}; CI is set, so NATS is required"
                );
                db_testkit::skip(&format!("the NATS server is not usable: {e}"));
                return;
            }
        };
    let root = format!("t{}.", uuid::Uuid::new_v4().simple());
    let entries: BTreeMap<String, Value> =
        serde_json::from_str(include_str!("../../allow-list.json")).expect("json");
    let server_dir = tempfile::tempdir().expect("tempdir");
    let server_url = format!(
        "sqlite://{}",
        server_dir.path().join("server.sqlite3").display()
    );
    let server_db = db_core::Database::connect(&server_url)
        .await
        .expect("server db");
    let store = ServerStore::open(&server_db).await.expect("server store");
    let server = Server::new(nats.clone(), &root, store);
    server.import(&entries).await.expect("import");
    let stop = CancellationToken::new();
    server.serve(stop.clone()).await.expect("server 1");
    server
        .serve(stop.clone())
        .await
        .expect("server 2, same queue group");

    let dir = tempfile::tempdir().expect("tempdir");
    let (status, reader) = connection_status();
    let device = start_device(nats.clone(), test_device(&dir, "gate-1", &root), reader)
        .await
        .expect("device");
    let mut events = device.sync_events();
    let mut changes = device.changes();
    status.set(Status::Online);
    synced(&mut events).await;
    assert!(device.may_enter("g-arage1").await.expect("query"));
    assert!(device.may_enter("W 12345 B").await.expect("query"));
    assert!(!device.may_enter("X-9").await.expect("query"));
    let first = changes.recv().await.expect("notified");
    assert_eq!(first.keys, ["p-0001", "p-0002", "p-0003"]);

    // Asked over NATS, as a gate controller would.
    let ask = NatsRpc::new(
        nats.clone(),
        "gate-controller",
        device_prefix(&root, "gate-1"),
    );
    let answer = ask
        .call(
            RpcCall::new(
                "access",
                "check",
                json!({"plate": "S-PARK 7"}),
                Duration::from_secs(5),
            ),
            CancellationToken::new(),
        )
        .await
        .expect("answer");
    assert_eq!(answer, json!({"allowed": true}));

    // A new plate on the server is pushed to the device at once.
    server
        .change("p-0004", Some(json!({"plate": "X-9", "holder": "Dora"})))
        .await
        .expect("change");
    assert_eq!(changes.recv().await.expect("notified").keys, ["p-0004"]);
    assert!(device.may_enter("x9").await.expect("query"));

    // The server restarts and imports its file with p-0001's plate changed: the change gets
    // a new e_tag from the database's counter (never one given before) and is pushed.
    stop.cancel();
    drop(server);
    server_db.close().await.expect("closed");
    let mut changed = entries;
    let old_plate = changed["p-0001"]["plate"]
        .as_str()
        .expect("plate")
        .to_owned();
    changed.insert("p-0001".into(), json!({"plate": "ZZ-999", "holder": "New"}));
    let server_db = db_core::Database::connect(&server_url)
        .await
        .expect("server db");
    let store = ServerStore::open(&server_db).await.expect("server store");
    let restarted = Server::new(nats.clone(), &root, store);
    let stop = CancellationToken::new();
    restarted
        .serve(stop.clone())
        .await
        .expect("restarted server");
    let summary = restarted.import(&changed).await.expect("import");
    assert_eq!(summary.changed, ["p-0001"], "only the changed entry");
    assert_eq!(summary.removed, ["p-0004"], "p-0004 is not in the file");
    let pushed = changes.recv().await.expect("notified").keys;
    assert_eq!(pushed, ["p-0001", "p-0004"]);
    assert!(device.may_enter("ZZ-999").await.expect("query"));
    assert!(!device.may_enter("x9").await.expect("query"), "removed");
    // A reconnect's sync finds nothing left to do.
    status.set(Status::Offline);
    status.set(Status::Online);
    synced(&mut events).await;
    assert!(
        !device.may_enter(&old_plate).await.expect("query"),
        "the revoked plate is refused"
    );
    device.shutdown().await;
    stop.cancel();
}

/// Two `kv-server` processes on one PostgreSQL database, one NATS queue group: a device
/// converges through whichever answers, a change made through a third server is pushed to
/// it, and every e_tag in the database is distinct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_share_one_postgres() {
    let Ok(nats) = db_kvstore::nats::connect("nats://127.0.0.1:4222", Duration::from_secs(3)).await
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set, so NATS is required"
        );
        db_testkit::skip("the NATS server is not usable");
        return;
    };
    let Some(test_db) = db_testkit::TestDb::new(db_testkit::Backend::Postgres).await else {
        return;
    };
    let root = format!("t{}.", uuid::Uuid::new_v4().simple());
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/allow-list.json");
    let servers: Vec<_> = (0..2)
        .map(|_| {
            common::start_kv_server(
                &["--url", test_db.url(), "--root", &root, file],
                Duration::from_secs(60),
            )
        })
        .collect();

    let dir = tempfile::tempdir().expect("tempdir");
    let (status, reader) = connection_status();
    let device = start_device(nats.clone(), test_device(&dir, "gate-7", &root), reader)
        .await
        .expect("device");
    let mut events = device.sync_events();
    let mut changes = device.changes();
    status.set(Status::Online);
    synced(&mut events).await;
    assert!(device.may_enter("g-arage1").await.expect("query"));
    // More syncs, spread over both processes by the queue group.
    for _ in 0..4 {
        status.set(Status::Offline);
        status.set(Status::Online);
        synced(&mut events).await;
    }
    let _ = changes.recv().await;

    // A third server on the same database changes a plate; the device gets it pushed.
    let db = test_db.open().await;
    let third = Server::new(
        nats.clone(),
        &root,
        ServerStore::open(&db).await.expect("store"),
    );
    third
        .change("p-0002", Some(json!({"plate": "NEW-2", "holder": "Bo"})))
        .await
        .expect("change");
    assert_eq!(changes.recv().await.expect("pushed").keys, ["p-0002"]);
    assert!(device.may_enter("NEW-2").await.expect("query"));

    let store = ServerStore::open(&db).await.expect("store");
    let entries = store.entries(example_device::NAME).await.expect("entries");
    let mut tags: Vec<i64> = entries.values().map(|e| e.e_tag).collect();
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), entries.len(), "every e_tag is distinct");
    assert_eq!(
        store.devices(example_device::NAME).await.expect("devices"),
        ["gate-7"]
    );
    device.shutdown().await;
    drop(servers);
}

//! The device and two server processes over the real NATS server: the device's allow-list
//! converges on the server's entries, answers access checks over NATS, and picks up a change
//! after a reconnect.

use std::collections::BTreeMap;
use std::time::Duration;

use db_kvstore::nats::NatsRpc;
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
    let server = Server::new(nats.clone(), &root, entries.clone());
    let stop = CancellationToken::new();
    server.serve(stop.clone()).await.expect("server 1");
    server
        .serve(stop.clone())
        .await
        .expect("server 2, same queue group");

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("gate-1.sqlite3").display());
    let (status, reader) = connection_status();
    let config = DeviceConfig {
        url,
        resource: "gate-1".into(),
        subject_root: root.clone(),
        sync: SyncOptions {
            offset: Some(Duration::ZERO),
            sync_timeout: Duration::from_secs(15),
            ..SyncOptions::default()
        },
    };
    let device = start_device(nats.clone(), config, reader)
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

    // A new plate on the server reaches the device after a reconnect.
    server
        .put("p-0004", json!({"plate": "X-9", "holder": "Dora"}))
        .await;
    status.set(Status::Offline);
    status.set(Status::Online);
    synced(&mut events).await;
    assert!(device.may_enter("x9").await.expect("query"));
    assert_eq!(changes.recv().await.expect("notified").keys, ["p-0004"]);

    // The server restarts from its file with p-0001's plate changed: the change reaches the
    // device (e_tags follow the entries, they are not renumbered at every start).
    stop.cancel();
    let mut changed = entries;
    let old_plate = changed["p-0001"]["plate"]
        .as_str()
        .expect("plate")
        .to_owned();
    changed.insert("p-0001".into(), json!({"plate": "ZZ-999", "holder": "New"}));
    let restarted = Server::new(nats.clone(), &root, changed);
    let stop = CancellationToken::new();
    restarted
        .serve(stop.clone())
        .await
        .expect("restarted server");
    status.set(Status::Offline);
    status.set(Status::Online);
    synced(&mut events).await;
    assert!(device.may_enter("ZZ-999").await.expect("query"));
    assert!(
        !device.may_enter(&old_plate).await.expect("query"),
        "the revoked plate is refused"
    );
    device.shutdown().await;
    stop.cancel();
}

//! The sync handler in paused time (`tokio::time::pause`), against the fake RPC client: when it syncs, how it
//! retries, that stores do not block each other, and shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use db_kvstore::{
    ConnectionStatusSender, KvStores, RpcError, RunningSync, Status, SyncEvent, SyncHandler,
    SyncOptions, connection_status,
};
use db_testkit::kv::{FakeReply, FakeRpcClient};
use serde_json::json;
use tokio::time::Instant;

use crate::support::{GATES, NAME, gate_store, plate_store};

async fn stores() -> Arc<KvStores> {
    // No table is touched: the fake client answers for the server.
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("open");
    let mut stores = KvStores::new(&db, NAME, "res-1");
    stores.add(plate_store()).expect("plates");
    stores.add(gate_store()).expect("gates");
    Arc::new(stores)
}

fn options() -> SyncOptions {
    SyncOptions {
        offset: Some(Duration::ZERO),
        ..SyncOptions::default()
    }
}

/// The service of a `kvs_sync` call.
fn service(call: &db_kvstore::RpcCall) -> String {
    call.request["data"]["service"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn start(
    client: Arc<FakeRpcClient>,
    options: SyncOptions,
) -> (ConnectionStatusSender, RunningSync) {
    let (status, reader) = connection_status();
    let stores = stores().await;
    // Paused after the database opened: the pool's connect timeout runs on tokio's clock.
    tokio::time::pause();
    let running = SyncHandler::new(stores, client, reader)
        .options(options)
        .spawn();
    (status, running)
}

async fn next(events: &mut tokio::sync::broadcast::Receiver<SyncEvent>) -> SyncEvent {
    tokio::time::timeout(Duration::from_secs(7 * 24 * 3600), events.recv())
        .await
        .expect("an event within a week of paused time")
        .expect("event")
}

#[tokio::test]
async fn the_first_online_status_syncs_every_store_after_the_offset() {
    let client = FakeRpcClient::new();
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = times.clone();
    client.on("rpc-websocket", "server_rpc", move |_| {
        t.lock().expect("lock").push(Instant::now());
        FakeReply::Ok(json!({}))
    });
    let (status, running) = start(client.clone(), SyncOptions::default()).await;
    let mut events = running.events();
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert!(
        client.calls().is_empty(),
        "nothing before the connection is up"
    );
    let online_at = Instant::now();
    status.set(Status::Online);
    next(&mut events).await;
    next(&mut events).await;
    // openmodule's offset for this NAME (same for all stores), reproduced exactly.
    let offset = db_kvstore::sync_offset(NAME);
    for at in times.lock().expect("lock").iter() {
        // tokio's timers round up to the next millisecond.
        let waited = *at - online_at;
        assert!(
            waited >= offset && waited <= offset + Duration::from_millis(2),
            "{waited:?} vs {offset:?}"
        );
    }
    let mut calls: Vec<_> = client
        .calls()
        .into_iter()
        .map(|c| (c.channel.clone(), c.kind.clone(), c.request, c.timeout))
        .collect();
    calls.sort_by_key(|c| c.2.to_string());
    assert_eq!(
        calls,
        [
            (
                "rpc-websocket".to_owned(),
                "server_rpc".to_owned(),
                json!({"rpc": "kvs_sync", "data": {"resource": "res-1", "service": NAME, "timeout": 25.0}}),
                Duration::from_secs(30)
            ),
            (
                "rpc-websocket".to_owned(),
                "server_rpc".to_owned(),
                json!({"rpc": "kvs_sync", "data": {"resource": "res-1", "service": GATES, "timeout": 25.0}}),
                Duration::from_secs(30)
            ),
        ]
    );
    // Synced stores stay synced: nothing more without a reconnect.
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(client.calls().len(), 2);
    assert!(running.shutdown().await);
}

#[tokio::test]
async fn a_failing_store_retries_with_backoff_and_does_not_block_the_other() {
    let client = FakeRpcClient::new();
    client.on("rpc-websocket", "server_rpc", |call| {
        if service(call) == NAME {
            FakeReply::Err(RpcError::Handler {
                exception: "boom".into(),
            })
        } else {
            FakeReply::Ok(json!({}))
        }
    });
    let (status, running) = start(
        client.clone(),
        SyncOptions {
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(16),
            ..options()
        },
    )
    .await;
    let mut events = running.events();
    status.set(Status::Online);
    let mut failures = Vec::new();
    let mut gates_synced = 0;
    while failures.len() < 8 {
        let e = next(&mut events).await;
        match (e.service.as_str(), &e.outcome) {
            (GATES, Ok(())) => gates_synced += 1,
            (NAME, Err(RpcError::Handler { .. })) => failures.push((e.attempt, Instant::now())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(gates_synced, 1, "the healthy store synced once, at once");
    // Delays double from 1 s up to 16 s, each drawn between half and all of it.
    for (i, pair) in failures.windows(2).enumerate() {
        let delay = pair[1].1 - pair[0].1;
        let full = Duration::from_secs(1u64 << i.min(4));
        assert!(
            delay >= full / 2 && delay <= full,
            "retry {i}: {delay:?} not within {full:?}/2..={full:?}"
        );
        assert_eq!(pair[1].0, pair[0].0 + 1);
    }
    assert!(running.shutdown().await);
}

#[tokio::test]
async fn a_reconnect_storm_syncs_once_it_settles() {
    let client = FakeRpcClient::new();
    client.on("rpc-websocket", "server_rpc", |_| FakeReply::Ok(json!({})));
    let (status, running) = start(
        client.clone(),
        SyncOptions {
            offset: Some(Duration::from_secs(5)),
            ..SyncOptions::default()
        },
    )
    .await;
    let mut events = running.events();
    for _ in 0..50 {
        status.set(Status::Online);
        tokio::time::sleep(Duration::from_secs(1)).await;
        status.set(Status::Offline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        client.calls().is_empty(),
        "no sync while the connection flaps faster than the offset"
    );
    status.set(Status::Startup);
    next(&mut events).await;
    next(&mut events).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(client.calls().len(), 2, "one sync per store");
    // A real reconnect syncs again.
    status.set(Status::Offline);
    status.set(Status::Online);
    next(&mut events).await;
    next(&mut events).await;
    assert_eq!(client.calls().len(), 4);
    assert!(running.shutdown().await);
}

#[tokio::test]
async fn going_offline_abandons_retries_until_the_next_reconnect() {
    let client = FakeRpcClient::new();
    client.on("rpc-websocket", "server_rpc", |_| {
        FakeReply::Err(RpcError::Server {
            error: "request_timeout".into(),
        })
    });
    let (status, running) = start(client.clone(), options()).await;
    let mut events = running.events();
    status.set(Status::Online);
    next(&mut events).await;
    next(&mut events).await;
    status.set(Status::Offline);
    let calls = client.calls().len();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(client.calls().len(), calls, "no retries while offline");
    client.on("rpc-websocket", "server_rpc", |_| FakeReply::Ok(json!({})));
    status.set(Status::Online);
    let (a, b) = (next(&mut events).await, next(&mut events).await);
    assert!(a.outcome.is_ok() && b.outcome.is_ok());
    assert_eq!(
        (a.attempt, b.attempt),
        (1, 1),
        "a new sync after the reconnect"
    );
    assert!(running.shutdown().await);
}

#[tokio::test]
async fn shutdown_cancels_an_outstanding_call_at_once() {
    let client = FakeRpcClient::new(); // never replies
    let (status, running) = start(
        client.clone(),
        SyncOptions {
            sync_timeout: Duration::from_secs(3),
            ..options()
        },
    )
    .await;
    status.set(Status::Online);
    while client.calls().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = Instant::now();
    assert!(
        running.shutdown().await,
        "the tasks stopped within the grace"
    );
    assert_eq!(
        Instant::now() - before,
        Duration::ZERO,
        "no waiting for the reply"
    );
    // The budget given to the server is never below 1 s (openmodule sent −2 s here).
    assert_eq!(client.calls()[0].request["data"]["timeout"], json!(1.0));
}

#[tokio::test]
async fn periodic_and_manual_resyncs() {
    let client = FakeRpcClient::new();
    client.on("rpc-websocket", "server_rpc", |_| FakeReply::Ok(json!({})));
    let (status, running) = start(
        client.clone(),
        SyncOptions {
            resync_every: Some(Duration::from_secs(6 * 3600)),
            ..options()
        },
    )
    .await;
    let mut events = running.events();
    status.set(Status::Online);
    next(&mut events).await;
    next(&mut events).await;
    let synced_at = Instant::now();
    next(&mut events).await;
    let waited = Instant::now() - synced_at;
    assert!(
        waited >= Duration::from_secs(6 * 3600) && waited <= Duration::from_secs(6 * 3600 + 1),
        "anti-entropy after 6 h, not {waited:?}"
    );
    next(&mut events).await;
    running.resync_now();
    next(&mut events).await;
    next(&mut events).await;
    assert_eq!(client.calls().len(), 6);
    assert!(running.shutdown().await);
}

#[tokio::test]
async fn a_mockall_mock_stands_in_for_the_transport() {
    let mut mock = db_kvstore::MockRpcClient::new();
    mock.expect_call()
        .withf(|call, _| call.channel == "rpc-websocket" && call.request["data"]["service"] == NAME)
        .times(1)
        .returning(|_, _| Ok(json!({})));
    mock.expect_call()
        .withf(|call, _| call.request["data"]["service"] == GATES)
        .times(1)
        .returning(|_, _| {
            Err(RpcError::Filter {
                exception: "not now".into(),
            })
        });
    let (status, reader) = connection_status();
    let running = SyncHandler::new(stores().await, Arc::new(mock), reader)
        .options(SyncOptions {
            retry_initial: Duration::from_secs(3600),
            ..options()
        })
        .spawn();
    let mut events = running.events();
    status.set(Status::Online);
    let mut outcomes = [next(&mut events).await, next(&mut events).await];
    outcomes.sort_by_key(|e| e.service.clone());
    assert_eq!(outcomes[0].outcome, Ok(()));
    assert_eq!(
        outcomes[1].outcome,
        Err(RpcError::Filter {
            exception: "not now".into()
        })
    );
    // The mock verifies its expectations (one call each) when the handler drops it.
    assert!(running.shutdown().await);
}

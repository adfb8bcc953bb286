//! Device and server over the real NATS server (127.0.0.1:4222): the device serves `kv_sync`,
//! the server serves `rpc-websocket` from two processes in one queue group, and the device's
//! sync handler converges on the server's entries.

use std::sync::Arc;
use std::time::Duration;

use db_kvstore::nats::{NatsRpc, connect, serve};
use db_kvstore::{
    CancellationToken, Forward, RequestHandler, RpcClient, Status, SyncHandler, SyncOptions,
    connection_status,
};
use db_testkit::kv::FakeKvServer;
use serde_json::json;

use crate::support::{GATES, NAME, create_tables, device, plates};

const NATS: &str = "nats://127.0.0.1:4222";

/// The NATS server, or `None` (with a line on stderr) when it is not running and `CI` is unset.
async fn nats() -> Option<async_nats::Client> {
    match connect(NATS, Duration::from_secs(3)).await {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{e}; CI is set, so NATS is required"
            );
            db_testkit::skip(&format!("the NATS server is not usable: {e}"));
            None
        }
    }
}

/// Serves `kv_sync` for the device stores on `db` under `prefix` until `stop` fires.
async fn serve_device(
    nats: &async_nats::Client,
    prefix: &str,
    db: &db_core::Database,
    stop: &CancellationToken,
) {
    serve(
        nats.clone(),
        NAME,
        prefix,
        &["kv_sync"],
        None,
        device(db),
        stop.clone(),
    )
    .await
    .expect("device serves");
}

/// A sync of 200,000 keys (a 5 MB request) through `caller`, whose reply lists them all as
/// missing (checked).
async fn sync_200_000(caller: &NatsRpc) -> Result<serde_json::Value, db_kvstore::RpcError> {
    let kvs: serde_json::Map<String, serde_json::Value> = (0..200_000)
        .map(|i| (format!("plate-{i:07}"), json!(i + 1)))
        .collect();
    let reply = caller
        .call(
            db_kvstore::RpcCall::new(
                "kv_sync",
                "sync",
                json!({"service": NAME, "kvs": kvs}),
                Duration::from_secs(60),
            ),
            CancellationToken::new(),
        )
        .await?;
    assert_eq!(
        reply["missing"].as_object().expect("missing").len(),
        200_000
    );
    Ok(reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_converges_over_nats() {
    let Some(nats) = nats().await else { return };
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let device_prefix = format!("t{run}.device.res-1.");
    let server_prefix = format!("t{run}.server.");
    let stop = CancellationToken::new();

    // Device: answers kv_sync.
    let stores = device(&db);
    serve(
        nats.clone(),
        NAME,
        &device_prefix,
        &["kv_sync"],
        None,
        stores.clone(),
        stop.clone(),
    )
    .await
    .expect("device serves");
    // Server: two processes in one queue group, reaching the device through NATS.
    let to_device: Arc<dyn RpcClient> = Arc::new(NatsRpc::new(
        nats.clone(),
        "kv-server",
        device_prefix.clone(),
    ));
    let server = FakeKvServer::new(Arc::new(Forward::new(to_device, Duration::from_secs(10))));
    server.put(NAME, "a", json!({"plate": "G-A1", "tags": ["vip"]}));
    server.put(NAME, "b", json!({"plate": "G-B2"}));
    server.put(GATES, "north", json!(false));
    for _ in 0..2 {
        let handler: Arc<dyn RequestHandler> = server.clone();
        serve(
            nats.clone(),
            "kv-server",
            &server_prefix,
            &["rpc-websocket"],
            Some("kv-servers"),
            handler,
            stop.clone(),
        )
        .await
        .expect("server serves");
    }
    nats.flush().await.expect("flush");

    // The device's handler asks for a sync once online.
    let (status, reader) = connection_status();
    let client: Arc<dyn RpcClient> =
        Arc::new(NatsRpc::new(nats.clone(), NAME, server_prefix.clone()));
    let running = SyncHandler::new(stores, client, reader)
        .options(SyncOptions {
            offset: Some(Duration::ZERO),
            sync_timeout: Duration::from_secs(10),
            ..SyncOptions::default()
        })
        .spawn();
    let mut events = running.events();
    status.set(Status::Online);
    for _ in 0..2 {
        let e = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("in time")
            .expect("event");
        assert_eq!(e.outcome, Ok(()), "{}", e.service);
    }
    let rows = plates(&db).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["G-A1", "G-B2"]
    );
    assert_eq!(
        db_testkit::count(&db, "SELECT COUNT(*) FROM kv_gate").await,
        1
    );
    assert_eq!(
        server.syncs(),
        2,
        "each sync request reached one server process"
    );

    // A live push over NATS, then a reconnect heals a lost one.
    server.put(NAME, "a", json!({"plate": "G-A7"}));
    let tags = rows.iter().map(|r| (r.0.clone(), r.1)).collect();
    server
        .push(NAME, &["a"], &tags)
        .await
        .expect("push over NATS");
    assert_eq!(plates(&db).await[0].2, "G-A7");
    server.put(NAME, "c", json!({"plate": "G-C3"})); // never pushed
    status.set(Status::Offline);
    status.set(Status::Online);
    for _ in 0..2 {
        let e = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("in time")
            .expect("event");
        assert_eq!(e.outcome, Ok(()));
    }
    assert_eq!(plates(&db).await.len(), 3);
    assert!(running.shutdown().await);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_nobody_serves_time_out_and_errors_cross_the_wire() {
    let Some(nats) = nats().await else { return };
    let prefix = format!("t{}.", uuid::Uuid::new_v4().simple());
    let client = NatsRpc::new(nats.clone(), "x", prefix.clone());
    let call = db_kvstore::RpcCall::new(
        "kv_sync",
        "sync",
        json!({"service": NAME, "kvs": {}}),
        Duration::from_millis(500),
    );
    let err = client
        .call(call.clone(), CancellationToken::new())
        .await
        .expect_err("nobody serves");
    assert!(
        matches!(err, db_kvstore::RpcError::Timeout { .. }),
        "{err:?}"
    );
    // A device that refuses: the handler_error text arrives intact.
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("open");
    create_tables(&db).await;
    let stop = CancellationToken::new();
    serve_device(&nats, &prefix, &db, &stop).await;
    nats.flush().await.expect("flush");
    let set = db_kvstore::RpcCall::new(
        "kv_sync",
        "set",
        json!({"service": NAME, "kvs": [{"key": "a", "value": "{}", "e_tag": 1, "previous_e_tag": 4}]}),
        Duration::from_secs(5),
    );
    let err = client
        .call(set, CancellationToken::new())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, db_kvstore::RpcError::Handler { exception } if exception.starts_with("Previous ETag given but not in database")),
        "{err:?}"
    );
    // Another service's call is not answered: a timeout, as on openmodule's bus.
    let other = db_kvstore::RpcCall::new(
        "kv_sync",
        "sync",
        json!({"service": "other", "kvs": {}}),
        Duration::from_millis(500),
    );
    assert!(matches!(
        client.call(other, CancellationToken::new()).await,
        Err(db_kvstore::RpcError::Timeout { .. })
    ));
    stop.cancel();
}

/// A sync of 200,000 keys (about 6 MB each way) over a NATS server with the default
/// `max_payload` of 1 MiB: the request and the reply travel through JetStream's object store,
/// the envelope unchanged; a request whose object is gone is dropped (the caller's timeout),
/// never answered wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_larger_than_max_payload_goes_through() {
    let Some(nats) = nats().await else { return };
    assert!(
        nats.server_info().max_payload <= 1 << 20,
        "a default server"
    );
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("t{run}.device.res-1.");
    let stop = CancellationToken::new();
    serve_device(&nats, &prefix, &db, &stop).await;
    let caller = NatsRpc::new(nats.clone(), "kv-server", prefix.clone());
    let reply = sync_200_000(&caller).await.expect("a reply");
    assert_eq!(reply["missing"]["plate-0000041"], json!(42));

    // A request naming an object that is not there: dropped, so the caller times out.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(db_kvstore::nats::OBJECT_HEADER, "no-such-object");
    let request = async_nats::Request::new()
        .headers(headers)
        .payload(Default::default())
        .timeout(Some(Duration::from_secs(2)));
    let lost = nats
        .send_request(db_kvstore::nats::subject(&prefix, "kv_sync"), request)
        .await;
    assert!(lost.is_err(), "no reply to a lost object");
    stop.cancel();
}

/// One slow set (its parse takes 1.5 s) followed by 100 concurrent small sets: every set gets a
/// reply — applied, or refused as busy after the store's queue deadline — and none times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_set_leaves_no_later_set_unanswered() {
    use sea_orm::ActiveValue::Set;

    use crate::support::{item, plate};

    let Some(nats) = nats().await else { return };
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let mut stores = db_kvstore::KvStores::new(&db, NAME, "res-1");
    stores
        .add(
            db_kvstore::KvStore::<plate::Entity>::new(|_, value| {
                if let Some(ms) = value.get("slow_ms").and_then(serde_json::Value::as_u64) {
                    std::thread::sleep(Duration::from_millis(ms));
                }
                Ok(db_kvstore::Parsed::new(plate::ActiveModel {
                    plate: Set(value["plate"].as_str().unwrap_or("?").to_owned()),
                    ..Default::default()
                }))
            })
            .queue_deadline(Duration::from_millis(500)),
        )
        .expect("store");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let prefix = format!("t{run}.device.res-1.");
    let stop = CancellationToken::new();
    serve(
        nats.clone(),
        NAME,
        &prefix,
        &["kv_sync"],
        None,
        Arc::new(stores),
        stop.clone(),
    )
    .await
    .expect("device serves");
    let caller = Arc::new(NatsRpc::new(nats.clone(), "kv-server", prefix.clone()));
    let set = |key: String, value: serde_json::Value| {
        let caller = caller.clone();
        async move {
            caller
                .call(
                    db_kvstore::RpcCall::new(
                        "kv_sync",
                        "set",
                        json!({"service": NAME, "kvs": [item(&key, value, Some(1), None)]}),
                        Duration::from_secs(20),
                    ),
                    CancellationToken::new(),
                )
                .await
        }
    };
    let slow = tokio::spawn(set("slow".into(), json!({"plate": "S", "slow_ms": 1500})));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let small: Vec<_> = (0..100)
        .map(|i| tokio::spawn(set(format!("p{i:03}"), json!({"plate": format!("P{i}")}))))
        .collect();
    assert!(slow.await.expect("task").is_ok(), "the slow set is applied");
    let (mut applied, mut busy) = (0, 0);
    for task in small {
        match task.await.expect("task") {
            Ok(_) => applied += 1,
            Err(db_kvstore::RpcError::Handler { exception }) if exception.contains("is busy") => {
                busy += 1;
            }
            Err(other) => panic!("a set got no usable reply: {other}"),
        }
    }
    assert_eq!(applied + busy, 100, "every set is answered");
    assert!(
        busy > 0,
        "the sets queued behind the slow one past the deadline are refused"
    );
    assert!(
        set("after".into(), json!({"plate": "A"})).await.is_ok(),
        "the store takes sets again once the queue is through"
    );
    let rows = plates(&db).await;
    assert_eq!(
        rows.len(),
        applied + 2,
        "applied sets are stored, refused ones are not"
    );
    eprintln!("100 sets behind a slow one: {applied} applied, {busy} refused as busy");
    stop.cancel();
}

/// A NATS server without JetStream on a free port, for the parts path; `None` (a skip line)
/// when `nats-server` is not installed and `CI` is unset.
async fn plain_nats() -> Option<(db_testkit::KillOnDrop, async_nats::Client)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let binary = [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "nats-server",
    ]
    .into_iter()
    .find(|b| !b.starts_with('/') || std::path::Path::new(b).exists())
    .expect("a candidate");
    let child = match std::process::Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => db_testkit::KillOnDrop(c),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{e}; CI is set, so nats-server is required"
            );
            db_testkit::skip(&format!("nats-server cannot be started: {e}"));
            return None;
        }
    };
    let url = format!("nats://127.0.0.1:{port}");
    for _ in 0..50 {
        if let Ok(c) = connect(&url, Duration::from_secs(1)).await {
            return Some((child, c));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the NATS server without JetStream did not start on {url}");
}

/// Without JetStream, a 200,000-key sync (a 5 MB request and reply) travels in parts both
/// ways; a reply whose parts cannot be fetched fails the call with a typed error at once,
/// and a parts subject that is no inbox is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jetstream_large_messages_travel_in_parts() {
    let Some((_server, nats)) = plain_nats().await else {
        return;
    };
    assert!(
        nats.server_info().max_payload <= 1 << 20,
        "a default server"
    );
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let prefix = "device.res-1.";
    let stop = CancellationToken::new();
    serve_device(&nats, prefix, &db, &stop).await;
    let caller = NatsRpc::new(nats.clone(), "kv-server", prefix);
    let reply = sync_200_000(&caller).await.expect("a reply in parts");
    assert_eq!(reply["missing"]["plate-0199999"], json!(200_000));

    // A peer whose reply announces parts that nobody serves.
    let mut fake = nats
        .subscribe("fake.rpc-req-kv_sync")
        .await
        .expect("subscribe");
    let responder = nats.clone();
    let subjects = [
        format!("_INBOX.{}", uuid::Uuid::new_v4().simple()),
        "device.res-1.rpc-req-kv_sync".to_owned(),
    ];
    let answers = subjects.clone();
    tokio::spawn(async move {
        for subject in answers {
            let Some(m) = futures::StreamExt::next(&mut fake).await else {
                return;
            };
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(db_kvstore::nats::PARTS_HEADER, "3");
            headers.insert(db_kvstore::nats::PARTS_SIZE_HEADER, "2500000");
            headers.insert(db_kvstore::nats::PARTS_SUBJECT_HEADER, subject.as_str());
            let reply = m.reply.expect("inbox");
            responder
                .publish_with_headers(reply, headers, vec![b'{'; 1000].into())
                .await
                .expect("publish");
        }
    });
    let fake_caller = NatsRpc::new(nats.clone(), "kv-server", "fake.");
    let call = || {
        db_kvstore::RpcCall::new(
            "kv_sync",
            "sync",
            json!({"service": NAME, "kvs": {}}),
            Duration::from_secs(20),
        )
    };
    let started = std::time::Instant::now();
    match fake_caller.call(call(), CancellationToken::new()).await {
        Err(db_kvstore::RpcError::LargeMessageLost { reason, limit }) => {
            assert!(reason.contains("part 2 of 3 was lost"), "{reason}");
            assert!(limit < 1 << 20, "the limit is named: {limit}");
        }
        other => panic!("a lost part is a typed error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "at once: nobody serves the parts"
    );
    match fake_caller.call(call(), CancellationToken::new()).await {
        Err(db_kvstore::RpcError::LargeMessageLost { reason, .. }) => {
            assert!(reason.contains("no inbox"), "{reason}");
        }
        other => panic!("a parts subject that is no inbox is refused, got {other:?}"),
    }
    stop.cancel();
}

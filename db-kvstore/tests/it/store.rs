//! The device side of `sync` and `set` on real databases, driven by the fake server or by
//! hand-written requests.

use std::collections::HashMap;

use db_kvstore::KvStores;
use db_testkit::kv::FakeKvServer;
use db_testkit::{backend_tests, schema_snapshot};
use serde_json::json;

use crate::support::{GATES, NAME, call, create_tables, device, item, plates, tags};

/// Orphaned tag rows: none may survive a replace or delete.
async fn orphans(db: &db_core::Database) -> i64 {
    let q = |n: &str| db.dialect().quote_trusted(n);
    let (violations, _) = db
        .dialect()
        .foreign_key_violations(db.connection(), 10)
        .await
        .expect("foreign_key_check");
    assert!(violations.is_empty(), "{violations:?}");
    db_testkit::count(
        db,
        &format!(
            "SELECT COUNT(*) FROM kv_plate_tag t LEFT JOIN kv_plate p ON p.{} = t.plate_key WHERE p.{} IS NULL",
            q("key"),
            q("key")
        ),
    )
    .await
}

/// The device's e_tags of the plate store.
async fn device_tags(db: &db_core::Database) -> HashMap<String, i64> {
    plates(db)
        .await
        .into_iter()
        .map(|(k, t, _)| (k, t))
        .collect()
}

backend_tests! {
    async fn a_fresh_sync_then_pushes_converge(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        let server = FakeKvServer::new(device.clone());
        server.put(NAME, "a", json!({"plate": "G-A1", "tags": ["vip", "staff"]}));
        server.put(NAME, "b", json!({"plate": "G-B2"}));
        server.put(GATES, "north", json!(true));
        server.sync(NAME).await.expect("sync plates");
        server.sync(GATES).await.expect("sync gates");
        let rows = plates(&db).await;
        assert_eq!(rows.iter().map(|r| (r.0.as_str(), r.2.as_str())).collect::<Vec<_>>(), [("a", "G-A1"), ("b", "G-B2")]);
        assert_eq!(tags(&db).await, [("a".into(), "staff".into()), ("a".into(), "vip".into())]);
        assert_eq!(db_testkit::count(&db, "SELECT COUNT(*) FROM kv_gate").await, 1);

        // A push replaces `a` (its tags with it) and deletes `b`.
        let new_tag = server.put(NAME, "a", json!({"plate": "G-A9", "tags": ["guest"]}));
        server.remove(NAME, "b");
        server.push(NAME, &["a", "b"], &device_tags(&db).await).await.expect("push");
        assert_eq!(plates(&db).await, [("a".into(), new_tag, "G-A9".into())]);
        assert_eq!(tags(&db).await, [("a".into(), "guest".into())]);
        assert_eq!(orphans(&db).await, 0);

        // Deleting a key the device lacks is a no-op, as in openmodule.
        let reply = call(&device, "set", json!({"service": NAME, "kvs": [item("zz", json!(null), None, None)]})).await;
        assert_eq!(reply, Some(json!({"status": "ok"})));
        // A second sync finds nothing to do.
        server.sync(NAME).await.expect("sync again");
        assert_eq!(plates(&db).await, [("a".into(), new_tag, "G-A9".into())]);
    }

    async fn an_e_tag_mismatch_changes_nothing(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        let ok = call(&device, "set", json!({"service": NAME, "kvs": [
            item("a", json!({"plate": "A"}), Some(1), None),
            item("b", json!({"plate": "B", "tags": ["t"]}), Some(2), None),
        ]})).await;
        assert_eq!(ok, Some(json!({"status": "ok"})));
        let before = schema_snapshot(db.connection()).await.expect("snapshot");
        let before_rows = (plates(&db).await, tags(&db).await);
        let cases = [
            // (items, openmodule's text, our detail)
            (vec![item("a", json!({"plate": "A2"}), Some(3), Some(1)), item("b", json!({"plate": "B2"}), Some(4), Some(9))],
             "Previous ETag does not match", "key `b` has e_tag 2, the request expected 9"),
            (vec![item("a", json!({"plate": "A2"}), Some(3), None)],
             "No previous ETag", "key `a` has e_tag 1, the request expected none"),
            (vec![item("a", json!({"plate": "A2"}), Some(3), Some(1)), item("c", json!({"plate": "C"}), Some(5), Some(4))],
             "Previous ETag given but not in database", "key `c` has e_tag none, the request expected 4"),
            // e_tag errors win over bad JSON anywhere in the set (openmodule's order).
            (vec![serde_json::json!({"key": "x", "value": "{not json", "e_tag": 8}), item("b", json!(null), None, Some(7))],
             "Previous ETag does not match", "key `b`"),
            // ... and over everything this store refuses on its own, wherever it is: a key twice,
            // a value without e_tag, an e_tag beyond 64 bits, a refused value.
            (vec![item("x", json!({"plate": "X"}), Some(8), None), item("x", json!({"plate": "X"}), Some(8), None),
                  item("y", json!({"plate": "Y"}), None, None),
                  serde_json::json!({"key": "z", "value": "{\"plate\": \"Z\"}", "e_tag": 9_223_372_036_854_775_808_u64}),
                  item("w", json!({"plate": 1}), Some(9), None),
                  item("a", json!(null), None, None)],
             "No previous ETag", "key `a`"),
        ];
        for (items, text, detail) in cases {
            let reply = call(&device, "set", json!({"service": NAME, "kvs": items})).await.expect("a reply");
            assert_eq!(reply["status"], "handler_error", "{reply}");
            let exception = reply["exception"].as_str().expect("text");
            assert!(exception.starts_with(text), "{exception}");
            assert!(exception.contains(detail), "{exception}");
            assert_eq!((plates(&db).await, tags(&db).await), before_rows, "{text}");
        }
        assert_eq!(schema_snapshot(db.connection()).await.expect("snapshot"), before);
    }

    async fn malformed_payloads_change_nothing(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        call(&device, "set", json!({"service": NAME, "kvs": [item("a", json!({"plate": "A", "tags": ["x"]}), Some(1), None)]})).await;
        let before = (plates(&db).await, tags(&db).await);
        let good = item("a", json!({"plate": "A2"}), Some(2), Some(1));
        let handler_errors = [
            (json!({"key": "b", "value": "{\"plate\": ", "e_tag": 3}), "the value of key `b` is not valid JSON"),
            (json!({"key": "b", "value": "NaN", "e_tag": 3}), "the value of key `b` is not valid JSON"),
            (item("b", json!({"plate": 7}), Some(3), None), "the value of key `b` was refused: a plate entry needs a string `plate`"),
            (item("b", json!({"plate": "B"}), None, None), "key `b` has a value but no e_tag"),
            (item("a", json!(null), None, Some(1)), "key `a` appears more than once in one set"),
            (json!({"key": "b", "value": "{\"plate\": \"B\"}", "e_tag": 9_223_372_036_854_775_808_u64}), "the e_tag 9223372036854775808 of key `b` does not fit a 64-bit integer"),
        ];
        // openmodule's order after the e_tag checks: every value parsed first (bad JSON or a
        // refused value wins over an e_tag beyond 64 bits, a key twice or a missing e_tag).
        let ordered = [
            (vec![item("c", json!({"plate": "C"}), None, None), item("c", json!({"plate": "C"}), Some(4), None),
                  serde_json::json!({"key": "d", "value": "[1,]", "e_tag": 5})],
             "the value of key `d` is not valid JSON"),
            (vec![serde_json::json!({"key": "d", "value": "{\"plate\": \"D\"}", "e_tag": 9_223_372_036_854_775_808_u64}),
                  item("e", json!({"plate": 5}), Some(6), None)],
             "the value of key `e` was refused"),
            (vec![item("f", json!({"plate": "F"}), None, None),
                  serde_json::json!({"key": "d", "value": "{\"plate\": \"D\"}", "e_tag": 9_223_372_036_854_775_808_u64})],
             "the e_tag 9223372036854775808 of key `d`"),
        ];
        for (items, expected) in ordered {
            let reply = call(&device, "set", json!({"service": NAME, "kvs": items})).await.expect("a reply");
            assert!(reply["exception"].as_str().expect("text").starts_with(expected), "{reply}");
            assert_eq!((plates(&db).await, tags(&db).await), before, "{expected}");
        }
        for (bad, expected) in handler_errors {
            let reply = call(&device, "set", json!({"service": NAME, "kvs": [good.clone(), bad]})).await.expect("a reply");
            assert_eq!(reply["status"], "handler_error", "{reply}");
            assert!(reply["exception"].as_str().expect("text").starts_with(expected), "{reply}");
            assert_eq!((plates(&db).await, tags(&db).await), before, "{expected}");
        }
        let validation_errors = [
            json!({"service": NAME, "kvs": [{"key": "b", "value": {"plate": "B"}, "e_tag": 3}]}),
            json!({"service": NAME, "kvs": [{"key": "b", "value": "1", "e_tag": "three"}]}),
            // pydantic's int from a float: integral and strictly inside (-2^63, 2^63) only.
            json!({"service": NAME, "kvs": [{"key": "b", "value": "1", "e_tag": 18_446_744_073_709_551_616_u128 as f64}]}),
            json!({"service": NAME, "kvs": [{"key": "b", "value": "1", "e_tag": -9_223_372_036_854_775_808_i64 as f64}]}),
            json!({"service": NAME, "kvs": [{"value": "1", "e_tag": 3}]}),
            json!({"service": NAME, "kvs": {"b": 1}}),
            json!({"kvs": []}),
        ];
        for request in validation_errors {
            let reply = call(&device, "set", request.clone()).await.expect("a reply");
            assert_eq!(reply["status"], "validation_error", "{request} -> {reply}");
            assert_eq!((plates(&db).await, tags(&db).await), before);
        }
        // pydantic's lax int: "5" is 5.
        let reply = call(&device, "set", json!({"service": NAME, "kvs": [{"key": "a", "value": "{\"plate\": \"A5\"}", "e_tag": "5", "previous_e_tag": "1"}]})).await;
        assert_eq!(reply, Some(json!({"status": "ok"})));
        assert_eq!(plates(&db).await, [("a".into(), 5, "A5".into())]);
        assert_eq!(orphans(&db).await, 0);
    }

    async fn requests_for_others_get_no_reply(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        assert_eq!(call(&device, "sync", json!({"service": "other_service", "kvs": {}})).await, None);
        assert_eq!(call(&device, "set", json!({"service": "other_service", "kvs": [item("a", json!({"plate": "A"}), Some(1), None)]})).await, None);
        assert_eq!(call(&device, "unknown", json!({"service": NAME})).await, None);
        let other_resource = db_kvstore::RequestHandler::handle(device.as_ref(), db_kvstore::IncomingRequest {
            channel: "kv_sync".into(), kind: "sync".into(), resource: Some("res-2".into()),
            request: json!({"service": NAME, "kvs": {}}),
        }).await;
        assert_eq!(other_resource, None);
        // Invalid requests are answered even for another service (validation runs first).
        assert_eq!(call(&device, "sync", json!({"service": "other_service", "kvs": {"a": "x"}})).await.expect("reply")["status"], "validation_error");
        assert!(plates(&db).await.is_empty());
    }

    async fn sync_answers_as_openmodule(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        call(&device, "set", json!({"service": NAME, "kvs": [
            item("a", json!({"plate": "A"}), Some(0), None),
            item("e", json!({"plate": "E"}), Some(4), None),
            item("f", json!({"plate": "F"}), Some(6), None),
        ]})).await;
        // reference/kv-sync-protocol.md §1.4, plus a key only the device has.
        let reply = call(&device, "sync", json!({"service": NAME, "kvs": {"a": 0, "b": 2, "x": 77, "e": null}})).await;
        assert_eq!(reply, Some(json!({"status": "ok", "additions": {"f": 6}, "changes": {"e": 4}, "missing": {"b": 2, "x": 77}})));
        // The other store is separate.
        let reply = call(&device, "sync", json!({"service": GATES, "kvs": {"a": 0}})).await;
        assert_eq!(reply, Some(json!({"status": "ok", "additions": {}, "changes": {}, "missing": {"a": 0}})));
    }

    async fn notifications_report_changed_comparison_values(test_db: TestDb) {
        let db = test_db.open().await;
        create_tables(&db).await;
        let device = device(&db);
        let mut changes = device.subscribe();
        call(&device, "set", json!({"service": NAME, "kvs": [
            item("a", json!({"plate": "A"}), Some(1), None),
            item("e", json!({"plate": "E"}), Some(2), None),
        ]})).await;
        let first = changes.recv().await.expect("notification");
        assert_eq!(first.keys, ["a", "e"]);
        // openmodule's example: `a` keeps its plate (new e_tag), `e` deleted, `g` inserted.
        call(&device, "set", json!({"service": NAME, "kvs": [
            item("a", json!({"plate": "A"}), Some(3), Some(1)),
            item("e", json!(null), None, Some(2)),
            item("g", json!({"plate": "G"}), Some(4), None),
        ]})).await;
        let second = changes.recv().await.expect("notification");
        assert_eq!((second.service.as_str(), second.keys.as_slice()), (NAME, ["g".to_owned(), "e".to_owned()].as_slice()));
        // A refused set sends nothing; the gate store does not notify.
        call(&device, "set", json!({"service": NAME, "kvs": [item("a", json!({"plate": "Z"}), Some(5), Some(99))]})).await;
        call(&device, "set", json!({"service": GATES, "kvs": [item("n", json!(true), Some(1), None)]})).await;
        assert!(changes.try_recv().is_err());
    }
}

#[tokio::test]
async fn registration_refuses_shared_tables_and_names() {
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("open");
    let mut stores = KvStores::new(&db, NAME, "res-1");
    stores.add(crate::support::plate_store()).expect("first");
    let err = stores
        .add(crate::support::plate_store().suffix("again"))
        .expect_err("same table");
    assert!(
        err.to_string()
            .contains("the table `kv_plate` already belongs to the store of `om_access_service_1`"),
        "{err}"
    );
    let err = stores
        .add(crate::support::gate_store().suffix(""))
        .map(|_| ())
        .and_then(|()| {
            stores
                .add(crate::support::gate_store().suffix(""))
                .map(|_| ())
        })
        .expect_err("same service");
    assert!(
        err.to_string()
            .contains("another store serves this service name"),
        "{err}"
    );
    assert_eq!(stores.services(), [NAME, "om_access_service_1_"]);
}

/// Sizes a peer chooses are bounded before they cost a parse, a lock or a query: a 10 MB value
/// and a 2,000-character key are refused with a handler error naming the limit, nothing is
/// written, and a valid set afterwards is answered at once.
#[tokio::test]
async fn oversized_entries_are_refused_before_the_database() {
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let device = device(&db);
    let before = (plates(&db).await, tags(&db).await);
    let huge = format!("\"{}\"", "x".repeat(10 << 20));
    let cases = [
        (
            json!({"key": "a", "value": huge, "e_tag": 1}),
            "the value of key `a` is 10485762 long, above the store's limit of 1048576 (bytes)",
        ),
        (
            json!({"key": "k".repeat(2000), "value": "{\"plate\": \"A\"}", "e_tag": 1}),
            "is 2000 long, above the store's limit of 1024 (characters)",
        ),
    ];
    for (bad, says) in cases {
        let reply = call(&device, "set", json!({"service": NAME, "kvs": [bad]}))
            .await
            .expect("a reply");
        assert_eq!(reply["status"], "handler_error", "{reply}");
        let text = reply["exception"].as_str().expect("text");
        assert!(text.contains(says), "{}", &text[..text.len().min(400)]);
        assert!(text.len() < 1000, "the key is cut in the message");
        assert_eq!((plates(&db).await, tags(&db).await), before);
    }
    let ok = call(
        &device,
        "set",
        json!({"service": NAME, "kvs": [item("a", json!({"plate": "A"}), Some(1), None)]}),
    )
    .await;
    assert_eq!(ok, Some(json!({"status": "ok"})));
}

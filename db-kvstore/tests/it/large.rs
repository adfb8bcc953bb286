//! Large requests read as a stream (`db_kvstore::large`): the external sort gives what a map
//! gives, and a streamed sync answers exactly as the whole-value path does, on generated
//! requests (unsorted and repeated keys, nulls, lax e_tags, invalid ones, other services and
//! resources, missing fields).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use db_kvstore::Answer;
use db_kvstore::large::{LargeRequest, SortedPairs};
use db_kvstore::wire::{RequestEnvelope, WireInt};
use db_kvstore::{IncomingRequest, KvStores, RequestHandler};
use db_testkit::SeededRng;
use serde_json::{Value, json};

use crate::support::{NAME, call, create_tables, device, item};

/// Pairs pushed in any order come back sorted, each key once with its last e_tag, also when
/// they spill to disk in several runs.
#[test]
fn sorted_pairs_match_a_map_whatever_the_order() {
    let mut rng = SeededRng::from_env("KV_LARGE_SEED", 23);
    for (count, keyspace) in [(0, 1), (1, 1), (50, 20), (300_000, 120_000)] {
        let mut expected = BTreeMap::new();
        let mut pairs = Vec::with_capacity(count);
        for i in 0..count {
            // Keys of varied length and bytes, including multi-byte characters.
            let n = rng.below(keyspace);
            let key = match n % 3 {
                0 => format!("k{n}"),
                1 => format!("plate-{n:09}-é"),
                _ => format!("{n}"),
            };
            let tag = (!rng.chance(5)).then(|| WireInt(i128::from(i as i64) - 7));
            expected.insert(key.clone(), tag);
            pairs.push((key, tag));
        }
        let sorted: Vec<(String, Option<WireInt>)> = SortedPairs::sort(pairs)
            .expect("sorted")
            .map(|p| p.expect("pair"))
            .collect();
        let expected: Vec<(String, Option<WireInt>)> = expected.into_iter().collect();
        assert_eq!(sorted.len(), expected.len(), "{count} pairs");
        assert!(sorted == expected, "{count} pairs sort as a map does");
    }
}

/// One generated sync envelope as JSON text: keys in random order, some repeated, e_tags
/// lax, sometimes invalid, sometimes for another service or resource.
fn sync_envelope(rng: &mut SeededRng, keys: &[String]) -> String {
    let mut kvs = String::from("{");
    let n = rng.below(keys.len() + 3);
    for i in 0..n {
        if i > 0 {
            kvs.push(',');
        }
        let key = if rng.chance(80) {
            rng.pick(keys).clone()
        } else {
            format!("new-{}", rng.below(40))
        };
        let tag = match rng.below(20) {
            0 => "null".to_owned(),
            1 => format!("\"{}\"", rng.below(9)),
            2 => format!("{}.0", rng.below(9)),
            3 if rng.chance(30) => "\"seven\"".to_owned(),
            4 if rng.chance(30) => "1.5".to_owned(),
            5 if rng.chance(20) => "1180591620717411303424".to_owned(),
            6 => "-0".to_owned(),
            _ => format!("{}", rng.below(9)),
        };
        let _ = write!(kvs, "{}:{tag}", serde_json::to_string(&key).expect("key"));
    }
    kvs.push('}');
    let service = match rng.below(12) {
        0 => String::new(),
        1 => r#""service": "om_other_service","#.to_owned(),
        2 => r#""service": 7,"#.to_owned(),
        _ => format!(r#""service": "{NAME}","#),
    };
    let request = if rng.chance(50) {
        format!(r#"{{{service} "kvs": {kvs}, "extra": [1, {{"a": null}}]}}"#)
    } else {
        format!(r#"{{"kvs": {kvs}, {service} "extra": true}}"#)
    };
    let resource = match rng.below(10) {
        0 => r#""resource": "res-2","#,
        1 => r#""resource": "res-1","#,
        _ => "",
    };
    format!(
        r#"{{"timestamp": 1.5, "name": "server", "type": "sync", {resource} "rpc_id": "{}", "request": {request}}}"#,
        uuid::Uuid::new_v4()
    )
}

/// The reply of the whole-value path and of the streamed path, as `response` objects (`None`:
/// not answered); errors compared by status.
async fn both_replies(device: &KvStores, text: &str) -> (Option<Value>, Option<Value>) {
    let status_only = |v: Value| {
        if v["status"] == "ok" {
            v
        } else {
            json!({"status": v["status"]})
        }
    };
    let envelope = RequestEnvelope::decode(text.as_bytes()).expect("an envelope");
    let whole = device
        .handle(IncomingRequest {
            channel: "kv_sync".into(),
            kind: envelope.kind.clone(),
            resource: envelope.resource.clone(),
            request: envelope.request.clone().unwrap_or(Value::Null),
        })
        .await
        .map(|r| r.to_json())
        .map(status_only);
    let large = LargeRequest::read(text.as_bytes()).expect("read as a stream");
    let streamed = match device.handle_large("kv_sync", large).await {
        None => None,
        Some(Answer::Reply(r)) => Some(r.to_json()),
        Some(Answer::Spooled(s)) => Some(s.to_value().expect("spooled reply")),
    }
    .map(status_only);
    (whole, streamed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_sync_answers_as_the_whole_value_path() {
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let device = device(&db);
    let keys: Vec<String> = (0..30).map(|i| format!("p{i:02}")).collect();
    let mut rng = SeededRng::from_env("KV_LARGE_SEED", 23);
    let cases = db_testkit::env_number("KV_LARGE_CASES", 300);
    let mut answered = 0;
    for case in 0..cases {
        if case % 25 == 0 {
            // The device changes now and then: a set of a random third of the keys.
            let mut items = Vec::new();
            for k in &keys {
                if rng.chance(33) {
                    let tag = i64::try_from(rng.below(9)).expect("small");
                    items.push(item(k, json!({"plate": k}), Some(tag), None));
                }
            }
            for it in items {
                let current = call(&device, "sync", json!({"service": NAME, "kvs": {}}))
                    .await
                    .expect("sync");
                let key = it["key"].as_str().expect("key").to_owned();
                let previous = current["additions"].get(&key).cloned();
                let mut it = it;
                if let Some(p) = previous {
                    it["previous_e_tag"] = p;
                }
                call(&device, "set", json!({"service": NAME, "kvs": [it]})).await;
            }
        }
        let text = sync_envelope(&mut rng, &keys);
        let (whole, streamed) = both_replies(&device, &text).await;
        assert_eq!(whole, streamed, "case {case}: {text}");
        answered += usize::from(whole.is_some());
    }
    assert!(
        answered > cases / 2,
        "most cases are answered: {answered} of {cases}"
    );
    eprintln!("{cases} generated syncs, {answered} answered, both paths the same");
}

/// A non-sync request that happens to carry an object `kvs` is put back together and handled
/// as usual: a set with an object is a validation error either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_large_requests_are_handled_whole() {
    let test_db = db_testkit::TestDb::new(db_testkit::Backend::Sqlite)
        .await
        .expect("sqlite");
    let db = test_db.open().await;
    create_tables(&db).await;
    let device = device(&db);
    let text = format!(
        r#"{{"timestamp": 1, "name": "s", "type": "set", "rpc_id": "{}", "request": {{"service": "{NAME}", "kvs": {{"a": 1}}}}}}"#,
        uuid::Uuid::new_v4()
    );
    let (whole, streamed) = both_replies(&device, &text).await;
    assert_eq!(whole, Some(json!({"status": "validation_error"})));
    assert_eq!(whole, streamed);
    // Not JSON, too deep, not an object: no request at all.
    assert!(LargeRequest::read(&b"{\"a\": "[..]).is_err());
    assert!(LargeRequest::read("[".repeat(1025).as_bytes()).is_err());
    assert!(LargeRequest::read(&b"[1]"[..]).is_err());
}

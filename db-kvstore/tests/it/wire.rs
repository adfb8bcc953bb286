//! Golden tests: every message's JSON has openmodule's field names and shapes
//! (`reference/kv-sync-protocol.md` §1.1, §1.3).

use db_kvstore::wire::{
    KvSetItem, KvSetRequest, KvSyncResponse, RequestEnvelope, ResponseEnvelope, WireInt,
};
use db_kvstore::{ErrorStatus, Reply, RpcError};
use serde_json::{Value, json};

#[track_caller]
fn check<T: serde::Serialize>(value: &T, expected: Value) {
    assert_eq!(serde_json::to_value(value).expect("serialize"), expected);
}

#[test]
fn replies_have_openmodule_statuses() {
    let sync = KvSyncResponse {
        additions: [("f".to_owned(), Some(WireInt(6)))].into(),
        changes: [("e".to_owned(), Some(WireInt(4)))].into(),
        missing: [("b".to_owned(), Some(WireInt(2))), ("n".to_owned(), None)].into(),
    };
    check(
        &Reply::Ok(serde_json::to_value(&sync).expect("json")).to_json(),
        json!({"status": "ok", "additions": {"f": 6}, "changes": {"e": 4}, "missing": {"b": 2, "n": null}}),
    );
    check(&Reply::Ok(json!({})).to_json(), json!({"status": "ok"}));
    check(
        &Reply::ServerError("request_timeout".into()).to_json(),
        json!({"status": "error", "error": "request_timeout"}),
    );
    for (status, name) in [
        (ErrorStatus::Handler, "handler_error"),
        (ErrorStatus::Validation, "validation_error"),
        (ErrorStatus::Filter, "filter_error"),
    ] {
        check(
            &Reply::Error {
                status,
                exception: "Previous ETag does not match".into(),
            }
            .to_json(),
            json!({"status": name, "exception": "Previous ETag does not match"}),
        );
    }
}

#[test]
fn replies_decode_into_openmodule_errors() {
    let cases = [
        (
            json!({"status": "ok", "additions": {}}),
            Ok(json!({"additions": {}})),
        ),
        (
            json!({"status": "handler_error", "exception": "x"}),
            Err(RpcError::Handler {
                exception: "x".into(),
            }),
        ),
        (
            json!({"status": "validation_error", "exception": [{"loc": ["kvs"]}]}),
            Err(RpcError::Validation {
                exception: "[{\"loc\":[\"kvs\"]}]".into(),
            }),
        ),
        (
            json!({"status": "filter_error", "exception": "f"}),
            Err(RpcError::Filter {
                exception: "f".into(),
            }),
        ),
        (
            json!({"status": "error", "error": "request_timeout"}),
            Err(RpcError::Server {
                error: "request_timeout".into(),
            }),
        ),
        (
            json!({"status": "weird"}),
            Err(RpcError::UnknownStatus {
                status: "weird".into(),
            }),
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(Reply::decode(response.clone()), expected, "{response}");
    }
    assert!(matches!(
        Reply::decode(json!([])),
        Err(RpcError::InvalidReply { .. })
    ));
    assert!(matches!(
        Reply::decode(json!({"no": "status"})),
        Err(RpcError::InvalidReply { .. })
    ));
}

#[test]
fn envelopes_leave_out_none_fields() {
    let id = uuid::Uuid::nil();
    let request = RequestEnvelope {
        timestamp: 1_700_000_000.5,
        name: "om_access_service_1".into(),
        kind: "server_rpc".into(),
        rpc_id: id,
        resource: None,
        request: Some(
            json!({"rpc": "kvs_sync", "data": {"resource": "res-1", "service": "om_access_service_1", "timeout": 25.0}}),
        ),
        baggage: None,
        sentry_trace: Some("t".into()),
    };
    check(
        &request,
        json!({
            "timestamp": 1_700_000_000.5, "name": "om_access_service_1", "type": "server_rpc",
            "rpc_id": "00000000-0000-0000-0000-000000000000",
            "request": {"rpc": "kvs_sync", "data": {"resource": "res-1", "service": "om_access_service_1", "timeout": 25.0}},
            "sentry-trace": "t",
        }),
    );
    let response = ResponseEnvelope {
        timestamp: 1.0,
        name: "server".into(),
        kind: "set".into(),
        rpc_id: id,
        response: json!({"status": "ok"}),
    };
    check(
        &response,
        json!({"timestamp": 1.0, "name": "server", "type": "set", "rpc_id": "00000000-0000-0000-0000-000000000000", "response": {"status": "ok"}}),
    );
    // openmodule's envelopes parse, unknown fields ignored.
    let parsed: RequestEnvelope = serde_json::from_value(json!({
        "timestamp": 1.0, "name": "server", "type": "set", "rpc_id": "00000000-0000-0000-0000-000000000000",
        "resource": "res-1", "request": {"service": "s", "kvs": []}, "extra": 1,
    })).expect("parse");
    assert_eq!(parsed.resource.as_deref(), Some("res-1"));
}

#[test]
fn set_items_read_as_pydantic_lax_mode_reads_them() {
    let item: KvSetItem = serde_json::from_value(json!({"key": "a"})).expect("defaults");
    assert_eq!(
        item,
        KvSetItem {
            key: "a".into(),
            value: "null".into(),
            e_tag: None,
            previous_e_tag: None
        }
    );
    let lax = [
        (json!(5), Some(5)),
        (json!("5"), Some(5)),
        (json!(" 7 "), Some(7)),
        (json!(5.0), Some(5)),
        (json!(true), Some(1)),
        (json!(-3), Some(-3)),
        (
            json!(18_446_744_073_709_551_615u64),
            Some(18_446_744_073_709_551_615),
        ),
        (json!(5.5), None),
        (json!("five"), None),
        (json!([1]), None),
    ];
    for (e_tag, expected) in lax {
        let parsed = serde_json::from_value::<KvSetItem>(
            json!({"key": "a", "value": "1", "e_tag": e_tag.clone()}),
        );
        assert_eq!(
            parsed.ok().and_then(|i| i.e_tag).map(|t| t.0),
            expected,
            "{e_tag}"
        );
    }
    // A value must be a JSON *string* (openmodule: validation_error for an object).
    assert!(serde_json::from_value::<KvSetItem>(json!({"key": "a", "value": {"x": 1}})).is_err());
    let request = KvSetRequest {
        service: "s".into(),
        kvs: vec![KvSetItem {
            key: "a".into(),
            value: "{\"x\":1}".into(),
            e_tag: Some(WireInt(3)),
            previous_e_tag: None,
        }],
    };
    check(
        &request,
        json!({"service": "s", "kvs": [{"key": "a", "value": "{\"x\":1}", "e_tag": 3}]}),
    );
}

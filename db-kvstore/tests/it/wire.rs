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

/// pydantic 2.12's lax `int` as openmodule applies it to e_tags, after orjson read the
/// message (recorded from pydantic): issue 21's e_tag just below -2^63 is refused.
#[test]
fn e_tags_are_read_as_pydantic_reads_them() {
    let read = |json: &str| {
        let value = db_kvstore::wire::loads(json.as_bytes()).expect("json");
        serde_json::from_value::<WireInt>(value).ok().map(|w| w.0)
    };
    let max = i128::from(i64::MAX);
    for (json, expected) in [
        ("-9223372036854775809", None),
        ("-9223372036854775808", Some(-max - 1)),
        ("9223372036854775808", Some(max + 1)),
        ("18446744073709551616", None),
        ("-9223372036854775808.0", None),
        ("9.2e18", Some(9_200_000_000_000_000_000)),
        ("9.3e18", None),
        ("1e3", Some(1000)),
        ("1.0", Some(1)),
        ("1.5", None),
        ("-0", Some(0)),
        ("-0.0", Some(0)),
        ("true", Some(1)),
        ("\"5\"", Some(5)),
        ("\" 5\\n\"", Some(5)),
        ("\"\\u00a07\"", Some(7)),
        ("\"\\u001c7\"", None),
        ("\"1_000\"", Some(1000)),
        ("\"_1000\"", None),
        ("\"1__000\"", None),
        ("\"+_1\"", None),
        ("\"1.00\"", Some(1)),
        ("\"1_0.0\"", Some(10)),
        ("\"1.\"", None),
        ("\".0\"", None),
        ("\"1.01\"", None),
        ("\"1e3\"", None),
        ("\"0x10\"", None),
        ("\"+5\"", Some(5)),
        ("\"-00\"", Some(0)),
        ("\"99999999999999999999\"", Some(99_999_999_999_999_999_999)),
        ("\"\"", None),
        ("null", None),
        ("[1]", None),
    ] {
        assert_eq!(read(json), expected, "{json}");
    }
    let long = format!("\"{}\"", "1".repeat(4301));
    assert_eq!(read(&long), None, "4,301 digits");
    let zeros = format!("\"1.{}\"", "0".repeat(4300));
    assert_eq!(read(&zeros), Some(1));
}

/// orjson's rules for values (recorded from orjson 3.11): `-0` is the integer 0, integers
/// beyond 64 bits are floats, duplicate keys keep the last, 1,024 levels are read and 1,025
/// refused, and what is not RFC 8259 JSON is refused.
#[test]
fn values_are_read_as_orjson_reads_them() {
    use db_kvstore::wire::loads;
    let ok = |json: &str| loads(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert!(ok("-0").is_u64());
    assert_eq!(ok("{\"a\": -0, \"b\": [-0]}"), json!({"a": 0, "b": [0]}));
    assert!(
        ok("-0.0")
            .as_f64()
            .is_some_and(|f| f == 0.0 && f.is_sign_negative())
    );
    assert_eq!(ok("-0E-0").as_f64(), Some(-0.0));
    assert_eq!(ok("1E-0").as_f64(), Some(1.0));
    assert!(ok("18446744073709551616").is_f64());
    assert!(ok("-9223372036854775809").is_f64());
    assert!(ok("18446744073709551615").is_u64());
    assert_eq!(ok("1e-400").as_f64(), Some(0.0));
    assert_eq!(ok("{\"a\":1,\"a\":2}"), json!({"a": 2}));
    assert_eq!(ok(" \t\n\r1\r\n"), json!(1));
    assert_eq!(ok("\"\\ud83d\\ude00\""), json!("\u{1f600}"));
    assert_eq!(ok("\"-0\""), json!("-0"));
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    ok(&deep(1024));
    for bad in [
        "NaN",
        "Infinity",
        "-Infinity",
        "\u{feff}1",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "[1,]",
        "1e400",
        "-1e400",
        "01",
        "1.",
        ".5",
        "+1",
        "1 2",
        "\"a\u{1}\"",
        "'a'",
        "",
    ] {
        assert!(loads(bad.as_bytes()).is_err(), "{bad:?} is refused");
    }
    assert!(matches!(
        loads(deep(1025).as_bytes()),
        Err(db_kvstore::wire::JsonError::TooDeep)
    ));
    // A replied e_tag beyond 64 bits cannot be written (orjson's reply would fail too).
    assert!(serde_json::to_value(WireInt(i128::from(u64::MAX) + 1)).is_err());
}

//! The JSON messages of openmodule's KV sync, field for field (openmodule 18.5:
//! `models/kv_store.py`, `models/rpc.py`; `reference/kv-sync-protocol.md` §1.1 and §1.3).
//!
//! Requests are read as pydantic reads them in lax mode: unknown fields are ignored, an
//! e_tag may arrive as a number or a numeric string ([`WireInt`]), and `value` must be a
//! string holding JSON (`"null"` deletes).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The channel the server calls the device on.
pub const KV_SYNC_CHANNEL: &str = "kv_sync";
/// `kv_sync` type of [`KvSyncRequest`].
pub const SYNC: &str = "sync";
/// `kv_sync` type of [`KvSetRequest`].
pub const SET: &str = "set";
/// The channel of device → server calls (openmodule's `rpc-websocket` bridge).
pub const SERVER_RPC_CHANNEL: &str = "rpc-websocket";
/// The type of device → server calls.
pub const SERVER_RPC_TYPE: &str = "server_rpc";
/// The `rpc` of the device's request to be synced.
pub const KVS_SYNC: &str = "kvs_sync";

/// An integer as pydantic's lax `int` reads it: a JSON integer, an integral float, a numeric
/// string or a boolean. Held as `i128`, so values outside 64 bits (which openmodule accepts
/// and then fails to store) are kept and refused by the store with a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireInt(pub i128);

impl WireInt {
    /// The value when it fits a database `BIGINT`.
    #[must_use]
    pub fn as_i64(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }
}

impl From<i64> for WireInt {
    fn from(v: i64) -> Self {
        Self(i128::from(v))
    }
}

impl fmt::Display for WireInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for WireInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Ok(v) = i64::try_from(self.0) {
            s.serialize_i64(v)
        } else if let Ok(v) = u64::try_from(self.0) {
            s.serialize_u64(v)
        } else {
            // Python writes such an int exactly; JSON readers without big integers see a float.
            #[expect(
                clippy::cast_precision_loss,
                reason = "only for integers outside 64 bits, which no store holds"
            )]
            s.serialize_f64(self.0 as f64)
        }
    }
}

impl<'de> Deserialize<'de> for WireInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        let bad = || D::Error::custom(format!("Input should be a valid integer, got {v}"));
        match &v {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Self(i128::from(i)))
                } else if let Some(u) = n.as_u64() {
                    Ok(Self(i128::from(u)))
                } else {
                    let f = n.as_f64().ok_or_else(bad)?;
                    // Integral floats within i128 (2^64 arrives as a float without
                    // serde_json's arbitrary precision).
                    if f.fract() == 0.0 && f.abs() < 1.7e38 {
                        #[expect(
                            clippy::cast_possible_truncation,
                            reason = "integral and within i128 range, checked above"
                        )]
                        Ok(Self(f as i128))
                    } else {
                        Err(bad())
                    }
                }
            }
            Value::String(s) => s.trim().parse::<i128>().map(Self).map_err(|_| bad()),
            Value::Bool(b) => Ok(Self(i128::from(*b))),
            Value::Null | Value::Array(_) | Value::Object(_) => Err(bad()),
        }
    }
}

/// A map of key → e_tag (`dict[str, int | None]`); `None` stays `null` on the wire.
pub type ETagMap = BTreeMap<String, Option<WireInt>>;

/// Device → server: "sync me" (`ServerRPCRequest`), sent on
/// [`SERVER_RPC_CHANNEL`]/[`SERVER_RPC_TYPE`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRpcRequest {
    /// The server-side RPC: [`KVS_SYNC`].
    pub rpc: String,
    /// Its arguments: [`KvsSyncData`] for `kvs_sync`.
    #[serde(default)]
    pub data: Value,
}

/// The `data` of a `kvs_sync` [`ServerRpcRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvsSyncData {
    /// The device's resource (`settings.RESOURCE`).
    pub resource: String,
    /// The store's service name (`NAME` or `NAME_suffix`).
    pub service: String,
    /// Seconds the server has to finish: the device's timeout minus 5 (openmodule), here never
    /// below 1.
    pub timeout: f64,
}

/// Server → device `kv_sync`/`sync`: the server's key → e_tag map (`KVSyncRequest`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvSyncRequest {
    /// The store's service name.
    pub service: String,
    /// Every key the server holds for the service, with its e_tag.
    pub kvs: ETagMap,
}

/// The device's answer to `sync` (`KVSyncResponse`): keys only the device has
/// (`additions`, device e_tag), keys both have with different e_tags (`changes`, device
/// e_tag), keys only the server has (`missing`, the server's e_tag echoed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KvSyncResponse {
    /// Keys the device has and the server did not list.
    pub additions: ETagMap,
    /// Keys whose e_tags differ, with the device's.
    pub changes: ETagMap,
    /// Keys the device lacks, with the server's e_tag.
    pub missing: ETagMap,
}

/// Server → device `kv_sync`/`set` (`KVSetRequest`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvSetRequest {
    /// The store's service name.
    pub service: String,
    /// The entries to replace or delete, all or none.
    pub kvs: Vec<KvSetItem>,
}

/// One entry of a [`KvSetRequest`] (`KVSetRequestKV`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KvSetItem {
    /// The key.
    pub key: String,
    /// The value as a JSON text; `"null"` (the default) deletes the key.
    #[serde(default = "null_text")]
    pub value: String,
    /// The new e_tag (required with a value here; openmodule let SQLite invent one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<WireInt>,
    /// The e_tag the server believes the device holds; `None` when it believes the key absent
    /// (left out on the wire, as openmodule's `exclude_none` does for nested models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_e_tag: Option<WireInt>,
}

fn null_text() -> String {
    "null".to_owned()
}

/// The device's answer to `set` (`KVSetResponse`): empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvSetResponse {}

/// An RPC request as openmodule publishes it (`RPCRequest`); `None` fields are left out, as
/// openmodule's `model_dump(exclude_none=True)` does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// Unix seconds.
    pub timestamp: f64,
    /// The sender's name.
    pub name: String,
    /// The RPC type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The call's id; its reply carries the same.
    pub rpc_id: uuid::Uuid,
    /// The resource the call is for; a device drops calls for other resources unanswered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// Tracing baggage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baggage: Option<String>,
    /// Sentry trace header.
    #[serde(
        default,
        rename = "sentry-trace",
        skip_serializing_if = "Option::is_none"
    )]
    pub sentry_trace: Option<String>,
}

/// An RPC reply as openmodule publishes it (`RPCResponse`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// Unix seconds.
    pub timestamp: f64,
    /// The replier's name.
    pub name: String,
    /// The RPC type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id of the request answered.
    pub rpc_id: uuid::Uuid,
    /// `{"status": "ok", …fields}` or an error status (see [`crate::Reply`]).
    pub response: Value,
}

/// Unix seconds now, as envelopes carry them.
#[must_use]
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

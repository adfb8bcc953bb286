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

/// An integer as pydantic's lax `int` reads it (`int | None` of openmodule's models): a JSON
/// integer, an integral float strictly inside (−2⁶³, 2⁶³), a numeric string as pydantic's
/// `str_as_int` reads it, or a boolean; anything else is a `validation_error`. Held as `i128`,
/// so values outside 64 bits that pydantic accepts (2⁶³ written as an integer, a 30-digit
/// string) are kept and refused by the store where openmodule fails to store them; beyond
/// `i128` they saturate.
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
    /// As orjson writes it: an integer within 64 bits (signed or unsigned); beyond, an error
    /// (orjson's `Integer exceeds 64-bit range`), so a reply holding one is not sent, as
    /// openmodule's is not.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        if let Ok(v) = i64::try_from(self.0) {
            s.serialize_i64(v)
        } else if let Ok(v) = u64::try_from(self.0) {
            s.serialize_u64(v)
        } else {
            Err(S::Error::custom("Integer exceeds 64-bit range"))
        }
    }
}

impl<'de> Deserialize<'de> for WireInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = Value::deserialize(d)?;
        lax_int(&v).map(Self).map_err(D::Error::custom)
    }
}

/// pydantic's lax `int` (pydantic-core 2.x, `input/shared.rs`: `float_as_int`, `str_as_int`)
/// applied to what orjson made of the JSON: an integer as is (one beyond 64 bits arrives as a
/// float, as orjson reads it); a float only when integral and strictly inside
/// (−2⁶³, 2⁶³); a string as [`str_as_int`]; `true`/`false` as 1/0.
pub(crate) fn lax_int(v: &Value) -> std::result::Result<i128, String> {
    const FRACTION: &str = "Input should be a valid integer, got a number with a fractional part";
    const SIZE: &str = "Unable to parse input string as an integer, exceeded maximum size";
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(i128::from(u))
            } else {
                let f = n.as_f64().ok_or_else(|| FRACTION.to_owned())?;
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "pydantic compares with i64::MIN/MAX as f64, exactly so"
                )]
                let (min, max) = (i64::MIN as f64, i64::MAX as f64);
                if f.fract() != 0.0 {
                    Err(FRACTION.to_owned())
                } else if min < f && f < max {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "integral and strictly inside the i64 range, checked above"
                    )]
                    Ok(i128::from(f as i64))
                } else {
                    Err(SIZE.to_owned())
                }
            }
        }
        Value::String(s) => str_as_int(s),
        Value::Bool(b) => Ok(i128::from(*b)),
        Value::Null | Value::Array(_) | Value::Object(_) => {
            Err("Input should be a valid integer".to_owned())
        }
    }
}

/// pydantic's `str_as_int` as pydantic 2.12 behaves (checked against it in the KV
/// differential test): surrounding Unicode whitespace is ignored; an all-zero fraction
/// (`"5.00"`) is dropped; an optional sign and ASCII digits, with single `_` between digits
/// (Python's `int()` spelling); at most 4,300 characters (CPython's `int_max_str_digits`).
/// Integers beyond `i128` saturate: they are refused as out of range wherever they are used.
fn str_as_int(s: &str) -> std::result::Result<i128, String> {
    const PARSING: &str = "Input should be a valid integer, unable to parse string as an integer";
    const SIZE: &str = "Unable to parse input string as an integer, exceeded maximum size";
    let mut s = s.trim();
    if let Some(dot) = s.find('.') {
        let fraction = &s[dot + 1..];
        if fraction.is_empty() || !fraction.bytes().all(|b| b == b'0') {
            return Err(PARSING.to_owned());
        }
        s = &s[..dot];
    }
    if let Ok(i) = s.parse::<i64>() {
        return Ok(i128::from(i));
    }
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = if unsigned.contains('_') {
        let bytes = unsigned.as_bytes();
        let between_digits = bytes.iter().enumerate().all(|(i, &b)| {
            b != b'_'
                || (i > 0
                    && bytes[i - 1].is_ascii_digit()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        let digits: String = unsigned.chars().filter(|&c| c != '_').collect();
        if !between_digits || digits.len() > 4300 {
            return Err(PARSING.to_owned());
        }
        digits
    } else {
        if s.len() > 4300 {
            return Err(SIZE.to_owned());
        }
        unsigned.to_owned()
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PARSING.to_owned());
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Ok(if negative { -magnitude } else { magnitude })
}

/// The deepest nesting of arrays and objects orjson reads (`orjson.loads` refuses 1,025).
pub const MAX_JSON_DEPTH: usize = 1024;

/// Why a JSON text was refused by [`loads`].
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Nested deeper than [`MAX_JSON_DEPTH`].
    #[error("depth limit exceeded: more than {MAX_JSON_DEPTH} nested arrays or objects")]
    TooDeep,
    /// Not JSON (serde_json's reason, with line and column).
    #[error(transparent)]
    Syntax(#[from] serde_json::Error),
}

/// Reads a JSON text as openmodule does (`orjson.loads`, orjson 3.11): RFC 8259 JSON only (no
/// `NaN`, `Infinity`, byte-order mark, trailing comma or lone surrogate; a number that
/// overflows a double, such as `1e400`, is refused); an integer beyond 64 bits becomes a
/// float; `-0` is the integer 0 (while `-0.0` stays the float −0.0); floats are rounded
/// exactly; the last of duplicate object keys wins; at most [`MAX_JSON_DEPTH`] levels,
/// parsed without growing the thread's stack beyond its size.
///
/// # Errors
/// [`JsonError`] naming why.
pub fn loads(text: &[u8]) -> Result<Value, JsonError> {
    // One pass outside strings: nesting depth and the places of `-0` integer tokens.
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut minus_zero = Vec::new();
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(JsonError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            // A number's sign, not an exponent's (`1E-0`).
            b'-' if text.get(i + 1) == Some(&b'0')
                && !matches!(text.get(i + 2), Some(b'0'..=b'9' | b'.' | b'e' | b'E'))
                && !matches!(i.checked_sub(1).map(|p| text[p]), Some(b'e' | b'E')) =>
            {
                minus_zero.push(i);
            }
            _ => {}
        }
    }
    let rewritten;
    let text = if minus_zero.is_empty() {
        text
    } else {
        // `-0` → ` 0`: whitespace is allowed wherever a number is.
        let mut copy = text.to_vec();
        for i in minus_zero {
            copy[i] = b' ';
        }
        rewritten = copy;
        &rewritten
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(serde_stacker::Deserializer::new(&mut de))?;
    de.end()?;
    Ok(value)
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

impl RequestEnvelope {
    /// A request as a device reads it off the bus: the bytes parsed as orjson parses them
    /// ([`loads`], as openmodule's `receive_message_from_socket`), then the envelope's fields.
    /// openmodule drops a message that is not JSON or not an object, unanswered.
    ///
    /// # Errors
    /// Why the payload is no request, for a debug log.
    pub fn decode(payload: &[u8]) -> Result<Self, String> {
        let value = loads(payload).map_err(|e| e.to_string())?;
        if !value.is_object() {
            return Err("the message is not a JSON object".to_owned());
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }
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

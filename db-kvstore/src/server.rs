//! The server's side of one sync, as openmodule's server presumably runs it
//! (`reference/kv-sync-protocol.md` §1.10; the server is not public): ask the device for its
//! e_tags (`kv_sync`/`sync`), then `set` the keys it lacks, the keys whose e_tags differ, and
//! delete the keys it should not have, in batches. For server programs, and for db-testkit's
//! fake server.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::rpc::{RpcCall, RpcClient, RpcError};
use crate::wire::{KV_SYNC_CHANNEL, KvSetItem, KvSyncResponse, SET, SYNC, WireInt};

/// One entry as the server owns it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerEntry {
    /// The value (sent JSON-encoded; `null` would delete).
    pub value: Value,
    /// Its e_tag, unique per service and never reused (a counter).
    pub e_tag: i64,
}

/// What one sync sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Keys set that the device lacked.
    pub added: usize,
    /// Keys set whose e_tags differed.
    pub changed: usize,
    /// Keys deleted that the server does not have.
    pub deleted: usize,
}

/// The `set` item that makes the device hold `entry` for `key` (or delete it, with `None`),
/// given the e_tag the device holds (`previous`).
#[must_use]
pub fn set_item(key: &str, entry: Option<&ServerEntry>, previous: Option<WireInt>) -> KvSetItem {
    KvSetItem {
        key: key.to_owned(),
        value: entry.map_or_else(|| "null".to_owned(), |e| e.value.to_string()),
        e_tag: entry.map(|e| WireInt::from(e.e_tag)),
        previous_e_tag: previous,
    }
}

/// Sends one `kv_sync`/`set` of `items` for `service` to `device`.
///
/// # Errors
/// The device's reply (`handler_error` with the e_tag or parse problem) or the transport's.
pub async fn send_set(
    device: &dyn RpcClient,
    service: &str,
    items: Vec<KvSetItem>,
    timeout: Duration,
) -> Result<(), RpcError> {
    let call = RpcCall::new(
        KV_SYNC_CHANNEL,
        SET,
        json!({"service": service, "kvs": items}),
        timeout,
    );
    device.call(call, CancellationToken::new()).await.map(drop)
}

/// Brings `device`'s store of `service` to `entries`, `batch` keys per `set` (each set is
/// atomic on the device; a later sync repairs a batch that failed).
///
/// # Errors
/// The first failing call's error; the sets before it stay applied.
pub async fn sync_device(
    device: &dyn RpcClient,
    service: &str,
    entries: &BTreeMap<String, ServerEntry>,
    batch: usize,
    timeout: Duration,
) -> Result<SyncSummary, RpcError> {
    let kvs: BTreeMap<&str, i64> = entries.iter().map(|(k, e)| (k.as_str(), e.e_tag)).collect();
    let call = RpcCall::new(
        KV_SYNC_CHANNEL,
        SYNC,
        json!({"service": service, "kvs": kvs}),
        timeout,
    );
    let answer = device.call(call, CancellationToken::new()).await?;
    let answer: KvSyncResponse =
        serde_json::from_value(answer).map_err(|e| RpcError::InvalidReply {
            reason: e.to_string(),
        })?;
    let mut items = Vec::new();
    let mut summary = SyncSummary::default();
    for key in answer.missing.keys() {
        if let Some(e) = entries.get(key) {
            items.push(set_item(key, Some(e), None));
            summary.added += 1;
        }
    }
    for (key, device_tag) in &answer.changes {
        if let Some(e) = entries.get(key) {
            items.push(set_item(key, Some(e), *device_tag));
            summary.changed += 1;
        }
    }
    for (key, device_tag) in &answer.additions {
        items.push(set_item(key, None, *device_tag));
        summary.deleted += 1;
    }
    for chunk in items.chunks(batch.max(1)) {
        send_set(device, service, chunk.to_vec(), timeout).await?;
    }
    Ok(summary)
}

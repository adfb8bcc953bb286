//! Fakes for db-kvstore's RPC peer (feature `kvstore`): [`FakeRpcClient`], a scripted
//! [`RpcClient`] with a call log (openmodule-test's `MockRPCClient`, plus call counting and
//! error and timeout injection), and [`FakeKvServer`], which plays the server's side of the KV
//! sync protocol against a device's [`RequestHandler`] (`reference/kv-sync-protocol.md` §1.10).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
pub use db_kvstore::server::ServerEntry;
use db_kvstore::server::{send_set, set_item, sync_device};
use db_kvstore::wire::{KVS_SYNC, KvSetItem, SERVER_RPC_CHANNEL, SERVER_RPC_TYPE, WireInt};
use db_kvstore::{IncomingRequest, Local, Reply, RequestHandler, RpcCall, RpcClient, RpcError};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What a [`FakeRpcClient`] does with a call.
#[derive(Clone, Debug, PartialEq)]
pub enum FakeReply {
    /// Replies `ok` with these fields.
    Ok(Value),
    /// Fails with this error at once.
    Err(RpcError),
    /// Never replies: the call times out after its timeout (or ends when cancelled).
    NoReply,
}

type Responder = Arc<dyn Fn(&RpcCall) -> FakeReply + Send + Sync>;

/// A scripted [`RpcClient`]: queued one-off replies per `(channel, type)` are used first,
/// then a standing responder; a call nobody scripted never gets a reply and times out, as
/// openmodule-test's `MockRPCClient` does. Every call is logged.
#[derive(Default)]
pub struct FakeRpcClient {
    calls: Mutex<Vec<RpcCall>>,
    queued: Mutex<HashMap<(String, String), VecDeque<FakeReply>>>,
    responders: Mutex<HashMap<(String, String), Responder>>,
}

impl std::fmt::Debug for FakeRpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRpcClient")
            .field("calls", &lock(&self.calls).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock has failed already; keep the data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeRpcClient {
    /// A client with nothing scripted.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Answers every call of `kind` on `channel` with `respond(call)` (after queued replies).
    pub fn on(
        &self,
        channel: &str,
        kind: &str,
        respond: impl Fn(&RpcCall) -> FakeReply + Send + Sync + 'static,
    ) {
        lock(&self.responders).insert((channel.into(), kind.into()), Arc::new(respond));
    }

    /// Answers the next call of `kind` on `channel` with `reply` (queued in order).
    pub fn once(&self, channel: &str, kind: &str, reply: FakeReply) {
        lock(&self.queued)
            .entry((channel.into(), kind.into()))
            .or_default()
            .push_back(reply);
    }

    /// Every call so far, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<RpcCall> {
        lock(&self.calls).clone()
    }

    /// How many calls of `kind` on `channel` were made.
    #[must_use]
    pub fn count(&self, channel: &str, kind: &str) -> usize {
        lock(&self.calls)
            .iter()
            .filter(|c| c.channel == channel && c.kind == kind)
            .count()
    }
}

#[async_trait]
impl RpcClient for FakeRpcClient {
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError> {
        lock(&self.calls).push(call.clone());
        let key = (call.channel.clone(), call.kind.clone());
        let queued = lock(&self.queued)
            .get_mut(&key)
            .and_then(VecDeque::pop_front);
        let reply = match queued {
            Some(r) => r,
            None => {
                let responder = lock(&self.responders).get(&key).cloned();
                responder.map_or(FakeReply::NoReply, |r| r(&call))
            }
        };
        match reply {
            FakeReply::Ok(v) => Ok(v),
            FakeReply::Err(e) => Err(e),
            FakeReply::NoReply => Err(db_kvstore::unanswered(&call, &cancel).await),
        }
    }
}

/// Faults the fake server injects, consumed one per call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next `n` sync requests from the device get no reply (they time out).
    pub drop_sync_requests: u32,
    /// The next `n` sync requests from the device are answered `{"status": "error", "error":
    /// "request_timeout"}` without syncing.
    pub fail_sync_requests: u32,
    /// The next `n` `set` calls to the device are lost: the device never sees them.
    pub lose_sets: u32,
}

#[derive(Debug, Default)]
struct ServerState {
    entries: HashMap<String, BTreeMap<String, ServerEntry>>,
    next_e_tag: i64,
    faults: Faults,
    syncs: u32,
}

/// The server's side of KV sync against one device's [`RequestHandler`] (its `KvStores`), as
/// openmodule's server presumably does it (`reference/kv-sync-protocol.md` §1.10): an
/// authoritative map per service with a monotonic e_tag counter, `sync` (device `sync`, then
/// `set`s for missing, changed and surplus keys), live pushes, and injected [`Faults`]. As an
/// [`RpcClient`] it is the device's connection to the server: `server_rpc`/`kvs_sync` runs a
/// sync and replies `ok`.
pub struct FakeKvServer {
    device: Local,
    state: Mutex<ServerState>,
    batch: usize,
    /// Serialises syncs and pushes, as one server connection does.
    busy: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FakeKvServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKvServer")
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

impl FakeKvServer {
    /// A server with no entries, calling `device`, sending at most 500 keys per `set`.
    #[must_use]
    pub fn new(device: Arc<dyn RequestHandler>) -> Arc<Self> {
        Arc::new(Self {
            device: Local(device),
            state: Mutex::new(ServerState::default()),
            batch: 500,
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// Sets `key` of `service` on the server only (no push); returns its new e_tag.
    pub fn put(&self, service: &str, key: &str, value: Value) -> i64 {
        let mut state = lock(&self.state);
        state.next_e_tag += 1;
        let e_tag = state.next_e_tag;
        state
            .entries
            .entry(service.to_owned())
            .or_default()
            .insert(key.to_owned(), ServerEntry::new(value, e_tag));
        e_tag
    }

    /// Removes `key` of `service` on the server only (no push).
    pub fn remove(&self, service: &str, key: &str) {
        if let Some(map) = lock(&self.state).entries.get_mut(service) {
            map.remove(key);
        }
    }

    /// The server's entries of `service`.
    #[must_use]
    pub fn entries(&self, service: &str) -> BTreeMap<String, ServerEntry> {
        lock(&self.state)
            .entries
            .get(service)
            .cloned()
            .unwrap_or_default()
    }

    /// Adds faults to those pending.
    pub fn inject(&self, faults: Faults) {
        let mut state = lock(&self.state);
        state.faults.drop_sync_requests += faults.drop_sync_requests;
        state.faults.fail_sync_requests += faults.fail_sync_requests;
        state.faults.lose_sets += faults.lose_sets;
    }

    /// Drops every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.state).faults = Faults::default();
    }

    /// How many syncs the server completed.
    #[must_use]
    pub fn syncs(&self) -> u32 {
        lock(&self.state).syncs
    }

    /// Brings the device's store of `service` to the server's entries.
    ///
    /// # Errors
    /// The device's reply when a call fails (a `set` refused: the next sync retries).
    pub async fn sync(&self, service: &str) -> Result<(), RpcError> {
        let _one = self.busy.lock().await;
        let entries = self.entries(service);
        sync_device(&ToDevice(self), service, &entries, self.batch, TIMEOUT).await?;
        lock(&self.state).syncs += 1;
        Ok(())
    }

    /// Pushes the server's current value of `keys` (or their deletion) to the device, with
    /// `previous_e_tag` as the device last reported it (`device_tags`: key → e_tag, absent
    /// when the device does not hold the key).
    ///
    /// # Errors
    /// The device's reply when it refuses (e.g. an e_tag mismatch: sync to heal).
    pub async fn push(
        &self,
        service: &str,
        keys: &[&str],
        device_tags: &HashMap<String, i64>,
    ) -> Result<(), RpcError> {
        let _one = self.busy.lock().await;
        let server = self.entries(service);
        let items: Vec<KvSetItem> = keys
            .iter()
            .map(|k| {
                set_item(
                    k,
                    server.get(*k),
                    device_tags.get(*k).map(|t| WireInt::from(*t)),
                )
            })
            .collect();
        self.send_set(service, items).await
    }

    async fn send_set(&self, service: &str, kvs: Vec<KvSetItem>) -> Result<(), RpcError> {
        send_set(&ToDevice(self), service, kvs, TIMEOUT).await
    }
}

/// The server's calls to the device, through the fault injection (lost sets).
struct ToDevice<'a>(&'a FakeKvServer);

#[async_trait]
impl RpcClient for ToDevice<'_> {
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError> {
        if call.kind == db_kvstore::wire::SET {
            let mut state = lock(&self.0.state);
            if state.faults.lose_sets > 0 {
                state.faults.lose_sets -= 1;
                return Ok(json!({}));
            }
        }
        self.0.device.call(call, cancel).await
    }
}

/// How long the fake server waits for the device.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[async_trait]
impl RpcClient for FakeKvServer {
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError> {
        if call.channel != SERVER_RPC_CHANNEL || call.kind != SERVER_RPC_TYPE {
            return Err(db_kvstore::unanswered(&call, &cancel).await);
        }
        let (drop_it, fail_it) = {
            let mut state = lock(&self.state);
            let f = &mut state.faults;
            if f.drop_sync_requests > 0 {
                f.drop_sync_requests -= 1;
                (true, false)
            } else if f.fail_sync_requests > 0 {
                f.fail_sync_requests -= 1;
                (false, true)
            } else {
                (false, false)
            }
        };
        if drop_it {
            return Err(db_kvstore::unanswered(&call, &cancel).await);
        }
        if fail_it {
            return Err(RpcError::Server {
                error: "request_timeout".into(),
            });
        }
        if call.request.get("rpc").and_then(Value::as_str) != Some(KVS_SYNC) {
            return Err(RpcError::Handler {
                exception: format!("unknown server rpc in {}", call.request),
            });
        }
        let Some(service) = call
            .request
            .pointer("/data/service")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(RpcError::Validation {
                exception: "data.service is required".into(),
            });
        };
        tokio::select! {
            r = self.sync(&service) => r.map(|()| json!({})),
            () = cancel.cancelled() => Err(RpcError::Cancelled {
                channel: call.channel.clone(),
                kind: call.kind.clone(),
            }),
        }
    }
}

/// The server's RPC endpoint: answers `rpc-websocket`/`server_rpc` calls (`kvs_sync`) by
/// syncing, for serving a [`FakeKvServer`] over a transport.
#[async_trait]
impl RequestHandler for FakeKvServer {
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        let call = RpcCall {
            channel: request.channel,
            kind: request.kind,
            request: request.request,
            resource: request.resource,
            timeout: std::time::Duration::from_secs(30),
        };
        match Reply::relay(RpcClient::call(self, call, CancellationToken::new()).await) {
            Ok(reply) => Some(reply),
            Err(RpcError::Timeout { .. } | RpcError::Cancelled { .. }) => None,
            Err(e) => Some(Reply::Error {
                status: db_kvstore::ErrorStatus::Handler,
                exception: e.to_string(),
            }),
        }
    }
}

//! When the device asks to be synced: openmodule's `KVStoreHandler.run` (sync on startup and
//! on every reconnect, after the deterministic offset), with its weaknesses fixed
//! (`reference/kv-sync-protocol.md` §1.7, §1.11.6–8, §1.11.12): each store syncs in its own
//! task, failures retry with bounded exponential backoff and jitter, an optional periodic
//! resync heals lost pushes, and shutdown cancels outstanding calls within a bound. Time is
//! tokio's, so tests run it in paused time.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::json;
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::rpc::{RpcCall, RpcClient, RpcError};
use crate::stores::KvStores;
use crate::wire::{KVS_SYNC, SERVER_RPC_CHANNEL, SERVER_RPC_TYPE};

/// The connection to the server, as openmodule's `ConnectionStatusListener` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Connected, just started.
    Startup,
    /// Connected.
    Online,
    /// Not connected.
    Offline,
    /// Stopped (also the state before any status arrived).
    Shutdown,
}

impl Status {
    /// `Startup` or `Online`.
    #[must_use]
    pub fn is_online(self) -> bool {
        matches!(self, Self::Startup | Self::Online)
    }
}

/// A status and its generation: the number of changes seen so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusReading {
    /// The status.
    pub status: Status,
    /// Incremented by every change; a sync that started under one generation and ended under
    /// another ran across a reconnect.
    pub generation: u64,
    /// How many times the connection came up (from offline or shutdown to startup or online).
    /// A reader that missed the statuses between two readings still sees a reconnect here.
    pub connects: u64,
}

/// Reads the connection status ("changed since generation N" semantics); cheap to clone.
/// Made with [`connection_status`]; the transport or the application drives the sender.
#[derive(Clone, Debug)]
pub struct ConnectionStatus {
    rx: watch::Receiver<StatusReading>,
}

impl ConnectionStatus {
    /// The status now.
    #[must_use]
    pub fn current(&self) -> StatusReading {
        *self.rx.borrow()
    }

    /// Whether the status changed after generation `generation`.
    #[must_use]
    pub fn changed_since(&self, generation: u64) -> bool {
        self.current().generation != generation
    }
}

/// Sets the connection status read by [`ConnectionStatus`].
#[derive(Debug)]
pub struct ConnectionStatusSender {
    tx: watch::Sender<StatusReading>,
}

impl ConnectionStatusSender {
    /// Reports `status`; a new generation when it differs from the current one.
    pub fn set(&self, status: Status) {
        self.tx.send_if_modified(|r| {
            if r.status == status {
                return false;
            }
            let connected = status.is_online() && !r.status.is_online();
            *r = StatusReading {
                status,
                generation: r.generation + 1,
                connects: r.connects + u64::from(connected),
            };
            true
        });
    }
}

/// A status source starting at [`Status::Shutdown`], generation 0 (openmodule's listener starts
/// with previous = shutdown, so the first online status triggers a sync).
#[must_use]
pub fn connection_status() -> (ConnectionStatusSender, ConnectionStatus) {
    let (tx, rx) = watch::channel(StatusReading {
        status: Status::Shutdown,
        generation: 0,
        connects: 0,
    });
    (ConnectionStatusSender { tx }, ConnectionStatus { rx })
}

/// How the handler syncs.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOptions {
    /// How long one sync call may take (openmodule's `sync_timeout`, default 30 s). The server
    /// is given 5 s less, and never less than 1 s (openmodule sent a negative budget below 5 s).
    pub sync_timeout: Duration,
    /// The wait after a (re)connect before syncing. `None` (default): openmodule's
    /// deterministic 0–10 s offset of the service process's name ([`crate::sync_offset`];
    /// the same for all its stores, as openmodule).
    pub offset: Option<Duration>,
    /// The first retry delay after a failed sync (default 1 s); doubled per failure.
    pub retry_initial: Duration,
    /// The longest retry delay (default 60 s). Each delay is drawn between half and all of it
    /// (jitter), so a fleet's retries spread out.
    pub retry_max: Duration,
    /// Sync again this long after a successful sync even without a reconnect (anti-entropy
    /// for pushes lost while online). `None` (default): only on reconnect and on request.
    pub resync_every: Option<Duration>,
    /// How long shutdown waits for the store tasks after cancelling their calls (default 5 s).
    pub shutdown_grace: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            sync_timeout: Duration::from_secs(30),
            offset: None,
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            resync_every: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What happened to one sync attempt, for monitoring and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncEvent {
    /// The store's service name.
    pub service: String,
    /// The attempt's number since the sync became due (1 = first).
    pub attempt: u32,
    /// `Ok` when the server confirmed the sync.
    pub outcome: Result<(), RpcError>,
}

/// Syncs every store of a [`KvStores`] through an [`RpcClient`], driven by a
/// [`ConnectionStatus`]. Start it with [`SyncHandler::spawn`].
pub struct SyncHandler {
    stores: Arc<KvStores>,
    client: Arc<dyn RpcClient>,
    status: ConnectionStatus,
    options: SyncOptions,
}

impl std::fmt::Debug for SyncHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandler")
            .field("services", &self.stores.services())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SyncHandler {
    /// A handler for `stores`, calling the server through `client`, following `status`.
    #[must_use]
    pub fn new(
        stores: Arc<KvStores>,
        client: Arc<dyn RpcClient>,
        status: ConnectionStatus,
    ) -> Self {
        Self {
            stores,
            client,
            status,
            options: SyncOptions::default(),
        }
    }

    /// Replaces the options.
    #[must_use]
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// Starts one task per store on the current tokio runtime.
    #[must_use]
    pub fn spawn(self) -> RunningSync {
        let cancel = CancellationToken::new();
        let resync = Arc::new(Notify::new());
        let (events, _) = broadcast::channel(1024);
        let offset = self
            .options
            .offset
            .unwrap_or_else(|| crate::sync_offset(self.stores.name()));
        let mut tasks = JoinSet::new();
        for service in self.stores.services() {
            let task = StoreTask {
                service: service.to_owned(),
                resource: self.stores.resource().to_owned(),
                client: self.client.clone(),
                status: self.status.rx.clone(),
                options: self.options.clone(),
                offset,
                cancel: cancel.clone(),
                resync: resync.clone(),
                events: events.clone(),
            };
            tasks.spawn(task.run());
        }
        RunningSync {
            cancel,
            resync,
            events,
            tasks,
            grace: self.options.shutdown_grace,
        }
    }
}

/// The running handler.
#[derive(Debug)]
pub struct RunningSync {
    cancel: CancellationToken,
    resync: Arc<Notify>,
    events: broadcast::Sender<SyncEvent>,
    tasks: JoinSet<()>,
    grace: Duration,
}

impl RunningSync {
    /// Asks every store to sync now (openmodule has no such call; for operators and tests).
    pub fn resync_now(&self) {
        self.resync.notify_waiters();
    }

    /// The attempts from now on.
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    /// Cancels outstanding calls and waits for the store tasks, at most the shutdown grace;
    /// tasks still running then are aborted. Returns whether all stopped in time.
    pub async fn shutdown(mut self) -> bool {
        self.cancel.cancel();
        let stopped = tokio::time::timeout(self.grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !stopped {
            self.tasks.abort_all();
        }
        stopped
    }
}

struct StoreTask {
    service: String,
    resource: String,
    client: Arc<dyn RpcClient>,
    status: watch::Receiver<StatusReading>,
    options: SyncOptions,
    offset: Duration,
    cancel: CancellationToken,
    resync: Arc<Notify>,
    events: broadcast::Sender<SyncEvent>,
}

/// Why a wait ended.
enum Wake {
    Due,
    Offline,
    Cancelled,
}

impl StoreTask {
    async fn run(mut self) {
        let mut seen = self.status.borrow_and_update().connects;
        let mut due = self.online();
        let mut next_resync: Option<Instant> = None;
        loop {
            if !due {
                let periodic = async {
                    match next_resync {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = self.cancel.cancelled() => return,
                    changed = self.status.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let now = *self.status.borrow_and_update();
                        // A reconnect, even one whose offline status this task never saw.
                        due = now.connects != seen && now.status.is_online();
                        seen = now.connects;
                        continue;
                    }
                    () = self.resync.notified() => {}
                    () = periodic => {}
                }
            }
            due = false;
            if !self.online() {
                continue;
            }
            let started = self.status.borrow().connects;
            let outcome = match self.wait(self.offset).await {
                Wake::Due => self.sync_until_done().await,
                other => other,
            };
            // A reconnect after this sync began gets a sync of its own: this one may have read
            // the device before it, and one that came after the sync's event must not be lost
            // (it was, when the count was read only after the sync finished).
            let now = *self.status.borrow();
            due = now.connects != started && now.status.is_online();
            seen = now.connects;
            match outcome {
                Wake::Due => next_resync = self.options.resync_every.map(|d| Instant::now() + d),
                Wake::Offline => {}
                Wake::Cancelled => return,
            }
        }
    }

    fn online(&self) -> bool {
        self.status.borrow().status.is_online()
    }

    /// Sleeps `d`; ends early on cancellation or when the connection goes offline.
    async fn wait(&mut self, d: Duration) -> Wake {
        let deadline = Instant::now() + d;
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return Wake::Cancelled,
                () = tokio::time::sleep_until(deadline) => return Wake::Due,
                changed = self.status.changed() => {
                    if changed.is_err() {
                        return Wake::Cancelled;
                    }
                    if !self.status.borrow_and_update().status.is_online() {
                        return Wake::Offline;
                    }
                }
            }
        }
    }

    /// Calls `kvs_sync` until the server confirms, retrying with backoff while online.
    async fn sync_until_done(&mut self) -> Wake {
        let server_budget = self
            .options
            .sync_timeout
            .saturating_sub(Duration::from_secs(5))
            .max(Duration::from_secs(1));
        let call = RpcCall::new(
            SERVER_RPC_CHANNEL,
            SERVER_RPC_TYPE,
            json!({
                "rpc": KVS_SYNC,
                "data": {
                    "resource": self.resource,
                    "service": self.service,
                    "timeout": server_budget.as_secs_f64(),
                },
            }),
            self.options.sync_timeout,
        );
        let mut attempt = 0u32;
        loop {
            if !self.online() {
                return Wake::Offline;
            }
            attempt += 1;
            let generation = self.status.borrow().generation;
            let outcome = tokio::select! {
                r = self.client.call(call.clone(), self.cancel.child_token()) => r.map(|_| ()),
                () = self.cancel.cancelled() => return Wake::Cancelled,
            };
            let ok = outcome.is_ok();
            if let Err(e) = &outcome {
                if self.status.borrow().generation != generation {
                    tracing::warn!(service = %self.service, error = %e, "sync failed across a reconnect; retrying");
                } else {
                    tracing::error!(service = %self.service, error = %e, attempt, "sync failed; retrying");
                }
            } else {
                tracing::info!(service = %self.service, attempt, "synced");
            }
            let _ = self.events.send(SyncEvent {
                service: self.service.clone(),
                attempt,
                outcome,
            });
            if ok {
                return Wake::Due;
            }
            match self.wait(self.backoff(attempt)).await {
                Wake::Due => {}
                other => return other,
            }
        }
    }

    /// `retry_initial · 2^(attempt−1)`, at most `retry_max`, drawn between half and all of it.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        let full = self
            .options
            .retry_initial
            .saturating_mul(exp)
            .min(self.options.retry_max);
        full.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

//! An openmodule-style access-control service and the server that owns its allow-list.
//!
//! The **device** keeps an allow-list of licence plates in SQLite (migrated when it opens),
//! synced from the server by db-kvstore over NATS: it serves the server's `kv_sync` calls,
//! asks for a sync on start and after every reconnect, and answers "may plate X enter?"
//! (channel `access`, type `check`) from its database. It never writes the allow-list itself.
//! The **server** owns the entries (a JSON file of key → `{"plate", "holder"}`) and brings
//! each device that asks to them; several server processes share the work through a NATS
//! queue group.
//!
//! Subjects: calls to a device go to `<root>device.<resource>.rpc-req-<channel>`, calls to the
//! servers to `<root>server.rpc-req-rpc-websocket`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use db_core::{Database, OpenOptions};
use db_kvstore::nats::{NatsRpc, serve};
use db_kvstore::server::{
    Change, ImportSummary, ServerEntry, ServerStore, push_changes, sync_device,
};
use db_kvstore::wire::{KV_SYNC_CHANNEL, KVS_SYNC, KvsSyncData, SERVER_RPC_CHANNEL};
use db_kvstore::{
    CancellationToken, ErrorStatus, IncomingRequest, KvStore, KvStores, Parsed, Reply,
    RequestHandler, RpcClient, RunningSync, Status, SyncHandler, SyncOptions, connection_status,
};
use db_migrate::{Migrator, Script};
use futures::StreamExt;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};
use sea_orm_migration::prelude::*;
use serde_json::{Value, json};

/// The channel of "may this plate enter?".
pub const ACCESS_CHANNEL: &str = "access";
/// The service name (openmodule's `settings.NAME`).
pub const NAME: &str = "om_access_service_1";

/// One allowed plate, as the server sends it.
pub mod allowed_plate {
    use sea_orm::entity::prelude::*;

    /// A row of `allowed_plate`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "allowed_plate")]
    pub struct Model {
        /// The server's key.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The server's e_tag.
        pub e_tag: i64,
        /// The plate, upper case without spaces or dashes.
        pub plate: String,
        /// Who holds it.
        pub holder: Option<String>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `G-ARAGE 1` and `garage1` are the same plate.
#[must_use]
pub fn normalize(plate: &str) -> String {
    plate
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[derive(DeriveMigrationName)]
struct CreateAllowedPlate;

#[async_trait]
impl MigrationTrait for CreateAllowedPlate {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("allowed_plate")
                    .col(
                        ColumnDef::new("key")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new("e_tag").big_integer().not_null())
                    .col(ColumnDef::new("plate").string_len(16).not_null())
                    .col(ColumnDef::new("holder").string_len(128).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_allowed_plate_plate")
                    .table("allowed_plate")
                    .col("plate")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("allowed_plate").to_owned())
            .await
    }
}

/// The device's migrations.
///
/// # Errors
/// Never for this fixed graph; the signature is the migrator's.
pub fn migrator() -> db_migrate::Result<Migrator> {
    Migrator::new(vec![
        Script::new("d1a2b3c4d5e6", CreateAllowedPlate).message("create allowed_plate"),
    ])
}

/// The device's stores: the allow-list, serving [`NAME`].
///
/// # Errors
/// [`db_kvstore::Error::Registration`] (not for this fixed store).
pub fn stores(db: &Database, resource: &str) -> db_kvstore::Result<KvStores> {
    let mut stores = KvStores::new(db, NAME, resource);
    stores.add(
        KvStore::<allowed_plate::Entity>::new(|_, value| {
            let plate = value
                .get("plate")
                .and_then(Value::as_str)
                .map(normalize)
                .filter(|p| !p.is_empty())
                .ok_or("an allowed plate needs a non-empty `plate`")?;
            let holder = value
                .get("holder")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(Parsed::new(allowed_plate::ActiveModel {
                plate: Set(plate),
                holder: Set(holder),
                ..Default::default()
            }))
        })
        .comparison_value(|m: &allowed_plate::Model| json!(m.plate)),
    )?;
    Ok(stores)
}

/// Whether `plate` is on the allow-list.
///
/// # Errors
/// The database's error.
pub async fn may_enter(db: &impl ConnectionTrait, plate: &str) -> Result<bool, DbErr> {
    let n = allowed_plate::Entity::find()
        .filter(allowed_plate::Column::Plate.eq(normalize(plate)))
        .count(db)
        .await?;
    Ok(n > 0)
}

/// Answers `access`/`check` (`{"plate": "…"}` → `{"allowed": bool}`) and the store's
/// `kv_sync` calls.
#[derive(Debug)]
pub struct DeviceHandler {
    db: Database,
    stores: Arc<KvStores>,
}

#[async_trait]
impl RequestHandler for DeviceHandler {
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        if request.channel != ACCESS_CHANNEL {
            return self.stores.handle(request).await;
        }
        let Some(plate) = request.request.get("plate").and_then(Value::as_str) else {
            return Some(Reply::Error {
                status: ErrorStatus::Validation,
                exception: "`plate` (a string) is required".into(),
            });
        };
        Some(match may_enter(&self.db, plate).await {
            Ok(allowed) => Reply::Ok(json!({"allowed": allowed})),
            Err(e) => Reply::Error {
                status: ErrorStatus::Handler,
                exception: e.to_string(),
            },
        })
    }
    /// A large `kv_sync` call (a sync of many keys) is answered by the stores from the
    /// stream; `access` calls are never large.
    async fn handle_large(
        &self,
        channel: &str,
        request: db_kvstore::large::LargeRequest,
    ) -> Option<db_kvstore::Answer> {
        if channel == ACCESS_CHANNEL {
            let request = IncomingRequest::from_large(channel, request).ok()?;
            return self.handle(request).await.map(db_kvstore::Answer::Reply);
        }
        self.stores.handle_large(channel, request).await
    }
}

/// Where a device runs.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// Its SQLite database URL.
    pub url: String,
    /// Its resource id.
    pub resource: String,
    /// A prefix before every subject (`""`; tests use a unique one).
    pub subject_root: String,
    /// Sync options (openmodule's offset by default).
    pub sync: SyncOptions,
}

/// A running device.
#[derive(Debug)]
pub struct Device {
    handler: Arc<DeviceHandler>,
    sync: RunningSync,
    stop: CancellationToken,
}

impl Device {
    /// Whether `plate` may enter, from the local database.
    ///
    /// # Errors
    /// The database's error.
    pub async fn may_enter(&self, plate: &str) -> Result<bool, DbErr> {
        may_enter(&self.handler.db, plate).await
    }

    /// Change notifications of the allow-list.
    #[must_use]
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<db_kvstore::Changed> {
        self.handler.stores.subscribe()
    }

    /// Sync attempts.
    #[must_use]
    pub fn sync_events(&self) -> tokio::sync::broadcast::Receiver<db_kvstore::SyncEvent> {
        self.sync.events()
    }

    /// Stops syncing and serving.
    pub async fn shutdown(self) {
        self.sync.shutdown().await;
        self.stop.cancel();
    }
}

/// The subject prefix of the device `resource`.
#[must_use]
pub fn device_prefix(root: &str, resource: &str) -> String {
    format!("{root}device.{resource}.")
}

/// The subject prefix of the servers.
#[must_use]
pub fn server_prefix(root: &str) -> String {
    format!("{root}server.")
}

/// Opens (and migrates) the device's database, serves its channels on `nats`, and starts
/// syncing; the connection status follows `nats`'s connection events through `status`.
///
/// # Errors
/// Opening or migrating the database, or subscribing.
pub async fn start_device(
    nats: async_nats::Client,
    config: DeviceConfig,
    status: db_kvstore::ConnectionStatus,
) -> Result<Device, Box<dyn std::error::Error + Send + Sync>> {
    let migrator = migrator()?;
    // Two connections: SQLite writes one at a time anyway, and each pooled connection is an
    // OS thread of the driver (a fleet of 1,000 devices in one process spent its time
    // switching between 4,000 of them).
    let options = OpenOptions::new(config.url.clone()).max_connections(2);
    let db = Database::open_migrated(options, &migrator).await?;
    let stores = Arc::new(stores(&db, &config.resource)?);
    let handler = Arc::new(DeviceHandler {
        db,
        stores: stores.clone(),
    });
    let stop = CancellationToken::new();
    serve(
        nats.clone(),
        NAME,
        &device_prefix(&config.subject_root, &config.resource),
        &[KV_SYNC_CHANNEL, ACCESS_CHANNEL],
        None,
        handler.clone(),
        stop.clone(),
    )
    .await?;
    nats.flush().await?;
    let client: Arc<dyn RpcClient> = Arc::new(NatsRpc::new(
        nats,
        NAME,
        server_prefix(&config.subject_root),
    ));
    let sync = SyncHandler::new(stores, client, status)
        .options(config.sync)
        .spawn();
    Ok(Device {
        handler,
        sync,
        stop,
    })
}

/// The server: the authoritative entries per service in a database
/// ([`db_kvstore::server::ServerStore`], e_tags from its counter, never reused), synced to each
/// device that asks, with changes pushed to the devices that hold the service. Several server
/// processes may share one database behind the NATS queue group `kv-servers`.
#[derive(Debug)]
pub struct Server {
    nats: async_nats::Client,
    root: String,
    store: ServerStore,
    /// [`NAME`]'s entries at a store version, read again only when the version moved.
    cache: tokio::sync::Mutex<Option<(i64, Entries)>>,
    syncs: tokio::sync::Semaphore,
}

/// A service's entries, shared.
type Entries = Arc<BTreeMap<String, ServerEntry>>;

/// Keys per `set` of a sync (about 100 bytes each: well below NATS's 1 MiB `max_payload`).
pub const SET_BATCH: usize = 2_000;

/// Devices a change is pushed to at once.
pub const PUSHES_IN_FLIGHT: usize = 64;

/// Device syncs one server process runs at once; the others wait their turn within their
/// budget. The work is CPU-bound, so more at once only holds more memory (a fleet of 1,000
/// devices starting together otherwise keeps every sync's maps alive at the same time).
pub const SYNCS_IN_FLIGHT: usize = 64;

/// How long a push or a sync of one device may take.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(30);

impl Server {
    /// A server over `store`, reaching devices under the subject root `root`.
    #[must_use]
    pub fn new(nats: async_nats::Client, root: &str, store: ServerStore) -> Arc<Self> {
        Arc::new(Self {
            nats,
            root: root.to_owned(),
            store,
            cache: tokio::sync::Mutex::new(None),
            syncs: tokio::sync::Semaphore::new(SYNCS_IN_FLIGHT),
        })
    }

    /// The entries of `service`: for [`NAME`] from memory while the store's version stands
    /// (one small query instead of every row, for each of a fleet's syncs).
    async fn entries(
        &self,
        service: &str,
    ) -> db_kvstore::Result<Arc<BTreeMap<String, ServerEntry>>> {
        if service != NAME {
            return Ok(Arc::new(self.store.entries(service).await?));
        }
        let mut cache = self.cache.lock().await;
        let version = self.store.version().await?;
        if let Some((at, entries)) = cache.as_ref()
            && *at == version
        {
            return Ok(entries.clone());
        }
        let entries = Arc::new(self.store.entries(NAME).await?);
        // Read after the version: a change in between moves the version again, so the next
        // call reads once more; the cache never holds entries older than its version.
        *cache = Some((version, entries.clone()));
        Ok(entries)
    }

    fn device(&self, resource: &str) -> NatsRpc {
        NatsRpc::new(
            self.nats.clone(),
            "kv-server",
            device_prefix(&self.root, resource),
        )
    }

    /// Sets `key` of [`NAME`] to `value` (`None` deletes it) with a new e_tag, and pushes the
    /// change to every device that synced [`NAME`] (see [`Server::change_many`]).
    ///
    /// # Errors
    /// The store's error; nothing changed.
    pub async fn change(&self, key: &str, value: Option<Value>) -> db_kvstore::Result<()> {
        self.change_many(vec![(key.to_owned(), value)]).await
    }

    /// Sets each key of [`NAME`] to its value (`None` deletes it) with new e_tags, then pushes
    /// all the changes in one `set` to every device that synced [`NAME`], at most
    /// [`PUSHES_IN_FLIGHT`] devices at a time. A device that cannot be reached gets the
    /// changes with its next sync.
    ///
    /// # Errors
    /// The store's error; the changes before it stay made (and are pushed with the next sync).
    pub async fn change_many(
        &self,
        changes: Vec<(String, Option<Value>)>,
    ) -> db_kvstore::Result<()> {
        let mut made = Vec::with_capacity(changes.len());
        for (key, value) in changes {
            let change = match value {
                Some(value) => {
                    let (e_tag, previous) = self.store.put(NAME, &key, &value).await?;
                    Change {
                        key,
                        entry: Some(ServerEntry::new(value, e_tag)),
                        previous,
                    }
                }
                None => {
                    let previous = self.store.delete(NAME, &key).await?;
                    Change {
                        key,
                        entry: None,
                        previous,
                    }
                }
            };
            made.push(change);
        }
        let entries = self.entries(NAME).await?;
        let devices = self.store.devices(NAME).await?;
        let made = &made;
        let entries = &*entries;
        futures::stream::iter(devices)
            .for_each_concurrent(PUSHES_IN_FLIGHT, |resource| async move {
                let device = self.device(&resource);
                match push_changes(&device, NAME, made, entries, DEVICE_TIMEOUT).await {
                    Ok(()) => tracing::debug!(%resource, changes = made.len(), "changes pushed"),
                    Err(e) => {
                        tracing::warn!(%resource, error = %e, "changes not pushed; the device gets them with its next sync");
                    }
                }
            })
            .await;
        Ok(())
    }

    /// Makes [`NAME`] hold exactly `entries` (the server's import file): changed and new keys
    /// get new e_tags, unchanged ones keep theirs, missing ones are removed; then every device
    /// that synced [`NAME`] is synced, [`PUSHES_IN_FLIGHT`] at a time.
    ///
    /// # Errors
    /// The store's error; nothing changed.
    pub async fn import(
        &self,
        entries: &BTreeMap<String, Value>,
    ) -> db_kvstore::Result<ImportSummary> {
        let summary = self.store.import(NAME, entries).await?;
        if summary.changed.is_empty() && summary.removed.is_empty() {
            return Ok(summary);
        }
        let entries = self.entries(NAME).await?;
        let entries = &*entries;
        futures::stream::iter(self.store.devices(NAME).await?)
            .for_each_concurrent(PUSHES_IN_FLIGHT, |resource| async move {
                let device = self.device(&resource);
                match sync_device(&device, NAME, entries, SET_BATCH, DEVICE_TIMEOUT).await {
                    Ok(done) => tracing::info!(%resource, ?done, "import pushed"),
                    Err(e) => {
                        tracing::warn!(%resource, error = %e, "import not pushed; the device gets it with its next sync");
                    }
                }
            })
            .await;
        Ok(summary)
    }

    /// Serves `rpc-websocket` in the queue group `kv-servers` until `stop` fires.
    ///
    /// # Errors
    /// The subscription error.
    pub async fn serve(
        self: &Arc<Self>,
        stop: CancellationToken,
    ) -> Result<(), async_nats::SubscribeError> {
        let handler: Arc<dyn RequestHandler> = self.clone();
        serve(
            self.nats.clone(),
            "kv-server",
            &server_prefix(&self.root),
            &[SERVER_RPC_CHANNEL],
            Some("kv-servers"),
            handler,
            stop,
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl RequestHandler for Server {
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        if request.request.get("rpc").and_then(Value::as_str) != Some(KVS_SYNC) {
            return None;
        }
        let data: KvsSyncData = match serde_json::from_value(request.request["data"].clone()) {
            Ok(d) => d,
            Err(e) => {
                return Some(Reply::Error {
                    status: ErrorStatus::Validation,
                    exception: e.to_string(),
                });
            }
        };
        let entries = match self.entries(&data.service).await {
            Ok(e) => e,
            Err(e) => {
                return Some(Reply::Error {
                    status: ErrorStatus::Handler,
                    exception: e.to_string(),
                });
            }
        };
        let device = self.device(&data.resource);
        let budget = Duration::from_secs_f64(data.timeout.clamp(1.0, 300.0));
        let started = std::time::Instant::now();
        match tokio::time::timeout(budget, async {
            let _turn = self.syncs.acquire().await;
            let left = budget.saturating_sub(started.elapsed());
            sync_device(&device, &data.service, &entries, SET_BATCH, left).await
        })
        .await
        {
            Ok(Ok(summary)) => {
                tracing::info!(resource = %data.resource, service = %data.service, ?summary, "synced");
                if let Err(e) = self.store.note_device(&data.service, &data.resource).await {
                    tracing::warn!(resource = %data.resource, error = %e, "device not noted for pushes");
                }
                Some(Reply::Ok(json!({})))
            }
            Ok(Err(e)) => Some(Reply::Error {
                status: ErrorStatus::Handler,
                exception: e.to_string(),
            }),
            Err(_) => Some(Reply::ServerError("request_timeout".into())),
        }
    }
}

/// Connects to NATS with `status` following the connection (online on connect, offline on
/// disconnect), as openmodule's connection listener does for its broker.
///
/// # Errors
/// [`db_kvstore::RpcError::Transport`] when the server cannot be reached.
pub async fn connect(
    url: &str,
) -> Result<(async_nats::Client, db_kvstore::ConnectionStatus), db_kvstore::RpcError> {
    let (sender, status) = connection_status();
    let sender = Arc::new(sender);
    let events = sender.clone();
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let events = events.clone();
            async move {
                match event {
                    async_nats::Event::Connected => events.set(Status::Online),
                    async_nats::Event::Disconnected => events.set(Status::Offline),
                    _ => {}
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| db_kvstore::RpcError::Transport {
            reason: format!("cannot connect to NATS at {url}: {e}"),
        })?;
    sender.set(Status::Online);
    // Keep the sender alive as long as the client: the callback holds a clone.
    Ok((client, status))
}

//! The stores of one service and the `kv_sync` channel's request handler: requests are
//! validated, routed by `service` through a map, and answered as openmodule answers them
//! (`KVStoreHandler.register_rpcs`, `_rpc_filter`, `rpc/server.py::process_rpc`;
//! `reference/kv-sync-protocol.md` §1.1, §1.6, §1.12).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use db_core::Database;
use sea_orm::{ActiveModelTrait, EntityTrait, TryIntoModel};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::error::{Error, Result};
use crate::large::{LargeRequest, OkMapsWriter, ServiceOnly};
use crate::rpc::{Answer, ErrorStatus, IncomingRequest, Reply, RequestHandler};
use crate::store::{DynStore, KvStore, SyncSink};
use crate::wire::WireInt;
use crate::wire::{KV_SYNC_CHANNEL, KvSetRequest, KvSyncRequest, SET, SYNC};

/// Keys whose comparison value changed in one committed `set` of a store declared with
/// [`KvStore::comparison_value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// The store's service name.
    pub service: String,
    /// Added or changed keys in request order, then deleted keys.
    pub keys: Vec<String>,
}

/// All stores of one service process (openmodule's `KVStoreHandler` registry), answering the
/// `kv_sync` channel as a [`RequestHandler`].
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// # mod plate { use sea_orm::entity::prelude::*;
/// #   #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #   #[sea_orm(table_name = "plate")]
/// #   pub struct Model { #[sea_orm(primary_key, auto_increment = false)] pub key: String, pub e_tag: i64, pub plate: String }
/// #   #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #   impl ActiveModelBehavior for ActiveModel {} }
/// use db_kvstore::{KvStore, KvStores, Parsed};
/// use sea_orm::ActiveValue::Set;
///
/// let db = db_core::Database::connect("sqlite::memory:").await?;
/// let mut stores = KvStores::new(&db, "om_access_service_1", "res-1");
/// stores.add(KvStore::<plate::Entity>::new(|_key, value| {
///     let plate = value.as_str().ok_or("a plate is a string")?.to_owned();
///     Ok(Parsed::new(plate::ActiveModel { plate: Set(plate), ..Default::default() }))
/// }))?;
/// assert_eq!(stores.services(), ["om_access_service_1"]);
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug)]
pub struct KvStores {
    name: String,
    resource: String,
    conn: sea_orm::DatabaseConnection,
    dialect: db_core::Dialect,
    by_service: HashMap<String, Arc<dyn DynStore>>,
    order: Vec<String>,
    changes: broadcast::Sender<Changed>,
}

impl KvStores {
    /// No stores yet, for the service `name` (openmodule's `settings.NAME`) on the device
    /// `resource` (`settings.RESOURCE`), keeping its entries in `db`.
    #[must_use]
    pub fn new(db: &Database, name: impl Into<String>, resource: impl Into<String>) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            name: name.into(),
            resource: resource.into(),
            conn: db.connection().clone(),
            dialect: db.dialect(),
            by_service: HashMap::new(),
            order: Vec::new(),
            changes,
        }
    }

    /// Registers `store`, serving `NAME` (no suffix) or `NAME_suffix`.
    ///
    /// # Errors
    /// [`Error::Registration`] when the service name is taken, another store already uses
    /// the entity's table (their rows would leak into each other), or the entity lacks a
    /// string primary key `key` and an integer `e_tag`.
    pub fn add<E>(&mut self, store: KvStore<E>) -> Result<&mut Self>
    where
        E: EntityTrait,
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Clone + Send + Sync,
        E::Model: Send + Sync,
    {
        let service = match &store.suffix {
            Some(suffix) => format!("{}_{suffix}", self.name),
            None => self.name.clone(),
        };
        if self.by_service.contains_key(&service) {
            return Err(Error::Registration {
                service,
                reason: "another store serves this service name; give each store its own suffix"
                    .into(),
            });
        }
        let bound = store.bind(service.clone(), self.conn.clone(), self.dialect)?;
        if let Some(other) = self
            .by_service
            .values()
            .find(|s| s.table_name() == bound.table_name())
        {
            return Err(Error::Registration {
                service,
                reason: format!(
                    "the table `{}` already belongs to the store of `{}`; each store needs its own table",
                    bound.table_name(),
                    other.service()
                ),
            });
        }
        self.order.push(service.clone());
        self.by_service.insert(service, bound);
        Ok(self)
    }

    /// The service names served, in registration order.
    #[must_use]
    pub fn services(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    /// The service process's name (`settings.NAME`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device's resource (`settings.RESOURCE`).
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Change notifications of every notifying store, sent after each commit. A slow or
    /// absent receiver never affects a `set` (a lagging one misses the oldest messages).
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Changed> {
        self.changes.subscribe()
    }

    /// `kv_sync`/`sync` for `request.service`; `None` when no store serves it.
    ///
    /// # Errors
    /// [`Error::Db`] when the table cannot be read.
    pub async fn sync(
        &self,
        request: &KvSyncRequest,
    ) -> Option<Result<crate::wire::KvSyncResponse>> {
        let store = self.by_service.get(&request.service)?;
        Some(store.sync(request).await)
    }

    /// `kv_sync`/`set` for `request.service`, all or nothing; `None` when no store serves it.
    ///
    /// # Errors
    /// The [`Error`] that refused the set; the database is unchanged.
    pub async fn set(&self, request: &KvSetRequest) -> Option<Result<()>> {
        let store = self.by_service.get(&request.service)?;
        Some(store.set(request).await.map(|changed| {
            if let Some(keys) = changed.filter(|k| !k.is_empty()) {
                // After the commit; nobody listening is not an error.
                let _ = self.changes.send(Changed {
                    service: request.service.clone(),
                    keys,
                });
            }
        }))
    }

    /// `kv_sync`/`sync` for `service` over `pairs` (sorted by key, each once), its reply
    /// spooled ([`crate::large`]): memory does not grow with the key count. `None` when no
    /// store serves `service`.
    ///
    /// # Errors
    /// [`Error::Db`] when the table cannot be read, [`Error::Spool`] when a temporary file
    /// fails (with [`std::io::ErrorKind::InvalidData`] when an echoed e_tag does not fit 64
    /// bits: the reply cannot be written).
    pub async fn sync_streamed(
        &self,
        service: &str,
        pairs: &mut (dyn Iterator<Item = std::io::Result<crate::large::Pair>> + Send),
    ) -> Option<Result<crate::large::SpooledResponse>> {
        let store = self.by_service.get(service)?;
        let mut sink = SpooledSync(OkMapsWriter::new(&["additions", "changes", "missing"]));
        Some(
            async {
                store.sync_pairs(pairs, &mut sink).await?;
                sink.0.finish().map_err(|source| Error::Spool {
                    context: format!("writing the sync reply of store `{service}`"),
                    source,
                })
            }
            .await,
        )
    }

    fn parse<T: serde::de::DeserializeOwned>(request: Value) -> std::result::Result<T, Reply> {
        serde_json::from_value(request).map_err(|e| Reply::Error {
            status: ErrorStatus::Validation,
            exception: e.to_string(),
        })
    }
}

/// A sync's differences written straight into the spooled reply maps.
struct SpooledSync(OkMapsWriter);

impl SpooledSync {
    fn put(&mut self, map: usize, key: &str, tag: Option<WireInt>) -> Result<()> {
        self.0.push(map, key, tag).map_err(|source| Error::Spool {
            context: "writing the sync reply".to_owned(),
            source,
        })
    }
}

impl SyncSink for SpooledSync {
    fn addition(&mut self, key: String, device: Option<WireInt>) -> Result<()> {
        self.put(0, &key, device)
    }
    fn change(&mut self, key: String, device: Option<WireInt>) -> Result<()> {
        self.put(1, &key, device)
    }
    fn missing(&mut self, key: String, server: Option<WireInt>) -> Result<()> {
        self.put(2, &key, server)
    }
}

/// The text of an error and its sources, for a `handler_error` reply.
pub(crate) fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[async_trait]
impl RequestHandler for KvStores {
    /// Answers `kv_sync` calls in openmodule's order: resource filter (no reply), request
    /// validation (`validation_error`), service filter (no reply), then the store
    /// (`handler_error` with the error's text when it refuses).
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        if request.channel != KV_SYNC_CHANNEL {
            return None;
        }
        if request
            .resource
            .as_ref()
            .is_some_and(|r| *r != self.resource)
        {
            tracing::debug!(resource = ?request.resource, "kv_sync call for another resource: not answered");
            return None;
        }
        let handler_error = |e: Error| Reply::Error {
            status: ErrorStatus::Handler,
            exception: error_text(&e),
        };
        match request.kind.as_str() {
            SYNC => {
                let req: KvSyncRequest = match Self::parse(request.request) {
                    Ok(r) => r,
                    Err(reply) => return Some(reply),
                };
                let Some(result) = self.sync(&req).await else {
                    tracing::debug!(service = %req.service, "kv_sync/sync for another service: not answered");
                    return None;
                };
                match result {
                    Ok(response) => match serde_json::to_value(response) {
                        Ok(value) => Some(Reply::Ok(value)),
                        Err(e) => {
                            // An e_tag beyond 64 bits echoed back: openmodule's reply fails to
                            // encode and is not sent either.
                            tracing::warn!(service = %req.service, error = %e, "kv_sync/sync reply cannot be encoded: not answered");
                            None
                        }
                    },
                    Err(e) => Some(handler_error(e)),
                }
            }
            SET => {
                let req: KvSetRequest = match Self::parse(request.request) {
                    Ok(r) => r,
                    Err(reply) => return Some(reply),
                };
                let Some(result) = self.set(&req).await else {
                    tracing::debug!(service = %req.service, "kv_sync/set for another service: not answered");
                    return None;
                };
                Some(match result {
                    Ok(()) => Reply::Ok(Value::Object(serde_json::Map::new())),
                    Err(e) => {
                        tracing::warn!(service = %req.service, error = %error_text(&e), "kv_sync/set refused");
                        handler_error(e)
                    }
                })
            }
            other => {
                tracing::debug!(
                    kind = other,
                    "kv_sync call of an unknown type: not answered"
                );
                None
            }
        }
    }

    /// A large `kv_sync`/`sync` is answered from the stream ([`KvStores::sync_streamed`]), in
    /// the order and with the replies of [`KvStores::handle`]; any other large request is put
    /// back together and handled as usual.
    async fn handle_large(&self, channel: &str, request: LargeRequest) -> Option<Answer> {
        let streamed = channel == KV_SYNC_CHANNEL
            && request.envelope.kind == SYNC
            && request.pairs.is_some()
            && request
                .envelope
                .request
                .as_ref()
                .is_some_and(Value::is_object);
        if !streamed {
            return match IncomingRequest::from_large(channel, request) {
                Ok(r) => self.handle(r).await.map(Answer::Reply),
                Err(e) => {
                    tracing::warn!(error = %e, "a large request cannot be read back: not answered");
                    None
                }
            };
        }
        let LargeRequest { envelope, pairs } = request;
        if envelope
            .resource
            .as_ref()
            .is_some_and(|r| *r != self.resource)
        {
            tracing::debug!(resource = ?envelope.resource, "kv_sync call for another resource: not answered");
            return None;
        }
        let validation = |exception: String| {
            Some(Answer::Reply(Reply::Error {
                status: ErrorStatus::Validation,
                exception,
            }))
        };
        let service =
            match serde_json::from_value::<ServiceOnly>(envelope.request.unwrap_or_default()) {
                Ok(s) => s.service,
                Err(e) => return validation(e.to_string()),
            };
        let mut pairs = pairs?;
        match pairs.first_invalid() {
            Ok(None) => {}
            Ok(Some(reason)) => return validation(reason),
            Err(e) => {
                return Some(Answer::Reply(Reply::Error {
                    status: ErrorStatus::Handler,
                    exception: format!("the sync request cannot be read back: {e}"),
                }));
            }
        }
        let Some(result) = self.sync_streamed(&service, &mut pairs).await else {
            tracing::debug!(%service, "kv_sync/sync for another service: not answered");
            return None;
        };
        match result {
            Ok(spooled) => Some(Answer::Spooled(spooled)),
            // A key whose last value is no e_tag (found during the merge; nothing was sent).
            Err(Error::Spool { source, .. })
                if source.kind() == std::io::ErrorKind::InvalidInput =>
            {
                validation(source.to_string())
            }
            Err(Error::Spool { source, .. })
                if source.kind() == std::io::ErrorKind::InvalidData =>
            {
                tracing::warn!(%service, error = %source, "kv_sync/sync reply cannot be encoded: not answered");
                None
            }
            Err(e) => Some(Answer::Reply(Reply::Error {
                status: ErrorStatus::Handler,
                exception: error_text(&e),
            })),
        }
    }
}

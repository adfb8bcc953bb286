//! A key-value store kept in sync with a server over RPC, wire-compatible with openmodule's KV
//! sync (openmodule 18.5 `utils/kv_store.py`), so an existing server can drive a Rust device
//! service.
//!
//! A [`KvStore`] is declared over a sea-orm entity with a string primary key `key` and an
//! integer `e_tag`; its `parse_value` hook turns each JSON value the server sends into the
//! entry row and optionally rows of other tables. [`KvStores`] holds all stores of a service
//! process (`NAME`, `NAME_suffix`) and answers the server's `kv_sync` calls as a
//! [`RequestHandler`]: `sync` compares e_tags, `set` replaces entries all-or-nothing in one
//! transaction after checking `previous_e_tag`. [`SyncHandler`] asks the server for a sync on
//! startup and after every reconnect through an [`RpcClient`], which any transport implements
//! (`nats`, with the `nats` feature; db-testkit's fakes in tests). The server owns the
//! entries: a service never writes them itself.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! # mod plate { use sea_orm::entity::prelude::*;
//! #   #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//! #   #[sea_orm(table_name = "plate")]
//! #   pub struct Model { #[sea_orm(primary_key, auto_increment = false)] pub key: String, pub e_tag: i64, pub plate: String }
//! #   #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
//! #   impl ActiveModelBehavior for ActiveModel {} }
//! use db_kvstore::{IncomingRequest, KvStore, KvStores, Parsed, Reply, RequestHandler};
//! use sea_orm::{ActiveValue::Set, ConnectionTrait};
//! use serde_json::json;
//!
//! let db = db_core::Database::connect("sqlite::memory:").await?;
//! db.execute_unprepared("CREATE TABLE plate (key TEXT PRIMARY KEY, e_tag BIGINT NOT NULL, plate TEXT NOT NULL)").await?;
//! let mut stores = KvStores::new(&db, "om_access_service_1", "res-1");
//! stores.add(KvStore::<plate::Entity>::new(|_key, value| {
//!     let plate = value.as_str().ok_or("a plate is a string")?.to_owned();
//!     Ok(Parsed::new(plate::ActiveModel { plate: Set(plate), ..Default::default() }))
//! }))?;
//!
//! // The server sets a key, then asks what the device holds.
//! let call = |kind: &str, request| IncomingRequest {
//!     channel: "kv_sync".into(), kind: kind.into(), resource: None, request,
//! };
//! let set = json!({"service": "om_access_service_1",
//!                  "kvs": [{"key": "a", "value": "\"G-ARAGE1\"", "e_tag": 7}]});
//! assert_eq!(stores.handle(call("set", set)).await, Some(Reply::Ok(json!({}))));
//! let sync = json!({"service": "om_access_service_1", "kvs": {"a": 7, "b": 3}});
//! let Some(Reply::Ok(answer)) = stores.handle(call("sync", sync)).await else { panic!() };
//! assert_eq!(answer, json!({"additions": {}, "changes": {}, "missing": {"b": 3}}));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! | feature    | default | enables |
//! |------------|---------|---------|
//! | `sqlite`   | yes     | SQLite databases |
//! | `postgres` | no      | PostgreSQL databases |
//! | `mysql`    | no      | MySQL / MariaDB databases |
//! | `nats`     | no      | `nats`: the NATS request/reply transport |
//! | `mock`     | no      | `MockRpcClient`, a mockall mock of [`RpcClient`] |

mod error;
mod handler;
pub mod large;
#[cfg(feature = "nats")]
pub mod nats;
mod offset;
mod rpc;
pub mod server;
mod store;
mod stores;
pub mod wire;

pub use crate::error::{ETagProblem, Error, Result};
pub use crate::handler::{
    ConnectionStatus, ConnectionStatusSender, RunningSync, Status, StatusReading, SyncEvent,
    SyncHandler, SyncOptions, connection_status,
};
pub use crate::offset::sync_offset;
#[cfg(feature = "mock")]
pub use crate::rpc::MockRpcClient;
pub use crate::rpc::{
    Answer, ErrorStatus, Forward, IncomingRequest, Local, Reply, RequestHandler, RpcCall,
    RpcClient, RpcError, unanswered,
};
pub use crate::store::{
    BoxError, Child, DEFAULT_MAX_KEY_CHARS, DEFAULT_MAX_VALUE_BYTES, DEFAULT_QUEUE_DEADLINE,
    KvStore, Parsed,
};
pub use crate::stores::{Changed, KvStores};
pub use tokio_util::sync::CancellationToken;

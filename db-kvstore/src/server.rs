//! The server's side of one sync, as openmodule's server presumably runs it
//! (`reference/kv-sync-protocol.md` §1.10; the server is not public): ask the device for its
//! e_tags (`kv_sync`/`sync`), then `set` the keys it lacks, the keys whose e_tags differ, and
//! delete the keys it should not have, in batches. For server programs, and for db-testkit's
//! fake server.
//!
//! [`ServerStore`] keeps a server's entries in a database (any db-core backend, shared by
//! several server processes): e_tags from one counter, never given twice; [`push_change`]
//! sends one change to a device that holds the service, falling back to a full sync.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::error::DbContext;
use crate::rpc::{RpcCall, RpcClient, RpcError};
use crate::wire::{KV_SYNC_CHANNEL, KvSetItem, KvSyncResponse, SET, SYNC, WireInt};

/// One entry as the server owns it. Built with [`ServerEntry::new`], which encodes the value
/// once: every device's `set` then copies that text instead of encoding the value again.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerEntry {
    /// The value (sent JSON-encoded; `null` would delete).
    pub value: Value,
    /// Its e_tag, unique per service and never reused (a counter).
    pub e_tag: i64,
    /// `value` as JSON text, as a `set` carries it.
    encoded: std::sync::Arc<str>,
}

impl ServerEntry {
    /// An entry of `value` with `e_tag`.
    #[must_use]
    pub fn new(value: Value, e_tag: i64) -> Self {
        let encoded = value.to_string().into();
        Self {
            value,
            e_tag,
            encoded,
        }
    }

    /// The value as JSON text (`serde_json`'s compact form), as a `set` carries it.
    #[must_use]
    pub fn encoded(&self) -> &str {
        &self.encoded
    }
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
        value: entry.map_or_else(|| "null".to_owned(), |e| e.encoded().to_owned()),
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
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<KvSetItem> = items.by_ref().take(batch.max(1)).collect();
        send_set(device, service, chunk, timeout).await?;
    }
    Ok(summary)
}

/// The server's source of truth in a database (any db-core backend): every service's entries
/// with their e_tags, the e_tag counter, and the devices that synced each service. Several
/// server processes may share one database (behind a NATS queue group): e_tags come from one
/// counter row that each write increments in its own transaction, so a committed e_tag is
/// never given twice, across processes and restarts (`reference/kv-sync-protocol.md` §1.3).
///
/// Tables (created when missing by [`ServerStore::open`]): `kv_server_entry` (service, key,
/// value as JSON text, e_tag), `kv_server_counter` (one row), `kv_server_device` (service,
/// resource).
#[derive(Clone, Debug)]
pub struct ServerStore {
    conn: sea_orm::DatabaseConnection,
    dialect: db_core::Dialect,
}

/// What [`ServerStore::import`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Keys added or whose value changed (a new e_tag each), sorted.
    pub changed: Vec<String>,
    /// Keys removed because the import no longer has them, sorted.
    pub removed: Vec<String>,
    /// Keys whose value stayed the same (their e_tag kept).
    pub unchanged: usize,
}

/// The longest service name and key a [`ServerStore`] keeps, in characters (its columns).
pub const MAX_SERVER_KEY_CHARS: usize = 512;

impl ServerStore {
    /// Opens the store in `db`, creating its tables when missing (safe when several
    /// processes start at once).
    ///
    /// # Errors
    /// The database's error, with what was being done.
    pub async fn open(db: &db_core::Database) -> crate::Result<Self> {
        let store = Self {
            conn: db.connection().clone(),
            dialect: db.dialect(),
        };
        let q = |n: &str| store.dialect.quote_trusted(n);
        let ddl = [
            format!(
                "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(255) NOT NULL, {} VARCHAR({MAX_SERVER_KEY_CHARS}) NOT NULL, {} TEXT NOT NULL, {} BIGINT NOT NULL, PRIMARY KEY ({}, {}))",
                q("kv_server_entry"),
                q("service"),
                q("key"),
                q("value"),
                q("e_tag"),
                q("service"),
                q("key")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} ({} INTEGER NOT NULL PRIMARY KEY, {} BIGINT NOT NULL)",
                q("kv_server_counter"),
                q("id"),
                q("value")
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} ({} VARCHAR(255) NOT NULL, {} VARCHAR(255) NOT NULL, PRIMARY KEY ({}, {}))",
                q("kv_server_device"),
                q("service"),
                q("resource"),
                q("service"),
                q("resource")
            ),
        ];
        for sql in ddl {
            store
                .conn
                .execute_unprepared(&sql)
                .await
                .context(|| "creating the server store's tables".to_owned())?;
        }
        let insert = format!(
            "INSERT INTO {} ({}, {}) VALUES (1, 0)",
            q("kv_server_counter"),
            q("id"),
            q("value")
        );
        if let Err(e) = store.conn.execute_unprepared(&insert).await {
            // Another process (or an earlier start) made the row.
            if !matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) {
                return Err(e).context(|| "creating the e_tag counter".to_owned());
            }
        }
        Ok(store)
    }

    fn statement(&self, sql: String, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
        sea_orm::Statement::from_sql_and_values(self.dialect.backend(), sql, values)
    }

    /// Checks a service name or key against the columns' length.
    fn check(what: &'static str, text: &str) -> crate::Result<()> {
        let limit = if what == "service" {
            255
        } else {
            MAX_SERVER_KEY_CHARS
        };
        let size = text.chars().count();
        if size > limit {
            return Err(crate::Error::EntryTooLarge {
                key: db_core::redact::bounded(text).into_owned(),
                // Counted in characters, as a key is.
                what: "key",
                size,
                limit,
            });
        }
        Ok(())
    }

    /// The e_tag counter's value, read through `db` (`None`: its row is missing).
    async fn counter(&self, db: &impl sea_orm::ConnectionTrait) -> crate::Result<Option<i64>> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        let row = db
            .query_one_raw(self.statement(
                format!(
                    "SELECT {} FROM {} WHERE {} = 1",
                    q("value"),
                    q("kv_server_counter"),
                    q("id")
                ),
                Vec::new(),
            ))
            .await
            .context(|| "reading the e_tag counter".to_owned())?;
        row.map(|r| r.try_get_by_index::<i64>(0))
            .transpose()
            .context(|| "reading the e_tag counter".to_owned())
    }

    /// The next e_tag, inside `txn` (the counter row stays locked until it commits).
    async fn next_e_tag(&self, txn: &impl sea_orm::ConnectionTrait) -> crate::Result<i64> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        txn.execute_raw(self.statement(
            format!(
                "UPDATE {t} SET {v} = {v} + 1 WHERE {id} = 1",
                t = q("kv_server_counter"),
                v = q("value"),
                id = q("id")
            ),
            Vec::new(),
        ))
        .await
        .context(|| "taking the next e_tag".to_owned())?;
        self.counter(txn)
            .await?
            .ok_or_else(|| crate::Error::Registration {
                service: String::new(),
                reason: "the e_tag counter row is missing; open the store again".to_owned(),
            })
    }

    /// A write transaction; `what` names the write in errors.
    async fn begin(&self, what: &str) -> crate::Result<sea_orm::DatabaseTransaction> {
        self.dialect
            .begin_write(&self.conn)
            .await
            .context(|| format!("starting {what}"))
    }

    /// Commits `txn`; `what` names the write in errors.
    async fn commit(txn: sea_orm::DatabaseTransaction, what: &str) -> crate::Result<()> {
        txn.commit().await.context(|| format!("committing {what}"))
    }

    /// Sets `key` of `service` to `value` with a new e_tag; returns the new e_tag and the
    /// one it replaced (`None`: the key is new). Unchanged values get a new e_tag too (the
    /// caller asked for a change); [`ServerStore::import`] keeps them.
    ///
    /// # Errors
    /// [`crate::Error::EntryTooLarge`] for a service name above 255 or a key above
    /// [`MAX_SERVER_KEY_CHARS`] characters; the database's error (nothing changed).
    pub async fn put(
        &self,
        service: &str,
        key: &str,
        value: &Value,
    ) -> crate::Result<(i64, Option<i64>)> {
        Self::check("service", service)?;
        Self::check("key", key)?;
        let txn = self.begin("a server store write").await?;
        let previous = self.e_tag_of(&txn, service, key).await?;
        let e_tag = self.next_e_tag(&txn).await?;
        self.write(&txn, service, key, Some((value, e_tag))).await?;
        Self::commit(txn, "a server store write").await?;
        Ok((e_tag, previous))
    }

    /// Removes `key` of `service`; returns the e_tag it had (`None`: there was none).
    ///
    /// # Errors
    /// The database's error (nothing changed).
    pub async fn delete(&self, service: &str, key: &str) -> crate::Result<Option<i64>> {
        let txn = self.begin("a server store write").await?;
        let previous = self.e_tag_of(&txn, service, key).await?;
        if previous.is_some() {
            // The counter is also the store's version (see `version`).
            self.next_e_tag(&txn).await?;
        }
        self.write(&txn, service, key, None).await?;
        Self::commit(txn, "a server store write").await?;
        Ok(previous)
    }

    async fn e_tag_of(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        service: &str,
        key: &str,
    ) -> crate::Result<Option<i64>> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        let row = db
            .query_one_raw(self.statement(
                format!(
                    "SELECT {} FROM {} WHERE {} = {} AND {} = {}",
                    q("e_tag"),
                    q("kv_server_entry"),
                    q("service"),
                    self.dialect.placeholder(1),
                    q("key"),
                    self.dialect.placeholder(2)
                ),
                vec![service.into(), key.into()],
            ))
            .await
            .context(|| "reading an entry's e_tag".to_owned())?;
        row.map(|r| r.try_get_by_index::<i64>(0))
            .transpose()
            .context(|| "reading an entry's e_tag".to_owned())
    }

    /// Replaces (or with `None` removes) one entry inside `txn`.
    async fn write(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        service: &str,
        key: &str,
        entry: Option<(&Value, i64)>,
    ) -> crate::Result<()> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        let p = |i| self.dialect.placeholder(i);
        txn.execute_raw(self.statement(
            format!(
                "DELETE FROM {} WHERE {} = {} AND {} = {}",
                q("kv_server_entry"),
                q("service"),
                p(1),
                q("key"),
                p(2)
            ),
            vec![service.into(), key.into()],
        ))
        .await
        .context(|| "replacing an entry".to_owned())?;
        if let Some((value, e_tag)) = entry {
            txn.execute_raw(self.statement(
                format!(
                    "INSERT INTO {} ({}, {}, {}, {}) VALUES ({}, {}, {}, {})",
                    q("kv_server_entry"),
                    q("service"),
                    q("key"),
                    q("value"),
                    q("e_tag"),
                    p(1),
                    p(2),
                    p(3),
                    p(4)
                ),
                vec![
                    service.into(),
                    key.into(),
                    value.to_string().into(),
                    e_tag.into(),
                ],
            ))
            .await
            .context(|| "writing an entry".to_owned())?;
        }
        Ok(())
    }

    /// The store's version: the e_tag counter, which every committed change (put, delete,
    /// import) advances. Equal versions mean equal entries, so a server may keep
    /// [`ServerStore::entries`] in memory until the version moves.
    ///
    /// # Errors
    /// The database's error.
    pub async fn version(&self) -> crate::Result<i64> {
        Ok(self.counter(&self.conn).await?.unwrap_or(0))
    }

    /// Every entry of `service`.
    ///
    /// # Errors
    /// The database's error; a stored value that is not JSON.
    pub async fn entries(&self, service: &str) -> crate::Result<BTreeMap<String, ServerEntry>> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        let rows = self
            .conn
            .query_all_raw(self.statement(
                format!(
                    "SELECT {}, {}, {} FROM {} WHERE {} = {}",
                    q("key"),
                    q("value"),
                    q("e_tag"),
                    q("kv_server_entry"),
                    q("service"),
                    self.dialect.placeholder(1)
                ),
                vec![service.into()],
            ))
            .await
            .context(|| format!("reading the entries of `{service}`"))?;
        let mut entries = BTreeMap::new();
        for row in rows {
            let read = || format!("reading the entries of `{service}`");
            let key: String = row.try_get_by_index(0).context(read)?;
            let text: String = row.try_get_by_index(1).context(read)?;
            let e_tag: i64 = row.try_get_by_index(2).context(read)?;
            let value =
                serde_json::from_str(&text).map_err(|source| crate::Error::InvalidJson {
                    key: key.clone(),
                    source: crate::wire::JsonError::Syntax(source),
                })?;
            entries.insert(key, ServerEntry::new(value, e_tag));
        }
        Ok(entries)
    }

    /// Makes `service` hold exactly `entries` (an import, e.g. a JSON file read at start):
    /// keys whose value changed or that are new get a new e_tag, unchanged ones keep theirs,
    /// keys not in `entries` are removed. One transaction.
    ///
    /// # Errors
    /// As [`ServerStore::put`]; nothing changed.
    pub async fn import(
        &self,
        service: &str,
        entries: &BTreeMap<String, Value>,
    ) -> crate::Result<ImportSummary> {
        Self::check("service", service)?;
        for key in entries.keys() {
            Self::check("key", key)?;
        }
        let current = self.entries(service).await?;
        let txn = self.begin("the import").await?;
        let mut summary = ImportSummary::default();
        for (key, value) in entries {
            if current.get(key).is_some_and(|e| e.value == *value) {
                summary.unchanged += 1;
                continue;
            }
            let e_tag = self.next_e_tag(&txn).await?;
            self.write(&txn, service, key, Some((value, e_tag))).await?;
            summary.changed.push(key.clone());
        }
        for key in current.keys().filter(|k| !entries.contains_key(*k)) {
            self.write(&txn, service, key, None).await?;
            summary.removed.push(key.clone());
        }
        if !summary.removed.is_empty() {
            // The counter is also the store's version (see `version`).
            self.next_e_tag(&txn).await?;
        }
        Self::commit(txn, "the import").await?;
        Ok(summary)
    }

    /// Remembers that the device `resource` holds `service` (it synced), for change pushes.
    ///
    /// # Errors
    /// The database's error.
    pub async fn note_device(&self, service: &str, resource: &str) -> crate::Result<()> {
        Self::check("service", service)?;
        Self::check("service", resource)?;
        let q = |n: &str| self.dialect.quote_trusted(n);
        let p = |i| self.dialect.placeholder(i);
        let inserted = self
            .conn
            .execute_raw(self.statement(
                format!(
                    "INSERT INTO {} ({}, {}) VALUES ({}, {})",
                    q("kv_server_device"),
                    q("service"),
                    q("resource"),
                    p(1),
                    p(2)
                ),
                vec![service.into(), resource.into()],
            ))
            .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e).context(|| "noting a device".to_owned()),
        }
    }

    /// The devices that synced `service`, sorted.
    ///
    /// # Errors
    /// The database's error.
    pub async fn devices(&self, service: &str) -> crate::Result<Vec<String>> {
        let q = |n: &str| self.dialect.quote_trusted(n);
        let rows = self
            .conn
            .query_all_raw(self.statement(
                format!(
                    "SELECT {} FROM {} WHERE {} = {} ORDER BY {}",
                    q("resource"),
                    q("kv_server_device"),
                    q("service"),
                    self.dialect.placeholder(1),
                    q("resource")
                ),
                vec![service.into()],
            ))
            .await
            .context(|| "reading the devices".to_owned())?;
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()
            .context(|| "reading the devices".to_owned())
    }
}

/// One changed entry as [`push_changes`] sends it: the key, what it holds now (`None`:
/// deleted) and the e_tag it had before (`None`: it was absent).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The key.
    pub key: String,
    /// The entry now; `None` when deleted.
    pub entry: Option<ServerEntry>,
    /// The e_tag the device should hold; `None` when the key was absent.
    pub previous: Option<i64>,
}

/// Pushes changed entries to a device that holds their service: one `set` of all `changes`
/// (all or nothing on the device), each with the `previous_e_tag` the device should hold.
/// When the device refuses it (it holds something else: it missed a change), the device is
/// brought in line by a full [`sync_device`] with `entries` instead.
///
/// # Errors
/// The transport's error, or the full sync's.
pub async fn push_changes(
    device: &dyn RpcClient,
    service: &str,
    changes: &[Change],
    entries: &BTreeMap<String, ServerEntry>,
    timeout: Duration,
) -> Result<(), RpcError> {
    let items = changes
        .iter()
        .map(|c| set_item(&c.key, c.entry.as_ref(), c.previous.map(WireInt::from)))
        .collect();
    match send_set(device, service, items, timeout).await {
        Ok(()) => Ok(()),
        Err(RpcError::Handler { exception }) => {
            tracing::info!(%service, changes = changes.len(), reason = %exception, "the device refused the changes; syncing it");
            sync_device(device, service, entries, 500, timeout)
                .await
                .map(drop)
        }
        Err(other) => Err(other),
    }
}

/// Pushes one changed entry to a device (see [`push_changes`]).
///
/// # Errors
/// As [`push_changes`].
pub async fn push_change(
    device: &dyn RpcClient,
    service: &str,
    key: &str,
    entry: Option<&ServerEntry>,
    previous: Option<i64>,
    entries: &BTreeMap<String, ServerEntry>,
    timeout: Duration,
) -> Result<(), RpcError> {
    let change = Change {
        key: key.to_owned(),
        entry: entry.cloned(),
        previous,
    };
    push_changes(device, service, &[change], entries, timeout).await
}

//! One store: a sea-orm entity with `key` (primary key) and `e_tag` columns, the device side
//! of `kv_sync`/`sync` and `kv_sync`/`set` (openmodule's `KVStore.kvs_sync` and `kvs_set`,
//! `utils/kv_store.py`; `reference/kv-sync-protocol.md` §1.4, §1.5, §1.8).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use db_core::Dialect;
use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityName,
    EntityTrait, IdenStatic, Iterable, ModelTrait, PrimaryKeyToColumn, QueryFilter, QueryTrait,
    Statement, TryIntoModel, Value as DbValue,
};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{DbContext, ETagProblem, Error, Result};
use crate::large::Pair;
use crate::wire::{KvSetRequest, KvSyncRequest, KvSyncResponse, WireInt};

/// Where a sync's differences go as the merge finds them: a [`KvSyncResponse`] in memory, or
/// the spooled reply of a large sync.
pub(crate) trait SyncSink {
    /// A key only the device has, with the device's e_tag.
    fn addition(&mut self, key: String, device: Option<WireInt>) -> Result<()>;
    /// A key both have with different e_tags, with the device's.
    fn change(&mut self, key: String, device: Option<WireInt>) -> Result<()>;
    /// A key only the server has, with the server's e_tag.
    fn missing(&mut self, key: String, server: Option<WireInt>) -> Result<()>;
}

impl SyncSink for KvSyncResponse {
    fn addition(&mut self, key: String, device: Option<WireInt>) -> Result<()> {
        self.additions.insert(key, device);
        Ok(())
    }
    fn change(&mut self, key: String, device: Option<WireInt>) -> Result<()> {
        self.changes.insert(key, device);
        Ok(())
    }
    fn missing(&mut self, key: String, server: Option<WireInt>) -> Result<()> {
        self.missing.insert(key, server);
        Ok(())
    }
}

/// Rows read per query while answering `sync`. A page of driver rows costs far more than
/// its pairs: with 50,000 the device's peak during a 1,000,000-key steady sync was 84 MB, with
/// 10,000 it is 59–65 MB (`benches/large_sync.rs`); the price is more queries (the sync is
/// 1.3× the raw read of the pairs instead of 1.2×, `benches/kv.rs`).
const SYNC_PAGE: usize = 10_000;

/// The error a `parse_value` hook returns; its text reaches the server.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type ParseFn<A> = dyn Fn(&str, Value) -> std::result::Result<Parsed<A>, BoxError> + Send + Sync;
type CompareFn<M> = dyn Fn(&M) -> Value + Send + Sync;
/// A requested key and what replaces it (`None`: deleted).
type Prepared<A> = (String, Option<Parsed<A>>);

/// What `parse_value` makes of one value: the entry row (its `key` and `e_tag` are set by the
/// store) and rows of other tables that belong to it.
///
/// Children must reference the entry's key with a foreign key `ON DELETE CASCADE`: entries are
/// replaced by deleting and re-inserting them, and the cascade removes the old children in
/// the same transaction, so nothing is orphaned (openmodule's bulk delete left them behind).
#[derive(Debug)]
pub struct Parsed<A> {
    /// The entry row.
    pub entry: A,
    /// Rows of other tables, inserted after the entries.
    pub children: Vec<Child>,
}

impl<A> Parsed<A> {
    /// The entry alone.
    #[must_use]
    pub fn new(entry: A) -> Self {
        Self {
            entry,
            children: Vec::new(),
        }
    }

    /// Adds a row of another table.
    #[must_use]
    pub fn child(mut self, child: impl Into<Child>) -> Self {
        self.children.push(child.into());
        self
    }
}

/// A row of another table created with an entry (see [`Parsed`]).
pub struct Child {
    table: String,
    insert: Box<dyn Fn(DbBackend) -> Statement + Send + Sync>,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("table", &self.table).finish()
    }
}

impl Child {
    /// A row to insert, from any active model.
    #[must_use]
    pub fn new<A>(model: A) -> Self
    where
        A: ActiveModelTrait + Clone + Send + Sync + 'static,
    {
        let table = <A::Entity as Default>::default().table_name().to_owned();
        Self {
            table,
            insert: Box::new(move |backend| sea_orm::Insert::one(model.clone()).build(backend)),
        }
    }
}

/// A store declared over the entity `E`: its optional suffix (the service is `NAME` or
/// `NAME_suffix`), the `parse_value` hook, and optionally a comparison value for change
/// notifications. Register it with [`KvStores::add`](crate::KvStores::add).
///
/// `E` needs a string primary key column named `key` and an integer column `e_tag`
/// (`BIGINT NOT NULL`); openmodule made `e_tag` the primary key, which forced e_tags to be
/// unique across keys and let SQLite invent one when it was missing.
pub struct KvStore<E: EntityTrait> {
    pub(crate) suffix: Option<String>,
    parse: Arc<ParseFn<E::ActiveModel>>,
    compare: Option<Arc<CompareFn<E::Model>>>,
    max_key_chars: Option<usize>,
    max_value_bytes: usize,
    queue_deadline: Duration,
}

/// How long a `set` waits for the sets ahead of it by default (10 s), see
/// [`KvStore::queue_deadline`].
pub const DEFAULT_QUEUE_DEADLINE: Duration = Duration::from_secs(10);

/// The longest key a store takes, in characters, when its `key` column declares no length.
pub const DEFAULT_MAX_KEY_CHARS: usize = 1024;
/// The largest value (its JSON text) a store takes, in bytes (1 MiB).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1 << 20;

impl<E: EntityTrait> std::fmt::Debug for KvStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore")
            .field("table", &E::default().table_name())
            .field("suffix", &self.suffix)
            .field("notifies", &self.compare.is_some())
            .finish()
    }
}

impl<E> KvStore<E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Clone + Send + Sync,
    E::Model: Send + Sync,
{
    /// A store whose values become rows through `parse_value(key, value)` (openmodule's
    /// `KVEntry.parse_value`; the key is passed too, for children that reference it). An error
    /// refuses the whole `set`, and its text reaches the server.
    #[must_use]
    pub fn new(
        parse_value: impl Fn(&str, Value) -> std::result::Result<Parsed<E::ActiveModel>, BoxError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            suffix: None,
            parse: Arc::new(parse_value),
            compare: None,
            max_key_chars: None,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
            queue_deadline: DEFAULT_QUEUE_DEADLINE,
        }
    }

    /// The longest key taken, in characters (default: the `key` column's declared length,
    /// e.g. `String(StringLen::N(16))`, else [`DEFAULT_MAX_KEY_CHARS`]). A `set` with a longer
    /// key is refused before it touches the database.
    #[must_use]
    pub fn max_key_chars(mut self, chars: usize) -> Self {
        self.max_key_chars = Some(chars);
        self
    }

    /// The largest value taken, in bytes of its JSON text (default
    /// [`DEFAULT_MAX_VALUE_BYTES`]). A `set` with a larger one is refused before it touches the
    /// database or parses anything.
    #[must_use]
    pub fn max_value_bytes(mut self, bytes: usize) -> Self {
        self.max_value_bytes = bytes;
        self
    }

    /// How long a `set` waits for the sets ahead of it (default [`DEFAULT_QUEUE_DEADLINE`]).
    /// Sets are applied one at a time, in arrival order; one that waited longer is answered
    /// with [`Error::Busy`] (a `handler_error`) and not applied, so a slow set never leaves
    /// later ones unanswered.
    #[must_use]
    pub fn queue_deadline(mut self, deadline: Duration) -> Self {
        self.queue_deadline = deadline;
        self
    }

    /// Serves `NAME_suffix` instead of `NAME`.
    #[must_use]
    pub fn suffix(mut self, suffix: impl Into<String>) -> Self {
        self.suffix = Some(suffix.into());
        self
    }

    /// Reports, after each committed `set`, the keys whose comparison value changed (added,
    /// changed, deleted), as openmodule's `KVStoreWithChangedNotification` with its
    /// `comparison_value` and `_find_changed_kvs`. Keys whose value stayed the same are not
    /// reported, even when their e_tag changed.
    #[must_use]
    pub fn comparison_value(
        mut self,
        compare: impl Fn(&E::Model) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.compare = Some(Arc::new(compare));
        self
    }

    /// The store bound to a database, checked: `E` has the `key` and `e_tag` columns.
    pub(crate) fn bind(
        self,
        service: String,
        conn: DatabaseConnection,
        dialect: Dialect,
    ) -> Result<Arc<dyn DynStore>> {
        let refuse = |reason: String| Error::Registration {
            service: service.clone(),
            reason,
        };
        let key = E::Column::from_str("key")
            .map_err(|_| refuse("the entity has no column `key`".into()))?;
        let e_tag = E::Column::from_str("e_tag")
            .map_err(|_| refuse("the entity has no column `e_tag`".into()))?;
        let pk: Vec<String> = E::PrimaryKey::iter()
            .map(|p| p.into_column().as_str().to_owned())
            .collect();
        if pk != ["key"] {
            return Err(refuse(format!(
                "the primary key must be the column `key` alone, not ({})",
                pk.join(", ")
            )));
        }
        let key_def = key.def();
        let e_tag_def = e_tag.def();
        let declared = match key_def.get_column_type() {
            ColumnType::String(sea_orm::sea_query::StringLen::N(n)) | ColumnType::Char(Some(n)) => {
                usize::try_from(*n).ok()
            }
            _ => None,
        };
        let max_key_chars = self
            .max_key_chars
            .or(declared)
            .unwrap_or(DEFAULT_MAX_KEY_CHARS);
        if !matches!(
            key_def.get_column_type(),
            ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_)
        ) {
            return Err(refuse("`key` must be a string column".into()));
        }
        if !matches!(
            e_tag_def.get_column_type(),
            ColumnType::BigInteger | ColumnType::Integer
        ) {
            return Err(refuse("`e_tag` must be an integer column (BIGINT)".into()));
        }
        let entity = E::default();
        let table = match entity.schema_name() {
            Some(schema) => format!(
                "{}.{}",
                dialect.quote_trusted(schema),
                dialect.quote_trusted(entity.table_name())
            ),
            None => dialect.quote_trusted(entity.table_name()),
        };
        let columns = E::Column::iter().count().max(1);
        Ok(Arc::new(EntityStore::<E> {
            service,
            table_name: entity.table_name().to_owned(),
            table,
            key_sql: dialect.quote_trusted("key"),
            e_tag_sql: dialect.quote_trusted("e_tag"),
            key,
            e_tag,
            conn,
            dialect,
            rows_per_insert: (dialect.max_bind_params() / columns).max(1),
            max_key_chars,
            max_value_bytes: self.max_value_bytes,
            queue_deadline: self.queue_deadline,
            queued: std::sync::atomic::AtomicUsize::new(0),
            parse: self.parse,
            compare: self.compare,
            writing: Mutex::new(()),
        }))
    }
}

/// A registered store, whatever its entity.
#[async_trait]
pub(crate) trait DynStore: Send + Sync + std::fmt::Debug {
    /// `NAME` or `NAME_suffix`.
    fn service(&self) -> &str;
    /// The entity's table name.
    fn table_name(&self) -> &str;
    /// The answer to `kv_sync`/`sync`; beyond the request and the answer (the differences)
    /// it holds one page of rows.
    async fn sync(&self, request: &KvSyncRequest) -> Result<KvSyncResponse>;
    /// The same merge over `pairs` (sorted by key, each once), each difference given to
    /// `sink` as found.
    async fn sync_pairs(
        &self,
        pairs: &mut (dyn Iterator<Item = std::io::Result<Pair>> + Send),
        sink: &mut (dyn SyncSink + Send),
    ) -> Result<()>;
    /// Applies `kv_sync`/`set`; the changed keys when the store notifies.
    async fn set(&self, request: &KvSetRequest) -> Result<Option<Vec<String>>>;
}

struct EntityStore<E: EntityTrait> {
    service: String,
    table_name: String,
    table: String,
    key_sql: String,
    e_tag_sql: String,
    key: E::Column,
    #[expect(
        dead_code,
        reason = "checked at registration; rows are written through the entity"
    )]
    e_tag: E::Column,
    conn: DatabaseConnection,
    dialect: Dialect,
    rows_per_insert: usize,
    max_key_chars: usize,
    max_value_bytes: usize,
    queue_deadline: Duration,
    /// Sets holding or waiting for `writing`.
    queued: std::sync::atomic::AtomicUsize,
    parse: Arc<ParseFn<E::ActiveModel>>,
    compare: Option<Arc<CompareFn<E::Model>>>,
    /// Sets are applied one at a time (openmodule serialises all handlers): two concurrent
    /// sets would both check e_tags against the same rows.
    writing: Mutex<()>,
}

impl<E: EntityTrait> std::fmt::Debug for EntityStore<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityStore")
            .field("service", &self.service)
            .field("table", &self.table_name)
            .finish()
    }
}

impl<E> EntityStore<E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Clone + Send + Sync,
    E::Model: Send + Sync,
{
    /// `SELECT key, e_tag … WHERE key IN (…)` for `keys`, in chunks under the bind limit.
    async fn current_tags(
        &self,
        db: &impl ConnectionTrait,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>> {
        let mut tags = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(self.dialect.max_bind_params()) {
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE {} IN ({})",
                self.key_sql,
                self.e_tag_sql,
                self.table,
                self.key_sql,
                self.placeholders(chunk.len())
            );
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    self.dialect.backend(),
                    sql,
                    chunk.iter().map(|k| DbValue::from(*k)),
                ))
                .await
                .context(|| format!("reading the e_tags of store `{}`", self.service))?;
            for row in rows {
                let key: String = row.try_get_by_index(0).context(|| self.read_context())?;
                let tag: i64 = row.try_get_by_index(1).context(|| self.read_context())?;
                tags.insert(key, tag);
            }
        }
        Ok(tags)
    }

    /// The comparison values of the existing rows among `keys`.
    async fn comparison_values(
        &self,
        db: &impl ConnectionTrait,
        compare: &CompareFn<E::Model>,
        keys: &[&str],
    ) -> Result<HashMap<String, Value>> {
        let mut values = HashMap::new();
        for chunk in keys.chunks(self.dialect.max_bind_params()) {
            let models = E::find()
                .filter(self.key.is_in(chunk.iter().copied()))
                .all(db)
                .await
                .context(|| format!("reading the entries of store `{}`", self.service))?;
            for model in models {
                let key = match model.get(self.key) {
                    DbValue::String(Some(k)) => k.clone(),
                    other => format!("{other:?}"),
                };
                values.insert(key, compare(&model));
            }
        }
        Ok(values)
    }

    fn placeholders(&self, n: usize) -> String {
        (1..=n)
            .map(|i| self.dialect.placeholder(i))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn read_context(&self) -> String {
        format!(
            "reading the table `{}` of store `{}`",
            self.table_name, self.service
        )
    }

    /// Everything but the database work of a set, failing where openmodule's `kvs_set` fails
    /// first (`reference/kv-sync-protocol.md` §1.12, checked by the openmodule differential
    /// test): every e_tag check, in request order (openmodule's three texts); then each value
    /// in order, read as orjson reads it ([`crate::wire::loads`]) and `parse_value`d; then, in
    /// request order as openmodule inserts the rows, an e_tag outside 64 bits (where its insert
    /// overflows) and a key given twice (refused here always; openmodule's insert fails when
    /// both carry values); last a value without an e_tag, which openmodule never refuses (its
    /// SQLite invents one) and this store always does.
    fn prepare(
        &self,
        request: &KvSetRequest,
        current: &HashMap<String, i64>,
    ) -> Result<Vec<Prepared<E::ActiveModel>>> {
        for kv in &request.kvs {
            let actual = current.get(&kv.key).copied();
            let expected = kv.previous_e_tag.map(|p| p.0);
            let problem = match (actual, expected) {
                (None, Some(_)) => Some(ETagProblem::GivenButNotInDatabase),
                (Some(_), None) => Some(ETagProblem::NoPrevious),
                (Some(a), Some(p)) if i128::from(a) != p => Some(ETagProblem::DoesNotMatch),
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(Error::ETagMismatch {
                    problem,
                    key: kv.key.clone(),
                    expected,
                    actual,
                });
            }
        }
        let mut out = Vec::with_capacity(request.kvs.len());
        for kv in &request.kvs {
            let value =
                crate::wire::loads(kv.value.as_bytes()).map_err(|source| Error::InvalidJson {
                    key: kv.key.clone(),
                    source,
                })?;
            if value.is_null() {
                out.push((kv.key.clone(), None));
                continue;
            }
            let parsed = (self.parse)(&kv.key, value).map_err(|e| Error::ParseValue {
                key: kv.key.clone(),
                reason: e.to_string(),
            })?;
            out.push((kv.key.clone(), Some(parsed)));
        }
        let mut seen = HashSet::with_capacity(request.kvs.len());
        for (kv, (_, parsed)) in request.kvs.iter().zip(&out) {
            if let (Some(wire), Some(_)) = (kv.e_tag, parsed)
                && wire.as_i64().is_none()
            {
                return Err(Error::ETagOutOfRange {
                    key: kv.key.clone(),
                    e_tag: wire.0,
                });
            }
            if !seen.insert(kv.key.as_str()) {
                return Err(Error::DuplicateKey {
                    key: kv.key.clone(),
                });
            }
        }
        let key_col = E::Column::from_str("key").ok();
        let tag_col = E::Column::from_str("e_tag").ok();
        for (kv, (_, parsed)) in request.kvs.iter().zip(&mut out) {
            let Some(parsed) = parsed else {
                continue;
            };
            let e_tag = kv
                .e_tag
                .and_then(crate::wire::WireInt::as_i64)
                .ok_or_else(|| Error::ValueWithoutETag {
                    key: kv.key.clone(),
                })?;
            if let (Some(k), Some(t)) = (key_col, tag_col) {
                parsed.entry.set(k, kv.key.clone().into());
                parsed.entry.set(t, e_tag.into());
            }
        }
        Ok(out)
    }

    async fn write(
        &self,
        txn: &impl ConnectionTrait,
        present: &[&str],
        prepared: Vec<Prepared<E::ActiveModel>>,
    ) -> Result<()> {
        for chunk in present.chunks(self.dialect.max_bind_params()) {
            let sql = format!(
                "DELETE FROM {} WHERE {} IN ({})",
                self.table,
                self.key_sql,
                self.placeholders(chunk.len())
            );
            txn.execute_raw(Statement::from_sql_and_values(
                self.dialect.backend(),
                sql,
                chunk.iter().map(|k| DbValue::from(*k)),
            ))
            .await
            .context(|| format!("deleting the replaced entries of store `{}`", self.service))?;
        }
        let mut entries = Vec::new();
        let mut children = Vec::new();
        for (_, parsed) in prepared {
            if let Some(p) = parsed {
                entries.push(p.entry);
                children.extend(p.children);
            }
        }
        let mut rest = entries.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<E::ActiveModel> = rest.by_ref().take(self.rows_per_insert).collect();
            E::insert_many(chunk)
                .exec_without_returning(txn)
                .await
                .context(|| format!("inserting the entries of store `{}`", self.service))?;
        }
        for child in children {
            txn.execute_raw((child.insert)(self.dialect.backend()))
                .await
                .context(|| {
                    format!(
                        "inserting a row of `{}` for store `{}`",
                        child.table, self.service
                    )
                })?;
        }
        Ok(())
    }
}

#[async_trait]
impl<E> DynStore for EntityStore<E>
where
    E: EntityTrait,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Clone + Send + Sync,
    E::Model: Send + Sync,
{
    fn service(&self) -> &str {
        &self.service
    }

    fn table_name(&self) -> &str {
        &self.table_name
    }

    async fn sync(&self, request: &KvSyncRequest) -> Result<KvSyncResponse> {
        let mut pairs = request.kvs.iter().map(|(k, t)| Ok((k.clone(), *t)));
        let mut response = KvSyncResponse::default();
        self.sync_pairs(&mut pairs, &mut response).await?;
        Ok(response)
    }

    async fn sync_pairs(
        &self,
        pairs: &mut (dyn Iterator<Item = std::io::Result<Pair>> + Send),
        sink: &mut (dyn SyncSink + Send),
    ) -> Result<()> {
        // A merge of two sorted sequences: the server's keys (sorted by the caller) and the
        // table's, read in keyset pages in the same byte order. At most SYNC_PAGE rows are held.
        let spool = |source| Error::Spool {
            context: format!("reading the sync request of store `{}`", self.service),
            source,
        };
        let mut server = pairs.map(|p| p.map_err(spool)).peekable();
        let order = self.dialect.byte_order(&self.key_sql);
        let mut after: Option<String> = None;
        loop {
            let (filter, values) = match after.take() {
                Some(last) => (
                    format!(" WHERE {order} > {}", self.dialect.placeholder(1)),
                    vec![DbValue::from(last)],
                ),
                None => (String::new(), Vec::new()),
            };
            let sql = format!(
                "SELECT {k}, {e} FROM {t}{filter} ORDER BY {order} LIMIT {SYNC_PAGE}",
                k = self.key_sql,
                e = self.e_tag_sql,
                t = self.table,
            );
            let rows = self
                .conn
                .query_all_raw(Statement::from_sql_and_values(
                    self.dialect.backend(),
                    sql,
                    values,
                ))
                .await
                .context(|| self.read_context())?;
            let count = rows.len();
            let full = count == SYNC_PAGE;
            for (i, row) in rows.into_iter().enumerate() {
                let key: String = row.try_get_by_index(0).context(|| self.read_context())?;
                let tag: i64 = row.try_get_by_index(1).context(|| self.read_context())?;
                if i + 1 == count {
                    // The next page starts after the last key (cloned once per page).
                    after = Some(key.clone());
                }
                let device = Some(crate::wire::WireInt::from(tag));
                loop {
                    match server
                        .next_if(|p| p.as_ref().map_or(true, |(k, _)| k.as_str() < key.as_str()))
                    {
                        Some(Ok((k, theirs))) => sink.missing(k, theirs)?,
                        Some(Err(e)) => return Err(e),
                        None => break,
                    }
                }
                match server.next_if(|p| p.as_ref().is_ok_and(|(k, _)| *k == key)) {
                    Some(Ok((_, theirs))) if theirs == device => {}
                    Some(_) => sink.change(key, device)?,
                    None => sink.addition(key, device)?,
                }
            }
            if !full {
                break;
            }
        }
        for pair in server {
            let (k, theirs) = pair?;
            sink.missing(k, theirs)?;
        }
        Ok(())
    }

    async fn set(&self, request: &KvSetRequest) -> Result<Option<Vec<String>>> {
        if request.kvs.is_empty() {
            return Ok(self.compare.as_ref().map(|_| Vec::new()));
        }
        // Sizes a peer chooses are checked before they cost a parse, a lock or a query.
        for kv in &request.kvs {
            if kv.key.len() > self.max_key_chars && kv.key.chars().count() > self.max_key_chars {
                return Err(Error::EntryTooLarge {
                    key: db_core::redact::bounded(&kv.key).into_owned(),
                    what: "key",
                    size: kv.key.chars().count(),
                    limit: self.max_key_chars,
                });
            }
            if kv.value.len() > self.max_value_bytes {
                return Err(Error::EntryTooLarge {
                    key: db_core::redact::bounded(&kv.key).into_owned(),
                    what: "value",
                    size: kv.value.len(),
                    limit: self.max_value_bytes,
                });
            }
        }
        let keys: Vec<&str> = request.kvs.iter().map(|kv| kv.key.as_str()).collect();
        let ahead = self
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _leaves_the_queue = QueueSlot(&self.queued);
        let _one_at_a_time =
            match tokio::time::timeout(self.queue_deadline, self.writing.lock()).await {
                Ok(guard) => guard,
                Err(_) => {
                    return Err(Error::Busy {
                        service: self.service.clone(),
                        waited: self.queue_deadline,
                        ahead,
                    });
                }
            };
        let txn = self
            .dialect
            .begin_write(&self.conn)
            .await
            .context(|| format!("starting the set transaction of store `{}`", self.service))?;
        let current = self.current_tags(&txn, &keys).await?;
        let old = match &self.compare {
            Some(c) => Some(self.comparison_values(&txn, c.as_ref(), &keys).await?),
            None => None,
        };
        let prepared = self.prepare(request, &current)?;
        let new: Option<Vec<(String, Option<Value>)>> = match &self.compare {
            Some(c) => Some(
                prepared
                    .iter()
                    .map(|(key, parsed)| {
                        let value = match parsed {
                            Some(p) => {
                                Some(p.entry.clone().try_into_model().map(|m| c(&m)).map_err(
                                    |e| Error::ParseValue {
                                        key: key.clone(),
                                        reason: format!("the entry is incomplete: {e}"),
                                    },
                                )?)
                            }
                            None => None,
                        };
                        Ok((key.clone(), value))
                    })
                    .collect::<Result<_>>()?,
            ),
            None => None,
        };
        let present: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| current.contains_key(*k))
            .collect();
        self.write(&txn, &present, prepared).await?;
        txn.commit()
            .await
            .context(|| format!("committing the set of store `{}`", self.service))?;
        Ok(new.zip(old).map(|(new, old)| changed_keys(new, old)))
    }
}

/// Leaves a store's set queue when dropped.
struct QueueSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// openmodule's `_find_changed_kvs`: keys set to a value that is new or differs from the old
/// one (in request order), then the keys that had a value and have none now (deleted).
pub(crate) fn changed_keys(
    new: Vec<(String, Option<Value>)>,
    mut old: HashMap<String, Value>,
) -> Vec<String> {
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    for (key, value) in new {
        match (value, old.remove(&key)) {
            (Some(v), Some(o)) if v == o => {}
            (Some(_), _) => changed.push(key),
            (None, Some(_)) => deleted.push(key),
            (None, None) => {}
        }
    }
    changed.extend(deleted);
    changed
}

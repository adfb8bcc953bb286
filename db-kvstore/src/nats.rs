//! The NATS transport: openmodule's RPC envelopes ([`RequestEnvelope`], [`ResponseEnvelope`])
//! over NATS request/reply. A call of `type` on `channel` is published on the subject
//! `<prefix>rpc-req-<channel>` (openmodule's topic `rpc-req-<channel>`, behind a prefix that
//! picks the peer, e.g. `device.<resource>.`) with a reply inbox; the answering side replies
//! to that inbox. Servers may serve one subject from several processes through a NATS queue
//! group, so the server side scales past one machine without code of ours.
//!
//! A request or reply larger than the server's `max_payload` (1 MiB by default; a sync of
//! ~60,000 keys) travels through JetStream's object store, which chunks and checksums it: the
//! payload goes into the bucket [`LARGE_BUCKET`] under a fresh name, and the NATS message
//! carries that name in the header [`OBJECT_HEADER`] with an empty body; the receiver reads the
//! object as a stream (at most [`MAX_MESSAGE_BYTES`]) and deletes it. Objects a receiver never
//! read expire after ten minutes. Where the server has no JetStream, the message goes in parts
//! of `max_payload` that the receiver fetches from the sender one by one ([`PARTS_HEADER`]); a
//! lost part fails that call with [`RpcError::LargeMessageLost`]. The envelope is the same
//! either way.
//!
//! Why the object store comes first, although parts are faster (a 25 MB round trip took
//! 0.67× the object store's time in parts, 5 MB 0.48×; `benches/large_messages.rs`): through
//! the object store both sides stream (a 1,000,000-key sync stays near 60 MB on the device),
//! while parts are held whole by the receiver and kept whole by the sender until fetched; and
//! an object is checksummed and outlives its sender, parts do not.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::large::{LargeRequest, SpooledResponse, response_frame};
use crate::rpc::{
    Answer, ErrorStatus, IncomingRequest, Reply, RequestHandler, RpcCall, RpcClient, RpcError,
};
use crate::wire::{RequestEnvelope, ResponseEnvelope, unix_now};

/// The header naming the object that holds a large message's payload.
pub const OBJECT_HEADER: &str = "Kv-Object";
/// The JetStream object store bucket for large messages.
pub const LARGE_BUCKET: &str = "kv_sync_large";
/// The largest message read from the object store, in bytes (256 MiB): a peer cannot make a
/// receiver hold more.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
/// The header of a message sent in parts: how many parts.
pub const PARTS_HEADER: &str = "Kv-Parts";
/// The header of a message sent in parts: its size in bytes, all parts together.
pub const PARTS_SIZE_HEADER: &str = "Kv-Parts-Size";
/// The header of a message sent in parts: the inbox that answers for the further parts.
pub const PARTS_SUBJECT_HEADER: &str = "Kv-Parts-Subject";
/// The header of a request for one part: its index (1 for the second part).
pub const PART_HEADER: &str = "Kv-Part";
/// How long a sender keeps a message's parts for its receiver (2 minutes).
pub const PARTS_KEPT: Duration = Duration::from_secs(120);
/// How long a receiver waits for one part (10 s).
pub const PART_TIMEOUT: Duration = Duration::from_secs(10);
/// What a message's headers and subject may add to its payload, kept below `max_payload`.
const HEADROOM: usize = 4096;

/// Large messages of one connection: the object store bucket, looked up (or created) on the
/// first large message and kept.
struct LargeMessages {
    client: async_nats::Client,
    store: tokio::sync::OnceCell<async_nats::jetstream::object_store::ObjectStore>,
}

impl std::fmt::Debug for LargeMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeMessages")
            .field("bucket", &LARGE_BUCKET)
            .field("ready", &self.store.initialized())
            .finish()
    }
}

impl LargeMessages {
    fn new(client: async_nats::Client) -> Arc<Self> {
        Arc::new(Self {
            client,
            store: tokio::sync::OnceCell::new(),
        })
    }

    /// The object store for large messages (a failed lookup is tried again next time).
    async fn store(&self) -> Result<&async_nats::jetstream::object_store::ObjectStore, String> {
        self.store
            .get_or_try_init(|| async {
                let js = async_nats::jetstream::new(self.client.clone());
                if let Ok(store) = js.get_object_store(LARGE_BUCKET).await {
                    return Ok(store);
                }
                js.create_object_store(async_nats::jetstream::object_store::Config {
                    bucket: LARGE_BUCKET.to_owned(),
                    description: Some("db-kvstore: kv_sync messages above max_payload".to_owned()),
                    max_age: Duration::from_secs(600),
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("JetStream's object store is not available: {e}"))
            })
            .await
    }

    /// The payload limit of this connection, less headroom for headers.
    fn limit(&self) -> usize {
        self.client
            .server_info()
            .max_payload
            .saturating_sub(HEADROOM)
    }

    /// `payload` as it goes on the wire: itself when it fits the server's `max_payload`, else
    /// an empty body with [`OBJECT_HEADER`] naming the object it was put into.
    async fn wire(
        &self,
        payload: Vec<u8>,
    ) -> Result<(bytes::Bytes, Option<async_nats::HeaderMap>), RpcError> {
        if payload.len() <= self.limit() {
            return Ok((payload.into(), None));
        }
        let size = payload.len();
        self.put(std::io::Cursor::new(payload), size).await
    }

    /// A reply envelope around a spooled `response`, as it goes on the wire (see
    /// [`LargeMessages::wire`]); read into memory only when it fits one message.
    async fn wire_spooled(
        &self,
        head: Vec<u8>,
        response: SpooledResponse,
        tail: Vec<u8>,
    ) -> Result<(bytes::Bytes, Option<async_nats::HeaderMap>), RpcError> {
        let size = usize::try_from(response.len())
            .unwrap_or(usize::MAX)
            .saturating_add(head.len() + tail.len());
        let spool_error = |e: std::io::Error| RpcError::Transport {
            reason: format!("the spooled reply cannot be read: {e}"),
        };
        match response.into_data().map_err(spool_error)? {
            tempfile::SpooledData::InMemory(cursor) => {
                let mut bytes = head;
                bytes.extend_from_slice(&cursor.into_inner());
                bytes.extend_from_slice(&tail);
                self.wire(bytes).await
            }
            tempfile::SpooledData::OnDisk(file) => {
                let reader = tokio::io::AsyncReadExt::chain(
                    tokio::io::AsyncReadExt::chain(
                        std::io::Cursor::new(head),
                        tokio::fs::File::from_std(file),
                    ),
                    std::io::Cursor::new(tail),
                );
                if size <= self.limit() {
                    let mut bytes = Vec::with_capacity(size);
                    let mut reader = reader;
                    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes)
                        .await
                        .map_err(spool_error)?;
                    return Ok((bytes.into(), None));
                }
                self.put(reader, size).await
            }
        }
    }

    /// Puts `size` bytes from `reader` into a fresh object; the message then carries its
    /// name.
    async fn put(
        &self,
        mut reader: impl tokio::io::AsyncRead + Unpin,
        size: usize,
    ) -> Result<(bytes::Bytes, Option<async_nats::HeaderMap>), RpcError> {
        let limit = self.limit();
        let too_large = |reason: String| RpcError::TooLarge {
            size,
            limit,
            reason,
        };
        if size > MAX_MESSAGE_BYTES {
            return Err(too_large(format!(
                "above the {MAX_MESSAGE_BYTES}-byte bound of large messages"
            )));
        }
        let store = match self.store().await {
            Ok(store) => store,
            Err(no_jetstream) => {
                tracing::debug!(reason = %no_jetstream, "no object store: sending the message in parts");
                let mut payload = Vec::with_capacity(size);
                tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut payload)
                    .await
                    .map_err(|e| too_large(format!("reading the message failed: {e}")))?;
                return self.in_parts(payload).await.map_err(too_large);
            }
        };
        let name = uuid::Uuid::new_v4().simple().to_string();
        store
            .put(name.as_str(), &mut reader)
            .await
            .map_err(|e| too_large(format!("putting it into the object store failed: {e}")))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(OBJECT_HEADER, name.as_str());
        Ok((bytes::Bytes::new(), Some(headers)))
    }

    /// `payload` in parts of the connection's limit, where JetStream is missing: the message
    /// carries the first part and [`PARTS_HEADER`] (how many), [`PARTS_SIZE_HEADER`] (bytes
    /// in all) and [`PARTS_SUBJECT_HEADER`] (a fresh inbox); the receiver asks that inbox for
    /// each further part in turn ([`PART_HEADER`]), so parts arrive in order, at the
    /// receiver's pace, whichever member of a queue group got the first. The parts are kept
    /// until every one was fetched or for [`PARTS_KEPT`].
    async fn in_parts(
        &self,
        payload: Vec<u8>,
    ) -> Result<(bytes::Bytes, Option<async_nats::HeaderMap>), String> {
        let size = payload.len();
        let part = self.limit().max(1);
        let count = size.div_ceil(part);
        let payload = bytes::Bytes::from(payload);
        let subject = self.client.new_inbox();
        let mut requests = self
            .client
            .subscribe(subject.clone())
            .await
            .map_err(|e| format!("cannot serve the message's parts: {e}"))?;
        let client = self.client.clone();
        let parts = payload.clone();
        tokio::spawn(async move {
            let mut fetched = vec![false; count];
            fetched[0] = true;
            let mut left = count - 1;
            let kept = tokio::time::sleep(PARTS_KEPT);
            tokio::pin!(kept);
            while left > 0 {
                let message = tokio::select! {
                    () = &mut kept => break,
                    m = requests.next() => match m {
                        Some(m) => m,
                        None => break,
                    },
                };
                let Some(reply) = message.reply else { continue };
                let Some(i) = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(PART_HEADER))
                    .and_then(|v| v.as_str().parse::<usize>().ok())
                    .filter(|i| (1..count).contains(i))
                else {
                    continue;
                };
                let bytes = parts.slice(i * part..((i + 1) * part).min(size));
                if client.publish(reply, bytes).await.is_ok() && !fetched[i] {
                    fetched[i] = true;
                    left -= 1;
                }
            }
            let _ = requests.unsubscribe().await;
        });
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(PARTS_HEADER, count.to_string().as_str());
        headers.insert(PARTS_SIZE_HEADER, size.to_string().as_str());
        headers.insert(PARTS_SUBJECT_HEADER, subject.as_str());
        Ok((payload.slice(..part.min(size)), Some(headers)))
    }

    /// Whether `message` is the first part of a message sent in parts.
    fn in_parts_header(message: &async_nats::Message) -> bool {
        message
            .headers
            .as_ref()
            .is_some_and(|h| h.get(PARTS_HEADER).is_some())
    }

    /// The whole payload of a message sent in parts: its first part, then each further part
    /// asked of the sender in turn, each within [`PART_TIMEOUT`]. The announced size is
    /// checked against [`MAX_MESSAGE_BYTES`] before anything is fetched, and every part
    /// against it as it comes; the parts' subject must be an inbox.
    async fn fetch_parts(&self, message: &async_nats::Message) -> Result<bytes::Bytes, String> {
        let header = |name: &str| {
            message
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .ok_or_else(|| format!("a message in parts lacks the header {name}"))
        };
        let count: usize = header(PARTS_HEADER)?
            .parse()
            .map_err(|_| "a message in parts with an unreadable count".to_owned())?;
        let size: usize = header(PARTS_SIZE_HEADER)?
            .parse()
            .map_err(|_| "a message in parts with an unreadable size".to_owned())?;
        let subject = header(PARTS_SUBJECT_HEADER)?;
        if size > MAX_MESSAGE_BYTES {
            return Err(format!(
                "a message in parts announces {size} bytes, above the bound of {MAX_MESSAGE_BYTES}"
            ));
        }
        if count == 0 || count > size.max(1) || message.payload.len() > size {
            return Err(format!(
                "a message in parts announces {count} parts of {size} bytes in all, which its first part contradicts"
            ));
        }
        let inbox = subject.strip_prefix("_INBOX.").unwrap_or_default();
        if inbox.is_empty()
            || subject.len() > 256
            || !inbox
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("a message in parts names a parts subject that is no inbox".to_owned());
        }
        let mut bytes = Vec::with_capacity(size);
        bytes.extend_from_slice(&message.payload);
        for i in 1..count {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(PART_HEADER, i.to_string().as_str());
            let request = async_nats::Request::new()
                .headers(headers)
                .timeout(Some(PART_TIMEOUT));
            let part = self
                .client
                .send_request(subject.clone(), request)
                .await
                .map_err(|e| {
                    format!(
                        "part {} of {count} was lost ({e}); the sender keeps parts for {} s",
                        i + 1,
                        PARTS_KEPT.as_secs()
                    )
                })?;
            if bytes.len() + part.payload.len() > size {
                return Err(format!("the parts exceed the announced {size} bytes"));
            }
            bytes.extend_from_slice(&part.payload);
        }
        if bytes.len() != size {
            return Err(format!(
                "the parts hold {} bytes, not the announced {size}",
                bytes.len()
            ));
        }
        Ok(bytes.into())
    }

    /// The name of the object holding `message`'s payload, when it travelled as one.
    fn object_name(message: &async_nats::Message) -> Option<String> {
        message
            .headers
            .as_ref()
            .and_then(|h| h.get(OBJECT_HEADER))
            .map(|v| v.as_str().to_owned())
    }

    /// Opens the object `name`, refusing one above [`MAX_MESSAGE_BYTES`].
    async fn open(
        &self,
        name: &str,
    ) -> Result<
        (
            &async_nats::jetstream::object_store::ObjectStore,
            async_nats::jetstream::object_store::Object,
        ),
        String,
    > {
        let store = self.store().await?;
        let object = store.get(name).await.map_err(|e| {
            format!("the message's object `{name}` cannot be read (lost or expired?): {e}")
        })?;
        let size = object.info.size;
        if size > MAX_MESSAGE_BYTES {
            return Err(format!(
                "the message's object holds {size} bytes, above the bound of {MAX_MESSAGE_BYTES}"
            ));
        }
        Ok((store, object))
    }

    /// A large request read as a stream from its object ([`LargeRequest::read`]: memory
    /// bounded whatever its size), then deleted.
    async fn received_large(&self, name: &str) -> Result<LargeRequest, String> {
        let (store, object) = self.open(name).await?;
        let bridge = tokio_util::io::SyncIoBridge::new(object);
        let read = tokio::task::spawn_blocking(move || {
            // Never more than the bound, whatever the object's metadata claimed.
            LargeRequest::read(std::io::Read::take(bridge, MAX_MESSAGE_BYTES as u64))
        })
        .await
        .map_err(|e| format!("reading the request failed: {e}"))?;
        let _ = store.delete(name).await;
        read.map_err(|e| format!("the message's object `{name}` is no request: {e}"))
    }

    /// A received message's payload: its body, or the object [`OBJECT_HEADER`] names (read,
    /// then deleted), refused beyond [`MAX_MESSAGE_BYTES`].
    async fn received(&self, message: &async_nats::Message) -> Result<bytes::Bytes, String> {
        if Self::in_parts_header(message) {
            return self.fetch_parts(message).await;
        }
        let Some(name) = Self::object_name(message) else {
            return Ok(message.payload.clone());
        };
        let (store, object) = self.open(&name).await?;
        let mut bytes = Vec::with_capacity(object.info.size);
        let mut bounded = tokio::io::AsyncReadExt::take(object, MAX_MESSAGE_BYTES as u64 + 1);
        tokio::io::AsyncReadExt::read_to_end(&mut bounded, &mut bytes)
            .await
            .map_err(|e| format!("the message's object `{name}` cannot be read: {e}"))?;
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(format!(
                "the message's object exceeds {MAX_MESSAGE_BYTES} bytes"
            ));
        }
        let _ = store.delete(name.as_str()).await;
        Ok(bytes.into())
    }
}

/// The subject of calls on `channel` under `prefix`.
#[must_use]
pub fn subject(prefix: &str, channel: &str) -> String {
    format!("{prefix}rpc-req-{channel}")
}

/// An [`RpcClient`] over a NATS connection.
#[derive(Clone, Debug)]
pub struct NatsRpc {
    client: async_nats::Client,
    name: String,
    prefix: String,
    large: Arc<LargeMessages>,
}

impl NatsRpc {
    /// Calls go out as `name` (the envelope's sender) on subjects under `prefix` (the peer's
    /// prefix, `""` for none).
    #[must_use]
    pub fn new(
        client: async_nats::Client,
        name: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            large: LargeMessages::new(client.clone()),
            client,
            name: name.into(),
            prefix: prefix.into(),
        }
    }
}

#[async_trait]
impl RpcClient for NatsRpc {
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError> {
        let envelope = RequestEnvelope {
            timestamp: unix_now(),
            name: self.name.clone(),
            kind: call.kind.clone(),
            rpc_id: uuid::Uuid::new_v4(),
            resource: call.resource.clone(),
            request: Some(call.request.clone()),
            baggage: None,
            sentry_trace: None,
        };
        let payload = serde_json::to_vec(&envelope).map_err(|e| RpcError::Transport {
            reason: e.to_string(),
        })?;
        let (body, headers) = self.large.wire(payload).await?;
        let mut request = async_nats::Request::new()
            .payload(body)
            .timeout(Some(call.timeout));
        if let Some(h) = headers {
            request = request.headers(h);
        }
        let subject = subject(&self.prefix, &call.channel);
        let sent = self.client.send_request(subject, request);
        let message = tokio::select! {
            m = sent => m,
            () = cancel.cancelled() => {
                return Err(RpcError::Cancelled { channel: call.channel, kind: call.kind });
            }
        };
        let message = message.map_err(|e| match e.kind() {
            async_nats::client::RequestErrorKind::TimedOut => RpcError::Timeout {
                channel: call.channel.clone(),
                kind: call.kind.clone(),
                timeout: call.timeout,
            },
            // Nobody serves the subject: as good as no reply, which openmodule sees as a timeout.
            async_nats::client::RequestErrorKind::NoResponders => RpcError::Timeout {
                channel: call.channel.clone(),
                kind: call.kind.clone(),
                timeout: call.timeout,
            },
            _ => RpcError::Transport {
                reason: e.to_string(),
            },
        })?;
        let body =
            self.large
                .received(&message)
                .await
                .map_err(|reason| RpcError::LargeMessageLost {
                    reason,
                    limit: self.large.limit(),
                })?;
        let reply: ResponseEnvelope =
            serde_json::from_slice(&body).map_err(|e| RpcError::InvalidReply {
                reason: e.to_string(),
            })?;
        if reply.rpc_id != envelope.rpc_id {
            return Err(RpcError::InvalidReply {
                reason: format!("reply to {} for call {}", reply.rpc_id, envelope.rpc_id),
            });
        }
        Reply::decode(reply.response)
    }
}

/// Serves `channels` under `prefix` with `handler` until `cancel` fires: each request's reply
/// (or none, when the handler stays silent) goes to its inbox. With `queue_group`, several
/// processes share the subjects and each request reaches one of them.
///
/// # Errors
/// The subscription error.
pub async fn serve(
    client: async_nats::Client,
    name: impl Into<String>,
    prefix: &str,
    channels: &[&str],
    queue_group: Option<&str>,
    handler: Arc<dyn RequestHandler>,
    cancel: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
    let name = name.into();
    let mut subscriptions = Vec::new();
    for channel in channels {
        let subject = subject(prefix, channel);
        let sub = match queue_group {
            Some(group) => client.queue_subscribe(subject, group.to_owned()).await?,
            None => client.subscribe(subject).await?,
        };
        let channel = (*channel).to_owned();
        subscriptions.push(sub.map(move |m| (channel.clone(), m)));
    }
    let mut incoming = futures::stream::select_all(subscriptions);
    let large = LargeMessages::new(client.clone());
    Ok(tokio::spawn(async move {
        loop {
            let (channel, message) = tokio::select! {
                () = cancel.cancelled() => return,
                next = incoming.next() => match next {
                    Some(m) => m,
                    None => return,
                },
            };
            let client = client.clone();
            let large = large.clone();
            let handler = handler.clone();
            let name = name.clone();
            // One task per request: a slow handler does not hold up the others.
            tokio::spawn(async move {
                let Some(inbox) = message.reply.clone() else {
                    return;
                };
                let object = LargeMessages::object_name(&message);
                let in_parts = LargeMessages::in_parts_header(&message);
                let (envelope, answer) = match object {
                    None if in_parts => {
                        let read = match large.fetch_parts(&message).await {
                            Ok(bytes) => {
                                tokio::task::spawn_blocking(move || LargeRequest::read(&bytes[..]))
                                    .await
                                    .map_err(|e| e.to_string())
                                    .and_then(|r| r)
                            }
                            Err(e) => Err(e),
                        };
                        let request = match read {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::warn!(%channel, error = %e, "a request in parts could not be read; dropped");
                                return;
                            }
                        };
                        let head = (request.envelope.kind.clone(), request.envelope.rpc_id);
                        (head, handler.handle_large(&channel, request).await)
                    }
                    Some(object) => {
                        let request = match large.received_large(&object).await {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::warn!(%channel, error = %e, "a large request could not be read; dropped");
                                return;
                            }
                        };
                        let head = (request.envelope.kind.clone(), request.envelope.rpc_id);
                        (head, handler.handle_large(&channel, request).await)
                    }
                    None => {
                        let mut envelope = match RequestEnvelope::decode(&message.payload) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::debug!(%channel, error = %e, "not an RPC request; dropped");
                                return;
                            }
                        };
                        let reply = handler
                            .handle(IncomingRequest {
                                channel,
                                kind: envelope.kind.clone(),
                                resource: envelope.resource.clone(),
                                request: envelope.request.take().unwrap_or(Value::Null),
                            })
                            .await;
                        ((envelope.kind, envelope.rpc_id), reply.map(Answer::Reply))
                    }
                };
                let Some(answer) = answer else {
                    return;
                };
                let (kind, rpc_id) = envelope;
                let wired = match answer {
                    Answer::Reply(reply) => {
                        let response = ResponseEnvelope {
                            timestamp: unix_now(),
                            name,
                            kind,
                            rpc_id,
                            response: reply.to_json(),
                        };
                        match serde_json::to_vec(&response) {
                            Ok(bytes) => large.wire(bytes).await,
                            Err(e) => {
                                tracing::warn!(error = %e, "reply not encoded");
                                return;
                            }
                        }
                    }
                    Answer::Spooled(response) => {
                        let (head, tail) = response_frame(unix_now(), &name, &kind, rpc_id);
                        large.wire_spooled(head, response, tail).await
                    }
                };
                let sent = match wired {
                    Ok((body, None)) => client.publish(inbox, body).await,
                    Ok((body, Some(headers))) => {
                        client.publish_with_headers(inbox, headers, body).await
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reply not sent");
                        return;
                    }
                };
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "reply not sent");
                }
            });
        }
    }))
}

/// A handler error reply for `exception` (for server programs that answer by hand).
#[must_use]
pub fn handler_error(exception: impl Into<String>) -> Reply {
    Reply::Error {
        status: ErrorStatus::Handler,
        exception: exception.into(),
    }
}

/// Connects to the NATS server at `url` (e.g. `nats://127.0.0.1:4222`), waiting at most
/// `timeout` for the first connection.
///
/// # Errors
/// [`RpcError::Transport`] naming the server.
pub async fn connect(url: &str, timeout: Duration) -> Result<async_nats::Client, RpcError> {
    async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .connect(url)
        .await
        .map_err(|e| RpcError::Transport {
            reason: format!("cannot connect to NATS at {url}: {e}"),
        })
}

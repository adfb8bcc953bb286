//! The seams to a transport: [`RpcClient`] (make a call and wait for its reply) and
//! [`RequestHandler`] (answer a call), with openmodule's reply statuses
//! (`openmodule/rpc/client.py`, `rpc/server.py`; `reference/kv-sync-protocol.md` §1.1).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::large::{LargeRequest, SpooledResponse};

/// One call: `type` on `channel` with a JSON request, answered within `timeout`.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcCall {
    /// The channel (`kv_sync`, `rpc-websocket`).
    pub channel: String,
    /// The RPC type (`sync`, `set`, `server_rpc`).
    pub kind: String,
    /// The request body.
    pub request: Value,
    /// The resource the call is for (`None`: any).
    pub resource: Option<String>,
    /// How long to wait for the reply.
    pub timeout: Duration,
}

impl RpcCall {
    /// A call of `kind` on `channel` with `request`, no resource, waiting `timeout`.
    #[must_use]
    pub fn new(
        channel: impl Into<String>,
        kind: impl Into<String>,
        request: Value,
        timeout: Duration,
    ) -> Self {
        Self {
            channel: channel.into(),
            kind: kind.into(),
            request,
            resource: None,
            timeout,
        }
    }
}

/// Makes calls and waits for their replies, over any transport (NATS in `db_kvstore::nats`, the
/// fakes of db-testkit, a mock with the `mock` feature). Object-safe: stores and handlers hold
/// an `Arc<dyn RpcClient>`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RpcClient: Send + Sync {
    /// Sends `call` and returns the reply's fields (the `response` object without `status`)
    /// when its status is `ok`.
    ///
    /// # Errors
    /// [`RpcError::Timeout`] when no reply came within `call.timeout`, [`RpcError::Cancelled`]
    /// when `cancel` fired first, the error statuses of the reply as their [`RpcError`]
    /// variants, [`RpcError::Transport`] when the call could not be sent.
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError>;
}

/// Why a call has no usable reply (openmodule's `TimeoutError`, `CancelError`,
/// `ServerHandlerError`, `ServerValidationError`, `ServerFilterError`, `RPCServerError`,
/// `ServerUnknownError`).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcError {
    /// No reply within the timeout.
    #[error("no reply to {channel}/{kind} within {timeout:?}")]
    Timeout {
        /// The channel.
        channel: String,
        /// The RPC type.
        kind: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// The call was cancelled (shutdown) before its reply.
    #[error("{channel}/{kind} was cancelled before its reply")]
    Cancelled {
        /// The channel.
        channel: String,
        /// The RPC type.
        kind: String,
    },
    /// The handler failed (`handler_error`).
    #[error("the server's handler failed: {exception}")]
    Handler {
        /// The handler's error text.
        exception: String,
    },
    /// The request did not validate (`validation_error`).
    #[error("the server refused the request as invalid: {exception}")]
    Validation {
        /// The validation errors.
        exception: String,
    },
    /// A filter failed (`filter_error`).
    #[error("a server filter failed: {exception}")]
    Filter {
        /// The filter's error text.
        exception: String,
    },
    /// The cloud server answered `{"status": "error", "error": …}` (e.g. `request_timeout`).
    #[error("the server answered with error `{error}`")]
    Server {
        /// The error, e.g. `request_timeout`.
        error: String,
    },
    /// A status this client does not know.
    #[error("the server answered with unknown status `{status}`")]
    UnknownStatus {
        /// The status.
        status: String,
    },
    /// The reply is not an openmodule reply.
    #[error("the reply cannot be read: {reason}")]
    InvalidReply {
        /// What is wrong with it.
        reason: String,
    },
    /// A message is larger than the transport can carry (over NATS: above
    /// `nats::MAX_MESSAGE_BYTES`, or neither the object store nor parts could take it). Not
    /// retryable: the same message will not fit next time either.
    #[error("a message of {size} bytes cannot be sent: {reason} (limit {limit} bytes)")]
    TooLarge {
        /// The message's size in bytes.
        size: usize,
        /// The limit that it exceeds, in bytes.
        limit: usize,
        /// Why the larger path was not available.
        reason: String,
    },
    /// A large reply's parts or object could not all be read (over NATS: a part not fetched
    /// within its timeout, an object lost or expired); that call fails.
    #[error(
        "a large message could not be read whole: {reason} (messages above {limit} bytes travel in parts)"
    )]
    LargeMessageLost {
        /// What was lost or refused.
        reason: String,
        /// The size above which messages travel in parts, in bytes.
        limit: usize,
    },
    /// The transport failed to send the call or receive its reply.
    #[error("the transport failed: {reason}")]
    Transport {
        /// The transport's error text.
        reason: String,
    },
}

/// The error statuses a handler side answers with (`RPCServerError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorStatus {
    /// The handler failed.
    Handler,
    /// The request did not validate.
    Validation,
    /// A filter failed.
    Filter,
}

impl ErrorStatus {
    /// The wire name: `handler_error`, `validation_error` or `filter_error`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Handler => "handler_error",
            Self::Validation => "validation_error",
            Self::Filter => "filter_error",
        }
    }
}

/// A handler's answer, written as the `response` object of the reply envelope.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `{"status": "ok", …fields}`; `fields` is a JSON object (others are sent as `{}`).
    Ok(Value),
    /// `{"status": <status>, "exception": <text>}`.
    Error {
        /// The status.
        status: ErrorStatus,
        /// The error text.
        exception: String,
    },
    /// The cloud server's `{"status": "error", "error": <error>}` (e.g. `request_timeout`).
    ServerError(String),
}

impl Reply {
    /// The `response` object.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        match self {
            Self::Ok(fields) => {
                map.insert("status".into(), "ok".into());
                if let Value::Object(fields) = fields {
                    map.extend(fields.clone());
                }
            }
            Self::Error { status, exception } => {
                map.insert("status".into(), status.as_str().into());
                map.insert("exception".into(), exception.clone().into());
            }
            Self::ServerError(error) => {
                map.insert("status".into(), "error".into());
                map.insert("error".into(), error.clone().into());
            }
        }
        Value::Object(map)
    }

    /// The reply that passes a call's outcome on: its fields, or the error status the peer
    /// answered with (the inverse of [`Reply::decode`]).
    ///
    /// # Errors
    /// The outcomes that are no answer from the peer (timeout, cancellation, transport
    /// failure, an unreadable reply), for the caller to decide.
    pub fn relay(outcome: Result<Value, RpcError>) -> Result<Reply, RpcError> {
        let error = |status, exception| Reply::Error { status, exception };
        match outcome {
            Ok(fields) => Ok(Reply::Ok(fields)),
            Err(RpcError::Handler { exception }) => Ok(error(ErrorStatus::Handler, exception)),
            Err(RpcError::Validation { exception }) => {
                Ok(error(ErrorStatus::Validation, exception))
            }
            Err(RpcError::Filter { exception }) => Ok(error(ErrorStatus::Filter, exception)),
            Err(RpcError::Server { error }) => Ok(Reply::ServerError(error)),
            Err(other) => Err(other),
        }
    }

    /// Reads a `response` object as a client does: `ok` gives its fields without `status`.
    ///
    /// # Errors
    /// The error statuses as [`RpcError`]s; [`RpcError::InvalidReply`] for a non-object or a
    /// missing status.
    pub fn decode(response: Value) -> Result<Value, RpcError> {
        let Value::Object(mut map) = response else {
            return Err(RpcError::InvalidReply {
                reason: format!("expected an object, got {response}"),
            });
        };
        let status = match map.remove("status") {
            Some(Value::String(s)) => s,
            other => {
                return Err(RpcError::InvalidReply {
                    reason: format!("no string `status` (got {other:?})"),
                });
            }
        };
        let text = |map: &mut Map<String, Value>, field: &str| match map.remove(field) {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        match status.as_str() {
            "ok" => Ok(Value::Object(map)),
            "handler_error" => Err(RpcError::Handler {
                exception: text(&mut map, "exception"),
            }),
            "validation_error" => Err(RpcError::Validation {
                exception: text(&mut map, "exception"),
            }),
            "filter_error" => Err(RpcError::Filter {
                exception: text(&mut map, "exception"),
            }),
            "error" => Err(RpcError::Server {
                error: text(&mut map, "error"),
            }),
            _ => Err(RpcError::UnknownStatus { status }),
        }
    }
}

/// A call as the answering side receives it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingRequest {
    /// The channel.
    pub channel: String,
    /// The RPC type.
    pub kind: String,
    /// The envelope's resource, when given.
    pub resource: Option<String>,
    /// The request body (`Value::Null` when the envelope had none).
    pub request: Value,
}

impl IncomingRequest {
    /// A large request put back together as one value, `kvs` and all (see
    /// [`LargeRequest::into_envelope`]).
    ///
    /// # Errors
    /// A spilled run that cannot be read back.
    pub fn from_large(channel: impl Into<String>, request: LargeRequest) -> std::io::Result<Self> {
        let envelope = request.into_envelope()?;
        Ok(Self {
            channel: channel.into(),
            kind: envelope.kind,
            resource: envelope.resource,
            request: envelope.request.unwrap_or(Value::Null),
        })
    }
}

/// A handler's answer to a [`LargeRequest`]: a [`Reply`], or an `ok` response too large to
/// hold as a value.
#[derive(Debug)]
pub enum Answer {
    /// A reply as [`RequestHandler::handle`] gives it.
    Reply(Reply),
    /// The whole `response` object (status included), spooled.
    Spooled(SpooledResponse),
}

/// Answers calls; a transport's server side routes each incoming call here. `None` means
/// "not for me": no reply is sent at all, as openmodule does for requests filtered out
/// (another service or resource shares the bus, and its owner answers).
#[async_trait]
pub trait RequestHandler: Send + Sync {
    /// The reply to `request`, or `None` to stay silent.
    async fn handle(&self, request: IncomingRequest) -> Option<Reply>;

    /// Answers a request on `channel` that was read as a stream because it is large (over
    /// NATS: one that came through the object store), its `request.kvs` object kept sorted
    /// on disk ([`LargeRequest`]). The default puts the request back together as one value
    /// and calls [`RequestHandler::handle`]; [`KvStores`](crate::KvStores) answers a `sync`
    /// from the stream in bounded memory, with a spooled reply. A handler that wraps another
    /// passes large requests on here too.
    async fn handle_large(&self, channel: &str, request: LargeRequest) -> Option<Answer> {
        match IncomingRequest::from_large(channel, request) {
            Ok(request) => self.handle(request).await.map(Answer::Reply),
            Err(e) => {
                tracing::warn!(%channel, error = %e, "a large request cannot be read back: not answered");
                None
            }
        }
    }
}

/// A [`RequestHandler`] that passes each call on through an [`RpcClient`] and returns its
/// reply: bridges one transport to another, or lets a server program call a device's
/// handler through the device's transport. A call that gets no reply in time (or whose
/// transport fails) gets none here either.
pub struct Forward {
    client: std::sync::Arc<dyn RpcClient>,
    timeout: Duration,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Forward {
    /// Forwards through `client`, waiting `timeout` for each reply.
    #[must_use]
    pub fn new(client: std::sync::Arc<dyn RpcClient>, timeout: Duration) -> Self {
        Self { client, timeout }
    }
}

#[async_trait]
impl RequestHandler for Forward {
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        let call = RpcCall {
            channel: request.channel,
            kind: request.kind,
            request: request.request,
            resource: request.resource,
            timeout: self.timeout,
        };
        match Reply::relay(self.client.call(call, CancellationToken::new()).await) {
            Ok(reply) => Some(reply),
            Err(e) => {
                tracing::debug!(error = %e, "forwarded call got no reply");
                None
            }
        }
    }
}

/// What a call that gets no reply ends with: [`RpcError::Timeout`] after its timeout, or
/// [`RpcError::Cancelled`] when `cancel` fires first (for transports and fakes).
pub async fn unanswered(call: &RpcCall, cancel: &CancellationToken) -> RpcError {
    tokio::select! {
        () = tokio::time::sleep(call.timeout) => RpcError::Timeout {
            channel: call.channel.clone(),
            kind: call.kind.clone(),
            timeout: call.timeout,
        },
        () = cancel.cancelled() => RpcError::Cancelled {
            channel: call.channel.clone(),
            kind: call.kind.clone(),
        },
    }
}

/// An [`RpcClient`] that calls a [`RequestHandler`] in the same process: a handler that stays
/// silent times the call out, as a transport would. For servers and tests that hold the
/// device's handler directly.
#[derive(Clone)]
pub struct Local(pub std::sync::Arc<dyn RequestHandler>);

impl std::fmt::Debug for Local {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Local")
    }
}

#[async_trait]
impl RpcClient for Local {
    async fn call(&self, call: RpcCall, cancel: CancellationToken) -> Result<Value, RpcError> {
        let reply = self
            .0
            .handle(IncomingRequest {
                channel: call.channel.clone(),
                kind: call.kind.clone(),
                resource: call.resource.clone(),
                request: call.request.clone(),
            })
            .await;
        match reply {
            Some(r) => Reply::decode(r.to_json()),
            None => Err(unanswered(&call, &cancel).await),
        }
    }
}

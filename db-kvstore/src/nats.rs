//! The NATS transport: openmodule's RPC envelopes ([`RequestEnvelope`], [`ResponseEnvelope`])
//! over NATS request/reply. A call of `type` on `channel` is published on the subject
//! `<prefix>rpc-req-<channel>` (openmodule's topic `rpc-req-<channel>`, behind a prefix that
//! picks the peer, e.g. `device.<resource>.`) with a reply inbox; the answering side replies
//! to that inbox. Servers may serve one subject from several processes through a NATS queue
//! group, so the server side scales past one machine without code of ours.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::rpc::{
    ErrorStatus, IncomingRequest, Reply, RequestHandler, RpcCall, RpcClient, RpcError,
};
use crate::wire::{RequestEnvelope, ResponseEnvelope, unix_now};

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
        let request = async_nats::Request::new()
            .payload(payload.into())
            .timeout(Some(call.timeout));
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
        let reply: ResponseEnvelope =
            serde_json::from_slice(&message.payload).map_err(|e| RpcError::InvalidReply {
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
            let handler = handler.clone();
            let name = name.clone();
            // One task per request: a slow handler does not hold up the others.
            tokio::spawn(async move {
                let Some(inbox) = message.reply.clone() else {
                    return;
                };
                let envelope = match RequestEnvelope::decode(&message.payload) {
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
                        request: envelope.request.clone().unwrap_or(Value::Null),
                    })
                    .await;
                let Some(reply) = reply else {
                    return;
                };
                let response = ResponseEnvelope {
                    timestamp: unix_now(),
                    name,
                    kind: envelope.kind,
                    rpc_id: envelope.rpc_id,
                    response: reply.to_json(),
                };
                match serde_json::to_vec(&response) {
                    Ok(bytes) => {
                        if let Err(e) = client.publish(inbox, bytes.into()).await {
                            tracing::warn!(error = %e, "reply not sent");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reply not encoded"),
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

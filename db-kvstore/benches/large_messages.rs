//! The two ways a message above NATS's `max_payload` travels, side by side in one run, rounds
//! interleaved: JetStream's object store (the NATS server on 127.0.0.1:4222, with JetStream)
//! and parts fetched from the sender (a NATS server without JetStream that this program
//! starts). Each round trip sends a request of N bytes to an echo handler, whose reply is as
//! large again.
//!
//! Run with: `cargo bench -p db-kvstore --features nats --bench large_messages`
//! (`KV_MESSAGE_MB=5,25`, `KV_MESSAGE_RUNS=5`).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use db_kvstore::nats::{NatsRpc, connect, serve};
use db_kvstore::{CancellationToken, IncomingRequest, Reply, RequestHandler, RpcCall, RpcClient};
use serde_json::{Value, json};

/// Answers with the request.
struct Echo;

#[async_trait]
impl RequestHandler for Echo {
    async fn handle(&self, request: IncomingRequest) -> Option<Reply> {
        Some(Reply::Ok(json!({"echo": request.request})))
    }
}

struct Path {
    name: &'static str,
    client: async_nats::Client,
    caller: NatsRpc,
}

async fn path(name: &'static str, url: &str) -> Path {
    let client = connect(url, Duration::from_secs(5)).await.expect("NATS");
    let prefix = format!("bench{}.", uuid::Uuid::new_v4().simple());
    serve(
        client.clone(),
        "echo",
        &prefix,
        &["echo"],
        None,
        Arc::new(Echo),
        CancellationToken::new(),
    )
    .await
    .expect("serve");
    client.flush().await.expect("flush");
    Path {
        name,
        caller: NatsRpc::new(client.clone(), "bench", prefix),
        client,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("KV_MESSAGE_MB")
        .unwrap_or_else(|_| "5,25".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("KV_MESSAGE_MB: numbers"))
        .collect();
    let runs: usize = std::env::var("KV_MESSAGE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let mut plain = std::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server (without JetStream)");
    std::thread::sleep(Duration::from_millis(500));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let paths = [
            path("object store (JetStream)", "nats://127.0.0.1:4222").await,
            path("parts (no JetStream)", &format!("nats://127.0.0.1:{port}")).await,
        ];
        println!(
            "max_payload {} bytes; {runs} rounds, the two paths alternating",
            paths[0].client.server_info().max_payload
        );
        println!(
            "{:>8} | {:>26} | {:>26} | {:>6}",
            "MB each way", paths[0].name, paths[1].name, "ratio"
        );
        for mb in sizes {
            let text = "x".repeat(mb << 20);
            let mut times = [Vec::new(), Vec::new()];
            for round in 0..runs {
                // Alternate which goes first, too.
                for k in 0..2 {
                    let i = (round + k) % 2;
                    let start = Instant::now();
                    let reply = paths[i]
                        .caller
                        .call(
                            RpcCall::new(
                                "echo",
                                "echo",
                                Value::String(text.clone()),
                                Duration::from_secs(120),
                            ),
                            CancellationToken::new(),
                        )
                        .await
                        .expect("round trip");
                    times[i].push(start.elapsed().as_secs_f64());
                    assert_eq!(reply["echo"].as_str().map(str::len), Some(text.len()));
                }
            }
            let fmt = |t: &mut Vec<f64>| {
                t.sort_by(f64::total_cmp);
                (
                    t[t.len() / 2],
                    format!(
                        "{:.3} s ({:.3}–{:.3})",
                        t[t.len() / 2],
                        t[0],
                        t[t.len() - 1]
                    ),
                )
            };
            let (a, a_text) = fmt(&mut times[0]);
            let (b, b_text) = fmt(&mut times[1]);
            println!("{mb:>8} | {a_text:>26} | {b_text:>26} | {:>5.2}×", b / a);
        }
    });
    let _ = plain.kill();
    let _ = plain.wait();
}

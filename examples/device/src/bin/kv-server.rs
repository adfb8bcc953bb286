//! The allow-list server: owns the entries and syncs every device that asks, over NATS.
//! Start several: they share the requests through a NATS queue group.
//!
//! Run with: `cargo run -p example-device --bin kv-server -- examples/device/allow-list.json`

use std::process::ExitCode;

use clap::Parser;

/// The server's options.
#[derive(Debug, Parser)]
struct Args {
    /// A JSON object of key → `{"plate": "…", "holder": "…"}`.
    entries: std::path::PathBuf,
    /// NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let args = Args::parse();
    let result = async {
        let text = std::fs::read_to_string(&args.entries)?;
        let entries = serde_json::from_str(&text)?;
        let (nats, _) = example_device::connect(&args.nats).await?;
        let server = example_device::Server::new(nats, "", entries);
        let stop = db_kvstore::CancellationToken::new();
        server.serve(stop.clone()).await?;
        tracing::info!("serving; Ctrl-C stops");
        tokio::signal::ctrl_c().await?;
        stop.cancel();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

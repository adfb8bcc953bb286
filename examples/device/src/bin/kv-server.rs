//! The allow-list server: keeps the entries in a database (SQLite by default, or PostgreSQL /
//! any db-core URL shared by several servers), syncs every device that asks over NATS and
//! pushes changes to the devices. Start several: they share the requests through a NATS
//! queue group and the e_tags through the database.
//!
//! Run with: `cargo run -p example-device --bin kv-server -- examples/device/allow-list.json`
//! (the file is imported at start: changed entries get new e_tags and reach the devices).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: with many concurrent syncs, glibc's per-thread
/// arenas grew and trimmed their heaps over and over (page faults, `malloc_consolidate`); the
/// fleet benchmark converged in half the time with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The server's options.
#[derive(Debug, Parser)]
struct Args {
    /// A JSON object of key → `{"plate": "…", "holder": "…"}` to import at start (the
    /// service then holds exactly these entries).
    entries: Option<std::path::PathBuf>,
    /// The server's database (default: `examples/device/data/kv-server.sqlite3`).
    #[arg(long)]
    url: Option<String>,
    /// NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The subject root devices and servers share (e.g. `site-1.`).
    #[arg(long, default_value = "")]
    root: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let args = Args::parse();
    let result = async {
        let url = args.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}/data/kv-server.sqlite3",
                env!("CARGO_MANIFEST_DIR")
            )
        });
        let db = db_core::Database::connect(&url).await?;
        let store = db_kvstore::server::ServerStore::open(&db).await?;
        let (nats, _) = example_device::connect(&args.nats).await?;
        let server = example_device::Server::new(nats, &args.root, store);
        let stop = db_kvstore::CancellationToken::new();
        server.serve(stop.clone()).await?;
        if let Some(path) = &args.entries {
            let text = std::fs::read_to_string(path)?;
            let entries = serde_json::from_str(&text)?;
            let summary = server.import(&entries).await?;
            tracing::info!(
                changed = summary.changed.len(),
                removed = summary.removed.len(),
                unchanged = summary.unchanged,
                "imported"
            );
        }
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

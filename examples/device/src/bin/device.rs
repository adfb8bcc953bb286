//! The access-control device: keeps its allow-list synced over NATS and answers
//! `access`/`check` calls.
//!
//! Run with: `cargo run -p example-device --bin device -- --resource gate-1`
//! (start `kv-server` too; without `--url` the database is `examples/device/data/<resource>.sqlite3`).

#![expect(clippy::print_stdout, reason = "a demo program prints its results")]

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the system allocator: with many concurrent syncs, glibc's per-thread
/// arenas grew and trimmed their heaps over and over (page faults, `malloc_consolidate`); the
/// fleet benchmark converged in half the time with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The device's options.
#[derive(Debug, Parser)]
struct Args {
    /// NATS server.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// This device's resource id.
    #[arg(long, default_value = "gate-1")]
    resource: String,
    /// SQLite URL (default: `examples/device/data/<resource>.sqlite3`).
    #[arg(long)]
    url: Option<String>,
    /// Plates to check once synced, then exit (without: run until Ctrl-C).
    #[arg(long)]
    check: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let url = args.url.unwrap_or_else(|| {
        format!(
            "sqlite://{}/data/{}.sqlite3",
            env!("CARGO_MANIFEST_DIR"),
            args.resource
        )
    });
    let result = async {
        let (nats, status) = example_device::connect(&args.nats).await?;
        let config = example_device::DeviceConfig {
            url,
            resource: args.resource,
            subject_root: String::new(),
            sync: db_kvstore::SyncOptions::default(),
        };
        let device = example_device::start_device(nats, config, status).await?;
        let mut events = device.sync_events();
        if args.check.is_empty() {
            tokio::signal::ctrl_c().await?;
        } else {
            let event = events.recv().await?;
            println!("sync: {:?}", event.outcome);
            for plate in &args.check {
                println!(
                    "{plate}: {}",
                    if device.may_enter(plate).await? {
                        "may enter"
                    } else {
                        "refused"
                    }
                );
            }
        }
        device.shutdown().await;
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

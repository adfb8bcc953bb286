//! `db-migrate`: the toolkit's own command, for what comes before a service has its migrator
//! binary. `db-migrate init PATH` writes a migrations crate (see `db_migrate::init`).
//!
//! Run with `cargo run -p db-migrate --bin db-migrate -- init ../my-service/migrations`, or
//! install it with `cargo install --path db-migrate`.

#![expect(clippy::print_stdout, reason = "a command line prints its result")]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use db_migrate::init::{Backend, InitOptions, init};

#[derive(Debug, Parser)]
#[command(about = "The db toolkit's command: start a service's migrations")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a migrations crate at PATH (refused when PATH exists and is not empty).
    Init {
        /// The folder to create.
        path: PathBuf,
        /// sqlite (default), postgres or mysql.
        #[arg(long, default_value = "sqlite")]
        backend: Backend,
        /// The service's name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// The folder holding the toolkit's crates (default: the sources this was built from).
        #[arg(long)]
        toolkit: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Init {
            path,
            backend,
            name,
            toolkit,
        } => {
            let options = InitOptions {
                backend,
                name,
                toolkit,
            };
            match init(&path, &options) {
                Ok(files) => {
                    for f in &files {
                        println!("  Generating {} ...  done", f.display());
                    }
                    println!(
                        "Next: add an entity to src/entities.rs, register it in src/migrations.rs, then\n  cd {} && cargo run -q --bin <name>-migrate -- revision --autogenerate -m \"create …\"",
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", db_migrate::cli::error_chain(&e));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

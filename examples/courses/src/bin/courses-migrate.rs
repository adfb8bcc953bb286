//! The course platform's migrator: Alembic's commands over the course revisions.
//!
//! Run with: `cargo run -p example-courses --bin courses-migrate -- upgrade head`
//! (without `--url` it uses the embedded SQLite file `examples/courses/data/courses.sqlite3`).

use std::process::ExitCode;

fn main() -> ExitCode {
    db_migrate::cli::main(db_migrate::cli::App {
        name: "courses-migrate",
        migrator: example_courses::migrations::migrator,
        default_url: Some(example_courses::default_url()),
        default_config: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/courses.toml").into()),
        migrations_dir: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations").into()),
    })
}

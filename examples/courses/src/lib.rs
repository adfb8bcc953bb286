//! The course platform of the reference documents (users, organizations, course families,
//! courses, course roles and members) as a db-migrate application: its entities, its
//! revisions (a chain with a data migration, a three-step NOT NULL, a rename, and a branch
//! that merges again), and the migrator binary `courses-migrate`.
//!
//! Run with: `cargo run -p example-courses --bin courses-migrate -- upgrade head`
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let db = db_core::Database::connect("sqlite::memory:").await?;
//! let migrator = example_courses::migrations::migrator()?;
//! migrator.upgrade(&db, "head").await?;
//! assert_eq!(migrator.current(&db).await?, ["3e5f7a9b1c2d"]);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

pub mod entities;
pub mod migrations;
pub mod seeders;

use std::path::PathBuf;

/// The embedded default database: `examples/courses/data/courses.sqlite3`.
#[must_use]
pub fn default_database_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/courses.sqlite3"))
}

/// The URL of [`default_database_path`].
#[must_use]
pub fn default_url() -> String {
    format!("sqlite://{}", default_database_path().display())
}

//! Migrations written by autogenerate (see `autogen.rs`): committed, compiled and applied.

use db_migrate::Script;

mod ra60000000001_create_authors_and_posts;
mod ra60000000002_change_columns;
mod ra60000000003_change_indexes;
mod ra60000000004_change_foreign_keys;
mod ra60000000005_rename_author_name;
mod ra60000000007_create_studies;
mod ra60000000008_create_events;

/// The generated revisions, oldest first.
pub(crate) fn scripts() -> Vec<Script> {
    vec![
        ra60000000001_create_authors_and_posts::script(),
        ra60000000002_change_columns::script(),
        ra60000000003_change_indexes::script(),
        ra60000000004_change_foreign_keys::script(),
        ra60000000005_rename_author_name::script(),
        ra60000000007_create_studies::script(),
        ra60000000008_create_events::script(),
    ]
}

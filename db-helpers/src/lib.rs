//! Query helpers on sea-orm that the Python services' `db_helper` modules gave them: update
//! and delete by query with row counts, batched iteration in constant memory, numbered and
//! keyset pagination, `count` and `exists`, bulk writes, soft delete and audit columns.
//!
//! Every helper takes any sea-orm connection or transaction (`&impl ConnectionTrait`) and a
//! sea-orm `Select`, so they compose with the queries a service already builds.
//! [`update_by_query`] / [`delete_by_query`] (openmodule's `update_query` / `delete_query`)
//! choose rows through the query by primary key; [`batches`] / [`rows`] (openmodule's
//! `yield_per`) walk a query by keyset; [`page`] gives numbered pages with the total and
//! [`keyset_page`] cursor pages; [`insert_chunked`] and [`upsert`] write many rows in chunks
//! under the backend's bind-parameter limit, in one transaction; [`SoftDelete`] entities are
//! archived and restored instead of deleted; [`Audited`] entities fill `created_*` / `updated_*`
//! with the user of the [`acting_as`] scope.
//!
//! ```
//! # use sea_orm::entity::prelude::*;
//! # mod item { use sea_orm::entity::prelude::*;
//! # #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
//! # #[sea_orm(table_name = "item")]
//! # pub struct Model { #[sea_orm(primary_key)] pub id: i64, pub grp: i32 }
//! # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
//! # impl ActiveModelBehavior for ActiveModel {} }
//! # async fn demo() -> Result<(), sea_orm::DbErr> {
//! use sea_orm::{ConnectionTrait, Database};
//! let db = Database::connect("sqlite::memory:").await?;
//! db.execute_unprepared("CREATE TABLE item (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL)").await?;
//! db.execute_unprepared("INSERT INTO item VALUES (1, 1), (2, 1), (3, 2)").await?;
//! let gone = db_helpers::delete_by_query(&db, item::Entity::find().filter(item::Column::Grp.eq(1))).await?;
//! assert_eq!(gone, 2);
//! assert!(db_helpers::exists(&db, item::Entity::find()).await?);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! No features: the helpers are backend-neutral; enable the backends on sea-orm or db-core.

mod audit;
mod batch;
mod bulk;
mod page;
mod query;
mod soft_delete;

pub use crate::audit::{AuditColumns, Audited, acting_as, actor};
pub use crate::batch::{batches, rows};
pub use crate::bulk::{insert_chunked, upsert};
pub use crate::page::{Cursor, InvalidCursor, KeysetPage, Page, keyset_page, page};
pub use crate::query::{count, delete_by_query, distinct, exists, update_by_query};
pub use crate::soft_delete::{SoftDelete, archive, restore};

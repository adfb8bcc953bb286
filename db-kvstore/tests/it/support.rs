//! Entities, tables and helpers shared by the tests.

use std::sync::Arc;

use db_kvstore::{IncomingRequest, KvStore, KvStores, Parsed, Reply, RequestHandler};
use sea_orm::sea_query::{ColumnDef, ForeignKey, ForeignKeyAction, Table};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder};
use serde_json::{Value, json};

/// The allow-list entry: a plate and its owner, e_tag and key as the protocol needs.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod plate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_plate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub e_tag: i64,
        pub plate: String,
        pub owner: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Child rows of a plate entry (`ON DELETE CASCADE` to `kv_plate.key`).
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod plate_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_plate_tag")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub plate_key: String,
        pub tag: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A second store's entries.
#[expect(
    unreachable_pub,
    reason = "entity modules are written as users write them, with pub items"
)]
pub(crate) mod gate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "kv_gate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub e_tag: i64,
        pub open: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) const NAME: &str = "om_access_service_1";
pub(crate) const GATES: &str = "om_access_service_1_gates";

/// Creates the three tables.
pub(crate) async fn create_tables(db: &impl ConnectionTrait) {
    let backend = db.get_database_backend();
    let key = || {
        ColumnDef::new("key")
            .string_len(64)
            .not_null()
            .primary_key()
            .to_owned()
    };
    let e_tag = || ColumnDef::new("e_tag").big_integer().not_null().to_owned();
    for stmt in [
        Table::create()
            .table("kv_plate")
            .col(key())
            .col(e_tag())
            .col(ColumnDef::new("plate").string_len(32).not_null())
            .col(ColumnDef::new("owner").string_len(64).null())
            .to_owned(),
        Table::create()
            .table("kv_plate_tag")
            .col(
                ColumnDef::new("id")
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(ColumnDef::new("plate_key").string_len(64).not_null())
            .col(ColumnDef::new("tag").string_len(32).not_null())
            .foreign_key(
                ForeignKey::create()
                    .from("kv_plate_tag", "plate_key")
                    .to("kv_plate", "key")
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned(),
        Table::create()
            .table("kv_gate")
            .col(key())
            .col(e_tag())
            .col(ColumnDef::new("open").boolean().not_null())
            .to_owned(),
    ] {
        db.execute_raw(backend.build(&stmt))
            .await
            .expect("create table");
    }
}

/// The plate store: a value is `{"plate": "…", "owner": "…"?, "tags": ["…"]?}`.
pub(crate) fn plate_store() -> KvStore<plate::Entity> {
    KvStore::<plate::Entity>::new(|key, value| {
        let plate = value
            .get("plate")
            .and_then(Value::as_str)
            .ok_or("a plate entry needs a string `plate`")?
            .to_owned();
        let owner = value
            .get("owner")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut parsed = Parsed::new(plate::ActiveModel {
            plate: Set(plate),
            owner: Set(owner),
            ..Default::default()
        });
        for tag in value
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let tag = tag.as_str().ok_or("tags are strings")?.to_owned();
            parsed = parsed.child(db_kvstore::Child::new(plate_tag::ActiveModel {
                plate_key: Set(key.to_owned()),
                tag: Set(tag),
                ..Default::default()
            }));
        }
        Ok(parsed)
    })
    .comparison_value(|m: &plate::Model| json!(m.plate))
}

/// The gate store (`NAME_gates`): a value is a boolean.
pub(crate) fn gate_store() -> KvStore<gate::Entity> {
    KvStore::<gate::Entity>::new(|_, value| {
        let open = value.as_bool().ok_or("a gate value is a boolean")?;
        Ok(Parsed::new(gate::ActiveModel {
            open: Set(open),
            ..Default::default()
        }))
    })
    .suffix("gates")
}

/// The device: both stores on `db`.
pub(crate) fn device(db: &db_core::Database) -> Arc<KvStores> {
    let mut stores = KvStores::new(db, NAME, "res-1");
    stores.add(plate_store()).expect("plate store");
    stores.add(gate_store()).expect("gate store");
    Arc::new(stores)
}

/// Sends one `kv_sync` call to the device as the server would.
pub(crate) async fn call(device: &KvStores, kind: &str, request: Value) -> Option<Value> {
    device
        .handle(IncomingRequest {
            channel: "kv_sync".into(),
            kind: kind.into(),
            resource: None,
            request,
        })
        .await
        .map(|r: Reply| r.to_json())
}

/// The plate table as (key, e_tag, plate), ordered by key.
pub(crate) async fn plates(db: &impl ConnectionTrait) -> Vec<(String, i64, String)> {
    plate::Entity::find()
        .order_by_asc(plate::Column::Key)
        .all(db)
        .await
        .expect("read plates")
        .into_iter()
        .map(|m| (m.key, m.e_tag, m.plate))
        .collect()
}

/// The tag table as (plate_key, tag), ordered.
pub(crate) async fn tags(db: &impl ConnectionTrait) -> Vec<(String, String)> {
    plate_tag::Entity::find()
        .order_by_asc(plate_tag::Column::PlateKey)
        .order_by_asc(plate_tag::Column::Tag)
        .all(db)
        .await
        .expect("read tags")
        .into_iter()
        .map(|m| (m.plate_key, m.tag))
        .collect()
}

/// A set item.
pub(crate) fn item(key: &str, value: Value, e_tag: Option<i64>, previous: Option<i64>) -> Value {
    let mut item = json!({"key": key, "value": value.to_string()});
    if let Some(t) = e_tag {
        item["e_tag"] = json!(t);
    }
    if let Some(p) = previous {
        item["previous_e_tag"] = json!(p);
    }
    item
}

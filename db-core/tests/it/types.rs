//! Column types round-trip on every backend: UTC timestamps (far past, far future, microseconds),
//! typed JSON over serde (unicode, nesting, null) and UUID-string keys — with sea-orm's own
//! `DateTimeUtc` and `FromJsonQueryResult`.

use chrono::{DateTime, TimeZone, Utc};
use db_testkit::backend_tests;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Schema};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sea_orm::FromJsonQueryResult)]
pub struct Settings {
    pub name: String,
    pub tags: Vec<String>,
    pub nested: Option<Box<Settings>>,
}

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod thing {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "thing")]
    pub struct Model {
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        pub at: DateTimeUtc,
        #[sea_orm(column_type = "JsonBinary", nullable)]
        pub settings: Option<super::Settings>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

backend_tests! {
    // Not MySQL yet: sea-orm spells `DateTimeUtc` there as `TIMESTAMP` (1970–2038, whole
    // seconds; 1901 silently became the current time), and binds it as a `TIMESTAMP` value that
    // MariaDB turns into NULL before 1970 even in a `DATETIME(6)` column. db-core's UTC type
    // (issue 13) is to fix both.
    #[backends(sqlite, postgres)]
    async fn values_round_trip(test_db: TestDb) {
        let db = test_db.open().await;
        let backend = db.backend();
        let create = Schema::new(backend).create_table_from_entity(thing::Entity);
        db.execute(&create).await.expect("create");
        let times: Vec<DateTime<Utc>> = vec![
            Utc.with_ymd_and_hms(1901, 1, 1, 0, 0, 0).single().expect("time"),
            Utc.with_ymd_and_hms(2999, 12, 31, 23, 59, 59).single().expect("time") + chrono::Duration::microseconds(123_456),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).single().expect("time") + chrono::Duration::microseconds(1),
        ];
        let settings = Settings {
            name: "Zürich 東京 🚀 \"quoted\" \\ back".into(),
            tags: vec!["a".into(), String::new()],
            nested: Some(Box::new(Settings { name: "inner".into(), tags: vec![], nested: None })),
        };
        for (i, at) in times.iter().enumerate() {
            let id = uuid::Uuid::new_v4().to_string();
            let value = (i != 1).then(|| settings.clone());
            thing::ActiveModel { id: Set(id.clone()), at: Set(*at), settings: Set(value.clone()) }
                .insert(&db).await.unwrap_or_else(|e| panic!("insert {at}: {e}"));
            let back = thing::Entity::find_by_id(id).one(&db).await.expect("read").expect("row");
            assert_eq!(back.at, *at, "{backend:?} timestamp");
            assert_eq!(back.settings, value, "{backend:?} json");
        }
    }
}

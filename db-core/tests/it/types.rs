//! Column types round-trip on every backend: db-core's `UtcDateTime` (year 1000 to 9999,
//! microseconds), `Json<T>` (unicode, nesting, JSON null and SQL NULL) and generated UUID-string
//! keys; and, for comparison, sea-orm's own `DateTimeUtc` and `FromJsonQueryResult` on the
//! backends where they round-trip.

use chrono::{DateTime, TimeZone, Utc};
use db_testkit::backend_tests;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Schema};
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
    // MariaDB turns into NULL before 1970 even in a `DATETIME(6)` column. db-core's
    // `UtcDateTime` fixes both (`utc_values_round_trip` below).
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

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod event {
    use db_core::types::{Json, UtcDateTime};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "event")]
    pub struct Model {
        #[sea_orm(
            primary_key,
            auto_increment = false,
            column_type = "String(StringLen::N(36))"
        )]
        pub id: String,
        pub at: UtcDateTime,
        pub until: Option<UtcDateTime>,
        pub settings: Json<super::Settings>,
        pub maybe: Json<Option<Vec<i64>>>,
        pub extra: Option<Json<serde_json::Value>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        async fn before_save<C: ConnectionTrait>(
            mut self,
            _: &C,
            insert: bool,
        ) -> Result<Self, DbErr> {
            if insert {
                db_core::types::fill_uuid_key(&mut self, Column::Id);
            }
            Ok(self)
        }
    }
}

/// `event` as a migration creates it: the UTC column through the dialect.
fn create_event(dialect: db_core::Dialect) -> sea_orm::sea_query::TableCreateStatement {
    use sea_orm::sea_query::{ColumnDef, ColumnType, StringLen, Table};
    Table::create()
        .table("event")
        .col(
            ColumnDef::new_with_type("id", ColumnType::String(StringLen::N(36)))
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new_with_type("at", dialect.utc_timestamp_type()).not_null())
        .col(ColumnDef::new_with_type("until", dialect.utc_timestamp_type()).null())
        .col(ColumnDef::new_with_type("settings", ColumnType::Json).not_null())
        .col(ColumnDef::new_with_type("maybe", ColumnType::Json).not_null())
        .col(ColumnDef::new_with_type("extra", ColumnType::Json).null())
        .to_owned()
}

backend_tests! {
    async fn utc_values_round_trip(test_db: TestDb) {
        use db_core::types::{Json, UtcDateTime};

        let db = test_db.open().await;
        let backend = db.backend();
        db.execute(&create_event(db.dialect())).await.expect("create");
        let utc = |y, mo, d, h, mi, s, micros| {
            UtcDateTime::new(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("time") + chrono::Duration::microseconds(micros)).expect("in range")
        };
        let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
        let times = [
            UtcDateTime::MIN,
            UtcDateTime::MAX,
            utc(1901, 1, 1, 0, 0, 0, 0),
            utc(1969, 12, 31, 23, 59, 59, 999_999),
            utc(2038, 1, 19, 3, 14, 8, 1),
            utc(2999, 12, 31, 23, 59, 59, 123_456),
            UtcDateTime::new(tokyo.with_ymd_and_hms(2024, 2, 29, 8, 0, 0).single().expect("time")).expect("converted"),
        ];
        let settings = Settings {
            name: "Zürich 東京 🚀 \"quoted\" \\ back\n'; DROP TABLE event; --".into(),
            tags: vec!["a".into(), String::new()],
            nested: Some(Box::new(Settings { name: "inner".into(), tags: vec![], nested: None })),
        };
        for (i, at) in times.iter().enumerate() {
            let maybe = if i % 2 == 0 { None } else { Some(vec![i64::MIN, 0, i64::MAX]) };
            let extra = (i % 3 != 0).then(|| Json::new(serde_json::json!({"k": [1.5, null, true, "ü"]})).expect("json"));
            let saved = event::ActiveModel {
                at: Set(*at),
                until: Set((i % 2 == 0).then_some(*at)),
                settings: Set(Json::new(settings.clone()).expect("json")),
                maybe: Set(Json::new(maybe.clone()).expect("json")),
                extra: Set(extra.clone()),
                ..Default::default()
            }
            .insert(&db).await.unwrap_or_else(|e| panic!("{backend:?} insert {at}: {e}"));
            assert!(uuid::Uuid::parse_str(&saved.id).is_ok_and(|u| u.get_version_num() == 4), "{}", saved.id);
            let back = event::Entity::find_by_id(saved.id.clone()).one(&db).await.expect("read").expect("row");
            assert_eq!(back.at, *at, "{backend:?} timestamp {at}");
            assert_eq!(back.until, (i % 2 == 0).then_some(*at), "{backend:?} nullable timestamp");
            assert_eq!(back.settings.get(), &settings, "{backend:?} json");
            assert_eq!(back.maybe.get(), &maybe, "{backend:?} json null");
            assert_eq!(back.extra, extra, "{backend:?} sql null");
        }
        // Stored as the UTC wall clock: the far past sorts before the far future, in SQL.
        let first = event::Entity::find()
            .order_by_asc(event::Column::At)
            .one(&db).await.expect("read").expect("row");
        assert_eq!(first.at, UtcDateTime::MIN);
        // A key the caller sets is kept.
        let mine = event::ActiveModel {
            id: Set("my-own-key".into()),
            at: Set(UtcDateTime::MIN),
            settings: Set(Json::new(settings.clone()).expect("json")),
            maybe: Set(Json::new(None).expect("json")),
            ..Default::default()
        }
        .insert(&db).await.expect("insert");
        assert_eq!(mine.id, "my-own-key");
        // JSON that does not fit the type is a clear error, not a panic.
        db.execute_unprepared("UPDATE event SET settings = '{\"name\": 5}' WHERE id = 'my-own-key'").await.expect("update");
        let err = event::Entity::find_by_id("my-own-key".to_owned()).one(&db).await.expect_err("does not fit");
        assert!(err.to_string().contains("the JSON does not fit"), "{err}");
    }
}

//! db-helpers on SQLite, PostgreSQL and MariaDB: the rows and counts a user would check.

use std::num::NonZeroU64;

use db_helpers::{
    Cursor, batches, count, delete_by_query, distinct, exists, insert_chunked, keyset_page, page,
    rows, update_by_query, upsert,
};
use db_testkit::{backend_tests, strings};
use futures::TryStreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait, TransactionTrait,
};

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "item")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub grp: i32,
        pub name: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::tag::Entity")]
        Tag,
    }

    impl Related<super::tag::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Tag.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tag")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub item_id: i64,
        pub label: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::item::Entity",
            from = "Column::ItemId",
            to = "super::item::Column::Id"
        )]
        Item,
    }

    impl Related<super::item::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Item.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// A table with a 32-bit key (cursors bind the key's own type).
#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod small {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "small")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Notes that are archived instead of deleted, with audit columns.
#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod note {
    use db_helpers::{AuditColumns, Audited, SoftDelete};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "note")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub body: String,
        pub created_at: Option<DateTime>,
        pub created_by: Option<String>,
        pub updated_at: Option<DateTime>,
        pub updated_by: Option<String>,
        pub archived_at: Option<DateTime>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl SoftDelete for Entity {
        fn archived_at() -> Column {
            Column::ArchivedAt
        }
    }

    impl Audited for Entity {
        const COLUMNS: AuditColumns<Column> = AuditColumns {
            created_at: Some(Column::CreatedAt),
            updated_at: Some(Column::UpdatedAt),
            created_by: Some(Column::CreatedBy),
            updated_by: Some(Column::UpdatedBy),
        };
    }

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        async fn before_save<C: ConnectionTrait>(
            mut self,
            _: &C,
            insert: bool,
        ) -> Result<Self, DbErr> {
            Entity::stamp(&mut self, insert);
            Ok(self)
        }
    }
}

/// The `note` table; timestamps are `DATETIME` on MySQL (sea-orm's `DateTime` there).
async fn create_notes(db: &impl ConnectionTrait, backend: db_testkit::Backend) {
    let ts = if backend == db_testkit::Backend::MySql {
        "DATETIME"
    } else {
        "TIMESTAMP"
    };
    db.execute_unprepared(&format!(
        "CREATE TABLE note (id BIGINT NOT NULL PRIMARY KEY, body VARCHAR(40) NOT NULL, created_at {ts} NULL, \
         created_by VARCHAR(40), updated_at {ts} NULL, updated_by VARCHAR(40), archived_at {ts} NULL)"
    ))
    .await
    .expect("note");
}

fn n(v: u64) -> NonZeroU64 {
    NonZeroU64::new(v).expect("not zero")
}

/// `item` with ids 1..=rows (`grp` = id mod 3, `name` = `n<id>`) and a `tag` `hot` on every
/// fifth item.
async fn fill(db: &impl ConnectionTrait, rows: i64) {
    db.execute_unprepared("CREATE TABLE item (id BIGINT NOT NULL PRIMARY KEY, grp INTEGER NOT NULL, name VARCHAR(40) NOT NULL)").await.expect("item");
    db.execute_unprepared("CREATE TABLE tag (id BIGINT NOT NULL PRIMARY KEY, item_id BIGINT NOT NULL REFERENCES item (id), label VARCHAR(20) NOT NULL)").await.expect("tag");
    for chunk in (1..=rows).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, {}, 'n{i}')", i % 3))
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO item (id, grp, name) VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("rows");
    }
    let tags: Vec<String> = (1..=rows)
        .filter(|i| i % 5 == 0)
        .map(|i| format!("({i}, {i}, 'hot')"))
        .collect();
    if !tags.is_empty() {
        db.execute_unprepared(&format!(
            "INSERT INTO tag (id, item_id, label) VALUES {}",
            tags.join(", ")
        ))
        .await
        .expect("tags");
    }
}

#[expect(unreachable_pub, reason = "sea-orm's derives make public items")]
mod kinds {
    use db_core::types::{Json, UtcDateTime};
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "kinds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub text: String,
        pub maybe: Option<String>,
        pub flag: bool,
        pub ratio: f64,
        pub bytes: Vec<u8>,
        pub doc: Json<serde_json::Value>,
        pub at: UtcDateTime,
        pub day: Date,
        pub uid: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `kinds` as a migration creates it (the UTC column through the dialect).
async fn create_kinds(db: &db_core::Database) {
    use sea_orm::sea_query::{ColumnDef, ColumnType, Table};
    let d = db.dialect();
    let col = |name: &'static str, ty: ColumnType| {
        ColumnDef::new_with_type(name, ty).not_null().to_owned()
    };
    let create = Table::create()
        .table("kinds")
        .col(col("id", ColumnType::BigInteger).primary_key())
        .col(col("text", ColumnType::Text))
        .col(ColumnDef::new_with_type("maybe", ColumnType::Text).null())
        .col(col("flag", ColumnType::Boolean))
        .col(col("ratio", ColumnType::Double))
        .col(col(
            "bytes",
            ColumnType::VarBinary(sea_orm::sea_query::StringLen::None),
        ))
        .col(col("doc", ColumnType::Json))
        .col(col("at", d.utc_timestamp_type()))
        .col(col("day", ColumnType::Date))
        .col(col("uid", ColumnType::Uuid))
        .to_owned();
    db.execute(&create).await.expect("create kinds");
}

fn kinds_row(i: i64) -> kinds::ActiveModel {
    use db_core::types::{Json, UtcDateTime};
    use sea_orm::ActiveValue::Set;
    let texts = [
        "tab\there\nnew line \\ back \\N",
        "Zürich 東京 🚀 'quoted' \"dq\"",
        "",
        "\r\n\t",
    ];
    let at = UtcDateTime::new(
        chrono::DateTime::from_timestamp(
            i * 86_400 * 97 - 30_000_000_000,
            u32::try_from(i % 1000).expect("small") * 1000,
        )
        .expect("time"),
    )
    .expect("range");
    kinds::ActiveModel {
        id: Set(i),
        text: Set(texts[usize::try_from(i).expect("small") % texts.len()].to_owned()),
        maybe: Set((i % 2 == 0).then(|| format!("m{i}"))),
        flag: Set(i % 3 == 0),
        ratio: Set([0.1, -2.5, 1e300, f64::MIN_POSITIVE][usize::try_from(i).expect("small") % 4]),
        bytes: Set(vec![
            0,
            9,
            10,
            13,
            92,
            255,
            u8::try_from(i % 256).expect("byte"),
        ]),
        doc: Set(
            Json::new(serde_json::json!({"i": i, "s": "ü\t\\", "n": null, "a": [1.5, true]}))
                .expect("json"),
        ),
        at: Set(at),
        day: Set(
            chrono::NaiveDate::from_ymd_opt(1000 + i32::try_from(i).expect("small"), 2, 28)
                .expect("date"),
        ),
        uid: Set(uuid::Uuid::from_u128(
            u128::try_from(i).expect("positive") * 0x1234_5678_9abc_def0,
        )),
    }
}

backend_tests! {
    async fn bulk_inserts_carry_every_kind_of_value_exactly(test_db: TestDb) {
        let db = test_db.open().await;
        create_kinds(&db).await;
        // On the pool (PostgreSQL: COPY) and inside a transaction (multi-row INSERTs): the
        // same rows come back.
        let pool_rows: Vec<kinds::ActiveModel> = (1..=2_000).map(kinds_row).collect();
        assert_eq!(insert_chunked(db.connection(), pool_rows).await.expect("insert on the pool"), 2_000);
        let txn = db.connection().begin().await.expect("begin");
        let txn_rows: Vec<kinds::ActiveModel> = (2_001..=2_100).map(kinds_row).collect();
        assert_eq!(insert_chunked(&txn, txn_rows).await.expect("insert in a transaction"), 100);
        txn.commit().await.expect("commit");
        let back = kinds::Entity::find().order_by_asc(kinds::Column::Id).all(&db).await.expect("rows");
        assert_eq!(back.len(), 2_100);
        for m in back {
            let want = sea_orm::TryIntoModel::try_into_model(kinds_row(m.id)).expect("model");
            assert_eq!(m, want, "row {}", m.id);
        }
        // Models that set different columns (a NULL left to its default) still go in.
        let mut partial = kinds_row(3_000);
        partial.maybe = sea_orm::ActiveValue::NotSet;
        assert_eq!(insert_chunked(db.connection(), vec![kinds_row(3_001), partial]).await.expect("mixed"), 2);
        assert_eq!(kinds::Entity::find_by_id(3_000_i64).one(&db).await.expect("one").expect("row").maybe, None);
        // All or nothing on the pool too: a duplicate key keeps the whole batch out.
        let clash: Vec<kinds::ActiveModel> = (4_000..4_100).chain([1]).map(kinds_row).collect();
        assert!(insert_chunked(db.connection(), clash).await.is_err());
        assert_eq!(count(&db, kinds::Entity::find()).await.expect("count"), 2_102);
    }

    async fn update_and_delete_by_query_count_rows(test_db: TestDb) {
        let db = test_db.open().await;
        fill(&db, 30).await;
        // A plain filter.
        let changed = update_by_query(&db, item::Entity::find().filter(item::Column::Grp.eq(1)), |u| {
            u.col_expr(item::Column::Name, Expr::value("one"))
        }).await.expect("update");
        assert_eq!(changed, 10);
        assert_eq!(strings(&db, "SELECT name FROM item WHERE grp = 1 GROUP BY name").await, ["one"]);
        // Through a join on another table (MySQL reads the updated table in a derived table).
        let hot = item::Entity::find()
            .join(JoinType::InnerJoin, item::Relation::Tag.def())
            .filter(tag::Column::Label.eq("hot"));
        let changed = update_by_query(&db, hot.clone(), |u| u.col_expr(item::Column::Grp, Expr::value(9))).await.expect("update");
        assert_eq!(changed, 6);
        assert_eq!(count(&db, item::Entity::find().filter(item::Column::Grp.eq(9))).await.expect("count"), 6);
        // Ordered and limited: the three highest ids of group 2.
        let top = item::Entity::find().filter(item::Column::Grp.eq(2)).order_by_desc(item::Column::Id).limit(3);
        assert_eq!(update_by_query(&db, top, |u| u.col_expr(item::Column::Name, Expr::value("top"))).await.expect("update"), 3);
        let tops: Vec<i64> = item::Entity::find().filter(item::Column::Name.eq("top")).order_by_asc(item::Column::Id).all(&db).await.expect("tops").iter().map(|m| m.id).collect();
        assert_eq!(tops, [23, 26, 29]);
        // Delete: a foreign key refuses, and nothing goes.
        let before = count(&db, item::Entity::find()).await.expect("count");
        assert!(delete_by_query(&db, hot.clone()).await.is_err(), "tags reference them");
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), before);
        assert_eq!(delete_by_query(&db, tag::Entity::find()).await.expect("tags"), 6);
        assert_eq!(delete_by_query(&db, item::Entity::find().filter(item::Column::Grp.eq(9))).await.expect("delete"), 6);
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), 24);
        assert!(exists(&db, item::Entity::find().filter(item::Column::Id.eq(1_i64))).await.expect("exists"));
        assert!(!exists(&db, item::Entity::find().filter(item::Column::Id.eq(5_i64))).await.expect("exists"));
        assert_eq!(update_by_query(&db, item::Entity::find().filter(item::Column::Id.eq(-1_i64)), |u| u.col_expr(item::Column::Grp, Expr::value(0))).await.expect("none"), 0);
        // Distinct values of a column among the selected rows, ascending, whatever the order asked.
        let groups: Vec<i32> = distinct(&db, item::Entity::find().order_by_desc(item::Column::Id), item::Column::Grp).await.expect("distinct");
        assert_eq!(groups, [0, 1, 2]);
        let names: Vec<String> = distinct(&db, item::Entity::find().filter(item::Column::Grp.eq(2)).filter(item::Column::Id.gt(20_i64)), item::Column::Name).await.expect("distinct");
        assert_eq!(names, ["top"]);
        assert!(distinct::<_, i32>(&db, item::Entity::find().filter(item::Column::Id.eq(-1_i64)), item::Column::Grp).await.expect("none").is_empty());
    }

    async fn batches_walk_every_row_once(test_db: TestDb) {
        let db = test_db.open().await;
        fill(&db, 1000).await;
        let all: Vec<Vec<item::Model>> = batches(&db, item::Entity::find(), n(64)).try_collect().await.expect("batches");
        assert_eq!(all.len(), 16);
        assert!(all.iter().take(15).all(|b| b.len() == 64));
        let ids: Vec<i64> = all.iter().flatten().map(|m| m.id).collect();
        assert_eq!(ids, (1..=1000).collect::<Vec<_>>());
        // A filtered query, flattened, with the query's own order replaced by the key's.
        let grp0: Vec<item::Model> = rows(&db, item::Entity::find().filter(item::Column::Grp.eq(0)).order_by_desc(item::Column::Name), n(50))
            .try_collect().await.expect("rows");
        assert_eq!(grp0.len(), 333);
        assert!(grp0.windows(2).all(|w| w[0].id < w[1].id));
        // Rows inserted behind the cursor while walking are not seen; those ahead are.
        let mut stream = Box::pin(batches(&db, item::Entity::find(), n(100)));
        let first = stream.try_next().await.expect("batch").expect("some");
        assert_eq!(first.last().map(|m| m.id), Some(100));
        db.execute_unprepared("DELETE FROM tag").await.expect("tags");
        db.execute_unprepared("UPDATE item SET id = -id WHERE id <= 5").await.expect("behind");
        db.execute_unprepared("INSERT INTO item (id, grp, name) VALUES (5000, 0, 'late')").await.expect("ahead");
        let rest: Vec<Vec<item::Model>> = stream.try_collect().await.expect("rest");
        let ids: Vec<i64> = rest.iter().flatten().map(|m| m.id).collect();
        assert_eq!(ids.len(), 901);
        assert_eq!(ids.last(), Some(&5000));
        let none: Vec<item::Model> = rows(&db, item::Entity::find().filter(item::Column::Id.gt(10_000_i64)), n(10)).try_collect().await.expect("empty");
        assert!(none.is_empty());
    }

    async fn numbered_and_keyset_pages(test_db: TestDb) {
        let db = test_db.open().await;
        fill(&db, 95).await;
        let p = page(&db, item::Entity::find().order_by_desc(item::Column::Grp), 10, n(10)).await.expect("page");
        assert_eq!((p.total, p.pages, p.items.len()), (95, 10, 5));
        let p1 = page(&db, item::Entity::find().order_by_desc(item::Column::Grp), 1, n(10)).await.expect("page");
        assert!(p1.items.iter().all(|m| m.grp == 2));
        // Pages cover every row once, whatever the order's ties.
        let mut seen = Vec::new();
        for k in 1..=10 {
            seen.extend(page(&db, item::Entity::find().order_by_asc(item::Column::Grp), k, n(10)).await.expect("page").items.into_iter().map(|m| m.id));
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=95).collect::<Vec<_>>());
        assert!(page(&db, item::Entity::find(), 11, n(10)).await.expect("past the end").items.is_empty());
        assert!(page(&db, item::Entity::find(), 0, n(10)).await.is_err());
        // Keyset: walk with a cursor; a row inserted before the cursor is not seen, one after is.
        let mut after: Option<Cursor> = None;
        let mut ids = Vec::new();
        let mut pages = 0;
        loop {
            let kp = keyset_page(&db, item::Entity::find().filter(item::Column::Grp.ne(1)), after.as_ref(), n(7)).await.expect("keyset");
            ids.extend(kp.items.iter().map(|m| m.id));
            pages += 1;
            if pages == 2 {
                db.execute_unprepared("INSERT INTO item (id, grp, name) VALUES (0, 0, 'before'), (96, 0, 'after')").await.expect("insert");
            }
            match kp.next {
                // The cursor survives a round trip through text (a URL parameter).
                Some(c) => after = Some(c.to_string().parse().expect("cursor")),
                None => break,
            }
        }
        let expected: Vec<i64> = (1..=96).filter(|i| i % 3 != 1).collect();
        assert_eq!(ids, expected);
        db.execute_unprepared("CREATE TABLE small (id INTEGER NOT NULL PRIMARY KEY)").await.expect("small");
        db.execute_unprepared("INSERT INTO small (id) VALUES (1), (2), (3)").await.expect("rows");
        let first = keyset_page(&db, small::Entity::find(), None, n(2)).await.expect("page");
        let next = first.next.expect("more");
        let second = keyset_page(&db, small::Entity::find(), Some(&next), n(2)).await.expect("page");
        assert_eq!(second.items.iter().map(|m| m.id).collect::<Vec<_>>(), [3]);
        assert!(second.next.is_none());
        let huge: Cursor = "i99999999999".parse().expect("parses");
        let err = keyset_page(&db, small::Entity::find(), Some(&huge), n(2)).await.expect_err("too big for INTEGER");
        assert!(err.to_string().contains("does not fit the key column"), "{err}");
        assert!("x42".parse::<Cursor>().is_err());
        assert!("i4x".parse::<Cursor>().is_err());
        assert_eq!("i42".parse::<Cursor>().expect("ok").to_string(), "i42");
    }

    async fn bulk_inserts_chunk_and_upserts_merge(test_db: TestDb) {
        use sea_orm::ActiveValue::Set;
        let db = test_db.open().await;
        fill(&db, 0).await;
        let model = |id: i64, name: &str| item::ActiveModel { id: Set(id), grp: Set(i32::try_from(id % 3).expect("small")), name: Set(name.to_owned()) };
        // 70,000 rows of three columns: more than one statement on every backend (SQLite
        // 10,922 rows a statement, the servers 21,845).
        let many: Vec<item::ActiveModel> = (1..=70_000).map(|i| model(i, "bulk")).collect();
        assert_eq!(insert_chunked(db.connection(), many).await.expect("insert"), 70_000);
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), 70_000);
        // All or nothing: a duplicate key in the last chunk leaves none of the batch.
        let mut clash: Vec<item::ActiveModel> = (100_001..=130_000).map(|i| model(i, "x")).collect();
        clash.push(model(5, "duplicate"));
        assert!(insert_chunked(db.connection(), clash).await.is_err());
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), 70_000, "nothing of the failed batch");
        assert_eq!(insert_chunked(db.connection(), Vec::<item::ActiveModel>::new()).await.expect("empty"), 0);
        // Upsert: existing ids get the new name, new ids are inserted.
        let merge = vec![model(1, "one"), model(2, "two"), model(70_001, "new")];
        upsert(db.connection(), merge, &[item::Column::Id], &[item::Column::Name]).await.expect("upsert");
        let names = |ids: &'static [i64]| {
            let db = &db;
            async move {
                item::Entity::find().filter(item::Column::Id.is_in(ids.iter().copied())).order_by_asc(item::Column::Id).all(db).await.expect("rows").into_iter().map(|m| m.name).collect::<Vec<_>>()
            }
        };
        assert_eq!(names(&[1, 2, 3, 70_001]).await, ["one", "two", "bulk", "new"]);
        // Do nothing on conflict: the existing row stays as it was.
        upsert(db.connection(), vec![model(1, "ignored"), model(70_002, "added")], &[item::Column::Id], &[]).await.expect("do nothing");
        assert_eq!(names(&[1, 70_002]).await, ["one", "added"]);
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), 70_002);
        // Inside a caller's transaction: a savepoint, rolled back with it.
        let txn = db.connection().begin().await.expect("begin");
        insert_chunked(&txn, vec![model(80_000, "in txn")]).await.expect("insert");
        txn.rollback().await.expect("rollback");
        assert_eq!(count(&db, item::Entity::find()).await.expect("count"), 70_002);
    }

    async fn archived_rows_hide_and_come_back(test_db: TestDb) {
        use db_helpers::{SoftDelete, archive, restore};
        let db = test_db.open().await;
        create_notes(&db, test_db.backend()).await;
        db.execute_unprepared("INSERT INTO note (id, body) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')").await.expect("rows");
        assert_eq!(archive(&db, note::Entity::find().filter(note::Column::Id.lte(3_i64))).await.expect("archive"), 3);
        assert_eq!(count(&db, note::Entity::find_live()).await.expect("live"), 2);
        assert_eq!(count(&db, note::Entity::find_archived()).await.expect("archived"), 3);
        let first = note::Entity::find_by_id(1_i64).one(&db).await.expect("one").expect("row").archived_at.expect("archived");
        let age = chrono::Utc::now().naive_utc() - first;
        assert!(age.num_seconds().abs() < 300, "archived now, in UTC: {first}");
        // Archiving again keeps the first timestamp and counts nothing.
        assert_eq!(archive(&db, note::Entity::find()).await.expect("archive"), 2);
        assert_eq!(note::Entity::find_by_id(1_i64).one(&db).await.expect("one").expect("row").archived_at, Some(first));
        assert_eq!(restore(&db, note::Entity::find().filter(note::Column::Id.eq(2_i64))).await.expect("restore"), 1);
        let live: Vec<i64> = note::Entity::find_live().all(&db).await.expect("live").iter().map(|m| m.id).collect();
        assert_eq!(live, [2]);
        assert_eq!(restore(&db, note::Entity::find_live()).await.expect("nothing to restore"), 0);
    }

    async fn audit_columns_name_the_acting_user(test_db: TestDb) {
        use db_helpers::{acting_as, actor};
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
        let db = test_db.open().await;
        create_notes(&db, test_db.backend()).await;
        assert_eq!(actor(), None);
        let conn = db.connection().clone();
        let inserted = acting_as("alice", async {
            assert_eq!(actor().as_deref(), Some("alice"));
            note::ActiveModel { id: Set(1), body: Set("first".into()), ..Default::default() }.insert(&conn).await
        }).await.expect("insert");
        assert_eq!(inserted.created_by.as_deref(), Some("alice"));
        assert!(inserted.created_at.is_some());
        assert_eq!((inserted.updated_at, inserted.updated_by.as_deref()), (None, None));
        let updated = acting_as("bob", async {
            let mut m = inserted.clone().into_active_model();
            m.body = Set("edited".into());
            m.update(&conn).await
        }).await.expect("update");
        assert_eq!(updated.created_by.as_deref(), Some("alice"), "the creator stays");
        assert_eq!(updated.updated_by.as_deref(), Some("bob"));
        assert!(updated.updated_at.is_some());
        // Without a scope nobody is named, and a given creator is kept.
        let plain = note::ActiveModel { id: Set(2), body: Set("x".into()), created_by: Set(Some("import".into())), ..Default::default() }
            .insert(&conn).await.expect("insert");
        assert_eq!(plain.created_by.as_deref(), Some("import"));
    }
}

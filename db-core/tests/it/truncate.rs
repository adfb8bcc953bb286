//! `truncate_all` on every backend: rows gone in foreign-key order, kept tables kept.

use db_testkit::{backend_tests, count, strings};
use sea_orm::ConnectionTrait;

backend_tests! {
    async fn truncate_all_empties_children_first_and_keeps_the_version_table(test_db: TestDb) {
        let db = test_db.open().await;
        let q = |n: &str| db.dialect().quote_trusted(n);
        for sql in [
            format!("CREATE TABLE {} (id INTEGER NOT NULL PRIMARY KEY)", q("org")),
            format!("CREATE TABLE {} (id INTEGER NOT NULL PRIMARY KEY, org_id INTEGER NOT NULL REFERENCES {} (id))", q("user"), q("org")),
            format!("CREATE TABLE {} (id INTEGER NOT NULL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES {} (id), parent_id INTEGER REFERENCES {} (id))", q("member"), q("user"), q("member")),
            format!("CREATE TABLE {} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)", q("alembic_version")),
        ] {
            db.execute_unprepared(&sql).await.expect("create");
        }
        for sql in [
            format!("INSERT INTO {} VALUES (1)", q("org")),
            format!("INSERT INTO {} VALUES (1, 1)", q("user")),
            format!("INSERT INTO {} VALUES (1, 1, NULL)", q("member")),
            format!("INSERT INTO {} VALUES (2, 1, 1)", q("member")),
            format!("INSERT INTO {} VALUES ('ae1027a6acf0')", q("alembic_version")),
        ] {
            db.execute_unprepared(&sql).await.expect("insert");
        }
        let order = db_core::truncate_all(&db, &["alembic_version"]).await.expect("truncate");
        assert_eq!(order, ["member", "user", "org"]);
        for t in ["org", "user", "member"] {
            assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM {}", q(t))).await, 0, "{t}");
        }
        assert_eq!(strings(&db, &format!("SELECT version_num FROM {}", q("alembic_version"))).await, ["ae1027a6acf0"]);
        // Nothing to delete is fine; a kept table with rows that reference an emptied one is
        // refused, and nothing is deleted.
        assert_eq!(db_core::truncate_all(&db, &["alembic_version"]).await.expect("again").len(), 3);
        db.execute_unprepared(&format!("INSERT INTO {} VALUES (5)", q("org"))).await.expect("org");
        db.execute_unprepared(&format!("INSERT INTO {} VALUES (5, 5)", q("user"))).await.expect("user");
        let err = db_core::truncate_all(&db, &["alembic_version", "user"]).await.expect_err("user references org");
        assert_eq!(err.to_string(), "the kept table `user` has rows referencing `org`, which would be emptied; empty `user` too or keep `org`");
        assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM {}", q("org"))).await, 1);
    }
}

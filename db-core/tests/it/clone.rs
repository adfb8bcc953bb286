//! Cloning a sealed template database on the servers (`Dialect::clone_script`), and resetting a
//! used MySQL clone to the template's state (`CloneScript::reset`): foreign keys, defaults,
//! indexes, views, triggers, rows and AUTO_INCREMENT counters survive; a clone whose schema a
//! test changed is not reset.

use db_core::{Database, Dialect};
use db_testkit::{backend_tests, count, strings};
use sea_orm::ConnectionTrait;

async fn exec(db: &impl ConnectionTrait, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

backend_tests! {
    #[backends(postgres, mysql)]
    async fn clones_copy_everything_and_mysql_clones_reset(template: TestDb) {
        let dialect = template.backend().dialect();
        let tpl = template.open().await;
        exec(&tpl, "CREATE TABLE parent (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'x')").await;
        let serial = if dialect == Dialect::MySql { "INTEGER NOT NULL AUTO_INCREMENT" } else { "SERIAL" };
        exec(&tpl, &format!("CREATE TABLE child (id {serial} PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id), note VARCHAR(20))")).await;
        exec(&tpl, "CREATE INDEX ix_child_note ON child (note)").await;
        exec(&tpl, "CREATE VIEW named AS SELECT p.name, c.note FROM parent p JOIN child c ON c.parent_id = p.id").await;
        exec(&tpl, "INSERT INTO parent (id, name) VALUES (1, 'one')").await;
        exec(&tpl, "INSERT INTO child (parent_id, note) VALUES (1, 'a')").await;
        if dialect == Dialect::MySql {
            exec(&tpl, "CREATE TRIGGER child_note BEFORE INSERT ON child FOR EACH ROW SET NEW.note = COALESCE(NEW.note, 'filled')").await;
        }
        tpl.close().await.expect("close");
        let admin = Database::connect(&template.backend().admin_url().expect("server")).await.expect("admin");
        let admin = admin.connection();
        assert_eq!(dialect.template_sealed(admin, template.name()).await.expect("sealed?"), Some(false));
        for sql in dialect.seal_template_sql(template.name()).expect("seal") {
            exec(admin, &sql).await;
        }
        assert_eq!(dialect.template_sealed(admin, template.name()).await.expect("sealed?"), Some(true));
        assert_eq!(dialect.template_sealed(admin, "tk_no_such_database").await.expect("sealed?"), None);
        let script = dialect.clone_script(admin, template.name()).await.expect("script").expect("a server");
        let clone = format!("{}_c", template.name());
        // One connection of its own, as the script switches its database.
        let own = Database::open(db_core::OpenOptions::new(template.backend().admin_url().expect("server")).max_connections(1)).await.expect("own");
        for sql in script.statements(&clone).expect("statements") {
            exec(own.connection(), &sql).await;
        }
        let url = template.url().replace(template.name(), &clone);
        let c = Database::connect(&url).await.expect("clone");
        assert_eq!(strings(&c, "SELECT name FROM named").await, ["one"]);
        assert_eq!(count(&c, "SELECT COUNT(*) FROM child").await, 1);
        assert!(c.execute_unprepared("INSERT INTO child (parent_id) VALUES (99)").await.is_err(), "the foreign key came along");
        exec(&c, "INSERT INTO parent (id) VALUES (2)").await;
        assert_eq!(strings(&c, "SELECT name FROM parent WHERE id = 2").await, ["x"], "and the default");
        exec(&c, "INSERT INTO child (parent_id) VALUES (2)").await;
        assert!(count(&c, "SELECT CAST(MAX(id) AS SIGNED) FROM child".replace("SIGNED", if dialect == Dialect::MySql { "SIGNED" } else { "BIGINT" }).as_str()).await >= 2, "the counter continues from the template's");
        if dialect == Dialect::MySql {
            assert_eq!(strings(&c, "SELECT note FROM child WHERE parent_id = 2").await, ["filled"], "the trigger came along");
            assert!(script.resets());
            assert!(script.reset(admin, &clone).await.expect("reset"), "the schema is unchanged");
            assert_eq!(count(&c, "SELECT COUNT(*) FROM parent").await, 1);
            assert_eq!(strings(&c, "SELECT note FROM child").await, ["a"]);
            exec(&c, "INSERT INTO child (parent_id) VALUES (1)").await;
            assert_eq!(count(&c, "SELECT CAST(MAX(id) AS SIGNED) FROM child").await, 2, "the counter was set back");
            // A test that changed the schema gets no reset.
            exec(&c, "ALTER TABLE parent ADD COLUMN extra INTEGER").await;
            assert!(!script.reset(admin, &clone).await.expect("reset"));
            assert_eq!(count(&c, "SELECT COUNT(*) FROM child").await, 2, "nothing changed");
        } else {
            assert!(!script.resets());
        }
        c.close().await.expect("close");
        exec(admin, &dialect.drop_database_sql(&clone).expect("sql").expect("server")).await;
        for sql in dialect.drop_template_sql(template.name()).expect("sql") {
            exec(admin, &sql).await;
        }
        assert_eq!(dialect.template_sealed(admin, template.name()).await.expect("sealed?"), None);
    }
}

//! Autogenerate, end to end on all three backends: for each kind of change the entities are
//! changed, a migration is generated and compared with the committed one in
//! `autogen/generated/` (which this test binary compiles), then applied: `check` must be
//! clean afterwards, and the downgrade must bring back the previous schema exactly.
//!
//! After changing the generator, refresh the committed files with
//! `AUTOGEN_BLESS=1 cargo test -p db-migrate --test it autogen::chain::sqlite` and review the diff.

mod entities;
mod generated;

use std::io::Write;
use std::process::{Command, Stdio};

use db_migrate::autogenerate::{Entities, SchemaModel, discover, render_migration};
use db_migrate::scaffold::NewRevision;
use db_migrate::{Migrator, RevisionId};
use db_testkit::backend_tests;
use sea_orm::ConnectionTrait;

/// The steps: revision id, message, module name, entities at that revision.
fn steps() -> Vec<(&'static str, &'static str, &'static str, Entities)> {
    vec![
        (
            "a60000000001",
            "create authors and posts",
            "ra60000000001_create_authors_and_posts",
            Entities::new()
                .register(entities::v1::author::Entity)
                .register(entities::v1::post::Entity),
        ),
        (
            "a60000000002",
            "change columns",
            "ra60000000002_change_columns",
            Entities::new()
                .register(entities::v2::author::Entity)
                .register(entities::v2::post::Entity),
        ),
        (
            "a60000000003",
            "change indexes",
            "ra60000000003_change_indexes",
            Entities::new()
                .register(entities::v3::author::Entity)
                .register(entities::v3::post::Entity),
        ),
        (
            "a60000000004",
            "change foreign keys",
            "ra60000000004_change_foreign_keys",
            Entities::new()
                .register(entities::v4::author::Entity)
                .register(entities::v4::post::Entity),
        ),
        (
            "a60000000005",
            "rename author name",
            "ra60000000005_rename_author_name",
            Entities::new()
                .register(entities::v5::author::Entity)
                .register(entities::v5::post::Entity),
        ),
        (
            "a60000000007",
            "create studies",
            "ra60000000007_create_studies",
            Entities::new()
                .register(entities::v5::author::Entity)
                .register(entities::v5::post::Entity)
                .register(entities::v7::study::Entity),
        ),
        (
            "a60000000008",
            "create events",
            "ra60000000008_create_events",
            Entities::new()
                .register(entities::v5::author::Entity)
                .register(entities::v5::post::Entity)
                .register(entities::v7::study::Entity)
                .register(entities::v8::event::Entity),
        ),
    ]
}

fn migrator(revisions: usize, entities: Entities) -> Migrator {
    Migrator::new(generated::scripts().into_iter().take(revisions).collect())
        .expect("graph")
        .entities(entities)
}

/// The schema without the version tables, in a stable order (a column dropped and re-added
/// comes back last, as in Alembic, so columns are compared by name). Unique constraints are
/// compared by their columns: an unnamed inline `UNIQUE` that a downgrade restores comes back
/// as the unique index `uq_<table>_<columns>`, which enforces the same thing; likewise foreign
/// keys are compared by columns, target and actions (SQLite keeps no name for one created
/// inline, and a restored one is named `fk_<table>_<columns>`).
async fn schema(db: &impl ConnectionTrait) -> SchemaModel {
    let mut model = discover(db, None).await.expect("discover");
    model
        .tables
        .retain(|t, _| !t.starts_with("alembic_version"));
    for t in model.tables.values_mut() {
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
        for ix in &mut t.indexes {
            if ix.unique {
                ix.name = None;
            }
        }
        t.indexes.sort_by(|a, b| a.columns.cmp(&b.columns));
        for fk in &mut t.foreign_keys {
            fk.name = None;
        }
        t.foreign_keys.sort_by(|a, b| a.columns.cmp(&b.columns));
    }
    model
}

fn rustfmt(source: &str) -> String {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rustfmt (rustup component add rustfmt)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(source.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("rustfmt output");
    assert!(out.status.success(), "rustfmt failed on:\n{source}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The code without the `//!` header (its date, and its summary in the backend's type names).
fn dateless(source: &str) -> String {
    source
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n")
}

backend_tests! {
    async fn chain(t: TestDb) {
        let db = t.open().await;
        let mut previous = schema(db.connection()).await;
        let mut parent: Option<&str> = None;
        for (k, (rev, message, module, entities)) in steps().into_iter().enumerate() {
            // The database is at the previous revision; the entities have moved on.
            let before = migrator(k, entities.clone());
            let changes = before.compare(&db).await.expect("compare");
            assert!(!changes.is_empty(), "{rev}: no changes detected");
            let new = NewRevision {
                revision: RevisionId::new(rev).expect("id"),
                down_revisions: parent.iter().map(|p| (*p).to_owned()).collect(),
                message: message.into(),
                branch_labels: vec![],
                depends_on: vec![],
            };
            let source = rustfmt(&render_migration(&new, module, &changes));
            let path = format!("{}/tests/it/autogen/generated/{module}.rs", env!("CARGO_MANIFEST_DIR"));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if dateless(&committed) != dateless(&source) {
                if std::env::var_os("AUTOGEN_BLESS").is_some() {
                    std::fs::write(&path, &source).expect("bless");
                    panic!("{path} rewritten; rebuild and run again without AUTOGEN_BLESS");
                }
                panic!(
                    "{rev} on {}: the generated migration differs from {path}\n--- generated:\n{source}",
                    t.backend().name()
                );
            }
            // Apply the compiled migration: `check` is clean.
            let after = migrator(k + 1, entities);
            after.upgrade(&db, "head").await.expect("upgrade");
            let left = after.compare(&db).await.expect("compare after");
            assert!(left.is_empty(), "{rev}: check not clean after upgrade: {left:#?}");
            let upgraded = schema(db.connection()).await;
            // The downgrade returns to the previous schema exactly.
            after.downgrade(&db, "-1").await.expect("downgrade");
            assert_eq!(schema(db.connection()).await, previous, "{rev}: downgrade did not restore the schema");
            after.upgrade(&db, "head").await.expect("upgrade again");
            assert_eq!(schema(db.connection()).await, upgraded, "{rev}: second upgrade differs");
            previous = upgraded;
            parent = Some(rev);
        }
    }
}

#[tokio::test]
async fn naive_timestamps_can_be_forbidden() {
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("db");
    let naive = Entities::new()
        .register(entities::v1::author::Entity)
        .register(entities::v1::post::Entity);
    let m = migrator(1, naive.clone()).naive_timestamps(db_migrate::NaiveTimestamps::Forbid);
    m.upgrade(&db, "head").await.expect("upgrade");
    let err = m.compare(&db).await.expect_err("naive columns").to_string();
    assert_eq!(
        err,
        "naive timestamp columns are not allowed here: posts.created_at; declare them as db_core::types::UtcDateTime (UTC, exact on every backend)"
    );
    // Allowed by default; UtcDateTime columns pass under Forbid.
    assert!(
        migrator(1, naive)
            .compare(&db)
            .await
            .expect("compare")
            .is_empty()
    );
    let utc = Entities::new().register(entities::v8::event::Entity);
    assert_eq!(utc.naive_timestamp_columns(), Vec::<String>::new());
}

backend_tests! {
    async fn probable_rename_is_flagged(t: TestDb) {
        let db = t.open().await;
        let v6 = Entities::new()
            .register(entities::v6::author::Entity)
            .register(entities::v6::post::Entity);
        let m = migrator(5, v6);
        m.upgrade(&db, "head").await.expect("upgrade");
        let changes = m.compare(&db).await.expect("compare");
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert!(
            lines.iter().any(|l| l.starts_with("drop column authors.display_name (probable rename to full_name: add #[sea_orm(renamed_from = \"display_name\")]")),
            "{lines:#?}"
        );
        let new = NewRevision {
            revision: RevisionId::new("a60000000006").expect("id"),
            down_revisions: vec!["a60000000005".into()],
            message: "rename again".into(),
            branch_labels: vec![],
            depends_on: vec![],
        };
        let source = render_migration(&new, "ra60000000006_rename_again", &changes);
        assert!(source.contains("// review: probable rename: `display_name` is dropped and `full_name` added"), "{source}");
        assert!(source.contains("add #[sea_orm(renamed_from = \"display_name\")] to the entity's `full_name`"), "{source}");
    }

    async fn reset_drops_what_the_filter_does_not_exclude(t: TestDb) {
        let db = t.open().await;
        // Six revisions: authors, posts and (PostgreSQL) the enum type of `studies`.
        let m = migrator(6, Entities::new()).filter(db_migrate::autogenerate::Filter {
            exclude: vec!["keep_*".into()],
            ..Default::default()
        });
        m.upgrade(&db, "head").await.expect("upgrade");
        for sql in [
            "CREATE TABLE keep_me (id INTEGER PRIMARY KEY)",
            "INSERT INTO keep_me (id) VALUES (7)",
            "CREATE TABLE scratch (id INTEGER PRIMARY KEY)",
            "CREATE VIEW author_names AS SELECT display_name FROM authors",
        ] {
            db.connection().execute_unprepared(sql).await.expect(sql);
        }
        let report = m.reset(&db, false, db_migrate::Production::Refuse).await.expect("reset");
        assert!(report.dropped.tables.contains(&"scratch".to_owned()), "{report:?}");
        assert!(!report.dropped.tables.iter().any(|t| t == "keep_me"), "{report:?}");
        assert_eq!(report.dropped.views, ["author_names"]);
        let enums = if t.backend() == db_testkit::Backend::Postgres { vec!["studydirection".to_owned()] } else { vec![] };
        assert_eq!(report.dropped.enum_types, enums);
        assert_eq!(report.steps.len(), 6);
        let left = db.dialect().schema_objects(db.connection()).await.expect("objects");
        assert!(left.tables.contains(&"keep_me".to_owned()) && !left.tables.contains(&"scratch".to_owned()), "{left:?}");
        assert!(left.views.is_empty());
        assert_eq!(db_testkit::count(&db, "SELECT COUNT(*) FROM keep_me").await, 1);
    }

    async fn check_needs_head_and_entities(t: TestDb) {
        let db = t.open().await;
        let v1 = Entities::new()
            .register(entities::v1::author::Entity)
            .register(entities::v1::post::Entity);
        let m = migrator(2, v1.clone());
        m.upgrade(&db, "a60000000001").await.expect("upgrade");
        let err = m.compare(&db).await.expect_err("not at head").to_string();
        assert_eq!(err, "the database is at a60000000001, not at head (a60000000002); run `upgrade head` first so the comparison sees what the migrations make");
        let bare = Migrator::new(generated::scripts().into_iter().take(1).collect()).expect("graph");
        let err = bare.compare(&db).await.expect_err("no entities").to_string();
        assert!(err.starts_with("this migrator declares no entities"), "{err}");
        // Unregistered tables are left alone unless included.
        db.connection().execute_unprepared("CREATE TABLE other_package (id INTEGER PRIMARY KEY)").await.expect("create");
        assert!(migrator(1, v1.clone()).compare(&db).await.expect("compare").is_empty());
        let managed = migrator(1, v1).filter(db_migrate::autogenerate::Filter { include: vec!["other_*".into()], ..Default::default() });
        let lines: Vec<String> = managed.compare(&db).await.expect("compare").iter().map(ToString::to_string).collect();
        assert_eq!(lines, ["drop table other_package"]);
    }
}

/// A SQLite table SQLAlchemy created (`INTEGER`, `BIGINT`, `VARCHAR`) checks clean against
/// entities whose integer widths differ: SQLite compares by type affinity. The DDL comes from
/// real SQLAlchemy when it is installed (CI installs it), else from the same text written here.
#[tokio::test]
async fn sqlite_compares_types_by_affinity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("optuna.sqlite3");
    let script = format!(
        "import sqlalchemy as sa\nmeta = sa.MetaData()\nsa.Table('trials', meta, sa.Column('trial_id', sa.Integer, primary_key=True), sa.Column('number', sa.Integer, nullable=False), sa.Column('study_id', sa.BigInteger, nullable=False), sa.Column('attempts', sa.BigInteger, nullable=False), sa.Column('state', sa.String(512), nullable=False))\nmeta.create_all(sa.create_engine('sqlite:///{}'))\n",
        file.display()
    );
    let by_sqlalchemy = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        by_sqlalchemy || std::env::var_os("CI").is_none(),
        "SQLAlchemy is required when CI is set"
    );
    let db = db_core::Database::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open");
    if !by_sqlalchemy {
        eprintln!("note: SQLAlchemy is not installed; creating its DDL by hand");
        db.execute_unprepared("CREATE TABLE trials (trial_id INTEGER NOT NULL, number INTEGER NOT NULL, study_id BIGINT NOT NULL, attempts BIGINT NOT NULL, state VARCHAR(512) NOT NULL, PRIMARY KEY (trial_id))").await.expect("ddl");
    }
    let entities = Entities::new().register(entities::affinity::trial::Entity);
    let changes = db_migrate::autogenerate::compare(
        db.connection(),
        &entities,
        &db_migrate::autogenerate::Filter::default(),
        None,
        &["alembic_version"],
    )
    .await
    .expect("compare");
    assert!(changes.is_empty(), "{changes:?}");
    // A real difference still shows: the rowid alias differs from any other integer key.
    db.execute_unprepared("CREATE TABLE keyed (id BIGINT NOT NULL PRIMARY KEY)")
        .await
        .expect("keyed");
    mod keyed {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "keyed")]
        pub(crate) struct Model {
            #[sea_orm(primary_key)]
            pub(crate) id: i32,
        }
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    }
    let entities = Entities::new().register(keyed::Entity);
    let changes = db_migrate::autogenerate::compare(
        db.connection(),
        &entities,
        &db_migrate::autogenerate::Filter::default(),
        None,
        &[],
    )
    .await
    .expect("compare");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        changes[0].to_string().contains("type bigint -> integer"),
        "{}",
        changes[0]
    );
}

/// Server defaults are compared by default (a lost default shows); with the comparison off, a
/// type change neither prints nor applies a default change.
#[tokio::test]
async fn server_defaults_are_compared_unless_turned_off() {
    mod counter {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "counters")]
        pub(crate) struct Model {
            #[sea_orm(primary_key)]
            pub(crate) id: i32,
            pub(crate) hits: i64,
        }
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    }
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("memory");
    db.execute_unprepared(
        "CREATE TABLE counters (id INTEGER NOT NULL PRIMARY KEY, hits TEXT NOT NULL DEFAULT '0')",
    )
    .await
    .expect("table");
    let entities = Entities::new().register(counter::Entity);
    let compared = db_migrate::autogenerate::compare(
        db.connection(),
        &entities,
        &db_migrate::autogenerate::Filter::default(),
        None,
        &[],
    )
    .await
    .expect("compare");
    assert_eq!(compared.len(), 1, "{compared:?}");
    let line = compared[0].to_string();
    assert!(
        line.contains("type text -> integer") && line.contains("default '0' -> none"),
        "{line}"
    );
    let off = db_migrate::autogenerate::Filter {
        compare_server_default: false,
        ..Default::default()
    };
    let compared = db_migrate::autogenerate::compare(db.connection(), &entities, &off, None, &[])
        .await
        .expect("compare");
    let line = compared[0].to_string();
    assert!(
        line.contains("type text -> integer") && !line.contains("default"),
        "{line}"
    );
}

backend_tests! {
    async fn enum_values_are_enforced_on_every_backend(t: TestDb) {
        let db = t.open().await;
        let m = migrator(6, Entities::new());
        m.upgrade(&db, "head").await.expect("upgrade");
        db.execute_unprepared("INSERT INTO studies (id, name, direction) VALUES (1, 'a', 'MINIMIZE')")
            .await
            .expect("a value of the enum");
        let err = db
            .execute_unprepared("INSERT INTO studies (id, name, direction) VALUES (2, 'b', 'SIDEWAYS')")
            .await;
        assert!(err.is_err(), "a value outside the enum is refused on {}", t.backend());
        m.downgrade(&db, "base").await.expect("downgrade");
        if t.backend() == db_testkit::Backend::Postgres {
            assert_eq!(db_testkit::count(&db, "SELECT COUNT(*) FROM pg_type WHERE typname = 'studydirection'").await, 0, "no leftover type");
        }
    }
}

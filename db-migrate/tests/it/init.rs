//! `db-migrate init`: the crate it writes builds, autogenerates its first migration from one
//! entity, upgrades a SQLite database to it and passes `check`; a second `init` on the same
//! folder refuses and changes nothing.

use std::path::Path;
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("runs");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `cargo build` of the new crate, offline, pinned to the workspace's lock file.
fn build(krate: &Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--offline", "-q", "--bin", "shop-migrate"])
            .current_dir(krate)
            .env(
                "CARGO_TARGET_DIR",
                workspace.join("target").join("init-test"),
            )
            .env_remove("RUSTFLAGS"),
    );
}

const ENTITY: &str = r#"
pub mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub name: String,
        pub price_cents: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
"#;

#[test]
fn init_writes_a_crate_that_autogenerates_and_upgrades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let krate = dir.path().join("shop");
    let init = || {
        Command::new(env!("CARGO_BIN_EXE_db-migrate"))
            .arg("init")
            .arg(&krate)
            .output()
            .expect("db-migrate runs")
    };
    let first = init();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for f in [
        "Cargo.toml",
        "README.md",
        "src/lib.rs",
        "src/entities.rs",
        "src/migrations.rs",
        "src/bin/shop-migrate.rs",
    ] {
        assert!(krate.join(f).is_file(), "{f}");
    }
    // Never overwrites.
    let registry = std::fs::read_to_string(krate.join("src/migrations.rs")).expect("registry");
    let again = init();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists and is not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(krate.join("src/migrations.rs")).expect("registry"),
        registry
    );

    // What a user does next: an entity, registered.
    let entities = krate.join("src/entities.rs");
    let mut text = std::fs::read_to_string(&entities).expect("entities");
    text.push_str(ENTITY);
    std::fs::write(&entities, text).expect("write entities");
    std::fs::write(
        krate.join("src/migrations.rs"),
        registry.replace(
            "// .register(crate::entities::product::Entity)",
            ".register(crate::entities::product::Entity)",
        ),
    )
    .expect("register");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock"),
        krate.join("Cargo.lock"),
    )
    .expect("lock file");
    build(&krate);
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/init-test/debug/shop-migrate");
    let migrate = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args).current_dir(&krate).env_remove("DATABASE_URL");
        c
    };
    let out = run(&mut migrate(&[
        "revision",
        "--autogenerate",
        "-m",
        "create products",
    ]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("_create_products.rs"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let generated: Vec<_> = std::fs::read_dir(krate.join("src/migrations"))
        .expect("dir")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(generated.len(), 1);
    let source = std::fs::read_to_string(generated[0].path()).expect("migration");
    assert!(source.contains(".table(\"products\")"), "{source}");
    build(&krate);
    run(&mut migrate(&["upgrade", "head"]));
    let current =
        String::from_utf8(run(&mut migrate(&["current", "--check-heads"])).stdout).expect("utf-8");
    assert!(current.ends_with(" (head)\n"), "{current}");
    let check = String::from_utf8(run(&mut migrate(&["check"])).stdout).expect("utf-8");
    assert_eq!(check, "No new upgrade operations detected.\n");
    assert!(
        krate.join("data/shop.sqlite3").is_file(),
        "the default SQLite file is in the crate's data/"
    );
}

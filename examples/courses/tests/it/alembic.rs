//! Hand-over with Alembic: a database Alembic migrated to a middle revision continues under
//! this runner, Alembic reads the version table this runner wrote, and Alembic takes over again.

use std::path::Path;

use db_testkit::{Backend, alembic, alembic_ready, backend_tests, sqlalchemy_url};

use crate::{HEAD, count, ok};

const ENV_PY: &str = r#"
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
connectable = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"#;

const AUDIT: &str = r#"
def audit():
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", sa.DateTime()),
        sa.Column("created_by", sa.String(255)),
        sa.Column("updated_by", sa.String(255)),
        sa.Column("archived_at", sa.DateTime()),
    ]
"#;

/// Real Alembic migrations for the first two revisions, the same DDL as the Rust ones.
fn body(revision: &str) -> &'static str {
    match revision {
        "1b9f0c7e5a21" => {
            r#"
def upgrade():
    op.create_table("users", sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(255), nullable=False, unique=True), sa.Column("email", sa.String(255)), *audit())
    op.create_table("organizations", sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(255), nullable=False), *audit())

def downgrade():
    op.drop_table("organizations")
    op.drop_table("users")
"#
        }
        "8d41b6e2c9a7" => {
            r#"
def upgrade():
    op.create_table("course_families", sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("organization_id", sa.String(36), sa.ForeignKey("organizations.id", ondelete="CASCADE",
            name="fk_course_families_organization_id"), nullable=False),
        sa.Column("title", sa.String(255), nullable=False), *audit())
    op.create_index("ix_course_families_organization_id", "course_families", ["organization_id"])

def downgrade():
    op.drop_table("course_families")
"#
        }
        _ => {
            r#"
def upgrade():
    raise NotImplementedError("this revision is applied by the Rust runner")

def downgrade():
    raise NotImplementedError("this revision is reverted by the Rust runner")
"#
        }
    }
}

/// Writes an Alembic environment whose scripts mirror the Rust revision graph.
fn write_alembic_env(dir: &Path, url: &str) {
    let versions = dir.join("versions");
    std::fs::create_dir_all(&versions).expect("versions folder");
    std::fs::write(
        dir.join("alembic.ini"),
        format!(
            "[alembic]\nscript_location = {}\nsqlalchemy.url = {}\n",
            dir.display(),
            sqlalchemy_url(url)
        ),
    )
    .expect("alembic.ini");
    std::fs::write(dir.join("env.py"), ENV_PY).expect("env.py");
    for script in example_courses::migrations::scripts() {
        let down = match script.down_revisions() {
            [] => "None".to_owned(),
            [one] => format!("{one:?}"),
            many => format!(
                "({})",
                many.iter()
                    .map(|d| format!("{d:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let labels = match script.branch_labels() {
            [] => "None".to_owned(),
            many => format!(
                "({},)",
                many.iter()
                    .map(|d| format!("{d:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let source = format!(
            "\"\"\"{}\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = {:?}\ndown_revision = {down}\nbranch_labels = {labels}\ndepends_on = None\n{AUDIT}{}",
            script.doc(),
            script.revision(),
            body(script.revision())
        );
        std::fs::write(versions.join(format!("{}.py", script.revision())), source)
            .expect("version file");
    }
}

backend_tests! {
    async fn alembic_and_this_runner_hand_over(test_db: TestDb) {
        if !alembic_ready(test_db.backend()) {
            return;
        }
        let env = tempfile::tempdir().expect("tempdir");
        write_alembic_env(env.path(), test_db.url());
        // Alembic migrates to a middle revision…
        alembic(env.path(), &["upgrade", "8d41b6e2c9a7"]);
        assert_eq!(ok(test_db.url(), &["current"]), "8d41b6e2c9a7\n");
        // …our runner continues to head…
        ok(test_db.url(), &["upgrade", "head"]);
        let db = test_db.open().await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM course_roles").await, 5);
        db.close().await.expect("close");
        // …Alembic reads where we left it…
        let current = alembic(env.path(), &["current"]);
        assert!(current.contains(&format!("{HEAD} (head)")), "alembic current printed {current:?}");
        // …and takes over again after we step back to its revisions.
        ok(test_db.url(), &["downgrade", "8d41b6e2c9a7"]);
        alembic(env.path(), &["downgrade", "base"]);
        assert_eq!(ok(test_db.url(), &["current"]), "");
        let db = test_db.open().await;
        let tables = match test_db.backend() {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'organizations', 'course_families')",
            Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('users', 'organizations', 'course_families')",
            Backend::MySql => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('users', 'organizations', 'course_families')",
        };
        assert_eq!(count(&db, tables).await, 0);
    }
}

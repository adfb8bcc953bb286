//! The `revision` template compiles and runs: `r0123456789ab_add_course_capacity.rs` in this
//! folder is its output, compiled into this test binary, and must stay identical to what
//! `render` produces today (apart from the creation date and rustfmt's line wrapping).

use db_migrate::scaffold::{NewRevision, render};
use db_migrate::{Migrator, RevisionId};

#[test]
fn the_committed_template_output_is_current() {
    let new = NewRevision {
        revision: RevisionId::new("0123456789ab").expect("id"),
        down_revisions: vec!["a1a1a1a1".into()],
        message: "add course capacity".into(),
        branch_labels: vec![],
        depends_on: vec![],
    };
    let rendered = render(&new, "r0123456789ab_add_course_capacity");
    let committed = include_str!("r0123456789ab_add_course_capacity.rs");
    // rustfmt may rewrap the committed copy (adding a trailing comma): compare without the date
    // line, whitespace and trailing commas.
    let without_date = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("//! Create Date:"))
            .flat_map(str::split_whitespace)
            .collect::<String>()
            .replace(",)", ")")
    };
    assert_eq!(
        without_date(&rendered),
        without_date(committed),
        "regenerate the file from `render`"
    );
}

#[tokio::test]
async fn a_generated_revision_runs() {
    let migrator = Migrator::new(vec![
        crate::support::noop("a1a1a1a1"),
        super::r0123456789ab_add_course_capacity::script(),
    ])
    .expect("valid");
    let db = db_core::Database::connect("sqlite::memory:")
        .await
        .expect("db");
    let steps = migrator.upgrade(&db, "head").await.expect("upgrade");
    assert_eq!(
        steps[1].to_string(),
        "upgrade a1a1a1a1 -> 0123456789ab, add course capacity"
    );
    assert_eq!(
        migrator
            .graph()
            .script("0123456789ab")
            .and_then(|s| s.checksum())
            .map(str::len),
        Some(64)
    );
}

//! Graph validation and target resolution, without a database.

use db_migrate::{Migrator, Script};

use crate::support::{branched, noop};

#[track_caller]
fn check_invalid(scripts: Vec<Script>, expected: &str) {
    let err = Migrator::new(scripts)
        .expect_err("graph must be rejected")
        .to_string();
    assert_eq!(err, expected);
}

#[test]
fn validation_names_the_revisions_at_fault() {
    check_invalid(
        vec![noop("aaaa1111"), noop("aaaa1111")],
        "revision `aaaa1111` is declared twice; give one of them a new id",
    );
    check_invalid(
        vec![noop("aaaa1111"), noop("bbbb2222").revises("cccc3333")],
        "revision `bbbb2222` refers to unknown revision `cccc3333` in its down_revision",
    );
    check_invalid(
        vec![noop("aaaa1111"), noop("bbbb2222").depends_on("zzzz9999")],
        "revision `bbbb2222` refers to unknown revision `zzzz9999` in its depends_on",
    );
    check_invalid(
        vec![
            noop("root0000"),
            noop("aaaa1111").revises("root0000").revises("cccc3333"),
            noop("bbbb2222").revises("aaaa1111"),
            noop("cccc3333").revises("bbbb2222"),
            noop("dddd4444").revises("cccc3333"),
        ],
        "the revisions aaaa1111, bbbb2222, cccc3333 form a cycle through down_revision/depends_on",
    );
    check_invalid(
        vec![
            noop("aaaa1111").branch_label("x"),
            noop("bbbb2222").revises("aaaa1111").branch_label("x"),
        ],
        "branch label `x` is used by more than one revision (aaaa1111, bbbb2222)",
    );
    check_invalid(
        vec![noop("not-valid!")],
        "invalid revision id `not-valid!`: it must not be empty or contain `@`, `-`, `+`, `:`, spaces or control characters",
    );
}

#[test]
fn history_heads_branches_and_show_read_like_alembic() {
    let m = branched();
    let g = m.graph();
    assert_eq!(
        g.history(None, &["c3c3c3c3".to_owned()]).expect("history"),
        [
            // Alembic spreads a label to the revisions of its branch (`_add_branches`).
            "e5e5e5e5 -> f6f6f6f6 (left, right) (head), migration f6f6f6f6",
            "c3c3c3c3, c3d4d4d4 -> e5e5e5e5 (left, right) (mergepoint), migration e5e5e5e5",
            "b2b2b2b2 -> c3d4d4d4 (right), migration c3d4d4d4",
            "b2b2b2b2 -> c3c3c3c3 (left) (current), migration c3c3c3c3",
            "a1a1a1a1 -> b2b2b2b2 (branchpoint), migration b2b2b2b2",
            "<base> -> a1a1a1a1, migration a1a1a1a1",
        ]
    );
    assert_eq!(
        g.history(Some("c3c3:e5e5"), &[]).expect("range"),
        [
            "c3c3c3c3, c3d4d4d4 -> e5e5e5e5 (left, right) (mergepoint), migration e5e5e5e5",
            "b2b2b2b2 -> c3c3c3c3 (left), migration c3c3c3c3"
        ]
    );
    assert_eq!(g.heads_lines(false), ["f6f6f6f6 (left, right) (head)"]);
    assert_eq!(
        g.branches_lines(),
        [
            "b2b2b2b2 (branchpoint), migration b2b2b2b2",
            "    -> c3c3c3c3 (left), migration c3c3c3c3",
            "    -> c3d4d4d4 (right), migration c3d4d4d4",
        ]
    );
    assert_eq!(
        g.show("e5e5").expect("show"),
        [
            "Rev: e5e5e5e5 (mergepoint)",
            "Merges: c3c3c3c3, c3d4d4d4",
            "Branch names: left, right",
            "",
            "    migration e5e5e5e5",
            ""
        ]
    );
}

#[test]
fn unknown_and_ambiguous_revisions_list_candidates() {
    let m = branched();
    let g = m.graph();
    assert_eq!(
        g.show("c3").expect_err("short").to_string(),
        "unknown revision `c3`; a partial id needs at least 4 characters; revisions starting with `c`: c3c3c3c3, c3d4d4d4"
    );
    assert_eq!(
        g.show("c3xx").expect_err("unknown").to_string(),
        "unknown revision `c3xx`; revisions starting with `c`: c3c3c3c3, c3d4d4d4"
    );
    assert_eq!(
        g.show("9999").expect_err("unknown").to_string(),
        "unknown revision `9999`; known heads: f6f6f6f6 (see `history` for all revisions)"
    );
    let two_heads = Migrator::new(vec![
        noop("a1a1a1a1"),
        noop("b2b2b2b2").revises("a1a1a1a1"),
        noop("b2b3b3b3").revises("a1a1a1a1"),
    ])
    .expect("valid");
    assert_eq!(
        two_heads
            .graph()
            .show("b2b")
            .expect_err("ambiguous")
            .to_string(),
        "unknown revision `b2b`; a partial id needs at least 4 characters; revisions starting with `b`: b2b2b2b2, b2b3b3b3"
    );
    assert_eq!(
        two_heads
            .graph()
            .history(Some("b2b2:b2b3"), &[])
            .map(|h| h.len())
            .expect("exact prefixes"),
        0
    );
    let ambiguous =
        Migrator::new(vec![noop("abcd1111"), noop("abcd2222").revises("abcd1111")]).expect("valid");
    assert_eq!(
        ambiguous
            .graph()
            .show("abcd")
            .expect_err("ambiguous")
            .to_string(),
        "ambiguous revision `abcd` matches abcd1111, abcd2222; give more characters"
    );
}

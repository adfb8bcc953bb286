//! The planner against Alembic, case by case.
//!
//! Every expected value in the tables below is what Alembic 1.20 does: the tables are read and
//! checked against real Alembic by `db-migrate/tests/it/alembic/plan_cases.py` (run it by hand
//! after editing a table; see its docstring). A case is
//! `(name, graph, version-table rows, command, expected)` where `expected` is
//! `Runs(steps, rows after)` with steps as `+id` (upgrade) / `-id` (downgrade) in the order they
//! run (a stamp runs none), or `Fails(substring of our error, substring of Alembic's error)`.

use sea_orm_migration::prelude::*;

use super::relative_destination;
use crate::graph::RevisionGraph;
use crate::migrator::Direction;
use crate::script::Script;

#[test]
fn relative_destinations_parse_as_alembic_reads_them() {
    let cases = [
        ("+2", Some((None, None, 2))),
        ("-1", Some((None, None, -1))),
        ("ae10+2", Some((None, Some("ae10"), 2))),
        ("ae10-1", Some((None, Some("ae10"), -1))),
        ("br1@+1", Some((Some("br1"), None, 1))),
        ("br1@-2", Some((Some("br1"), None, -2))),
        ("br1@ae10+1", Some((Some("br1"), Some("ae10"), 1))),
        ("head", None),
        ("br1@head", None),
        ("ae10", None),
        ("1234", None),
        ("ü+1", Some((None, Some("ü"), 1))),
    ];
    for (input, expected) in cases {
        assert_eq!(relative_destination(input), expected, "{input}");
    }
}

/// A migration that is never run: planning only needs the graph.
struct Noop;

impl MigrationName for Noop {
    fn name(&self) -> &str {
        "noop"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Noop {
    async fn up(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

type Strs = &'static [&'static str];

/// `(graph, revision, down_revisions, branch_labels, depends_on)`.
type Rev = (&'static str, &'static str, Strs, Strs, Strs);

/// What a command does.
enum Expect {
    /// The steps (`+id` / `-id`, in order) and the version table's rows after them.
    Runs(Strs, Strs),
    /// Refused: a substring of our error, and of Alembic's (checked by `plan_cases.py` only).
    Fails(&'static str, &'static str),
}
use Expect::{Fails, Runs};

/// `(name, graph, rows, "upgrade|downgrade|stamp target…", expected)`.
type Case = (&'static str, &'static str, Strs, &'static str, Expect);

/// The graphs, one revision a line (in Alembic's terms; `plan_cases.py` writes each as a file).
#[rustfmt::skip]
const REVISIONS: &[Rev] = &[
    // linear: a1a1a1 <- b2b2b2 <- c3c3c3 <- c3c3d4 (`c3c3` is an ambiguous prefix).
    ("linear", "a1a1a1", &[], &[], &[]),
    ("linear", "b2b2b2", &["a1a1a1"], &[], &[]),
    ("linear", "c3c3c3", &["b2b2b2"], &[], &[]),
    ("linear", "c3c3d4", &["c3c3c3"], &[], &[]),
    // branches: b0b0b0 <- b1b1b1 (branch point) <- left: cl1111 <- cl2222
    //                                             <- right: cr1111 <- cr2222
    ("branches", "b0b0b0", &[], &[], &[]),
    ("branches", "b1b1b1", &["b0b0b0"], &[], &[]),
    ("branches", "cl1111", &["b1b1b1"], &["left"], &[]),
    ("branches", "cl2222", &["cl1111"], &[], &[]),
    ("branches", "cr1111", &["b1b1b1"], &["right"], &[]),
    ("branches", "cr2222", &["cr1111"], &[], &[]),
    // merge: m0m0m0 <- m1m1m1 <- ma1111 <- ma2222 <- mm0000 (merge) <- mt0000
    //                         <- mb1111 <---------/
    ("merge", "m0m0m0", &[], &[], &[]),
    ("merge", "m1m1m1", &["m0m0m0"], &[], &[]),
    ("merge", "ma1111", &["m1m1m1"], &[], &[]),
    ("merge", "ma2222", &["ma1111"], &[], &[]),
    ("merge", "mb1111", &["m1m1m1"], &[], &[]),
    ("merge", "mm0000", &["ma2222", "mb1111"], &[], &[]),
    ("merge", "mt0000", &["mm0000"], &[], &[]),
    // depends: two roots; db2222 depends_on da1111.
    //   data: da1111 <- da2222
    //   app:  db1111 <- db2222 (depends_on da1111) <- db3333
    ("depends", "da1111", &[], &["data"], &[]),
    ("depends", "da2222", &["da1111"], &[], &[]),
    ("depends", "db1111", &[], &["app"], &[]),
    ("depends", "db2222", &["db1111"], &[], &["da1111"]),
    ("depends", "db3333", &["db2222"], &[], &[]),
    // roots: two independent branches, each with its own base.
    //   alpha: ra1111 <- ra2222
    //   beta:  rb1111 <- rb2222
    ("roots", "ra1111", &[], &["alpha"], &[]),
    ("roots", "ra2222", &["ra1111"], &[], &[]),
    ("roots", "rb1111", &[], &["beta"], &[]),
    ("roots", "rb2222", &["rb1111"], &[], &[]),
];

#[rustfmt::skip]
const LINEAR: &[Case] = &[
    ("head from base", "linear", &[], "upgrade head", Runs(&["+a1a1a1", "+b2b2b2", "+c3c3c3", "+c3c3d4"], &["c3c3d4"])),
    ("absolute id", "linear", &[], "upgrade b2b2b2", Runs(&["+a1a1a1", "+b2b2b2"], &["b2b2b2"])),
    ("partial id", "linear", &["a1a1a1"], "upgrade c3c3c", Runs(&["+b2b2b2", "+c3c3c3"], &["c3c3c3"])),
    ("short unique prefix", "linear", &[], "upgrade a1", Runs(&["+a1a1a1"], &["a1a1a1"])),
    ("+N", "linear", &["a1a1a1"], "upgrade +2", Runs(&["+b2b2b2", "+c3c3c3"], &["c3c3c3"])),
    ("+N from base", "linear", &[], "upgrade +1", Runs(&["+a1a1a1"], &["a1a1a1"])),
    ("id+N", "linear", &[], "upgrade a1a1a1+2", Runs(&["+a1a1a1", "+b2b2b2", "+c3c3c3"], &["c3c3c3"])),
    ("id-N up", "linear", &[], "upgrade c3c3c3-1", Runs(&["+a1a1a1", "+b2b2b2"], &["b2b2b2"])),
    ("heads", "linear", &["b2b2b2"], "upgrade heads", Runs(&["+c3c3c3", "+c3c3d4"], &["c3c3d4"])),
    ("base", "linear", &["c3c3d4"], "downgrade base", Runs(&["-c3c3d4", "-c3c3c3", "-b2b2b2", "-a1a1a1"], &[])),
    ("down to id", "linear", &["c3c3d4"], "downgrade a1a1a1", Runs(&["-c3c3d4", "-c3c3c3", "-b2b2b2"], &["a1a1a1"])),
    ("down to partial id", "linear", &["c3c3c3"], "downgrade b2b2", Runs(&["-c3c3c3"], &["b2b2b2"])),
    ("-N", "linear", &["c3c3d4"], "downgrade -1", Runs(&["-c3c3d4"], &["c3c3c3"])),
    ("-N to base", "linear", &["c3c3d4"], "downgrade -4", Runs(&["-c3c3d4", "-c3c3c3", "-b2b2b2", "-a1a1a1"], &[])),
    ("id-N", "linear", &["c3c3d4"], "downgrade c3c3d4-2", Runs(&["-c3c3d4", "-c3c3c3"], &["b2b2b2"])),
    ("id-N to base", "linear", &["b2b2b2"], "downgrade a1a1a1-1", Runs(&["-b2b2b2", "-a1a1a1"], &[])),
    ("id+N down", "linear", &["c3c3d4"], "downgrade a1a1a1+1", Runs(&["-c3c3d4", "-c3c3c3"], &["b2b2b2"])),
];

#[rustfmt::skip]
const BRANCHES: &[Case] = &[
    ("left@head from base", "branches", &[], "upgrade left@head", Runs(&["+b0b0b0", "+b1b1b1", "+cl1111", "+cl2222"], &["cl2222"])),
    ("right@head beside left", "branches", &["cl2222"], "upgrade right@head", Runs(&["+cr1111", "+cr2222"], &["cl2222", "cr2222"])),
    ("heads from base", "branches", &[], "upgrade heads", Runs(&["+b0b0b0", "+b1b1b1", "+cr1111", "+cr2222", "+cl1111", "+cl2222"], &["cl2222", "cr2222"])),
    ("heads from branch point", "branches", &["b1b1b1"], "upgrade heads", Runs(&["+cr1111", "+cr2222", "+cl1111", "+cl2222"], &["cl2222", "cr2222"])),
    ("other branch by id", "branches", &["cl2222"], "upgrade cr1111", Runs(&["+cr1111"], &["cl2222", "cr1111"])),
    ("label@+1", "branches", &["cl1111", "cr1111"], "upgrade left@+1", Runs(&["+cl2222"], &["cl2222", "cr1111"])),
    ("label@+1 on unapplied branch", "branches", &["cl2222"], "upgrade right@+1", Runs(&["+cr1111"], &["cl2222", "cr1111"])),
    ("label@id", "branches", &[], "upgrade left@cl1111", Runs(&["+b0b0b0", "+b1b1b1", "+cl1111"], &["cl1111"])),
    ("label@-1", "branches", &["cl2222", "cr2222"], "downgrade left@-1", Runs(&["-cl2222"], &["cl1111", "cr2222"])),
    ("label@-2", "branches", &["cl2222", "cr2222"], "downgrade left@-2", Runs(&["-cl2222", "-cl1111"], &["cr2222"])),
    ("right@-1", "branches", &["cl2222", "cr2222"], "downgrade right@-1", Runs(&["-cr2222"], &["cl2222", "cr1111"])),
    ("label@branch point", "branches", &["cl2222", "cr2222"], "downgrade left@b1b1b1", Runs(&["-cl2222", "-cl1111"], &["cr2222"])),
    // A branch point's branches share their base: `left@base` takes the whole graph down.
    ("label@base below a branch point", "branches", &["cl2222", "cr2222"], "downgrade left@base", Runs(&["-cl2222", "-cl1111", "-cr2222", "-cr1111", "-b1b1b1", "-b0b0b0"], &[])),
    ("to branch point", "branches", &["cl2222", "cr2222"], "downgrade b1b1b1", Runs(&["-cl2222", "-cl1111", "-cr2222", "-cr1111"], &["b1b1b1"])),
    ("label@head of a root", "roots", &["ra2222"], "upgrade beta@head", Runs(&["+rb1111", "+rb2222"], &["ra2222", "rb2222"])),
    ("heads of two roots", "roots", &[], "upgrade heads", Runs(&["+rb1111", "+rb2222", "+ra1111", "+ra2222"], &["ra2222", "rb2222"])),
    ("label@base of a root", "roots", &["ra2222", "rb2222"], "downgrade alpha@base", Runs(&["-ra2222", "-ra1111"], &["rb2222"])),
    ("label@-1 of a root", "roots", &["ra2222", "rb2222"], "downgrade beta@-1", Runs(&["-rb2222"], &["ra2222", "rb1111"])),
    ("base from both", "branches", &["cl2222", "cr2222"], "downgrade base", Runs(&["-cl2222", "-cl1111", "-cr2222", "-cr1111", "-b1b1b1", "-b0b0b0"], &[])),
];

#[rustfmt::skip]
const MERGE: &[Case] = &[
    ("head from base", "merge", &[], "upgrade head", Runs(&["+m0m0m0", "+m1m1m1", "+mb1111", "+ma1111", "+ma2222", "+mm0000", "+mt0000"], &["mt0000"])),
    ("head with one side applied", "merge", &["ma2222"], "upgrade head", Runs(&["+mb1111", "+mm0000", "+mt0000"], &["mt0000"])),
    ("merge with the other side applied", "merge", &["mb1111"], "upgrade mm0000", Runs(&["+ma1111", "+ma2222", "+mm0000"], &["mm0000"])),
    ("through merge from both sides", "merge", &["ma1111", "mb1111"], "upgrade mt0000", Runs(&["+ma2222", "+mm0000", "+mt0000"], &["mt0000"])),
    ("heads from one side", "merge", &["mb1111"], "upgrade heads", Runs(&["+ma1111", "+ma2222", "+mm0000", "+mt0000"], &["mt0000"])),
    ("below merge to one side", "merge", &["mt0000"], "downgrade ma2222", Runs(&["-mt0000", "-mm0000"], &["ma2222", "mb1111"])),
    ("below merge to other side", "merge", &["mt0000"], "downgrade mb1111", Runs(&["-mt0000", "-mm0000"], &["ma2222", "mb1111"])),
    ("below merge into one side", "merge", &["mt0000"], "downgrade ma1111", Runs(&["-mt0000", "-mm0000", "-ma2222"], &["ma1111", "mb1111"])),
    ("to branch point", "merge", &["mt0000"], "downgrade m1m1m1", Runs(&["-mt0000", "-mm0000", "-ma2222", "-ma1111", "-mb1111"], &["m1m1m1"])),
    ("-1 to merge", "merge", &["mt0000"], "downgrade -1", Runs(&["-mt0000"], &["mm0000"])),
];

#[rustfmt::skip]
const DEPENDS: &[Case] = &[
    ("dependency pulled in", "depends", &[], "upgrade db2222", Runs(&["+da1111", "+db1111", "+db2222"], &["db2222"])),
    ("branch head pulls dependency", "depends", &[], "upgrade app@head", Runs(&["+da1111", "+db1111", "+db2222", "+db3333"], &["db3333"])),
    ("dependency first", "depends", &[], "upgrade db3333", Runs(&["+da1111", "+db1111", "+db2222", "+db3333"], &["db3333"])),
    ("dependency joins the branch", "depends", &["db1111"], "upgrade db2222", Runs(&["+da1111", "+db2222"], &["db2222"])),
    ("dependency already applied", "depends", &["da2222"], "upgrade db3333", Runs(&["+db1111", "+db2222", "+db3333"], &["da2222", "db3333"])),
    ("heads", "depends", &[], "upgrade heads", Runs(&["+da1111", "+db1111", "+db2222", "+db3333", "+da2222"], &["da2222", "db3333"])),
    ("dependency down takes dependent", "depends", &["da2222", "db3333"], "downgrade data@base", Runs(&["-da2222", "-db3333", "-db2222", "-da1111"], &["db1111"])),
    ("dependency base takes dependent", "depends", &["da1111", "db2222"], "downgrade data@base", Runs(&["-db2222", "-da1111"], &["db1111"])),
    ("id-N to base takes every root", "depends", &["da1111", "db2222"], "downgrade da1111-1", Runs(&["-db2222", "-db1111", "-da1111"], &[])),
    ("dependency stays under its dependent", "depends", &["da2222", "db3333"], "downgrade da1111", Runs(&["-da2222"], &["db3333"])),
    ("dependent down keeps dependency", "depends", &["da2222", "db3333"], "downgrade app@db1111", Runs(&["-db3333", "-db2222"], &["da2222", "db1111"])),
];

#[rustfmt::skip]
const STAMP: &[Case] = &[
    ("forward", "linear", &["a1a1a1"], "stamp c3c3c3", Runs(&[], &["c3c3c3"])),
    ("back", "linear", &["c3c3d4"], "stamp a1a1a1", Runs(&[], &["a1a1a1"])),
    ("to base", "linear", &["b2b2b2"], "stamp base", Runs(&[], &[])),
    ("head from empty", "linear", &[], "stamp head", Runs(&[], &["c3c3d4"])),
    ("partial id", "linear", &["a1a1a1"], "stamp b2b2", Runs(&[], &["b2b2b2"])),
    ("across branches", "branches", &["cl2222"], "stamp cr1111", Runs(&[], &["cl2222", "cr1111"])),
    ("heads", "branches", &[], "stamp heads", Runs(&[], &["cl2222", "cr2222"])),
    ("one branch back", "branches", &["cl2222", "cr2222"], "stamp cl1111", Runs(&[], &["cl1111", "cr2222"])),
    ("both branches to branch point", "branches", &["cl2222", "cr2222"], "stamp b1b1b1", Runs(&[], &["b1b1b1"])),
    ("two targets", "branches", &[], "stamp cl1111 cr1111", Runs(&[], &["cl1111", "cr1111"])),
    ("base from two heads", "branches", &["cl2222", "cr2222"], "stamp base", Runs(&[], &[])),
    ("label@head", "branches", &["cl1111", "cr1111"], "stamp right@head", Runs(&[], &["cl1111", "cr2222"])),
    ("merge from both sides", "merge", &["ma2222", "mb1111"], "stamp mm0000", Runs(&[], &["mm0000"])),
    ("merge back to one side", "merge", &["mt0000"], "stamp ma2222", Runs(&[], &["ma2222"])),
    ("dependent over its dependency", "depends", &["da1111"], "stamp db2222", Runs(&[], &["db2222"])),
    ("dependent beside its dependency", "depends", &["da2222", "db1111"], "stamp db2222", Runs(&[], &["da2222", "db2222"])),
    ("label@base of a root", "roots", &["ra2222", "rb2222"], "stamp alpha@base", Runs(&[], &["rb2222"])),
];

#[rustfmt::skip]
const NOOP: &[Case] = &[
    ("upgrade at head", "linear", &["c3c3d4"], "upgrade head", Runs(&[], &["c3c3d4"])),
    ("upgrade to an ancestor", "linear", &["c3c3c3"], "upgrade a1a1a1", Runs(&[], &["c3c3c3"])),
    ("downgrade at base", "linear", &[], "downgrade base", Runs(&[], &[])),
    ("downgrade to current", "linear", &["b2b2b2"], "downgrade b2b2b2", Runs(&[], &["b2b2b2"])),
    ("heads at heads", "branches", &["cl2222", "cr2222"], "upgrade heads", Runs(&[], &["cl2222", "cr2222"])),
    ("label@head at its head", "branches", &["cl2222", "cr1111"], "upgrade left@head", Runs(&[], &["cl2222", "cr1111"])),
    ("below a merge", "merge", &["mt0000"], "upgrade ma2222", Runs(&[], &["mt0000"])),
    ("stamp current", "linear", &["b2b2b2"], "stamp b2b2b2", Runs(&[], &["b2b2b2"])),
];

#[rustfmt::skip]
const ERRORS: &[Case] = &[
    ("unknown revision", "linear", &[], "upgrade zzzzzz", Fails("unknown revision `zzzzzz`", "Can't locate revision identified by 'zzzzzz'")),
    ("unknown downgrade target", "linear", &["b2b2b2"], "downgrade zzzzzz", Fails("unknown revision `zzzzzz`", "Can't locate revision identified by 'zzzzzz'")),
    ("unknown stamp target", "linear", &[], "stamp zzzzzz", Fails("unknown revision `zzzzzz`", "Can't locate revision identified by 'zzzzzz'")),
    ("unknown label", "branches", &[], "upgrade nolabel@head", Fails("unknown revision `nolabel`", "nolabel")),
    ("unknown row", "linear", &["zzzzzz"], "upgrade head", Fails("the database is at revision `zzzzzz`", "zzzzzz")),
    ("ambiguous prefix", "linear", &[], "upgrade c3c3", Fails("ambiguous revision `c3c3` matches", "Multiple revisions start with 'c3c3'")),
    ("ambiguous short prefix", "linear", &[], "upgrade c3", Fails("a partial id needs at least 4 characters", "Multiple revisions start with 'c3'")),
    ("+N past head", "linear", &[], "upgrade +5", Fails("didn't produce 5 migrations", "Relative revision +5 didn't produce 5 migrations")),
    ("id+N past head", "linear", &[], "upgrade c3c3d4+1", Fails("revisions are above", "AssertionError")),
    ("-N past base", "linear", &["b2b2b2"], "downgrade -3", Fails("didn't produce 3 migrations", "Relative revision -3 didn't produce 3 migrations")),
    ("id-N past base", "linear", &["c3c3c3"], "downgrade b2b2b2-3", Fails("below base", "Walked too far")),
    ("downgrade above current", "linear", &["b2b2b2"], "downgrade c3c3d4", Fails("not applied", "not a valid downgrade target")),
    ("downgrade to other branch", "branches", &["cl2222"], "downgrade cr1111", Fails("not applied", "not a valid downgrade target")),
    ("head with two heads", "branches", &[], "upgrade head", Fails("multiple heads are present", "Multiple head revisions are present")),
    ("+1 at branch point", "branches", &["b1b1b1"], "upgrade +1", Fails("ambiguous", "Ambiguous walk")),
    // Left out: `downgrade -1` from rows [cl2222, cr2222]. Alembic 1.20 warns ("downgrade -1
    // from multiple heads is ambiguous; this usage will be disallowed in a future release") and
    // steps down from the version table's first row as the database returns it (-cl2222, or
    // -cr2222 when cr2222 was inserted first); we refuse.
    ("-1 below a merge", "merge", &["mm0000"], "downgrade -1", Fails("ambiguous", "Ambiguous walk")),
    ("label@id off the branch", "branches", &[], "upgrade left@cr1111", Fails("not a member of branch 'left'", "Revision cr1111 is not a member of branch 'left'")),
    ("rows overlapping through depends_on", "depends", &["da1111", "db3333"], "upgrade data@head", Fails("overlaps with other requested revisions", "Requested revision db3333 overlaps with other requested revisions da1111")),
    ("downgrade +1", "linear", &["b2b2b2"], "downgrade +1", Fails("use `upgrade`", "Relative revision +1 didn't produce 1 migrations")),
    ("upgrade -1", "linear", &["b2b2b2"], "upgrade -1", Fails("use `downgrade`", "Relative revision -1 didn't produce 1 migrations")),
];

/// The graph named `name` in [`REVISIONS`].
fn graph(name: &str) -> RevisionGraph {
    let scripts: Vec<Script> = REVISIONS
        .iter()
        .filter(|r| r.0 == name)
        .map(|&(_, id, down, labels, depends)| {
            let mut script = Script::new(id, Noop).merges(down.iter().copied());
            for &label in labels {
                script = script.branch_label(label);
            }
            for &d in depends {
                script = script.depends_on(d);
            }
            script
        })
        .collect();
    assert!(!scripts.is_empty(), "no graph named {name}");
    match RevisionGraph::new(scripts) {
        Ok(graph) => graph,
        Err(e) => panic!("graph {name}: {e}"),
    }
}

/// The steps (`+id` / `-id`) and final rows of `command` from `rows`, or the error message.
fn outcome(
    graph: &RevisionGraph,
    rows: Strs,
    command: &str,
) -> Result<(Vec<String>, Vec<String>), String> {
    let rows: Vec<String> = rows.iter().map(|r| (*r).to_owned()).collect();
    let (verb, target) = command.split_once(' ').unwrap_or((command, ""));
    let plan = match verb {
        "upgrade" => graph.plan_upgrade(&rows, target),
        "downgrade" => graph.plan_downgrade(&rows, target),
        "stamp" => {
            let targets: Vec<&str> = target.split_whitespace().collect();
            return graph
                .plan_stamp(&rows, &targets)
                .map(|after| (Vec::new(), after))
                .map_err(|e| e.to_string());
        }
        other => panic!("unknown command {other}"),
    }
    .map_err(|e| e.to_string())?;
    // The steps chain: each starts where the one before ended.
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(plan.start, sorted, "{command}: plan start");
    let mut at = plan.start.clone();
    let mut steps = Vec::new();
    for step in &plan.steps {
        assert_eq!(
            step.before,
            at,
            "{command}: rows before {}",
            graph.id(step.index)
        );
        at.clone_from(&step.after);
        let sign = match step.direction {
            Direction::Upgrade => '+',
            Direction::Downgrade => '-',
        };
        steps.push(format!("{sign}{}", graph.id(step.index)));
    }
    Ok((steps, plan.end().to_vec()))
}

/// Runs every case of `table`, reporting all that fail.
fn check(table: &str, cases: &[Case]) {
    let mut failures = Vec::new();
    for (name, graph_name, rows, command, expect) in cases {
        let graph = graph(graph_name);
        let got = outcome(&graph, rows, command);
        let good = match (expect, &got) {
            (Runs(steps, after), Ok((got_steps, got_after))) => {
                let mut after: Vec<&str> = after.to_vec();
                after.sort_unstable();
                got_steps == steps && *got_after == after
            }
            (Fails(ours, _), Err(message)) => message.contains(ours),
            _ => false,
        };
        if !good {
            let expected = match expect {
                Runs(steps, after) => format!("steps {steps:?}, rows {after:?}"),
                Fails(ours, alembic) => format!("an error with {ours:?} (Alembic: {alembic:?})"),
            };
            failures.push(format!(
                "{table}/{name}: {graph_name} {rows:?} `{command}`: expected {expected}, got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn linear_chain() {
    check("LINEAR", LINEAR);
}

#[test]
fn two_branches() {
    check("BRANCHES", BRANCHES);
}

#[test]
fn merge_point() {
    check("MERGE", MERGE);
}

#[test]
fn depends_on_across_branches() {
    check("DEPENDS", DEPENDS);
}

#[test]
fn stamp() {
    check("STAMP", STAMP);
}

#[test]
fn no_op() {
    check("NOOP", NOOP);
}

#[test]
fn errors() {
    check("ERRORS", ERRORS);
}

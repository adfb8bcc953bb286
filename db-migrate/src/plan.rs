//! What a command runs, exactly as Alembic decides it: Alembic's revision-map algorithms
//! (`alembic/script/revision.py`: `get_revisions`, `_walk`, `_parse_upgrade_target`,
//! `_parse_downgrade_target`, `_collect_upgrade_revisions`, `_collect_downgrade_revisions`,
//! `_topological_sort`; `alembic/script/base.py`: `_stamp_revs`) and how the version table
//! changes after each step (`alembic/runtime/migration.py`: `HeadMaintainer`), ported to the
//! [`RevisionGraph`]. Pure functions of (graph, version-table rows, target): no database.
//!
//! Revisions are indexes into the graph; `None` stands for `base`. Where Alembic iterates sets
//! in an unspecified order, the order here is the scripts' registration order (Alembic's is the
//! sorted file names of the versions folder).

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::error::{Error, Result};
use crate::graph::RevisionGraph;
use crate::migrator::Direction;

/// One migration of a plan and the version-table rows after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedStep {
    /// The revision.
    pub(crate) index: usize,
    /// Up or down.
    pub(crate) direction: Direction,
    /// The rows before the step, sorted.
    pub(crate) before: Vec<String>,
    /// The rows after the step, sorted.
    pub(crate) after: Vec<String>,
}

/// The ordered migrations a command runs from some version-table rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The rows the plan starts from, sorted.
    pub(crate) start: Vec<String>,
    /// The steps, in the order they run.
    pub(crate) steps: Vec<PlannedStep>,
    /// The command, to plan again from other rows (`None` for fixed plans).
    pub(crate) command: Option<(Direction, String)>,
}

impl Plan {
    /// The same command planned from `rows` (the rows found under the migration lock).
    ///
    /// # Errors
    /// As [`RevisionGraph::plan_upgrade`] / [`RevisionGraph::plan_downgrade`].
    pub(crate) fn again(&self, graph: &RevisionGraph, rows: &[String]) -> Result<Plan> {
        let mut sorted = rows.to_vec();
        sorted.sort();
        match &self.command {
            Some(_) if sorted == self.start => Ok(self.clone()),
            Some((Direction::Upgrade, target)) => graph.plan_upgrade(rows, target),
            Some((Direction::Downgrade, target)) => graph.plan_downgrade(rows, target),
            None => Ok(self.clone()),
        }
    }

    /// The rows after the last step, sorted.
    pub(crate) fn end(&self) -> &[String] {
        self.steps.last().map_or(&self.start, |s| &s.after)
    }

    /// The step that runs next when the version table holds `rows`; `None` once at the end.
    ///
    /// # Errors
    /// [`Error::ConcurrentChange`] when `rows` is no state of the plan (another runner moved
    /// the database elsewhere meanwhile).
    pub(crate) fn next_from(&self, rows: &[String]) -> Result<Option<&PlannedStep>> {
        let mut rows = rows.to_vec();
        rows.sort();
        if rows == self.end() {
            return Ok(None);
        }
        self.steps
            .iter()
            .find(|s| s.before == rows)
            .map(Some)
            .ok_or_else(|| Error::ConcurrentChange {
                found: fmt_rows(&rows),
                expected: fmt_rows(&self.start),
            })
    }
}

fn fmt_rows(rows: &[String]) -> String {
    if rows.is_empty() {
        "<base>".to_owned()
    } else {
        rows.join(", ")
    }
}

/// Why Alembic refuses; converted to [`Error`] with the command's target.
#[derive(Debug)]
enum Refusal {
    /// `ResolutionError`: no such revision or branch.
    Unknown(String),
    /// `ResolutionError`: several revisions start with the prefix.
    Ambiguous(String, Vec<usize>),
    /// `MultipleHeads`.
    MultipleHeads(Vec<usize>),
    /// `RevisionError` and `RangeNotAncestorError`: the reason.
    Invalid(String),
}

type Res<T> = std::result::Result<T, Refusal>;

impl RevisionGraph {
    // ---- the revision map -------------------------------------------------------------

    /// Alembic's `heads`: revisions no other names as down_revision, in registration order.
    fn alembic_heads(&self) -> Vec<usize> {
        self.alembic_order()
            .iter()
            .copied()
            .filter(|&i| self.children[i].is_empty())
            .collect()
    }

    /// Alembic's `_real_heads`: revisions nothing names as down_revision or depends_on.
    fn real_heads(&self) -> Vec<usize> {
        self.alembic_order()
            .iter()
            .copied()
            .filter(|&i| self.children[i].is_empty() && self.dependents_of(i).is_empty())
            .collect()
    }

    /// `_all_nextrev`: revisions naming `i` as down_revision or depends_on.
    fn all_next(&self, i: usize) -> Vec<usize> {
        let mut v = self.children[i].clone();
        for &d in self.dependents_of(i) {
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }

    /// `_iterate_related_revisions`: `targets` and everything reachable through `next`, with
    /// Alembic's `check` for overlapping targets.
    fn related(
        &self,
        targets: &[usize],
        next: &dyn Fn(usize) -> Vec<usize>,
        check: bool,
    ) -> Res<Vec<usize>> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut out = Vec::new();
        for &target in targets {
            let mut todo = VecDeque::from([target]);
            let mut per_target = HashSet::new();
            while let Some(rev) = todo.pop_back() {
                per_target.insert(rev);
                if !seen.insert(rev) {
                    continue;
                }
                todo.extend(next(rev));
                out.push(rev);
            }
            if check {
                let overlaps: Vec<usize> = targets
                    .iter()
                    .copied()
                    .filter(|t| *t != target && per_target.contains(t))
                    .collect();
                if !overlaps.is_empty() {
                    return Err(Refusal::Invalid(format!(
                        "requested revision {} overlaps with other requested revisions {}",
                        self.id(target),
                        self.names(&overlaps)
                    )));
                }
            }
        }
        Ok(out)
    }

    /// `_get_ancestor_nodes`: through normalized down_revisions (and depends_on) or only
    /// down_revisions.
    fn ancestor_nodes(&self, targets: &[usize], deps: bool, check: bool) -> Res<Vec<usize>> {
        if deps {
            self.related(targets, &|i| self.normalized_down(i), check)
        } else {
            self.related(targets, &|i| self.parents[i].clone(), check)
        }
    }

    /// `_get_descendant_nodes`.
    fn descendant_nodes(&self, targets: &[usize], deps: bool, check: bool) -> Res<Vec<usize>> {
        if deps {
            self.related(targets, &|i| self.all_next(i), check)
        } else {
            self.related(targets, &|i| self.children[i].clone(), check)
        }
    }

    fn names(&self, revs: &[usize]) -> String {
        revs.iter()
            .map(|&i| self.id(i).as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The map's keys (ids, then labels) that resolve to a revision, as Alembic's map holds
    /// them.
    fn lookup(&self, key: &str) -> Option<usize> {
        self.index(key).or_else(|| self.label(key))
    }

    // ---- resolving identifiers ----------------------------------------------------------

    /// `_resolve_revision_number`: the ids `id` names and the branch label before `@`.
    fn resolve_number(&self, id: &str) -> Res<(Vec<String>, Option<String>)> {
        let (label, id) = match id.split_once('@') {
            Some((l, rest)) => (Some(l.to_owned()), rest),
            None => (None, id),
        };
        Ok(match id {
            "heads" => match &label {
                Some(l) => {
                    let heads = self.alembic_heads();
                    let kept = self.filter_for_lineage(&heads, l, false)?;
                    (
                        kept.iter().map(|&i| self.id(i).to_string()).collect(),
                        label,
                    )
                }
                None => (
                    self.real_heads()
                        .iter()
                        .map(|&i| self.id(i).to_string())
                        .collect(),
                    label,
                ),
            },
            "head" => match self.current_head(label.as_deref())? {
                Some(h) => (vec![self.id(h).to_string()], label),
                None => (Vec::new(), label),
            },
            "base" | "" => (Vec::new(), label),
            other => (vec![other.to_owned()], label),
        })
    }

    /// `get_current_head`.
    fn current_head(&self, label: Option<&str>) -> Res<Option<usize>> {
        let mut heads = self.alembic_heads();
        if let Some(l) = label {
            heads = self.filter_for_lineage(&heads, l, false)?;
        }
        match heads.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(Refusal::MultipleHeads(many.to_vec())),
        }
    }

    /// `get_revisions`.
    fn get_revisions(&self, id: &str) -> Res<Vec<Option<usize>>> {
        let (resolved, label) = self.resolve_number(id)?;
        if let [only] = resolved.as_slice()
            && let Ok(n) = only.parse::<i64>()
            && n < 0
        {
            // branch@-n: walk down from the heads (of the branch).
            let heads: Vec<usize> = self
                .get_revisions("heads")?
                .into_iter()
                .flatten()
                .filter(|&h| label.as_ref().is_none_or(|l| self.labels_of(h).contains(l)))
                .collect();
            return heads
                .into_iter()
                .map(|h| {
                    self.walk(Some(h), n, None)?
                        .ok_or_else(|| Refusal::Invalid(format!("`{id}` walks below base")))
                })
                .collect();
        }
        resolved
            .iter()
            .map(|r| self.revision_for_ident(r, label.as_deref()))
            .collect()
    }

    /// `get_revision`: exactly one (or base).
    fn get_revision(&self, id: &str) -> Res<Option<usize>> {
        let (resolved, label) = self.resolve_number(id)?;
        match resolved.as_slice() {
            [] => Ok(None),
            [one] => self.revision_for_ident(one, label.as_deref()),
            _ => Err(Refusal::MultipleHeads(
                resolved.iter().filter_map(|r| self.lookup(r)).collect(),
            )),
        }
    }

    /// `_resolve_branch`.
    fn resolve_branch(&self, label: &str) -> Res<Option<usize>> {
        match self.lookup(label) {
            Some(i) => Ok(Some(i)),
            None => self.revision_for_ident(label, None).map_err(|e| match e {
                Refusal::Unknown(_) => Refusal::Unknown(label.to_owned()),
                other => other,
            }),
        }
    }

    /// `_revision_for_ident`: an id, a label or a unique prefix, checked against a branch.
    fn revision_for_ident(&self, id: &str, check_branch: Option<&str>) -> Res<Option<usize>> {
        let branch_rev = match check_branch {
            Some(b) => self.resolve_branch(b)?,
            None => None,
        };
        let revision = match self.lookup(id) {
            Some(i) => i,
            None => {
                // Partial ids: every key of the map longer than 3 characters.
                let mut keys: Vec<(String, usize)> = self
                    .alembic_order()
                    .iter()
                    .map(|&i| (self.id(i).to_string(), i))
                    .collect();
                keys.extend(self.label_keys());
                let mut revs: Vec<usize> = keys
                    .iter()
                    .filter(|(k, _)| k.chars().count() > 3 && k.starts_with(id))
                    .map(|(_, i)| *i)
                    .collect();
                if let (Some(b), Some(_)) = (check_branch, branch_rev) {
                    revs = self.filter_for_lineage(&revs, b, false)?;
                }
                match revs.as_slice() {
                    [] => return Err(Refusal::Unknown(id.to_owned())),
                    [one] => *one,
                    many => return Err(Refusal::Ambiguous(id.to_owned(), many.to_vec())),
                }
            }
        };
        if let (Some(b), Some(branch)) = (check_branch, branch_rev)
            && !self.shares_lineage(revision, &[branch], false)?
        {
            return Err(Refusal::Invalid(format!(
                "revision {} is not a member of branch '{b}'",
                self.id(revision)
            )));
        }
        Ok(Some(revision))
    }

    /// `filter_for_lineage`: the targets related (as ancestor or descendant) to what
    /// `check_against` names.
    fn filter_for_lineage(
        &self,
        targets: &[usize],
        check_against: &str,
        deps: bool,
    ) -> Res<Vec<usize>> {
        if targets.is_empty() {
            // Alembic resolves what to check against per target: nothing to resolve.
            return Ok(Vec::new());
        }
        let (ids, label) = self.resolve_number(check_against)?;
        let mut shares = Vec::new();
        if let Some(l) = &label {
            shares.extend(self.revision_for_ident(l, None)?);
        }
        for id in &ids {
            shares.extend(self.revision_for_ident(id, None)?);
        }
        if label.is_none() && ids.is_empty() {
            return Ok(targets.to_vec());
        }
        let mut out = Vec::new();
        for &t in targets {
            if self.shares_lineage(t, &shares, deps)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// `_shares_lineage`.
    fn shares_lineage(&self, target: usize, against: &[usize], deps: bool) -> Res<bool> {
        if against.is_empty() {
            return Ok(true);
        }
        let mut related: HashSet<usize> = self
            .descendant_nodes(&[target], deps, false)?
            .into_iter()
            .collect();
        related.extend(self.ancestor_nodes(&[target], deps, false)?);
        Ok(against.iter().any(|a| related.contains(a)))
    }

    /// `_walk`: `steps` up (> 0) or down (< 0) from `start` (`None`: base going up, the heads
    /// going down). `Ok(None)`: walked past the end; `Ok(Some(None))`: landed on base.
    fn walk(
        &self,
        start: Option<usize>,
        steps: i64,
        label: Option<&str>,
    ) -> Res<Option<Option<usize>>> {
        // Python's three states: `None` (the start), a revision, and the string "base".
        #[derive(Clone, Copy, PartialEq)]
        enum At {
            Start,
            Rev(usize),
            Base,
        }
        let mut at = match start {
            Some(i) => At::Rev(i),
            None => At::Start,
        };
        for _ in 0..steps.unsigned_abs() {
            let children: Vec<At> = if steps > 0 {
                let walk_up: Vec<usize> = match at {
                    At::Rev(i) => self.children[i].clone(),
                    At::Start | At::Base => self
                        .alembic_order()
                        .iter()
                        .copied()
                        .filter(|&i| self.parents[i].is_empty())
                        .collect(),
                };
                let up = match label {
                    Some(l) => self.filter_for_lineage(&walk_up, l, false)?,
                    None => walk_up,
                };
                up.into_iter().map(At::Rev).collect()
            } else {
                match at {
                    At::Base => Vec::new(),
                    At::Start => self.alembic_heads().into_iter().map(At::Rev).collect(),
                    At::Rev(i) if self.parents[i].is_empty() => vec![At::Base],
                    At::Rev(i) => self.parents[i].iter().copied().map(At::Rev).collect(),
                }
            };
            match children.as_slice() {
                [] => return Ok(None),
                [one] => at = *one,
                many => {
                    let options: BTreeSet<usize> = many
                        .iter()
                        .filter_map(|c| match c {
                            At::Rev(i) => Some(*i),
                            At::Start | At::Base => None,
                        })
                        .collect();
                    return Err(Refusal::Invalid(format!(
                        "the step is ambiguous between {}; name a revision, or use `<rev>{}N` or `<branch>@head`",
                        self.format_set(&options),
                        if steps > 0 { '+' } else { '-' }
                    )));
                }
            }
        }
        Ok(Some(match at {
            At::Rev(i) => Some(i),
            At::Start | At::Base => None,
        }))
    }

    // ---- upgrade ---------------------------------------------------------------------

    /// `_parse_upgrade_target`.
    fn parse_upgrade_target(&self, current: &[usize], target: &str) -> Res<Vec<Option<usize>>> {
        let Some((label, symbol, relative)) = relative_destination(target) else {
            return self.get_revisions(target);
        };
        if relative > 0 {
            if let Some(symbol) = symbol {
                let start = self.get_revision(symbol)?;
                return match self.walk(start, relative, label)? {
                    Some(r) => Ok(vec![r]),
                    None => Err(Refusal::Invalid(format!(
                        "only fewer than {relative} revisions are above {symbol}"
                    ))),
                };
            }
            let mut start_revs: Vec<Option<usize>> = if current.is_empty() {
                vec![None]
            } else {
                current.iter().copied().map(Some).collect()
            };
            if let Some(l) = label {
                let on_branch = self.filter_for_lineage(current, l, false)?;
                start_revs = on_branch.into_iter().map(Some).collect();
                if start_revs.is_empty() {
                    // The branch is not at a head: start from its newest applied revisions.
                    let active = self.filter_for_lineage(
                        &self.ancestor_nodes(current, true, false)?,
                        l,
                        false,
                    )?;
                    let downs: HashSet<usize> = active
                        .iter()
                        .flat_map(|&r| self.normalized_down(r))
                        .collect();
                    let tips: BTreeSet<usize> = active
                        .iter()
                        .copied()
                        .filter(|r| !downs.contains(r))
                        .collect();
                    start_revs = tips.into_iter().map(Some).collect();
                    if start_revs.is_empty() {
                        start_revs = vec![None];
                    }
                }
            }
            if start_revs.len() > 1 {
                return Err(Refusal::Invalid(
                    "the upgrade is ambiguous from several current revisions; name a revision, or use `<rev>+N` or `<branch>@+N`".into(),
                ));
            }
            return match self.walk(start_revs[0], relative, label)? {
                Some(r) => Ok(vec![r]),
                None => Err(Refusal::Invalid(format!(
                    "relative revision {relative:+} didn't produce {} migrations",
                    relative.unsigned_abs()
                ))),
            };
        }
        let Some(symbol) = symbol else {
            return Err(Refusal::Invalid(
                "a negative step moves down; use `downgrade`".into(),
            ));
        };
        let start = match label {
            None => self.get_revision(symbol)?,
            Some(l) => self.get_revision(&format!("{l}@{symbol}"))?,
        };
        match self.walk(start, relative, None)? {
            Some(r) => Ok(vec![r]),
            None => Err(Refusal::Invalid("it goes below base".into())),
        }
    }

    /// `_collect_upgrade_revisions` with `implicit_base=True`: the revisions to apply and the
    /// targets.
    fn collect_upgrade(&self, current: &[usize], target: &str) -> Res<(Vec<usize>, Vec<usize>)> {
        let parsed = self.parse_upgrade_target(current, target)?;
        let mut targets: Vec<usize> = Vec::new();
        for t in parsed.into_iter().flatten() {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        let mut required: Vec<usize> = self.ancestor_nodes(&targets, true, true)?;
        for &t in &targets {
            if !required.contains(&t) {
                required.push(t);
            }
        }
        let current_nodes: HashSet<usize> = self
            .ancestor_nodes(current, true, true)?
            .into_iter()
            .chain(current.iter().copied())
            .collect();
        let needs: Vec<usize> = required
            .into_iter()
            .filter(|r| !current_nodes.contains(r))
            .collect();
        Ok((needs, targets))
    }

    // ---- downgrade -------------------------------------------------------------------

    /// `_parse_downgrade_target`: the branch label and the revision to go down to.
    fn parse_downgrade_target(
        &self,
        current: &[usize],
        target: &str,
    ) -> Res<(Option<String>, Option<usize>)> {
        if let Some((label, symbol, relative)) = relative_destination(target) {
            if relative >= 0 {
                let Some(symbol) = symbol else {
                    return Err(Refusal::Invalid(
                        "a positive step moves up; use `upgrade`".into(),
                    ));
                };
                let start = self.get_revision(symbol)?;
                return match self.walk(start, relative, label)? {
                    Some(r) => Ok((label.map(str::to_owned), r)),
                    None => Err(Refusal::Invalid("it walks past the last revision".into())),
                };
            }
            let relative_to_current = symbol.is_none();
            let (branch, symbol) = match symbol {
                Some(s) => (label.map(str::to_owned), s.to_owned()),
                None => match label {
                    Some(l) => {
                        let mut on_branch = self.filter_for_lineage(current, l, false)?;
                        if on_branch.is_empty() {
                            let all_current = self.all_current(current)?;
                            on_branch = self.filter_for_lineage(&all_current, l, false)?;
                        }
                        match on_branch.as_slice() {
                            [one] => (Some(l.to_owned()), self.id(*one).to_string()),
                            [] => {
                                return Err(Refusal::Invalid(format!("branch {l} is not applied")));
                            }
                            _ => {
                                return Err(Refusal::Invalid(format!(
                                    "branch {l} has several current revisions"
                                )));
                            }
                        }
                    }
                    None => {
                        let Some(&first) = current.first() else {
                            return Err(Refusal::Invalid(format!(
                                "relative revision {relative} didn't produce {} migrations",
                                relative.unsigned_abs()
                            )));
                        };
                        if current.len() > 1 {
                            return Err(Refusal::Invalid(format!(
                                "`-N` from several heads ({}) is ambiguous; name a revision, or use `<rev>-N` or `<branch>@-N`",
                                self.names(current)
                            )));
                        }
                        let s = self.id(first).to_string();
                        (Some(s.clone()), s)
                    }
                },
            };
            let start = match &branch {
                None => self.get_revision(&symbol)?,
                Some(b) => self.get_revision(&format!("{b}@{symbol}"))?,
            };
            return match self.walk(start, relative, None)? {
                Some(r) => Ok((branch, r)),
                None if relative_to_current => Err(Refusal::Invalid(format!(
                    "relative revision {relative} didn't produce {} migrations",
                    relative.unsigned_abs()
                ))),
                None => Err(Refusal::Invalid("it goes below base".into())),
            };
        }
        let (label, symbol) = match target.rsplit_once('@') {
            Some((l, s)) if !l.is_empty() => (Some(l.to_owned()), s),
            Some((_, s)) => (None, s),
            None => (None, target),
        };
        Ok((label, self.get_revision(symbol)?))
    }

    /// `_get_all_current`.
    fn all_current(&self, current: &[usize]) -> Res<Vec<usize>> {
        let mut top: Vec<usize> = current.to_vec();
        for a in self.ancestor_nodes(current, true, false)? {
            if !top.contains(&a) {
                top.push(a);
            }
        }
        let mut out = Vec::new();
        for &rev in &top {
            let below: HashSet<usize> = self
                .descendant_nodes(&[rev], false, false)?
                .into_iter()
                .filter(|&d| d != rev)
                .collect();
            if !top.iter().any(|t| below.contains(t)) {
                out.push(rev);
            }
        }
        Ok(out)
    }

    /// `_collect_downgrade_revisions` (not inclusive, no implicit base): the revisions to
    /// revert and the current heads.
    fn collect_downgrade(&self, current: &[usize], target: &str) -> Res<Vec<usize>> {
        let (label, target_rev) = self.parse_downgrade_target(current, target)?;
        let mut roots: Vec<usize> = match target_rev {
            None => self
                .alembic_order()
                .iter()
                .copied()
                .filter(|&i| self.parents[i].is_empty())
                .collect(),
            Some(t) => self.children[t].clone(),
        };
        if let Some(l) = &label
            && roots.len() > 1
        {
            let branch = self.resolve_branch(l)?;
            let ancestors: HashSet<usize> = match branch {
                Some(b) => self
                    .ancestor_nodes(&[b], false, false)?
                    .into_iter()
                    .collect(),
                None => HashSet::new(),
            };
            roots.retain(|r| ancestors.contains(r));
            if roots.is_empty() {
                return Err(Refusal::Invalid(
                    "it is not a valid downgrade target from the current heads".into(),
                ));
            }
        }
        let downgrade: Vec<usize> = self.descendant_nodes(&roots, true, false)?;
        let active: HashSet<usize> = self
            .ancestor_nodes(current, true, false)?
            .into_iter()
            .collect();
        let revert: Vec<usize> = downgrade
            .into_iter()
            .filter(|r| active.contains(r))
            .collect();
        if let Some(t) = target_rev
            && revert.is_empty()
            && !current.contains(&t)
        {
            return Err(Refusal::Invalid(format!(
                "{} is not applied; the database is at {}",
                self.id(t),
                self.format_set(&current.iter().copied().collect())
            )));
        }
        Ok(revert)
    }

    // ---- ordering --------------------------------------------------------------------

    /// `_topological_sort`: `revisions` heads first, each after everything that needs it.
    fn alembic_topological_sort(&self, revisions: &[usize], heads: &[usize]) -> Vec<usize> {
        let mut todo: BTreeSet<usize> = revisions.iter().copied().collect();
        let mut current_heads: Vec<usize> = self
            .alembic_order()
            .iter()
            .copied()
            .filter(|h| heads.contains(h) && todo.contains(h))
            .collect();
        let ancestors = |r: usize| -> HashSet<usize> {
            self.ancestor_nodes(&[r], true, false)
                .unwrap_or_default()
                .into_iter()
                .collect()
        };
        let mut ancestors_by_idx: Vec<HashSet<usize>> =
            current_heads.iter().map(|&h| ancestors(h)).collect();
        let mut output = Vec::new();
        let mut idx = 0usize;
        while !current_heads.is_empty() {
            let candidate = current_heads[idx];
            if let Some(other) = ancestors_by_idx
                .iter()
                .enumerate()
                .find(|(k, a)| *k != idx && a.contains(&candidate))
                .map(|(k, _)| k)
            {
                idx = other;
                continue;
            }
            if todo.remove(&candidate) {
                output.push(candidate);
            }
            let heads_to_add: Vec<usize> = self
                .normalized_down(candidate)
                .into_iter()
                .filter(|r| todo.contains(r) && !current_heads.contains(r))
                .collect();
            if heads_to_add.is_empty() {
                current_heads.remove(idx);
                ancestors_by_idx.remove(idx);
                idx = idx.saturating_sub(1);
            } else if self.normalized_deps(candidate).is_empty()
                && self.parents[candidate].len() == 1
            {
                current_heads[idx] = heads_to_add[0];
                ancestors_by_idx[idx].remove(&candidate);
            } else {
                current_heads[idx] = heads_to_add[0];
                ancestors_by_idx[idx] = ancestors(heads_to_add[0]);
                for &h in &heads_to_add[1..] {
                    current_heads.push(h);
                    ancestors_by_idx.push(ancestors(h));
                }
            }
        }
        // Anything left (not reachable from the heads given) keeps a valid order.
        let mut rest: Vec<usize> = todo.into_iter().collect();
        rest.sort_by_key(|&i| std::cmp::Reverse(self.position(i)));
        output.extend(rest);
        output
    }

    // ---- version-table rows ----------------------------------------------------------

    /// `HeadMaintainer.update_to_step` for a migration step. Where Alembic's own update would
    /// fail (a row it expects is missing, or one it adds is there already) the plan is refused.
    fn maintain(&self, heads: &mut BTreeSet<usize>, rev: usize, direction: Direction) -> Res<()> {
        let refuse = |what: &str| {
            Refusal::Invalid(format!(
                "the version table cannot follow {} {}: {what}",
                direction.as_str(),
                self.id(rev)
            ))
        };
        let downrevs = self.normalized_down(rev);
        match direction {
            Direction::Upgrade => {
                if heads.contains(&rev) {
                    return Err(refuse("it is already a row"));
                }
                let present: Vec<usize> = downrevs
                    .iter()
                    .copied()
                    .filter(|d| heads.contains(d))
                    .collect();
                if present.is_empty() {
                    // A new branch.
                } else if downrevs.len() > 1 && present.len() > 1 {
                    let others: Vec<usize> = heads
                        .iter()
                        .copied()
                        .filter(|h| !downrevs.contains(h))
                        .collect();
                    let below: HashSet<usize> = if others.is_empty() {
                        HashSet::new()
                    } else {
                        self.ancestor_nodes(&others, true, false)?
                            .into_iter()
                            .collect()
                    };
                    for d in downrevs.iter().filter(|d| !below.contains(d)) {
                        if !heads.remove(d) {
                            return Err(refuse("a merged row is missing"));
                        }
                    }
                } else if let [one] = present.as_slice() {
                    heads.remove(one);
                } else {
                    return Err(refuse("its down revision is ambiguous"));
                }
                heads.insert(rev);
            }
            Direction::Downgrade => {
                if !heads.contains(&rev) {
                    return Err(refuse("it is not a row"));
                }
                let to = self.unmerge_to(heads, rev)?;
                heads.remove(&rev);
                for t in to {
                    if !heads.insert(t) {
                        return Err(refuse("its down revision is a row already"));
                    }
                }
            }
        }
        Ok(())
    }

    /// `RevisionStep._unmerge_to_revisions`: the rows a downgrade of `rev` leaves.
    fn unmerge_to(&self, heads: &BTreeSet<usize>, rev: usize) -> Res<Vec<usize>> {
        let to = self.normalized_down(rev);
        let others: Vec<usize> = heads.iter().copied().filter(|&h| h != rev).collect();
        let mut below: HashSet<usize> = HashSet::new();
        if others.is_empty() {
            for &t in &to {
                below.extend(
                    self.ancestor_nodes(&[t], true, false)?
                        .into_iter()
                        .filter(|&r| r != t),
                );
            }
        } else {
            below.extend(self.ancestor_nodes(&others, true, false)?);
        }
        Ok(to.into_iter().filter(|t| !below.contains(t)).collect())
    }

    fn row_names(&self, heads: &BTreeSet<usize>) -> Vec<String> {
        let mut v: Vec<String> = heads.iter().map(|&i| self.id(i).to_string()).collect();
        v.sort();
        v
    }

    fn plan_steps(&self, start: &[usize], order: &[usize], direction: Direction) -> Res<Plan> {
        let mut heads: BTreeSet<usize> = start.iter().copied().collect();
        let start_rows = self.row_names(&heads);
        let mut steps = Vec::new();
        for &rev in order {
            let before = self.row_names(&heads);
            self.maintain(&mut heads, rev, direction)?;
            steps.push(PlannedStep {
                index: rev,
                direction,
                before,
                after: self.row_names(&heads),
            });
        }
        Ok(Plan {
            start: start_rows,
            steps,
            command: None,
        })
    }

    // ---- commands --------------------------------------------------------------------

    /// The rows of the version table as revisions.
    ///
    /// # Errors
    /// [`Error::UnknownDatabaseRevision`].
    pub(crate) fn rows_to_revisions(&self, rows: &[String]) -> Result<Vec<usize>> {
        rows.iter()
            .map(|r| {
                self.index(r).ok_or_else(|| Error::UnknownDatabaseRevision {
                    revision: r.clone(),
                })
            })
            .collect()
    }

    /// What `alembic current` lists for the version-table `rows` (`ScriptDirectory.
    /// get_all_current`: `RevisionMap._get_all_current` and `_filter_into_branch_heads` in
    /// `alembic/script/revision.py`): every applied revision (the rows and their ancestors
    /// through down_revision and depends_on) that no other applied revision names as
    /// down_revision. That is the rows, plus each revision the rows only depend on with no
    /// applied child, which Alembic marks `(effective head)` when something depends on it.
    /// Rows this graph does not know are left out; the order is Alembic's map order.
    #[must_use]
    pub fn current_revisions(&self, rows: &[String]) -> Vec<String> {
        let known: Vec<usize> = rows.iter().filter_map(|r| self.index(r)).collect();
        let all: HashSet<usize> = self
            .all_current(&known)
            .map(|v| v.into_iter().collect())
            .unwrap_or_default();
        self.alembic_order()
            .iter()
            .filter(|i| all.contains(i))
            .map(|&i| self.id(i).to_string())
            .collect()
    }

    /// The version-table rows `ident` names (`heads`, a revision, a label), for the start of
    /// an offline range.
    ///
    /// # Errors
    /// Target errors.
    pub(crate) fn rows_for(&self, ident: &str) -> Result<Vec<String>> {
        let revs = self
            .get_revisions(ident)
            .map_err(|r| self.refusal(r, ident, "upgrade"))?;
        let set: BTreeSet<usize> = revs.into_iter().flatten().collect();
        Ok(self.row_names(&set))
    }

    /// What `alembic upgrade <target>` runs from `rows`.
    ///
    /// # Errors
    /// Target errors, before anything runs.
    pub(crate) fn plan_upgrade(&self, rows: &[String], target: &str) -> Result<Plan> {
        let current = self.rows_to_revisions(rows)?;
        let (needs, targets) = self
            .collect_upgrade(&current, target)
            .map_err(|r| self.refusal(r, target, "upgrade"))?;
        let mut order = self.alembic_topological_sort(&needs, &targets);
        order.reverse();
        let mut plan = self
            .plan_steps(&current, &order, Direction::Upgrade)
            .map_err(|r| self.refusal(r, target, "upgrade"))?;
        plan.command = Some((Direction::Upgrade, target.to_owned()));
        Ok(plan)
    }

    /// What `alembic downgrade <target>` runs from `rows`.
    ///
    /// # Errors
    /// Target errors, before anything runs.
    pub(crate) fn plan_downgrade(&self, rows: &[String], target: &str) -> Result<Plan> {
        let current = self.rows_to_revisions(rows)?;
        let revert = self
            .collect_downgrade(&current, target)
            .map_err(|r| self.refusal(r, target, "downgrade"))?;
        let order = self.alembic_topological_sort(&revert, &current);
        let mut plan = self
            .plan_steps(&current, &order, Direction::Downgrade)
            .map_err(|r| self.refusal(r, target, "downgrade"))?;
        plan.command = Some((Direction::Downgrade, target.to_owned()));
        Ok(plan)
    }

    /// The rows after `alembic stamp <targets>` from `rows` (`_stamp_revs` and the stamp
    /// steps' `HeadMaintainer` updates).
    ///
    /// # Errors
    /// Target errors; a stamp Alembic's version-table update would fail on.
    pub(crate) fn plan_stamp(&self, rows: &[String], targets: &[&str]) -> Result<Vec<String>> {
        let current = self.rows_to_revisions(rows)?;
        let joined = targets.join(" ");
        self.stamp_rows(&current, targets)
            .map_err(|r| self.refusal(r, &joined, "stamp"))
    }

    fn stamp_rows(&self, current: &[usize], targets: &[&str]) -> Res<Vec<String>> {
        let mut filtered: Vec<usize> = Vec::new();
        for t in targets {
            for h in self.filter_for_lineage(current, t, true)? {
                if !filtered.contains(&h) {
                    filtered.push(h);
                }
            }
        }
        let mut dests: Vec<Option<usize>> = Vec::new();
        for t in targets {
            dests.extend(self.get_revisions(t)?);
        }
        if dests.is_empty() {
            dests.push(None);
        }
        let mut heads: BTreeSet<usize> = current.iter().copied().collect();
        let refuse =
            |what: &str| Refusal::Invalid(format!("the version table cannot be stamped: {what}"));
        for dest in dests {
            let Some(dest) = dest else {
                // To base: delete every selected head.
                for h in &filtered {
                    if !heads.remove(h) {
                        return Err(refuse("a row to delete is missing"));
                    }
                }
                continue;
            };
            if filtered.contains(&dest) {
                continue;
            }
            let descendants: HashSet<usize> = self
                .descendant_nodes(&[dest], true, false)?
                .into_iter()
                .collect();
            let ancestors: HashSet<usize> = self
                .ancestor_nodes(&[dest], true, false)?
                .into_iter()
                .collect();
            let related = filtered.iter().any(|h| descendants.contains(h))
                || filtered.iter().any(|h| ancestors.contains(h));
            let upgrade = !filtered.iter().any(|h| descendants.contains(h));
            if !related {
                // A branch not represented: a new row.
                if heads.insert(dest) {
                    continue;
                }
                return Err(refuse("the row exists already"));
            }
            // StampStep(from = the selected heads, to = dest).
            let from: BTreeSet<usize> = filtered.iter().copied().collect();
            let creates =
                upgrade && from.iter().any(|f| !heads.contains(f)) && !heads.contains(&dest);
            if creates {
                heads.insert(dest);
                continue;
            }
            for f in &filtered {
                if !heads.remove(f) {
                    return Err(refuse("a row to replace is missing"));
                }
            }
            if !heads.insert(dest) {
                return Err(refuse("the row exists already"));
            }
        }
        Ok(self.row_names(&heads))
    }

    /// Alembic's refusal as this crate's error, naming `target`.
    fn refusal(&self, refusal: Refusal, target: &str, operation: &'static str) -> Error {
        match refusal {
            Refusal::Unknown(id) => Error::UnknownRevision {
                candidates: self.candidates(&id),
                target: id,
            },
            Refusal::Ambiguous(id, many) => {
                if id.chars().count() < crate::target::MIN_PREFIX {
                    Error::UnknownRevision {
                        candidates: self.candidates(&id),
                        target: id,
                    }
                } else {
                    Error::AmbiguousRevision {
                        target: id,
                        candidates: self.names(&many),
                    }
                }
            }
            Refusal::MultipleHeads(heads) => Error::MultipleHeads {
                heads: self.format_set(&heads.into_iter().collect()),
            },
            Refusal::Invalid(reason) => Error::InvalidTarget {
                target: target.to_owned(),
                operation,
                reason,
            },
        }
    }
}

/// Alembic's `_relative_destination`, `(?:(.+?)@)?(\w+)?((?:\+|-)\d+)` with `re.match`: an
/// optional `label@`, an optional symbol of word characters, then a signed number that may
/// be followed by anything (Alembic's `match` anchors only the start).
fn relative_destination(target: &str) -> Option<(Option<&str>, Option<&str>, i64)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    // Try every `@` position for the lazy `(.+?)@` (first one that lets the rest match),
    // then no label at all.
    let mut starts: Vec<(Option<&str>, &str)> = target
        .char_indices()
        .filter(|&(i, c)| c == '@' && i > 0)
        .map(|(i, _)| (Some(&target[..i]), &target[i + 1..]))
        .collect();
    starts.push((None, target));
    for (label, rest) in starts {
        // `(\w+)?` is greedy but may give characters back for the sign and digits.
        let word_end = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        let mut cut = word_end;
        loop {
            let (symbol, tail) = rest.split_at(cut);
            if let Some(n) = signed_number(tail) {
                let symbol = (!symbol.is_empty()).then_some(symbol);
                return Some((label, symbol, n));
            }
            match rest[..cut].char_indices().next_back() {
                Some((i, _)) => cut = i,
                None => break,
            }
        }
    }
    None
}

/// A leading `+N` / `-N` of `s` (digits only, what follows is ignored as by `re.match`).
fn signed_number(s: &str) -> Option<i64> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    digits.parse::<i64>().ok().map(|n| sign * n)
}

#[cfg(test)]
mod tests;

//! The [`RevisionGraph`]: scripts validated (ids, unknown or cyclic references) into
//! Alembic's revision map, with heads, branch points, labels, normalized `depends_on` and
//! ancestor/descendant closures.

use std::collections::{BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::script::{RevisionId, Script};

/// A set of revisions, as indexes into the [`RevisionGraph`].
pub(crate) type RevSet = BTreeSet<usize>;

/// The validated revision graph (Alembic's `RevisionMap`): revisions, their down_revisions
/// (parents), depends_on edges and branch labels, with a fixed topological order.
///
/// Built by [`RevisionGraph::new`], which rejects duplicate ids, unknown parents or
/// dependencies, cycles and duplicate branch labels, naming them.
#[derive(Debug)]
pub struct RevisionGraph {
    pub(crate) scripts: Vec<Script>,
    ids: Vec<RevisionId>,
    by_id: HashMap<String, usize>,
    labels: HashMap<String, usize>,
    pub(crate) parents: Vec<Vec<usize>>,
    pub(crate) deps: Vec<Vec<usize>>,
    pub(crate) children: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    /// depends_on without what an ancestor (by down_revision) already depends on (Alembic's
    /// `_normalized_resolved_dependencies`).
    normalized_deps: Vec<Vec<usize>>,
    /// Branch labels as Alembic spreads them: to every descendant by down_revision, and down
    /// a branch's linear stem to the next branch point or merge point (`_add_branches`).
    effective_labels: Vec<BTreeSet<String>>,
    /// Revisions in Alembic's map order: its versions folder is read in file-name order
    /// ([`Script::order_key`]: the file name when given, else the id), ties by id.
    alembic_order: Vec<usize>,
    /// Position of each revision in the topological order (parents before children).
    position: Vec<usize>,
    /// Revisions in topological order.
    pub(crate) order: Vec<usize>,
}

impl RevisionGraph {
    /// Validates `scripts` and builds the graph.
    ///
    /// # Errors
    /// [`Error::InvalidRevisionId`], [`Error::DuplicateRevision`], [`Error::UnknownParent`],
    /// [`Error::Cycle`] or [`Error::DuplicateBranchLabel`], each naming the revisions at fault.
    pub fn new(scripts: Vec<Script>) -> Result<Self> {
        let mut ids = Vec::with_capacity(scripts.len());
        let mut by_id = HashMap::new();
        for (i, s) in scripts.iter().enumerate() {
            let id = RevisionId::new(s.revision.clone())?;
            if by_id.insert(s.revision.clone(), i).is_some() {
                return Err(Error::DuplicateRevision {
                    revision: s.revision.clone(),
                });
            }
            ids.push(id);
        }
        let lookup = |from: &Script, id: &String, relation: &'static str| {
            by_id.get(id).copied().ok_or_else(|| Error::UnknownParent {
                revision: from.revision.clone(),
                missing: id.clone(),
                relation,
            })
        };
        let mut labels: HashMap<String, usize> = HashMap::new();
        for (i, s) in scripts.iter().enumerate() {
            for label in &s.branch_labels {
                let clash = labels
                    .get(label)
                    .copied()
                    .or_else(|| by_id.get(label).copied());
                if let Some(other) = clash {
                    return Err(Error::DuplicateBranchLabel {
                        label: label.clone(),
                        revisions: format!("{}, {}", scripts[other].revision, s.revision),
                    });
                }
                labels.insert(label.clone(), i);
            }
        }
        let mut parents = vec![Vec::new(); scripts.len()];
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); scripts.len()];
        let mut children = vec![Vec::new(); scripts.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); scripts.len()];
        for (i, s) in scripts.iter().enumerate() {
            for p in &s.down_revisions {
                let p = lookup(s, p, "down_revision")?;
                parents[i].push(p);
                children[p].push(i);
            }
            for d in &s.depends_on {
                // As Alembic, depends_on may name a branch label.
                let d = match labels.get(d) {
                    Some(&l) if !by_id.contains_key(d) => l,
                    _ => lookup(s, d, "depends_on")?,
                };
                if !deps[i].contains(&d) {
                    deps[i].push(d);
                    dependents[d].push(i);
                }
            }
        }
        let order = topological_order(&scripts, &parents, &deps)?;
        let mut position = vec![0; scripts.len()];
        for (pos, &i) in order.iter().enumerate() {
            position[i] = pos;
        }
        let normalized_deps = normalize_deps(&parents, &deps);
        let mut alembic_order: Vec<usize> = (0..scripts.len()).collect();
        alembic_order.sort_by(|&a, &b| {
            (scripts[a].order_key(), &scripts[a].revision)
                .cmp(&(scripts[b].order_key(), &scripts[b].revision))
        });
        let effective_labels = spread_labels(&scripts, &parents, &children, &dependents);
        Ok(Self {
            scripts,
            ids,
            by_id,
            labels,
            parents,
            deps,
            children,
            dependents,
            normalized_deps,
            effective_labels,
            alembic_order,
            position,
            order,
        })
    }

    /// The number of revisions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// Whether there are no revisions.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// The script of revision `id`, if known.
    #[must_use]
    pub fn script(&self, id: &str) -> Option<&Script> {
        self.by_id.get(id).map(|&i| &self.scripts[i])
    }

    /// Every script, newest first (reverse topological order), as `alembic history` lists them.
    pub fn newest_first(&self) -> impl Iterator<Item = &Script> {
        self.order.iter().rev().map(|&i| &self.scripts[i])
    }

    /// The heads: revisions no other revision names as down_revision.
    #[must_use]
    pub fn heads(&self) -> Vec<&RevisionId> {
        self.head_indexes()
            .into_iter()
            .map(|i| &self.ids[i])
            .collect()
    }

    /// Branch points: revisions that two or more revisions name as down_revision.
    #[must_use]
    pub fn branch_points(&self) -> Vec<&Script> {
        self.order
            .iter()
            .rev()
            .filter(|&&i| self.children[i].len() > 1)
            .map(|&i| &self.scripts[i])
            .collect()
    }

    /// The revisions that name `id` as down_revision.
    #[must_use]
    pub fn children_of(&self, id: &str) -> Vec<&Script> {
        self.by_id
            .get(id)
            .map(|&i| self.children[i].iter().map(|&c| &self.scripts[c]).collect())
            .unwrap_or_default()
    }

    /// Whether `id` is a head.
    #[must_use]
    pub fn is_head(&self, id: &str) -> bool {
        self.by_id
            .get(id)
            .is_some_and(|&i| self.children[i].is_empty())
    }

    pub(crate) fn head_indexes(&self) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&i| self.children[i].is_empty())
            .collect()
    }

    pub(crate) fn id(&self, i: usize) -> &RevisionId {
        &self.ids[i]
    }

    pub(crate) fn index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn label(&self, label: &str) -> Option<usize> {
        self.labels.get(label).copied()
    }

    pub(crate) fn all_ids(&self) -> impl Iterator<Item = &RevisionId> {
        self.order.iter().map(|&i| &self.ids[i])
    }

    /// `set` and every revision it needs: down_revisions and depends_on, transitively.
    pub(crate) fn ancestors(&self, set: &RevSet) -> RevSet {
        self.closure(set, |i| self.parents[i].iter().chain(&self.deps[i]))
    }

    /// `set` and every revision that needs one of them, transitively.
    pub(crate) fn descendants(&self, set: &RevSet) -> RevSet {
        self.closure(set, |i| self.children[i].iter().chain(&self.dependents[i]))
    }

    /// Every revision in Alembic's map order (its sorted file names, [`Script::order_key`]).
    pub(crate) fn alembic_order(&self) -> &[usize] {
        &self.alembic_order
    }

    /// The revisions naming `i` in depends_on.
    pub(crate) fn dependents_of(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// Alembic's `_normalized_resolved_dependencies` of `i`.
    pub(crate) fn normalized_deps(&self, i: usize) -> Vec<usize> {
        self.normalized_deps[i].clone()
    }

    /// Alembic's `_normalized_down_revisions` of `i`: down_revisions, then normalized
    /// depends_on.
    pub(crate) fn normalized_down(&self, i: usize) -> Vec<usize> {
        let mut v = self.parents[i].clone();
        for &d in &self.normalized_deps[i] {
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }

    /// The branch labels `i` carries, as Alembic spreads them.
    pub(crate) fn labels_of(&self, i: usize) -> &BTreeSet<String> {
        &self.effective_labels[i]
    }

    /// Every branch label and its revision, in Alembic's map order.
    pub(crate) fn label_keys(&self) -> Vec<(String, usize)> {
        self.alembic_order
            .iter()
            .flat_map(|&i| {
                self.scripts[i]
                    .branch_labels
                    .iter()
                    .map(move |l| (l.clone(), i))
            })
            .collect()
    }

    pub(crate) fn position(&self, i: usize) -> usize {
        self.position[i]
    }

    pub(crate) fn format_set(&self, set: &RevSet) -> String {
        if set.is_empty() {
            return "<base>".to_owned();
        }
        let mut v: Vec<usize> = set.iter().copied().collect();
        v.sort_by_key(|&i| self.position[i]);
        v.iter()
            .map(|&i| self.ids[i].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn closure<'a, F, I>(&'a self, set: &RevSet, next: F) -> RevSet
    where
        F: Fn(usize) -> I,
        I: Iterator<Item = &'a usize>,
    {
        let mut out = set.clone();
        let mut stack: Vec<usize> = set.iter().copied().collect();
        while let Some(i) = stack.pop() {
            for &n in next(i) {
                if out.insert(n) {
                    stack.push(n);
                }
            }
        }
        out
    }
}

/// Alembic's `_normalize_depends_on`: each revision's depends_on without those that one of
/// its ancestors (by down_revision) already depends on.
fn normalize_deps(parents: &[Vec<usize>], deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    (0..deps.len())
        .map(|i| {
            if deps[i].is_empty() {
                return Vec::new();
            }
            let mut covered: BTreeSet<usize> = BTreeSet::new();
            let mut stack = parents[i].clone();
            let mut seen: BTreeSet<usize> = BTreeSet::new();
            while let Some(a) = stack.pop() {
                if !seen.insert(a) {
                    continue;
                }
                covered.extend(deps[a].iter().copied());
                stack.extend(parents[a].iter().copied());
            }
            deps[i]
                .iter()
                .copied()
                .filter(|d| !covered.contains(d))
                .collect()
        })
        .collect()
}

/// Alembic's `_add_branches`: a label goes to every descendant (by down_revision) of its
/// revision; when those form one line, it also goes down from the tip through the labelled
/// revision to the next revision that is a branch point (counting dependents) or a merge
/// point, which stays unlabelled.
fn spread_labels(
    scripts: &[Script],
    parents: &[Vec<usize>],
    children: &[Vec<usize>],
    dependents: &[Vec<usize>],
) -> Vec<BTreeSet<String>> {
    let mut labels: Vec<BTreeSet<String>> = scripts
        .iter()
        .map(|s| s.branch_labels.iter().cloned().collect())
        .collect();
    let real_branch_point = |i: usize| {
        let mut next: BTreeSet<usize> = children[i].iter().copied().collect();
        next.extend(dependents[i].iter().copied());
        next.len() > 1
    };
    for (r, script) in scripts.iter().enumerate() {
        if script.branch_labels.is_empty() {
            continue;
        }
        let mut below = vec![r];
        let mut stack = vec![r];
        let mut seen = BTreeSet::from([r]);
        let mut linear = true;
        while let Some(n) = stack.pop() {
            if children[n].len() > 1 {
                linear = false;
            }
            for &c in &children[n] {
                if seen.insert(c) {
                    below.push(c);
                    stack.push(c);
                }
            }
        }
        for &n in &below {
            labels[n].extend(script.branch_labels.iter().cloned());
        }
        if !linear {
            // The walk down from whichever tip Alembic saw last stops at a branch point at
            // or above `r`: nothing more is labelled.
            continue;
        }
        let mut node = *below.last().unwrap_or(&r);
        loop {
            if real_branch_point(node) || parents[node].len() > 1 {
                break;
            }
            labels[node].extend(script.branch_labels.iter().cloned());
            match parents[node].as_slice() {
                [p] => node = *p,
                _ => break,
            }
        }
    }
    labels
}

/// Kahn's algorithm over down_revision and depends_on edges; ties keep registration order.
fn topological_order(
    scripts: &[Script],
    parents: &[Vec<usize>],
    deps: &[Vec<usize>],
) -> Result<Vec<usize>> {
    let n = scripts.len();
    let mut pending: Vec<usize> = (0..n).map(|i| parents[i].len() + deps[i].len()).collect();
    let mut users = vec![Vec::new(); n];
    for i in 0..n {
        for &p in parents[i].iter().chain(&deps[i]) {
            users[p].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() < n {
        // Revisions stuck only because they descend from a cycle are peeled off, leaf first.
        let mut stuck: BTreeSet<usize> = (0..n).filter(|&i| pending[i] > 0).collect();
        while let Some(leaf) = stuck
            .iter()
            .copied()
            .find(|&i| !users[i].iter().any(|u| stuck.contains(u)))
        {
            stuck.remove(&leaf);
        }
        let names: Vec<&str> = stuck
            .iter()
            .map(|&i| scripts[i].revision.as_str())
            .collect();
        return Err(Error::Cycle {
            revisions: names.join(", "),
        });
    }
    Ok(order)
}

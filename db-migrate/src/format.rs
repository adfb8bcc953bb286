//! Alembic-style text for `history`, `heads`, `branches`, `current` and `show`.

use crate::error::Result;
use crate::graph::{RevSet, RevisionGraph};
use crate::script::Script;
use crate::target::RevRange;

/// What to mark and include in a script line.
#[derive(Clone, Copy, Debug, Default)]
pub struct LineStyle {
    /// Prefix `<down> -> `.
    pub parents: bool,
    /// Append `, <message>`.
    pub doc: bool,
    /// Append `(branchpoint)` / `(mergepoint)`.
    pub tree: bool,
    /// Leave out the branch labels (Alembic's `current` does not print them).
    pub no_labels: bool,
}

impl RevisionGraph {
    /// One script as Alembic prints it, e.g. `ae1027a6acf0 -> 1975ea83b712 (codes) (head), add codes`.
    /// `current` marks it `(current)`.
    #[must_use]
    pub fn line(&self, script: &Script, style: LineStyle, current: bool) -> String {
        let mut text = String::new();
        if style.parents {
            let down = if script.down_revisions.is_empty() {
                "<base>".to_owned()
            } else {
                script.down_revisions.join(", ")
            };
            if script.depends_on.is_empty() {
                text.push_str(&format!("{down} -> "));
            } else {
                text.push_str(&format!("{down} ({}) -> ", script.depends_on.join(", ")));
            }
        }
        text.push_str(&script.revision);
        let labels = self.branch_names(script);
        if !labels.is_empty() && !style.no_labels {
            text.push_str(&format!(" ({})", labels.join(", ")));
        }
        // Alembic: `(head)` when nothing follows it through down_revision or depends_on,
        // `(effective head)` when only revisions depending on it follow.
        if let Some(i) = self.index(&script.revision)
            && self.children[i].is_empty()
        {
            if self.dependents_of(i).is_empty() {
                text.push_str(" (head)");
            } else {
                text.push_str(" (effective head)");
            }
        }
        if current {
            text.push_str(" (current)");
        }
        if style.tree {
            if self.children_of(&script.revision).len() > 1 {
                text.push_str(" (branchpoint)");
            }
            if script.down_revisions.len() > 1 {
                text.push_str(" (mergepoint)");
            }
        }
        if style.doc {
            text.push_str(&format!(", {}", script.message));
        }
        text
    }

    /// `alembic history [-r start:end] [--indicate-current]`: one line per revision, newest
    /// first. `range` is `start:end` where either side may be empty, `base`, `head(s)`,
    /// `current` or a revision; `current` are the database's heads (for `(current)` marks and
    /// the `current` keyword).
    ///
    /// # Errors
    /// Unknown or ambiguous revisions in `range`.
    pub fn history(&self, range: Option<&str>, current: &[String]) -> Result<Vec<String>> {
        let current_set: RevSet = current.iter().filter_map(|c| self.index(c)).collect();
        let selected: Option<RevSet> = match range {
            None => None,
            Some(r) => Some(self.range(r, &current_set)?),
        };
        let style = LineStyle {
            parents: true,
            doc: true,
            tree: true,
            no_labels: false,
        };
        Ok(self
            .newest_first()
            .filter(|s| {
                selected
                    .as_ref()
                    .is_none_or(|sel| self.index(&s.revision).is_some_and(|i| sel.contains(&i)))
            })
            .map(|s| self.line(s, style, current.contains(&s.revision)))
            .collect())
    }

    fn range(&self, range: &str, current: &RevSet) -> Result<RevSet> {
        let range: RevRange = range.parse()?;
        let (start, end) = (range.start().unwrap_or(""), range.end().unwrap_or(""));
        let all: RevSet = (0..self.len()).collect();
        let point = |p: &str| -> Result<Option<RevSet>> {
            Ok(match p {
                "" | "base" => None,
                "current" => Some(current.clone()),
                "head" | "heads" => Some(self.head_indexes().into_iter().collect()),
                other => Some(RevSet::from([self.resolve_rev(other)?])),
            })
        };
        let lower = match point(start)? {
            Some(s) => self.descendants(&s),
            None => all.clone(),
        };
        let upper = match (end, point(end)?) {
            ("", _) | (_, None) => all,
            (_, Some(e)) => self.ancestors(&e),
        };
        Ok(lower.intersection(&upper).copied().collect())
    }

    /// `alembic heads`: one line per head.
    #[must_use]
    pub fn heads_lines(&self, verbose: bool) -> Vec<String> {
        let style = LineStyle {
            parents: verbose,
            doc: verbose,
            tree: false,
            no_labels: false,
        };
        self.newest_first()
            .filter(|s| self.is_head(&s.revision))
            .map(|s| self.line(s, style, false))
            .collect()
    }

    /// `alembic branches`: each branch point, then `-> child` lines.
    #[must_use]
    pub fn branches_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for point in self.branch_points() {
            out.push(self.line(
                point,
                LineStyle {
                    parents: false,
                    doc: true,
                    tree: true,
                    no_labels: false,
                },
                false,
            ));
            for child in self.children_of(&point.revision) {
                out.push(format!(
                    "    -> {}",
                    self.line(
                        child,
                        LineStyle {
                            parents: false,
                            doc: true,
                            tree: false,
                            no_labels: false,
                        },
                        false
                    )
                ));
            }
        }
        out
    }

    /// `alembic current`: one line per revision Alembic's `current` lists
    /// ([`RevisionGraph::current_revisions`]: the rows, and revisions the rows only depend on that
    /// nothing applied follows), as `ScriptDirectory.get_all_current` with
    /// `Script.cmd_format(verbose)` prints them: the id with `(head)`, `(effective head)`,
    /// `(branchpoint)`, `(mergepoint)` (no branch labels), or with `verbose` the
    /// [`RevisionGraph::log_entry`] of each. Rows this graph does not know are listed as
    /// `<id> (unknown revision)` (Alembic refuses to print anything for them).
    #[must_use]
    pub fn current_lines(&self, current: &[String], verbose: bool) -> Vec<String> {
        let style = LineStyle {
            parents: false,
            doc: false,
            tree: true,
            no_labels: true,
        };
        let mut out = Vec::new();
        for id in self.current_revisions(current) {
            let Some(script) = self.script(&id) else {
                continue;
            };
            if verbose {
                out.extend(self.log_entry(script, false));
            } else {
                out.push(self.line(script, style, false));
            }
        }
        for c in current.iter().filter(|c| self.script(c).is_none()) {
            out.push(format!("{c} (unknown revision)"));
        }
        out
    }

    /// `alembic show <rev>`: the revision's [`RevisionGraph::log_entry`].
    ///
    /// # Errors
    /// Unknown or ambiguous revision.
    pub fn show(&self, rev: &str) -> Result<Vec<String>> {
        let i = self.resolve_rev(rev)?;
        Ok(self.log_entry(&self.scripts[i], false))
    }

    /// The branch labels Alembic shows for `script`: its own and those spread to it from the
    /// revisions of its branch (Alembic's `Revision.branch_labels` after `_add_branches`),
    /// sorted.
    fn branch_names(&self, script: &Script) -> Vec<String> {
        match self.index(&script.revision) {
            Some(i) => self.labels_of(i).iter().cloned().collect(),
            None => script.branch_labels.clone(),
        }
    }

    /// A revision as Alembic's `Script.log_entry` writes it (`show`, `current --verbose`,
    /// `history --verbose`): `Rev: <id>` with `(head)` (no revision names it as
    /// down_revision), `(branchpoint)`, `(mergepoint)` and `(current)`; `Merges:` or
    /// `Parent:`; `Also depends on:`, `Branches into:` (in Alembic's map order) and `Branch
    /// names:` where they apply; `Path:` when the script has a source path; an empty line,
    /// the message indented by four spaces, and an empty line.
    #[must_use]
    pub fn log_entry(&self, script: &Script, current: bool) -> Vec<String> {
        let index = self.index(&script.revision);
        let children: Vec<usize> = index.map(|i| self.children[i].clone()).unwrap_or_default();
        let mut rev = format!("Rev: {}", script.revision);
        if children.is_empty() {
            rev.push_str(" (head)");
        }
        if children.len() > 1 {
            rev.push_str(" (branchpoint)");
        }
        let merge = script.down_revisions.len() > 1;
        if merge {
            rev.push_str(" (mergepoint)");
        }
        if current {
            rev.push_str(" (current)");
        }
        let mut out = vec![rev];
        let down = if script.down_revisions.is_empty() {
            "<base>".to_owned()
        } else {
            script.down_revisions.join(", ")
        };
        out.push(format!(
            "{}: {down}",
            if merge { "Merges" } else { "Parent" }
        ));
        if !script.depends_on.is_empty() {
            out.push(format!("Also depends on: {}", script.depends_on.join(", ")));
        }
        if children.len() > 1 {
            let names: Vec<&str> = self
                .alembic_order()
                .iter()
                .filter(|i| children.contains(i))
                .map(|&i| self.scripts[i].revision.as_str())
                .collect();
            out.push(format!("Branches into: {}", names.join(", ")));
        }
        let labels = self.branch_names(script);
        if !labels.is_empty() {
            out.push(format!("Branch names: {}", labels.join(", ")));
        }
        if let Some(path) = &script.path {
            out.push(format!("Path: {path}"));
        }
        out.push(String::new());
        out.extend(script.message.lines().map(|l| format!("    {l}")));
        out.push(String::new());
        out
    }
}

/// One revision in the JSON output of `heads`, `history` and `current` (`--format json`).
/// The fields are stable: new ones may be added, none renamed or removed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RevisionJson {
    /// The revision id.
    pub revision: String,
    /// Its down_revision(s); empty for a root.
    pub down_revisions: Vec<String>,
    /// The revisions it depends on (Alembic's `depends_on`).
    pub depends_on: Vec<String>,
    /// Its branch labels.
    pub branch_labels: Vec<String>,
    /// The script's message.
    pub message: String,
    /// Nothing follows it (Alembic's `(head)`).
    pub is_head: bool,
    /// More than one revision follows it.
    pub is_branch_point: bool,
    /// It has several down_revisions.
    pub is_merge_point: bool,
    /// The database is at it (`history --indicate-current`, `current`); `null` when the
    /// database was not read.
    pub is_current: Option<bool>,
}

impl RevisionGraph {
    /// `script` as [`RevisionJson`]; `current` as its `is_current`.
    #[must_use]
    pub fn revision_json(&self, script: &Script, current: Option<bool>) -> RevisionJson {
        RevisionJson {
            revision: script.revision.to_string(),
            down_revisions: script.down_revisions.clone(),
            depends_on: script.depends_on.clone(),
            branch_labels: script.branch_labels.clone(),
            message: script.message.clone(),
            is_head: self.is_head(&script.revision),
            is_branch_point: self.children_of(&script.revision).len() > 1,
            is_merge_point: script.down_revisions.len() > 1,
            is_current: current,
        }
    }

    /// `history` as JSON revisions, newest first (see [`history`](Self::history) for
    /// `range`); `current` is `None` when the database was not read.
    ///
    /// # Errors
    /// Unknown or ambiguous revisions in `range`.
    pub fn history_json(
        &self,
        range: Option<&str>,
        current: Option<&[String]>,
    ) -> Result<Vec<RevisionJson>> {
        let current_set: RevSet = current
            .unwrap_or_default()
            .iter()
            .filter_map(|c| self.index(c))
            .collect();
        let selected: Option<RevSet> = match range {
            None => None,
            Some(r) => Some(self.range(r, &current_set)?),
        };
        Ok(self
            .newest_first()
            .filter(|s| {
                selected
                    .as_ref()
                    .is_none_or(|sel| self.index(&s.revision).is_some_and(|i| sel.contains(&i)))
            })
            .map(|s| {
                let is_current = current.map(|c| c.iter().any(|r| *r == *s.revision));
                self.revision_json(s, is_current)
            })
            .collect())
    }

    /// The heads as JSON revisions, newest first.
    #[must_use]
    pub fn heads_json(&self) -> Vec<RevisionJson> {
        self.newest_first()
            .filter(|s| self.is_head(&s.revision))
            .map(|s| self.revision_json(s, None))
            .collect()
    }
}

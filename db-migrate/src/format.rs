//! Alembic-style text for `history`, `heads`, `branches`, `current` and `show`.

use std::collections::BTreeSet;

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
        if !script.branch_labels.is_empty() {
            text.push_str(&format!(" ({})", script.branch_labels.join(", ")));
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
                            tree: false
                        },
                        false
                    )
                ));
            }
        }
        out
    }

    /// `alembic current`: one line per version-table row, with Alembic's marks (`(head)`,
    /// `(effective head)`, `(branchpoint)`, `(mergepoint)`); rows this graph does not know are
    /// marked `(unknown revision)`.
    #[must_use]
    pub fn current_lines(&self, current: &[String], verbose: bool) -> Vec<String> {
        let style = LineStyle {
            parents: verbose,
            doc: verbose,
            tree: true,
        };
        current
            .iter()
            .map(|c| match self.script(c) {
                Some(s) => self.line(s, style, false),
                None => format!("{c} (unknown revision)"),
            })
            .collect()
    }

    /// `alembic show <rev>`: the revision's fields, one per line.
    ///
    /// # Errors
    /// Unknown or ambiguous revision.
    pub fn show(&self, rev: &str) -> Result<Vec<String>> {
        let i = self.resolve_rev(rev)?;
        let s = &self.scripts[i];
        let head = if self.is_head(&s.revision) {
            " (head)"
        } else {
            ""
        };
        let mut out = vec![format!("Rev: {}{head}", s.revision)];
        let parent = if s.down_revisions.is_empty() {
            "<base>".to_owned()
        } else {
            s.down_revisions.join(", ")
        };
        out.push(format!("Parent: {parent}"));
        if s.down_revisions.len() > 1 {
            out.push(format!("Merges: {}", s.down_revisions.join(", ")));
        }
        let children: BTreeSet<&str> = self
            .children_of(&s.revision)
            .iter()
            .map(|c| c.revision.as_str())
            .collect();
        if children.len() > 1 {
            out.push(format!(
                "Branches into: {}",
                children.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !s.branch_labels.is_empty() {
            out.push(format!("Branch names: {}", s.branch_labels.join(", ")));
        }
        if !s.depends_on.is_empty() {
            out.push(format!("Depends on: {}", s.depends_on.join(", ")));
        }
        if let Some(path) = &s.path {
            out.push(format!("Path: {path}"));
        }
        out.push(String::new());
        out.push(format!("    {}", s.message));
        Ok(out)
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

//! Target strings (`head`, `heads`, `base`, ids, unique prefixes, `+N`, `-N`, `<rev>+N`,
//! `<rev>-N`, `<branch>@head`) and their resolution against the graph, as Alembic reads them.

use crate::error::{Error, Result};
use crate::graph::{RevSet, RevisionGraph};

/// The shortest prefix accepted for a partial revision id.
pub(crate) const MIN_PREFIX: usize = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Spec {
    Base,
    Head,
    Heads,
    Rev(String),
    /// `+N` / `-N` from the database's current state.
    Relative(i64),
    /// `<rev>+N` / `<rev>-N`.
    RevRelative(String, i64),
    /// `<branch-or-rev>@head`.
    BranchHead(String),
}

pub(crate) fn parse(target: &str) -> Spec {
    let t = target.trim();
    match t {
        "base" => return Spec::Base,
        "head" => return Spec::Head,
        "heads" => return Spec::Heads,
        _ => {}
    }
    if let Some(n) = relative_number(t) {
        return Spec::Relative(n);
    }
    if let Some((branch, rest)) = t.split_once('@') {
        return match rest {
            "head" => Spec::BranchHead(branch.to_owned()),
            "base" => Spec::Base,
            _ => match relative_number(rest) {
                Some(n) => Spec::RevRelative(branch.to_owned(), n),
                None => Spec::Rev(t.to_owned()),
            },
        };
    }
    if let Some(i) = t.rfind(['+', '-']).filter(|&i| i > 0)
        && let Some(n) = relative_number(&t[i..])
    {
        return Spec::RevRelative(t[..i].to_owned(), n);
    }
    Spec::Rev(t.to_owned())
}

fn relative_number(s: &str) -> Option<i64> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().map(|n| sign * n)
}

impl RevisionGraph {
    /// Resolves a revision id, a branch label or a unique prefix of at least
    /// [`MIN_PREFIX`] characters.
    pub(crate) fn resolve_rev(&self, input: &str) -> Result<usize> {
        if let Some(i) = self.index(input).or_else(|| self.label(input)) {
            return Ok(i);
        }
        let matches: Vec<usize> = self
            .all_ids()
            .filter(|id| id.as_str().starts_with(input))
            .filter_map(|id| self.index(id.as_str()))
            .collect();
        match matches.as_slice() {
            [one] if input.len() >= MIN_PREFIX => Ok(*one),
            _ if input.len() < MIN_PREFIX => Err(Error::UnknownRevision {
                target: input.to_owned(),
                candidates: self.candidates_for(input),
            }),
            [] | [_] => Err(Error::UnknownRevision {
                target: input.to_owned(),
                candidates: self.candidates_for(input),
            }),
            many => Err(Error::AmbiguousRevision {
                target: input.to_owned(),
                candidates: many
                    .iter()
                    .map(|&i| self.id(i).as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn candidates_for(&self, input: &str) -> String {
        // The first character, not byte: a target is user input and may be any UTF-8.
        let first: String = input.chars().take(1).collect();
        let close: Vec<&str> = self
            .all_ids()
            .map(|id| id.as_str())
            .filter(|id| !first.is_empty() && id.starts_with(&first))
            .collect();
        if input.chars().count() < MIN_PREFIX && !close.is_empty() {
            return format!(
                "a partial id needs at least {MIN_PREFIX} characters; revisions starting with `{first}`: {}",
                close.join(", ")
            );
        }
        if !close.is_empty() {
            return format!("revisions starting with `{first}`: {}", close.join(", "));
        }
        let heads: Vec<&str> = self.heads().into_iter().map(|h| h.as_str()).collect();
        if heads.is_empty() {
            "there are no revisions".to_owned()
        } else {
            format!(
                "known heads: {} (see `history` for all revisions)",
                heads.join(", ")
            )
        }
    }

    fn single_head(&self) -> Result<usize> {
        match self.head_indexes().as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::UnknownRevision {
                target: "head".into(),
                candidates: "there are no revisions".into(),
            }),
            many => Err(Error::MultipleHeads {
                heads: self.format_set(&many.iter().copied().collect()),
            }),
        }
    }

    fn branch_head(&self, branch: &str) -> Result<usize> {
        let root = self.resolve_rev(branch)?;
        let below = self.descendants(&RevSet::from([root]));
        let heads: RevSet = self
            .head_indexes()
            .into_iter()
            .filter(|h| below.contains(h))
            .collect();
        match heads.len() {
            1 => Ok(heads.into_iter().next().unwrap_or(root)),
            _ => Err(Error::MultipleHeads {
                heads: self.format_set(&heads),
            }),
        }
    }

    /// Members of `applied` that nothing else in it needs.
    fn leaves(&self, applied: &RevSet) -> Vec<usize> {
        let needed: RevSet = applied
            .iter()
            .flat_map(|&i| self.parents[i].iter().chain(&self.deps[i]))
            .copied()
            .collect();
        applied
            .iter()
            .copied()
            .filter(|i| !needed.contains(i))
            .collect()
    }

    fn ambiguous(
        &self,
        target: &str,
        operation: &'static str,
        options: &[usize],
        sign: char,
    ) -> Error {
        Error::InvalidTarget {
            target: target.to_owned(),
            operation,
            reason: format!(
                "the step is ambiguous between {}; name a revision, or use `<rev>{sign}N` or `<branch>@head`",
                self.format_set(&options.iter().copied().collect())
            ),
        }
    }

    /// The revision `n` steps above `start` (above base when `None`), following the unique
    /// child at each step, as Alembic's `<rev>+N`.
    fn walk_up(&self, target: &str, start: Option<usize>, n: u64) -> Result<usize> {
        let mut at = start;
        for taken in 0..n {
            let options: Vec<usize> = match at {
                Some(i) => self.children[i].clone(),
                None => (0..self.len())
                    .filter(|&i| self.parents[i].is_empty())
                    .collect(),
            };
            at = Some(match options.as_slice() {
                [one] => *one,
                [] => {
                    return Err(Error::InvalidTarget {
                        target: target.to_owned(),
                        operation: "upgrade",
                        reason: format!("only {taken} revision(s) are above the starting point"),
                    });
                }
                many => return Err(self.ambiguous(target, "upgrade", many, '+')),
            });
        }
        at.ok_or_else(|| Error::InvalidTarget {
            target: target.to_owned(),
            operation: "upgrade",
            reason: "a step of zero from base names no revision".to_owned(),
        })
    }

    /// The revision `n` steps below `start`, following the unique down_revision at each step:
    /// `Ok(Some(rev))`, or `Ok(None)` with the root reached when the walk ends exactly at base.
    fn walk_down(&self, target: &str, start: usize, n: u64) -> Result<(Option<usize>, usize)> {
        let mut at = start;
        for taken in 0..n {
            match self.parents[at].as_slice() {
                [one] => at = *one,
                [] if taken + 1 == n => return Ok((None, at)),
                [] => {
                    return Err(Error::InvalidTarget {
                        target: target.to_owned(),
                        operation: "downgrade",
                        reason: "it goes below base".to_owned(),
                    });
                }
                many => return Err(self.ambiguous(target, "downgrade", many, '-')),
            }
        }
        Ok((Some(at), at))
    }

    /// Removes `n` leaves from `applied`, one at a time, as Alembic's `downgrade -N`.
    fn step_down(&self, target: &str, mut applied: RevSet, n: u64) -> Result<RevSet> {
        for _ in 0..n {
            match self.leaves(&applied).as_slice() {
                [one] => {
                    applied.remove(one);
                }
                [] => {
                    return Err(Error::InvalidTarget {
                        target: target.to_owned(),
                        operation: "downgrade",
                        reason: "it goes below base".to_owned(),
                    });
                }
                many => return Err(self.ambiguous(target, "downgrade", many, '-')),
            }
        }
        Ok(applied)
    }

    /// The set an upgrade to `target` must reach (before closing over ancestors), given the
    /// database's applied set.
    pub(crate) fn upgrade_target(&self, target: &str, applied: &RevSet) -> Result<RevSet> {
        Ok(match parse(target) {
            Spec::Base => RevSet::new(),
            Spec::Head => RevSet::from([self.single_head()?]),
            Spec::Heads => self.head_indexes().into_iter().collect(),
            Spec::Rev(r) => RevSet::from([self.resolve_rev(&r)?]),
            Spec::BranchHead(b) => RevSet::from([self.branch_head(&b)?]),
            Spec::Relative(n) if n < 0 => {
                return Err(Error::InvalidTarget {
                    target: target.to_owned(),
                    operation: "upgrade",
                    reason: "a negative step moves down; use `downgrade`".to_owned(),
                });
            }
            Spec::Relative(n) => {
                let heads: Vec<usize> = self.heads_of(applied).into_iter().collect();
                let start = match heads.as_slice() {
                    [] => None,
                    [one] => Some(*one),
                    many => return Err(self.ambiguous(target, "upgrade", many, '+')),
                };
                RevSet::from([self.walk_up(target, start, n.unsigned_abs())?])
            }
            Spec::RevRelative(r, n) => {
                let rev = self.resolve_rev(&r)?;
                if n >= 0 {
                    RevSet::from([self.walk_up(target, Some(rev), n.unsigned_abs())?])
                } else {
                    self.walk_down(target, rev, n.unsigned_abs())?
                        .0
                        .into_iter()
                        .collect()
                }
            }
        })
    }

    /// The applied set a downgrade to `target` must end with, given the current applied set.
    pub(crate) fn downgrade_final(&self, target: &str, applied: &RevSet) -> Result<RevSet> {
        let invalid = |reason: String| Error::InvalidTarget {
            target: target.to_owned(),
            operation: "downgrade",
            reason,
        };
        match parse(target) {
            Spec::Base => Ok(RevSet::new()),
            Spec::Head | Spec::Heads | Spec::BranchHead(_) => Err(invalid(
                "heads are above the database; use `upgrade`".to_owned(),
            )),
            Spec::Relative(n) if n > 0 => Err(invalid(
                "a positive step moves up; use `upgrade`".to_owned(),
            )),
            Spec::Relative(n) => self.step_down(target, applied.clone(), n.unsigned_abs()),
            Spec::Rev(r) => {
                let rev = self.resolve_rev(&r)?;
                if !applied.contains(&rev) {
                    return Err(invalid(format!(
                        "{} is not applied; the database is at {}",
                        self.id(rev),
                        self.format_set(&self.heads_of(applied))
                    )));
                }
                Ok(self.keep_through(applied, rev))
            }
            Spec::RevRelative(r, n) => {
                let rev = self.resolve_rev(&r)?;
                if n > 0 {
                    return Err(invalid(
                        "a positive step moves up; use `upgrade`".to_owned(),
                    ));
                }
                match self.walk_down(target, rev, n.unsigned_abs())? {
                    (Some(keep), _) => Ok(self.keep_through(applied, keep)),
                    (None, root) => {
                        let gone = self.descendants(&RevSet::from([root]));
                        Ok(applied.difference(&gone).copied().collect())
                    }
                }
            }
        }
    }

    /// `applied` without the revisions that descend from `rev` (keeping `rev`).
    fn keep_through(&self, applied: &RevSet, rev: usize) -> RevSet {
        let mut gone = self.descendants(&RevSet::from([rev]));
        gone.remove(&rev);
        applied.difference(&gone).copied().collect()
    }

    /// The revisions a `stamp` to `target` names (empty for `base`).
    pub(crate) fn stamp_target(&self, target: &str, applied: &RevSet) -> Result<RevSet> {
        self.upgrade_target(target, applied)
    }
}

#[cfg(test)]
mod tests {
    use super::{Spec, parse};

    #[test]
    fn parses_alembic_targets() {
        let cases = [
            ("head", Spec::Head),
            ("heads", Spec::Heads),
            ("base", Spec::Base),
            ("+2", Spec::Relative(2)),
            ("-1", Spec::Relative(-1)),
            ("ae10", Spec::Rev("ae10".into())),
            ("ae10+2", Spec::RevRelative("ae10".into(), 2)),
            ("ae10-1", Spec::RevRelative("ae10".into(), -1)),
            ("codes@head", Spec::BranchHead("codes".into())),
            ("codes@+1", Spec::RevRelative("codes".into(), 1)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), expected, "{input}");
        }
    }
}

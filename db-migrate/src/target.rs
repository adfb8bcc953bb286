//! Resolving a revision id, a branch label or a unique prefix to a revision, for commands
//! that name one revision (`show`, `history -r`, `merge`, `revision --head`); command targets
//! (`upgrade`/`downgrade`/`stamp`) are resolved as Alembic does in `plan.rs`.

use crate::error::{Error, Result};
use crate::graph::RevisionGraph;

/// The shortest prefix accepted for a partial revision id.
pub(crate) const MIN_PREFIX: usize = 4;

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
                candidates: self.candidates(input),
            }),
            [] | [_] => Err(Error::UnknownRevision {
                target: input.to_owned(),
                candidates: self.candidates(input),
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

    pub(crate) fn candidates(&self, input: &str) -> String {
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
}

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

/// A command target as written on the command line: `end` or, for offline (`--sql`) runs,
/// the range `start:end` (Alembic's `upgrade --sql base:head`; an empty start means base).
/// `end` and `start` are what Alembic accepts there: `head`, `heads`, `base`, a revision id,
/// a unique prefix, `<branch>@head`, relative `+N` / `-N` / `<rev>+N` / `<branch>@-N`; they
/// are resolved against the graph when the command plans, not here.
///
/// Parsing checks only the syntax, so that the CLI rejects a malformed target as a usage
/// error (exit 2) before opening anything:
///
/// ```
/// use db_migrate::Target;
///
/// let t: Target = "base:head".parse().unwrap();
/// assert_eq!((t.start(), t.end()), (Some("base"), "head"));
/// assert!(t.is_range());
/// assert_eq!("ae10+2".parse::<Target>().unwrap().start(), None);
/// assert!("".parse::<Target>().is_err());
/// assert!("a:b:c".parse::<Target>().is_err());
/// assert!("head:".parse::<Target>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    text: String,
    start: Option<String>,
    end: String,
}

impl Target {
    /// The start of a range (`None` for a plain target, and for `:end`, which starts at base).
    #[must_use]
    pub fn start(&self) -> Option<&str> {
        self.start.as_deref()
    }

    /// Where the command ends.
    #[must_use]
    pub fn end(&self) -> &str {
        &self.end
    }

    /// Whether this was written as a range `start:end` (only offline runs accept one).
    #[must_use]
    pub fn is_range(&self) -> bool {
        self.text.contains(':')
    }

    /// The target as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Target {
    type Err = Error;

    /// # Errors
    /// [`Error::InvalidTarget`] for an empty target or end, a control character, or more than
    /// one `:`.
    fn from_str(text: &str) -> Result<Self> {
        let (start, end) = split_syntax(text, "command")?;
        if end.is_empty() {
            return Err(syntax(
                text,
                "command",
                if start.is_some() {
                    "the end of a range is required (`start:end`, e.g. `base:head`)"
                } else {
                    "the target is empty; give a revision, `head` or `base`"
                },
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            start: start.filter(|s| !s.is_empty()).map(str::to_owned),
            end: end.to_owned(),
        })
    }
}

/// `history -r` ranges: `start:end`, either side may be empty (all revisions), `base`,
/// `head(s)`, `current` or a revision; resolved by
/// [`RevisionGraph::history`](crate::RevisionGraph::history).
///
/// ```
/// use db_migrate::RevRange;
///
/// let r: RevRange = "current:".parse().unwrap();
/// assert_eq!((r.start(), r.end()), (Some("current"), None));
/// assert!("head".parse::<RevRange>().is_err()); // a range needs its `:`
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RevRange {
    start: Option<String>,
    end: Option<String>,
}

impl RevRange {
    /// The lower end (`None`: from base).
    #[must_use]
    pub fn start(&self) -> Option<&str> {
        self.start.as_deref()
    }

    /// The upper end (`None`: to the heads).
    #[must_use]
    pub fn end(&self) -> Option<&str> {
        self.end.as_deref()
    }
}

impl std::fmt::Display for RevRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}",
            self.start().unwrap_or_default(),
            self.end().unwrap_or_default()
        )
    }
}

impl std::str::FromStr for RevRange {
    type Err = Error;

    /// # Errors
    /// [`Error::InvalidTarget`] without exactly one `:`, or with a control character.
    fn from_str(text: &str) -> Result<Self> {
        let (Some(start), end) = split_syntax(text, "history")? else {
            return Err(syntax(
                text,
                "history",
                "a range is written `start:end`, either side may be empty",
            ));
        };
        let side = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(Self {
            start: side(start),
            end: side(end),
        })
    }
}

/// `text` split at its one `:` (`None` start without one), refusing control characters and
/// a second `:`.
fn split_syntax<'a>(text: &'a str, operation: &'static str) -> Result<(Option<&'a str>, &'a str)> {
    if text.chars().any(char::is_control) {
        return Err(syntax(text, operation, "it contains a control character"));
    }
    match text.split_once(':') {
        Some((_, end)) if end.contains(':') => {
            Err(syntax(text, operation, "a range has one `:` (`start:end`)"))
        }
        Some((start, end)) => Ok((Some(start), end)),
        None => Ok((None, text)),
    }
}

fn syntax(text: &str, operation: &'static str, reason: &str) -> Error {
    Error::InvalidTarget {
        target: text.to_owned(),
        operation,
        reason: reason.to_owned(),
    }
}

//! `revision -m MSG` and `merge`: choosing a new revision's id and down_revisions
//! ([`Migrator::new_revision`], [`Migrator::new_merge`], as Alembic's `revision` and `merge`
//! commands choose them), and writing its source file from a template into the registry.

use std::path::{Path, PathBuf};

use heck::ToSnakeCase;

use crate::error::{Error, Result};
use crate::migrator::Migrator;
use crate::script::RevisionId;

/// The marker line before which `revision` inserts `mod …;` lines in the registry file.
pub const MODULES_END: &str = "// db-migrate: modules end";
/// The marker line before which `revision` inserts `….script(),` lines in the registry file.
pub const SCRIPTS_END: &str = "// db-migrate: scripts end";

/// What a new revision file says about itself.
#[derive(Clone, Debug)]
pub struct NewRevision {
    /// The new id.
    pub revision: RevisionId,
    /// Its down_revisions (the current head, or several for a merge; empty for a root).
    pub down_revisions: Vec<String>,
    /// The message (`-m`).
    pub message: String,
    /// Branch labels.
    pub branch_labels: Vec<String>,
    /// depends_on revisions.
    pub depends_on: Vec<String>,
}

/// Options of a new revision besides its message (Alembic's `revision` options).
#[derive(Clone, Debug, Default)]
pub struct RevisionOptions {
    /// `--head`: the down_revision (a revision, prefix or branch label; `base` starts a new
    /// root). `None`: the single head.
    pub head: Option<String>,
    /// `--rev-id`: this id instead of a random 12-hex-digit one.
    pub rev_id: Option<String>,
    /// `--branch-label`.
    pub branch_label: Option<String>,
    /// `--depends-on`: revisions the new one depends on, as written.
    pub depends_on: Vec<String>,
}

impl Migrator {
    /// The revision `alembic revision -m message` would create: a new id (or `rev_id`) on top
    /// of the single head (or `head`). Nothing is written; pass it to [`write_revision`].
    ///
    /// # Errors
    /// [`Error::MultipleHeads`] without `head` when the graph has several heads;
    /// [`Error::UnknownRevision`] / [`Error::AmbiguousRevision`] for `head`;
    /// [`Error::InvalidRevisionId`] / [`Error::DuplicateRevision`] for `rev_id`.
    pub fn new_revision(&self, message: &str, options: &RevisionOptions) -> Result<NewRevision> {
        let down_revisions = match options.head.as_deref() {
            Some("base") => Vec::new(),
            Some(h) => vec![self.resolve_id(h)?],
            None => match self.graph().heads().as_slice() {
                [] => Vec::new(),
                [one] => vec![one.to_string()],
                many => {
                    return Err(Error::MultipleHeads {
                        heads: many
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
            },
        };
        self.describe_new(
            message,
            down_revisions,
            options.rev_id.as_deref(),
            options.branch_label.as_deref(),
            options.depends_on.clone(),
        )
    }

    /// The merge revision `alembic merge -m message revisions…` would create: its
    /// down_revisions are `revisions` resolved (ids, prefixes, labels; `heads`, also the
    /// default when empty, stands for every head), without repeats, in the order given.
    ///
    /// # Errors
    /// [`Error::InvalidTarget`] when fewer than two distinct revisions remain (one head:
    /// nothing to merge); otherwise as [`Migrator::new_revision`].
    pub fn new_merge(
        &self,
        message: &str,
        revisions: &[String],
        rev_id: Option<&str>,
        branch_label: Option<&str>,
    ) -> Result<NewRevision> {
        let wanted: Vec<String> = if revisions.is_empty() {
            vec!["heads".into()]
        } else {
            revisions.to_vec()
        };
        let mut down_revisions: Vec<String> = Vec::new();
        for r in &wanted {
            let ids = if r == "heads" {
                self.graph()
                    .heads()
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            } else {
                vec![self.resolve_id(r)?]
            };
            for id in ids {
                if !down_revisions.contains(&id) {
                    down_revisions.push(id);
                }
            }
        }
        if down_revisions.len() < 2 {
            return Err(Error::InvalidTarget {
                target: wanted.join(" "),
                operation: "merge",
                reason:
                    "a merge needs at least two revisions (with one head there is nothing to merge)"
                        .into(),
            });
        }
        self.describe_new(message, down_revisions, rev_id, branch_label, Vec::new())
    }

    fn resolve_id(&self, rev: &str) -> Result<String> {
        let idx = self.graph().resolve_rev(rev)?;
        Ok(self.graph().id(idx).to_string())
    }

    fn describe_new(
        &self,
        message: &str,
        down_revisions: Vec<String>,
        rev_id: Option<&str>,
        branch_label: Option<&str>,
        depends_on: Vec<String>,
    ) -> Result<NewRevision> {
        let revision = match rev_id {
            Some(id) => RevisionId::new(id)?,
            None => RevisionId::generate(),
        };
        if self.graph().script(revision.as_str()).is_some() {
            return Err(Error::DuplicateRevision {
                revision: revision.to_string(),
            });
        }
        Ok(NewRevision {
            revision,
            down_revisions,
            message: message.to_owned(),
            branch_labels: branch_label.into_iter().map(str::to_owned).collect(),
            depends_on,
        })
    }
}

/// Writes `<dir>/r<id>_<slug>.rs` for `new` and registers it in the registry file `<dir>.rs`
/// (the module file of the migrations folder, e.g. `src/migrations.rs` for
/// `src/migrations/`), between the [`MODULES_END`] and [`SCRIPTS_END`] markers, as
/// `alembic revision -m` writes `versions/<id>_<slug>.py`. Returns the new file's path.
///
/// # Errors
/// [`Error::RevisionFile`] when the registry file lacks the markers or a file cannot be
/// written; nothing is left half-written (the registry is written last, after the new file).
pub fn write_revision(dir: &Path, new: &NewRevision) -> Result<PathBuf> {
    write_revision_source(dir, new, &|module| render(new, module))
}

/// [`write_revision`] with the file's source made by `source(module_name)`.
pub(crate) fn write_revision_source(
    dir: &Path,
    new: &NewRevision,
    source: &dyn Fn(&str) -> String,
) -> Result<PathBuf> {
    let registry = dir.with_extension("rs");
    let err = |path: &Path, reason: String| Error::RevisionFile {
        path: path.display().to_string(),
        reason,
    };
    let io = |path: &Path, source: std::io::Error| Error::Io {
        what: format!("cannot write revision file {}", path.display()),
        source,
    };
    let text = std::fs::read_to_string(&registry).map_err(|e| io(&registry, e))?;
    if !text.contains(MODULES_END) || !text.contains(SCRIPTS_END) {
        return Err(err(
            &registry,
            format!(
                "it must contain the marker lines `{MODULES_END}` (after the `mod` lines) and `{SCRIPTS_END}` (inside the list of scripts)"
            ),
        ));
    }
    // 40 characters (not bytes: the message may be any text), ASCII only for the file name.
    let slug: String = new
        .message
        .to_snake_case()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    let slug = slug.trim_matches('_').to_owned();
    // A Rust module name: ids may hold characters (`v3.2.0.a`) that a name cannot.
    let id: String = new
        .revision
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let module = if slug.is_empty() {
        format!("r{id}")
    } else {
        format!("r{id}_{slug}")
    };
    let file = dir.join(format!("{module}.rs"));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    std::fs::write(&file, source(&module)).map_err(|e| io(&file, e))?;
    let updated = insert_before(
        &insert_before(&text, MODULES_END, &format!("mod {module};")),
        SCRIPTS_END,
        &format!("{module}::script(),"),
    );
    if let Err(e) = std::fs::write(&registry, updated) {
        let _ = std::fs::remove_file(&file);
        return Err(io(&registry, e));
    }
    Ok(file)
}

/// Inserts `line` before the line holding `marker`, with the marker's indentation.
fn insert_before(text: &str, marker: &str, line: &str) -> String {
    let mut out = String::with_capacity(text.len() + line.len() + 8);
    for l in text.split_inclusive('\n') {
        if l.trim() == marker {
            let indent: String = l.chars().take_while(|c| c.is_whitespace()).collect();
            out.push_str(&format!("{indent}{line}\n"));
        }
        out.push_str(l);
    }
    out
}

fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

/// The source of a new revision file with empty `up` and `down`.
#[must_use]
pub fn render(new: &NewRevision, module: &str) -> String {
    let empty = "        let _ = manager;\n        Ok(())\n";
    render_with(new, module, empty, empty)
}

/// The source of a new revision file whose `up` and `down` have the given bodies (each line
/// indented by 8 spaces, ending in the `Ok(())` expression).
pub(crate) fn render_with(new: &NewRevision, module: &str, up: &str, down: &str) -> String {
    let revises = if new.down_revisions.is_empty() {
        "<base>".to_owned()
    } else {
        new.down_revisions.join(", ")
    };
    let mut builder = format!(
        "    Script::new({}, Migration)\n",
        rust_str(new.revision.as_str())
    );
    for d in &new.down_revisions {
        builder.push_str(&format!("        .revises({})\n", rust_str(d)));
    }
    for l in &new.branch_labels {
        builder.push_str(&format!("        .branch_label({})\n", rust_str(l)));
    }
    for d in &new.depends_on {
        builder.push_str(&format!("        .depends_on({})\n", rust_str(d)));
    }
    builder.push_str(&format!("        .message({})\n", rust_str(&new.message)));
    builder.push_str(&format!(
        "        .source(file!(), include_str!(\"{module}.rs\"))\n"
    ));
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S");
    let doc = new.message.replace('\n', " ");
    format!(
        r#"//! {doc}
//!
//! Revision ID: {rev}
//! Revises: {revises}
//! Create Date: {date} UTC

{imports}use sea_orm_migration::prelude::*;

/// This revision, as the migrator registers it.
pub(crate) fn script() -> Script {{
{builder}}}

#[derive(DeriveMigrationName)]
struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {{
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
{up}    }}

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {{
{down}    }}
}}
"#,
        rev = new.revision,
        imports = imports(&format!("{up}{down}")),
    )
}

/// The `use db_migrate::…` line for what the bodies use.
fn imports(bodies: &str) -> String {
    let mut names = Vec::new();
    if bodies.contains("AlterColumn::") {
        names.push("AlterColumn");
    }
    if bodies.contains("BatchAlter::") {
        names.push("BatchAlter");
    }
    names.push("Script");
    if bodies.contains("batch_alter_table(") {
        names.push("batch_alter_table");
    }
    if names.len() == 1 {
        "use db_migrate::Script;\n".into()
    } else {
        format!("use db_migrate::{{{}}};\n", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::{MODULES_END, NewRevision, SCRIPTS_END, write_revision};
    use crate::script::RevisionId;

    #[test]
    fn writes_and_registers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let migrations = dir.path().join("migrations");
        std::fs::write(
            dir.path().join("migrations.rs"),
            format!("mod a;\n{MODULES_END}\npub fn scripts() -> Vec<Script> {{\n    vec![\n        a::script(),\n        {SCRIPTS_END}\n    ]\n}}\n"),
        )
        .expect("registry");
        let new = NewRevision {
            revision: RevisionId::new("0123456789ab").expect("id"),
            down_revisions: vec!["a1".into()],
            message: "Add course codes".into(),
            branch_labels: vec![],
            depends_on: vec![],
        };
        let file = write_revision(&migrations, &new).expect("written");
        assert!(
            file.ends_with("migrations/r0123456789ab_add_course_codes.rs"),
            "{}",
            file.display()
        );
        let source = std::fs::read_to_string(&file).expect("file");
        assert!(source.contains(".revises(\"a1\")"), "{source}");
        assert!(source.contains("//! Revision ID: 0123456789ab"), "{source}");
        let registry = std::fs::read_to_string(dir.path().join("migrations.rs")).expect("registry");
        assert!(
            registry.contains("mod r0123456789ab_add_course_codes;\n// db-migrate: modules end"),
            "{registry}"
        );
        assert!(registry.contains("        r0123456789ab_add_course_codes::script(),\n        // db-migrate: scripts end"), "{registry}");
    }

    #[test]
    fn refuses_registry_without_markers() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("m.rs"), "mod a;\n").expect("registry");
        let new = NewRevision {
            revision: RevisionId::generate(),
            down_revisions: vec![],
            message: "x".into(),
            branch_labels: vec![],
            depends_on: vec![],
        };
        let err = write_revision(&dir.path().join("m"), &new)
            .expect_err("no markers")
            .to_string();
        assert!(err.contains("marker lines"), "{err}");
        assert!(
            !dir.path().join("m").exists()
                || std::fs::read_dir(dir.path().join("m"))
                    .map(|d| d.count())
                    .unwrap_or(0)
                    == 0
        );
    }
}

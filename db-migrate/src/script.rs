//! A migration as Alembic describes one: [`RevisionId`] and [`Script`] (revision,
//! down_revision(s), branch labels, depends_on, message, checksum, allowed lint rules) wrapping
//! a sea-orm-migration `MigrationTrait`.

use std::fmt;

use sea_orm_migration::MigrationTrait;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A revision id, as in Alembic: any text without the characters Alembic's target syntax uses
/// (`@`, `-`, `+`, `:`), so ids such as optuna's `v3.2.0.a` are accepted; whitespace and
/// control characters are refused too (they cannot be typed back as a target). The version
/// table's `version_num` column bounds the length (32 characters by default, see
/// [`VersionTable::version_num_width`](crate::VersionTable::version_num_width)); generated ids
/// are 12 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RevisionId(String);

/// The characters Alembic refuses in revision ids (`_revision_illegal_chars`).
const ILLEGAL: [char; 4] = ['@', '-', '+', ':'];

impl RevisionId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`Error::InvalidRevisionId`].
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let valid = !id.is_empty()
            && !id
                .chars()
                .any(|c| ILLEGAL.contains(&c) || c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(id))
        } else {
            Err(Error::InvalidRevisionId { revision: id })
        }
    }

    /// A fresh random id of 12 hex digits, as `alembic revision` makes
    /// (`uuid.uuid4().hex[-12:]`).
    #[must_use]
    pub fn generate() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        Self(hex[hex.len() - 12..].to_owned())
    }

    /// The id as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RevisionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One migration script: a sea-orm-migration [`MigrationTrait`] plus its place in the revision
/// graph (Alembic's module-level `revision`, `down_revision`, `branch_labels`, `depends_on`).
///
/// A `Script` with no down_revision is a root; with several it is a merge point. Ids are
/// validated when the [`Migrator`](crate::Migrator) is built, so the builder methods take
/// plain strings.
///
/// ```
/// use db_migrate::Script;
/// use sea_orm_migration::prelude::*;
///
/// #[derive(DeriveMigrationName)]
/// struct Migration;
///
/// #[async_trait::async_trait]
/// impl MigrationTrait for Migration {
///     async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
///         manager.get_connection().execute_unprepared("CREATE TABLE t (id INTEGER)").await.map(|_| ())
///     }
/// }
///
/// let script = Script::new("1975ea83b712", Migration).revises("ae1027a6acf0").message("create t");
/// assert_eq!(script.revision(), "1975ea83b712");
/// ```
pub struct Script {
    pub(crate) revision: String,
    pub(crate) down_revisions: Vec<String>,
    pub(crate) branch_labels: Vec<String>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) message: String,
    pub(crate) path: Option<String>,
    pub(crate) file_name: Option<String>,
    pub(crate) checksum: Option<String>,
    pub(crate) allowed_lints: Vec<crate::lint::LintRule>,
    pub(crate) migration: Box<dyn MigrationTrait>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("revision", &self.revision)
            .field("down_revisions", &self.down_revisions)
            .field("branch_labels", &self.branch_labels)
            .field("depends_on", &self.depends_on)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// A root revision `revision` running `migration`; its message defaults to the
    /// migration's name.
    #[must_use]
    pub fn new(revision: impl Into<String>, migration: impl MigrationTrait + 'static) -> Self {
        let message = migration.name().to_owned();
        Self {
            revision: revision.into(),
            down_revisions: Vec::new(),
            branch_labels: Vec::new(),
            depends_on: Vec::new(),
            message,
            path: None,
            file_name: None,
            checksum: None,
            allowed_lints: Vec::new(),
            migration: Box::new(migration),
        }
    }

    /// Marks a `lint` rule as deliberate for this migration (e.g. [`LintRule::DropColumn`] for
    /// a column dropped on purpose): `lint` then stops reporting exactly that rule here.
    ///
    /// [`LintRule::DropColumn`]: crate::lint::LintRule::DropColumn
    #[must_use]
    pub fn allow_lint(mut self, rule: crate::lint::LintRule) -> Self {
        self.allowed_lints.push(rule);
        self
    }

    /// Adds a down_revision (call twice, or use [`Script::merges`], for a merge point).
    #[must_use]
    pub fn revises(mut self, down_revision: impl Into<String>) -> Self {
        self.down_revisions.push(down_revision.into());
        self
    }

    /// Makes this a merge point of `down_revisions`.
    #[must_use]
    pub fn merges<I, S>(mut self, down_revisions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.down_revisions
            .extend(down_revisions.into_iter().map(Into::into));
        self
    }

    /// Adds a branch label (Alembic's `branch_labels`), usable in targets as `label@head`.
    #[must_use]
    pub fn branch_label(mut self, label: impl Into<String>) -> Self {
        self.branch_labels.push(label.into());
        self
    }

    /// Adds a dependency (Alembic's `depends_on`): `revision` must be applied first, without
    /// becoming a parent in the branch lineage.
    #[must_use]
    pub fn depends_on(mut self, revision: impl Into<String>) -> Self {
        self.depends_on.push(revision.into());
        self
    }

    /// The message shown by `history` and `show` (Alembic's docstring / `-m`).
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The script's source file and text: `show` prints the path and the history table records
    /// the SHA-256 of the text. Generated scripts call `.source(file!(), include_str!(…))`.
    #[must_use]
    pub fn source(mut self, path: &str, text: &str) -> Self {
        self.path = Some(path.to_owned());
        let digest = Sha256::digest(text.as_bytes());
        self.checksum = Some(digest.iter().map(|b| format!("{b:02x}")).collect());
        self
    }

    /// The name of this revision's file in an Alembic versions folder, e.g.
    /// `2024_05_01_1200-ae1027a6acf0_add_t.py`: Alembic reads the folder in sorted file-name
    /// order, and that order (its revision map's) decides which of two independent branches
    /// a command runs first, and with it the version table's rows after each step. Without
    /// it the revision id stands in, as under Alembic's default `file_template`
    /// (`%(rev)s_%(slug)s`). Set it when taking over a project whose file names do not start
    /// with the revision id (a date template, numbered files), so that every command runs in
    /// Alembic's order.
    #[must_use]
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// The name that orders this revision as Alembic's versions folder does: the
    /// [`Script::file_name`] when given, else the revision id.
    #[must_use]
    pub fn order_key(&self) -> &str {
        self.file_name.as_deref().unwrap_or(&self.revision)
    }

    /// The revision id as written.
    #[must_use]
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The down_revisions as written (empty for a root).
    #[must_use]
    pub fn down_revisions(&self) -> &[String] {
        &self.down_revisions
    }

    /// The branch labels.
    #[must_use]
    pub fn branch_labels(&self) -> &[String] {
        &self.branch_labels
    }

    /// The depends_on revisions.
    #[must_use]
    pub fn dependencies(&self) -> &[String] {
        &self.depends_on
    }

    /// The message.
    #[must_use]
    pub fn doc(&self) -> &str {
        &self.message
    }

    /// The source path, when given with [`Script::source`].
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The SHA-256 of the source text, when given with [`Script::source`].
    #[must_use]
    pub fn checksum(&self) -> Option<&str> {
        self.checksum.as_deref()
    }

    /// The migration itself.
    #[must_use]
    pub fn migration(&self) -> &dyn MigrationTrait {
        self.migration.as_ref()
    }
}

/// Scripts for an existing sea-orm-migration `MigratorTrait` list: each migration gets the id
/// paired with it and revises the one before, so a linear sea-orm-migration history needs
/// nothing but revision ids added.
///
/// ```
/// # use sea_orm_migration::prelude::*;
/// # #[derive(DeriveMigrationName)] struct M1;
/// # #[async_trait::async_trait] impl MigrationTrait for M1 {
/// #   async fn up(&self, _: &SchemaManager) -> Result<(), DbErr> { Ok(()) } }
/// # #[derive(DeriveMigrationName)] struct M2;
/// # #[async_trait::async_trait] impl MigrationTrait for M2 {
/// #   async fn up(&self, _: &SchemaManager) -> Result<(), DbErr> { Ok(()) } }
/// let scripts = db_migrate::linear([
///     ("ae1027a6acf0", Box::new(M1) as Box<dyn MigrationTrait>),
///     ("1975ea83b712", Box::new(M2)),
/// ]);
/// assert_eq!(scripts[1].down_revisions(), ["ae1027a6acf0".to_owned()]);
/// ```
#[must_use]
pub fn linear<I, S>(migrations: I) -> Vec<Script>
where
    I: IntoIterator<Item = (S, Box<dyn MigrationTrait>)>,
    S: Into<String>,
{
    let mut previous: Option<String> = None;
    migrations
        .into_iter()
        .map(|(revision, migration)| {
            let revision = revision.into();
            let message = migration.name().to_owned();
            let script = Script {
                revision: revision.clone(),
                down_revisions: previous.iter().cloned().collect(),
                branch_labels: Vec::new(),
                depends_on: Vec::new(),
                message,
                path: None,
                file_name: None,
                checksum: None,
                allowed_lints: Vec::new(),
                migration,
            };
            previous = Some(revision);
            script
        })
        .collect()
}

//! [`Migrator`] as db-core's [`MigrationHarness`]: what db-testkit drives to build migrated
//! templates and run its migration checks.

use db_core::{BoxError, Database, MigrationHarness, RevisionInfo};
use sha2::{Digest, Sha256};

use crate::migrator::Migrator;

#[async_trait::async_trait]
impl MigrationHarness for Migrator {
    /// SHA-256 (first 16 hex digits) of the version table's place and, in topological order,
    /// every revision with its down revisions, dependencies and checksum. When a script has
    /// no checksum (no [`Script::source`](crate::Script::source)), the running executable's
    /// path, size and modification time are mixed in: a rebuilt binary may carry changed
    /// migration code, so its templates are rebuilt.
    fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        let table = self.table();
        hash.update(format!(
            "{}\0{}\0{}\n",
            table.schema.as_deref().unwrap_or(""),
            table.name,
            table.history
        ));
        let mut unchecked = false;
        for &i in &self.graph().order {
            let script = &self.graph().scripts[i];
            hash.update(format!(
                "{}\0{}\0{}\0{}\n",
                script.revision(),
                script.down_revisions().join(","),
                script.dependencies().join(","),
                script.checksum().unwrap_or("-")
            ));
            unchecked |= script.checksum().is_none();
        }
        if unchecked && let Ok(exe) = std::env::current_exe() {
            hash.update(exe.display().to_string());
            if let Ok(meta) = std::fs::metadata(&exe) {
                hash.update(format!("{}\0{:?}", meta.len(), meta.modified().ok()));
            }
        }
        let digest = hash.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn revisions(&self) -> Vec<RevisionInfo> {
        self.graph()
            .order
            .iter()
            .map(|&i| {
                let script = &self.graph().scripts[i];
                RevisionInfo {
                    revision: script.revision().to_owned(),
                    down_revisions: script.down_revisions().to_vec(),
                }
            })
            .collect()
    }

    fn heads(&self) -> Vec<String> {
        let mut heads: Vec<String> = self.graph().heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        heads
    }

    fn state_tables(&self) -> Vec<String> {
        vec![self.table().name.clone(), self.table().history.clone()]
    }

    async fn upgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError> {
        let steps = self.upgrade(db, target).await?;
        Ok(steps.into_iter().map(|s| s.revision.to_string()).collect())
    }

    async fn downgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError> {
        let steps = self.downgrade(db, target).await?;
        Ok(steps.into_iter().map(|s| s.revision.to_string()).collect())
    }

    async fn current(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        let mut rows = Migrator::current(self, db).await?;
        rows.sort();
        Ok(rows)
    }

    async fn entity_differences(&self, db: &Database) -> Result<Option<Vec<String>>, BoxError> {
        if self.registered_entities().is_none() {
            return Ok(None);
        }
        let changes = self.compare(db).await?;
        Ok(Some(changes.iter().map(ToString::to_string).collect()))
    }

    async fn edited_since_applied(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        let changed = self.changed_since_applied(db).await?;
        Ok(changed.iter().map(ToString::to_string).collect())
    }

    async fn seed_all(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        Ok(self.seed(db, &[], crate::Production::Refuse).await?)
    }
}

//! A linear chain of SQL migrations implementing db-core's `MigrationHarness`, with the
//! Alembic version table: enough for templates and the checks.

use db_core::{BoxError, Database, Migrate, MigrationHarness, RevisionInfo};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

/// Revisions `r0001`, `r0002`, … each creating table `t<n>` with an index.
#[derive(Debug)]
pub(crate) struct Chain {
    revisions: Vec<(String, String, String)>,
    salt: String,
}

impl Chain {
    /// `n` migrations.
    pub(crate) fn new(n: usize) -> Self {
        let revisions = (1..=n)
            .map(|i| {
                (
                    format!("r{i:04}"),
                    format!(
                        "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL); CREATE INDEX ix_t{i}_name ON t{i} (name)"
                    ),
                    format!("DROP TABLE t{i}"),
                )
            })
            .collect();
        Self {
            revisions,
            salt: String::new(),
        }
    }

    /// `n` migrations whose fingerprint also carries `salt` (a template no other test shares).
    pub(crate) fn salted(n: usize, salt: &str) -> Self {
        Self {
            salt: salt.to_owned(),
            ..Self::new(n)
        }
    }

    async fn rows(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        let conn = db.connection();
        conn.execute_unprepared(
            "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        )
        .await?;
        let rows = conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT version_num FROM alembic_version",
            ))
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get_by_index::<String>(0))
            .collect::<Result<_, _>>()?)
    }

    fn position(&self, target: &str) -> Result<usize, BoxError> {
        match target {
            "base" => Ok(0),
            "head" | "heads" => Ok(self.revisions.len()),
            id => self
                .revisions
                .iter()
                .position(|r| r.0 == id)
                .map(|i| i + 1)
                .ok_or_else(|| format!("unknown revision {id}").into()),
        }
    }

    async fn at(&self, db: &Database) -> Result<usize, BoxError> {
        match self.rows(db).await?.first() {
            None => Ok(0),
            Some(r) => self.position(r),
        }
    }

    async fn step(&self, db: &Database, i: usize, up: bool) -> Result<(), BoxError> {
        let (rev, upgrade, downgrade) = &self.revisions[i];
        let txn = db.connection().begin().await?;
        let sql = if up { upgrade } else { downgrade };
        for s in sql.split(';') {
            txn.execute_unprepared(s).await?;
        }
        txn.execute_unprepared("DELETE FROM alembic_version")
            .await?;
        let now = if up {
            Some(rev.clone())
        } else {
            i.checked_sub(1).map(|j| self.revisions[j].0.clone())
        };
        if let Some(now) = now {
            txn.execute_unprepared(&format!("INSERT INTO alembic_version VALUES ('{now}')"))
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Migrate for Chain {
    async fn migrate(&self, db: &Database) -> Result<(), BoxError> {
        self.upgrade_to(db, "heads").await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl MigrationHarness for Chain {
    fn fingerprint(&self) -> String {
        format!("chain-{}-{}", self.revisions.len(), self.salt)
    }

    fn revisions(&self) -> Vec<RevisionInfo> {
        let mut parent: Option<String> = None;
        self.revisions
            .iter()
            .map(|(r, _, _)| {
                let info = RevisionInfo {
                    revision: r.clone(),
                    down_revisions: parent.iter().cloned().collect(),
                };
                parent = Some(r.clone());
                info
            })
            .collect()
    }

    fn heads(&self) -> Vec<String> {
        self.revisions
            .last()
            .map(|r| r.0.clone())
            .into_iter()
            .collect()
    }

    fn state_tables(&self) -> Vec<String> {
        vec!["alembic_version".into()]
    }

    async fn upgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError> {
        let (from, to) = (self.at(db).await?, self.position(target)?);
        for i in from..to {
            self.step(db, i, true).await?;
        }
        Ok(self.revisions[from..to.max(from)]
            .iter()
            .map(|r| r.0.clone())
            .collect())
    }

    async fn downgrade_to(&self, db: &Database, target: &str) -> Result<Vec<String>, BoxError> {
        let from = self.at(db).await?;
        let to = match target
            .strip_suffix("@-1")
            .or_else(|| target.strip_suffix("-1"))
        {
            Some(rev) => self.position(rev)?.saturating_sub(1),
            None => self.position(target)?,
        };
        let mut undone = Vec::new();
        for i in (to..from).rev() {
            self.step(db, i, false).await?;
            undone.push(self.revisions[i].0.clone());
        }
        Ok(undone)
    }

    async fn current(&self, db: &Database) -> Result<Vec<String>, BoxError> {
        self.rows(db).await
    }

    async fn entity_differences(&self, _: &Database) -> Result<Option<Vec<String>>, BoxError> {
        Ok(None)
    }

    async fn edited_since_applied(&self, _: &Database) -> Result<Vec<String>, BoxError> {
        Ok(Vec::new())
    }
}

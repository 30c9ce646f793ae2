//! The policy versions a stage judges by. Intake applies a version and
//! announces it (`policy.applied`); every stage that judges by the policy
//! keeps its own copy here, in its own database.

use crate::db::{Db, DbError, Row, Sql, Tx};
use crate::messaging::HandlerError;
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::PolicyPack;
use masar_proto::events::v1 as events;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A stored version never changes, so each is parsed once per process and
/// kept (a handful per association).
type Parsed = Arc<Mutex<HashMap<(String, u32), PolicyPack>>>;

#[derive(Clone)]
pub struct PolicyBook {
    db: Db,
    parsed: Parsed,
}

impl PolicyBook {
    pub fn new(db: Db) -> Self {
        Self { db, parsed: Parsed::default() }
    }

    /// The pack of a row holding `version` and `source`, parsed only the first time.
    fn pack(&self, association: &str, row: &Row) -> Result<PolicyPack, DbError> {
        let key = (association.to_owned(), row.unsigned("version")?);
        if let Some(pack) = self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key) {
            return Ok(pack.clone());
        }
        let pack = parse(row)?;
        self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key, pack.clone());
        Ok(pack)
    }

    /// Keeps one version; false if it was kept before (a redelivered announcement).
    pub async fn keep(
        tx: &mut Tx,
        pack: &PolicyPack,
        source: &str,
        applied_at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let inserted = tx
            .execute(
                Sql::new(
                    "INSERT INTO policy_versions (association, version, effective_from, source, applied_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (association, version) DO NOTHING",
                )
                .bind(pack.association.as_str())
                .bind(i64::from(pack.version))
                .bind(pack.effective_from)
                .bind(source)
                .bind(applied_at),
            )
            .await?;
        Ok(inserted == 1)
    }

    /// The newest version stored for an association, read inside a transaction that is about to add one.
    pub async fn latest(tx: &mut Tx, association: &str) -> Result<Option<PolicyPack>, DbError> {
        let sql = Sql::new("SELECT source FROM policy_versions WHERE association = $1 ORDER BY version DESC LIMIT 1")
            .bind(association);
        tx.fetch_optional(sql).await?.map(|row| parse(&row)).transpose()
    }

    /// Every stored version of an association, oldest first.
    pub async fn versions(&self, association: &str) -> Result<Vec<PolicyPack>, DbError> {
        let sql =
            Sql::new("SELECT source FROM policy_versions WHERE association = $1 ORDER BY version").bind(association);
        self.db.fetch_all(sql).await?.iter().map(parse).collect()
    }

    /// The version in force on a day: later versions replace earlier ones from
    /// their effective date. Only that one is read.
    pub async fn in_force(&self, association: &str, on: NaiveDate) -> Result<Option<PolicyPack>, DbError> {
        let sql = Sql::new(
            "SELECT version, source FROM policy_versions WHERE association = $1 AND effective_from <= $2 \
             ORDER BY effective_from DESC, version DESC LIMIT 1",
        )
        .bind(association)
        .bind(on);
        self.db.fetch_optional(sql).await?.map(|row| self.pack(association, &row)).transpose()
    }

    pub async fn version(&self, association: &str, version: u32) -> Result<Option<PolicyPack>, DbError> {
        // A version read once is the same version for good: every call of a case asks for it.
        let key = (association.to_owned(), version);
        if let Some(pack) = self.parsed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&key) {
            return Ok(Some(pack.clone()));
        }
        let sql = Sql::new("SELECT version, source FROM policy_versions WHERE association = $1 AND version = $2")
            .bind(association)
            .bind(i64::from(version));
        self.db.fetch_optional(sql).await?.map(|row| self.pack(association, &row)).transpose()
    }

    /// Keeps the copy a `policy.applied` announcement carries.
    pub async fn keep_announced(tx: &mut Tx, event: &events::PolicyApplied) -> Result<(), HandlerError> {
        let pack = PolicyPack::from_toml(&event.source)
            .map_err(|problems| HandlerError::Reject(format!("announced policy is not valid: {problems:?}")))?;
        let applied_at = masar_proto::to_datetime(event.applied_at.as_ref());
        Self::keep(tx, &pack, &event.source, applied_at).await?;
        Ok(())
    }
}

/// Stored sources were validated before they were stored; one that no longer parses is corrupt.
fn parse(row: &Row) -> Result<PolicyPack, DbError> {
    let source = row.text("source")?;
    PolicyPack::from_toml(&source)
        .map_err(|problems| DbError::Decode { column: "source".into(), reason: format!("{problems:?}") })
}

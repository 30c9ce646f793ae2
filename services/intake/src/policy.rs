//! Applying a board-approved policy version: intake stores it and announces
//! it to every stage that judges by the policy.

use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::{FieldError, PolicyPack};
use masar_platform::db::{Db, DbError};
use masar_platform::messaging::Outbox;
use masar_platform::policies::PolicyBook;
use masar_proto::Event;
use masar_proto::events::v1 as events;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the policy file has {} problem(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("{association} version {version} is already stored with other content; give the new text a new version")]
    VersionTaken { association: String, version: u32 },
    #[error("{association} is at version {stored}; a new version must be higher")]
    NotNewer { association: String, stored: u32 },
    #[error("version {version} takes effect on {effective_from}, before the stored version {stored} ({stored_from})")]
    EffectiveTooEarly { version: u32, effective_from: NaiveDate, stored: u32, stored_from: NaiveDate },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What applying did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub association: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    /// False when this exact version was already stored (applying is repeatable).
    pub newly_stored: bool,
}

/// Validates `source`, stores it as the association's next version and
/// announces it through the outbox, in one transaction.
pub async fn apply_policy(db: &Db, outbox: &Outbox, source: &str, now: DateTime<Utc>) -> Result<Applied, ApplyError> {
    let pack = PolicyPack::from_toml(source).map_err(ApplyError::Invalid)?;
    let applied = |newly_stored| Applied {
        association: pack.association.clone(),
        version: pack.version,
        effective_from: pack.effective_from,
        newly_stored,
    };
    let mut tx = db.begin().await?;
    if let Some(latest) = PolicyBook::latest(&mut tx, &pack.association).await? {
        if latest.version == pack.version {
            return if latest == pack {
                Ok(applied(false))
            } else {
                Err(ApplyError::VersionTaken { association: pack.association, version: pack.version })
            };
        }
        if latest.version > pack.version {
            return Err(ApplyError::NotNewer { association: pack.association, stored: latest.version });
        }
        if pack.effective_from < latest.effective_from {
            return Err(ApplyError::EffectiveTooEarly {
                version: pack.version,
                effective_from: pack.effective_from,
                stored: latest.version,
                stored_from: latest.effective_from,
            });
        }
    }
    PolicyBook::keep(&mut tx, &pack, source, now).await?;
    let announcement = events::PolicyApplied {
        association: pack.association.clone(),
        version: pack.version,
        effective_from: pack.effective_from.to_string(),
        source: source.to_owned(),
        applied_at: Some(masar_proto::timestamp(now)),
    };
    outbox.append(&mut tx, &Event::PolicyApplied(announcement)).await?;
    tx.commit().await?;
    outbox.wake();
    tracing::info!(association = %pack.association, version = pack.version, effective_from = %pack.effective_from, "policy applied");
    Ok(applied(true))
}

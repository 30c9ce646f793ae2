//! The social researchers' roster as kept: each association's starts from
//! the directory the first time it is read, and supervisors change it from
//! then on. Assignment reads its researchers from here.

use crate::store::ResearchStore;
use chrono::{DateTime, Utc};
use masar_domain::directory::{Leave, StaffMember};
use masar_domain::roster::{Gender, RosterChange};
use masar_domain::{ActorRole, Directory};
use masar_platform::db::{DbError, Row, Sql, Tx};
use uuid::Uuid;

/// A researcher as the roster has them: what assignment reads, with the
/// entry's version (for `If-Match`) and their leaves' ids.
#[derive(Debug, Clone)]
pub struct RosterEntry {
    pub researcher: StaffMember,
    pub active: bool,
    pub version: u64,
    pub leaves: Vec<(Uuid, Leave)>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

impl ResearchStore {
    /// Starts an association's roster from the directory's researchers, the
    /// first time it is read (a race between replicas inserts each once).
    async fn seed_roster(&self, tx: &mut Tx, association: &str, directory: &Directory) -> Result<(), DbError> {
        let seeded = tx
            .fetch_optional(Sql::new("SELECT 1 AS seeded FROM roster WHERE association = $1 LIMIT 1").bind(association))
            .await?;
        if seeded.is_some() {
            return Ok(());
        }
        let Some(staff) = directory.association(association) else { return Ok(()) };
        let now = Utc::now();
        for researcher in staff.staff.iter().filter(|s| s.role == ActorRole::SocialResearcher) {
            let inserted = tx
                .execute(
                    Sql::new(
                        "INSERT INTO roster (association, username, branch, gender, specialties, capacity, active, \
                         version, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, 1, 'directory', $7) \
                         ON CONFLICT (association, username) DO NOTHING",
                    )
                    .bind(association)
                    .bind(researcher.username.as_str())
                    .bind(researcher.branch.clone().unwrap_or_default())
                    .bind(researcher.gender.map_or("", Gender::as_str))
                    .bind(serde_json::json!(researcher.specialties))
                    .bind(i64::from(researcher.capacity.unwrap_or(0)))
                    .bind(now),
                )
                .await?;
            if inserted == 1 {
                for leave in &researcher.leave {
                    self.insert_leave(tx, association, &researcher.username, leave, ("directory", now)).await?;
                }
            }
        }
        Ok(())
    }

    async fn insert_leave(
        &self,
        tx: &mut Tx,
        association: &str,
        username: &str,
        leave: &Leave,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<Uuid, DbError> {
        let leave_id = Uuid::now_v7();
        tx.execute(
            Sql::new(
                "INSERT INTO roster_leaves (leave_id, association, username, starts_on, ends_on, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(leave_id)
            .bind(association)
            .bind(username)
            .bind(leave.from)
            .bind(leave.to)
            .bind(by)
            .bind(at),
        )
        .await?;
        Ok(leave_id)
    }

    /// An association's roster (one branch's, or all), by username; started
    /// from the directory if it never was.
    pub async fn roster(
        &self,
        tx: &mut Tx,
        association: &str,
        branch: Option<&str>,
        directory: &Directory,
    ) -> Result<Vec<RosterEntry>, DbError> {
        self.seed_roster(tx, association, directory).await?;
        let sql = Sql::new(
            "SELECT username, branch, gender, specialties, capacity, active, version, updated_by, updated_at \
             FROM roster WHERE association = $1 AND ($2 IS NULL OR branch = $2) ORDER BY username",
        )
        .bind(association)
        .bind(branch.map(str::to_owned));
        let rows = tx.fetch_all(sql).await?;
        let sql = Sql::new(
            "SELECT leave_id, username, starts_on, ends_on FROM roster_leaves WHERE association = $1 \
             ORDER BY starts_on, leave_id",
        )
        .bind(association);
        let leaves: Vec<(String, Uuid, Leave)> = tx
            .fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.text("username")?,
                    row.uuid("leave_id")?,
                    Leave { from: row.date("starts_on")?, to: row.date("ends_on")? },
                ))
            })
            .collect::<Result<_, DbError>>()?;
        // Whoever left the directory (they can no longer sign in) is off the roster too.
        let known = |username: &str| {
            directory.association(association).is_some_and(|a| {
                a.staff.iter().any(|s| s.username == username && s.role == ActorRole::SocialResearcher)
            })
        };
        rows.iter()
            .map(|row| entry(row, &leaves, directory, association))
            .filter(|entry| entry.as_ref().map_or(true, |e| known(&e.researcher.username)))
            .collect()
    }

    /// One researcher's entry, if on the roster.
    pub async fn roster_entry(
        &self,
        tx: &mut Tx,
        association: &str,
        username: &str,
        directory: &Directory,
    ) -> Result<Option<RosterEntry>, DbError> {
        Ok(self.roster(tx, association, None, directory).await?.into_iter().find(|e| e.researcher.username == username))
    }

    /// Adds or changes a researcher's entry, only if still at `version` (0:
    /// a new entry); false when it changed meanwhile (or was added by another).
    pub async fn set_roster_entry(
        &self,
        tx: &mut Tx,
        (association, username): (&str, &str),
        change: &RosterChange,
        version: u64,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<bool, DbError> {
        let specialties = serde_json::json!(change.specialties);
        let gender = change.gender.map_or("", Gender::as_str);
        let capacity = i64::from(change.capacity.unwrap_or(0));
        let active = i64::from(change.active);
        let changed = if version == 0 {
            tx.execute(
                Sql::new(
                    "INSERT INTO roster (association, username, branch, gender, specialties, capacity, active, \
                     version, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) \
                     ON CONFLICT (association, username) DO NOTHING",
                )
                .bind(association)
                .bind(username)
                .bind(change.branch.as_str())
                .bind(gender)
                .bind(specialties)
                .bind(capacity)
                .bind(active)
                .bind(by)
                .bind(at),
            )
            .await?
        } else {
            tx.execute(
                Sql::new(
                    "UPDATE roster SET branch = $1, gender = $2, specialties = $3, capacity = $4, active = $5, \
                     version = version + 1, updated_by = $6, updated_at = $7 \
                     WHERE association = $8 AND username = $9 AND version = $10",
                )
                .bind(change.branch.as_str())
                .bind(gender)
                .bind(specialties)
                .bind(capacity)
                .bind(active)
                .bind(by)
                .bind(at)
                .bind(association)
                .bind(username)
                .bind(version as i64),
            )
            .await?
        };
        Ok(changed == 1)
    }

    /// Records a leave, only if the entry is still at the version its other
    /// leaves were read at (two overlapping leaves cannot both pass); None when it changed meanwhile.
    pub async fn add_leave(
        &self,
        tx: &mut Tx,
        (association, username): (&str, &str),
        leave: &Leave,
        read_at: u64,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<Option<Uuid>, DbError> {
        if !self.raise_roster_version(tx, (association, username), read_at, (by, at)).await? {
            return Ok(None);
        }
        self.insert_leave(tx, association, username, leave, (by, at)).await.map(Some)
    }

    /// Cancels a leave, only if the entry is still at the version read; false
    /// if there is no such leave of theirs (or the entry changed meanwhile).
    pub async fn cancel_leave(
        &self,
        tx: &mut Tx,
        (association, username): (&str, &str),
        leave_id: Uuid,
        read_at: u64,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<bool, DbError> {
        let sql = Sql::new("DELETE FROM roster_leaves WHERE leave_id = $1 AND association = $2 AND username = $3")
            .bind(leave_id)
            .bind(association)
            .bind(username);
        if tx.execute(sql).await? != 1 {
            return Ok(false);
        }
        self.raise_roster_version(tx, (association, username), read_at, (by, at)).await
    }

    /// Raises an entry's version, only if still at the one read; false when it changed meanwhile.
    async fn raise_roster_version(
        &self,
        tx: &mut Tx,
        (association, username): (&str, &str),
        read_at: u64,
        (by, at): (&str, DateTime<Utc>),
    ) -> Result<bool, DbError> {
        let sql = Sql::new(
            "UPDATE roster SET version = version + 1, updated_by = $1, updated_at = $2 \
             WHERE association = $3 AND username = $4 AND version = $5",
        )
        .bind(by)
        .bind(at)
        .bind(association)
        .bind(username)
        .bind(read_at as i64);
        Ok(tx.execute(sql).await? == 1)
    }
}

fn entry(
    row: &Row,
    leaves: &[(String, Uuid, Leave)],
    directory: &Directory,
    association: &str,
) -> Result<RosterEntry, DbError> {
    let username = row.text("username")?;
    // Who they are (their name, the person behind two posts) is the directory's.
    let known = directory.association(association).and_then(|a| a.staff.iter().find(|s| s.username == username));
    let gender = row.text("gender")?;
    let capacity: u32 = row.unsigned("capacity")?;
    let own: Vec<(Uuid, Leave)> =
        leaves.iter().filter(|(who, _, _)| *who == username).map(|(_, id, leave)| (*id, *leave)).collect();
    let researcher = StaffMember {
        name: known.map(|s| s.name.clone()).unwrap_or_else(|| username.clone()),
        person: known.and_then(|s| s.person.clone()),
        mobile: None,
        role: ActorRole::SocialResearcher,
        branch: Some(row.text("branch")?),
        gender: Gender::parse(&gender).ok(),
        specialties: row.json("specialties")?,
        capacity: (capacity > 0).then_some(capacity),
        leave: own.iter().map(|(_, leave)| *leave).collect(),
        username,
    };
    Ok(RosterEntry {
        researcher,
        active: row.int("active")? == 1,
        version: row.unsigned("version")?,
        leaves: own,
        updated_by: row.text("updated_by")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A roster entry's leaves, which a new one must not overlap.
pub fn other_leaves(entry: &RosterEntry) -> Vec<Leave> {
    entry.leaves.iter().map(|(_, leave)| *leave).collect()
}

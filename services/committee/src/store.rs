//! Committee's data: agendas, their items and the members' votes.

use chrono::{DateTime, Utc};
use masar_domain::{CaseStatus, Vote};
use masar_platform::audit::Subject;
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::paging::PageRequest;
use masar_proto::events::v1::CaseRef;
use masar_proto::research::v1::ResearchFile;
use prost::Message;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone)]
pub struct CommitteeStore {
    db: Db,
}

#[derive(Debug, Clone)]
pub struct AgendaItem {
    pub request_id: Uuid,
    pub agenda_id: Uuid,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub researcher: String,
    pub recommendation: String,
    pub status: CaseStatus,
    pub decision: String,
    pub reasons: Vec<String>,
    pub scheduled_at: DateTime<Utc>,
    pub policy_version: u32,
    /// Raised by every vote and the decision, so an action on an older reading is refused.
    pub version: u64,
    /// What research found and proposes, as recommended.
    pub research: Option<ResearchFile>,
    /// 1 for the first time on an agenda, one more each time it comes back after a deferral.
    pub round: u32,
    /// The meeting that took it on its agenda when it opened; none while it waits for one.
    pub meeting_id: Option<Uuid>,
}

/// Why a member takes no part in deciding a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecusalKind {
    /// They researched it (the same person, under another post).
    Researched,
    /// They declared a conflict.
    Declared,
}

impl RecusalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Researched => "researched",
            Self::Declared => "declared",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recusal {
    pub member: String,
    pub kind: String,
    pub reason: String,
}

/// A decision as kept: the evidence as it was hashed, and the hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    pub round: u32,
    pub decision: CaseStatus,
    pub decided_at: DateTime<Utc>,
    pub decided_by: String,
    /// `masar.committee.v1.Evidence`, encoded.
    pub evidence: Vec<u8>,
    pub evidence_sha256: String,
}

/// The SHA-256 of encoded evidence, as recorded with each decision.
pub fn evidence_hash(evidence: &[u8]) -> String {
    use sha2::Digest as _;
    masar_platform::hex::encode(&sha2::Sha256::digest(evidence))
}

/// A recommended case as it joins an agenda.
#[derive(Debug, Clone, Copy)]
pub struct Recommended<'a> {
    pub case: &'a CaseRef,
    pub researcher: &'a str,
    pub recommendation: &'a str,
    pub policy_version: u32,
    pub research: Option<&'a ResearchFile>,
}

impl AgendaItem {
    pub fn case_ref(&self) -> CaseRef {
        CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
    }

    pub fn audit_subject(&self) -> Subject<'_> {
        Subject::case(self.request_id, &self.association, &self.branch)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CastVote {
    pub member: String,
    pub vote: Vote,
    pub note: String,
}

pub(crate) fn item(row: &Row) -> Result<AgendaItem, DbError> {
    Ok(AgendaItem {
        request_id: row.uuid("request_id")?,
        agenda_id: row.uuid("agenda_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        service_type: row.text("service_type")?,
        researcher: row.text("researcher")?,
        recommendation: row.text("recommendation")?,
        status: row.parsed("status", CaseStatus::parse)?,
        decision: row.text("decision")?,
        reasons: row.json("reasons")?,
        scheduled_at: row.time("scheduled_at")?,
        policy_version: row.unsigned("policy_version")?,
        version: row.unsigned("version")?,
        research: research_file(row)?,
        round: row.unsigned("round")?,
        meeting_id: row.optional_uuid("meeting_id")?,
    })
}

/// The stored research file; none when the case was recommended before it was carried.
fn research_file(row: &Row) -> Result<Option<ResearchFile>, DbError> {
    let bytes = row.bytes("research_file")?;
    if bytes.is_empty() {
        return Ok(None);
    }
    ResearchFile::decode(bytes.as_slice())
        .map(Some)
        .map_err(|e| DbError::Decode { column: "research_file".into(), reason: e.to_string() })
}

fn stored_decision(row: &Row) -> Result<StoredDecision, DbError> {
    Ok(StoredDecision {
        round: row.unsigned("round")?,
        decision: row.parsed("decision", CaseStatus::parse)?,
        decided_at: row.time("decided_at")?,
        decided_by: row.text("decided_by")?,
        evidence: row.bytes("evidence")?,
        evidence_sha256: row.text("evidence_sha256")?,
    })
}

fn cast_vote(row: &Row) -> Result<CastVote, DbError> {
    Ok(CastVote { member: row.text("member")?, vote: row.parsed("vote", Vote::parse)?, note: row.text("note")? })
}

/// The agenda items query with a condition, as one static string.
macro_rules! concat_items_where {
    ($condition:literal) => {
        concat!(
            "SELECT request_id, agenda_id, association, branch, service_type, researcher, recommendation, status, ",
            "decision, reasons, scheduled_at, policy_version, version, research_file, round, meeting_id FROM agenda_items WHERE ",
            $condition
        )
    };
}
pub(crate) use concat_items_where;

/// A page of an agenda's items awaiting a decision; written as the index
/// `agenda_items_awaiting` is (migration 0005), so the planners walk it.
const AGENDA_AWAITING: &str = concat_items_where!(
    "agenda_id = $1 AND status = 'on_committee_agenda' \
     AND ($2 IS NULL OR scheduled_at > $2 OR (scheduled_at = $2 AND request_id > $3)) \
     ORDER BY scheduled_at, request_id LIMIT $4"
);

impl CommitteeStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The branch's open agenda, opened now if there is none.
    pub async fn open_agenda(
        &self,
        tx: &mut Tx,
        association: &str,
        branch: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, DbError> {
        if let Some(row) = tx
            .fetch_optional(
                Sql::new(
                    "SELECT agenda_id FROM agendas WHERE association = $1 AND branch = $2 ORDER BY opened_at DESC LIMIT 1",
                )
                .bind(association)
                .bind(branch),
            )
            .await?
        {
            return row.uuid("agenda_id");
        }
        let agenda_id = Uuid::now_v7();
        tx.execute(
            Sql::new("INSERT INTO agendas (agenda_id, association, branch, opened_at) VALUES ($1, $2, $3, $4)")
                .bind(agenda_id)
                .bind(association)
                .bind(branch)
                .bind(now),
        )
        .await?;
        Ok(agenda_id)
    }

    /// Puts a case on an agenda; a case coming back after deferral starts a
    /// new round with no votes, the earlier round's kept, its version still
    /// rising past the one before. Returns the round.
    pub async fn schedule(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        agenda_id: Uuid,
        recommended: Recommended<'_>,
        now: DateTime<Utc>,
        previous: Option<&AgendaItem>,
    ) -> Result<u32, DbError> {
        let Recommended { case, researcher, recommendation, policy_version, research } = recommended;
        let round = previous.map_or(1, |p| p.round + 1);
        if let Some(previous) = previous {
            tx.execute(
                Sql::new(
                    "INSERT INTO past_votes (request_id, round, member, vote, note, cast_at) \
                     SELECT request_id, $1, member, vote, note, cast_at FROM votes WHERE request_id = $2 \
                     ON CONFLICT (request_id, round, member) DO NOTHING",
                )
                .bind(i64::from(previous.round))
                .bind(request_id),
            )
            .await?;
        }
        tx.execute(Sql::new("DELETE FROM votes WHERE request_id = $1").bind(request_id)).await?;
        tx.execute(Sql::new("DELETE FROM agenda_items WHERE request_id = $1").bind(request_id)).await?;
        tx.execute(
            Sql::new(
                "INSERT INTO agenda_items (request_id, agenda_id, association, branch, service_type, researcher, \
                 recommendation, status, decision, reasons, scheduled_at, policy_version, version, research_file, round) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $11, $12, $13, $14)",
            )
            .bind(request_id)
            .bind(agenda_id)
            .bind(&case.association)
            .bind(&case.branch)
            .bind(&case.service_type)
            .bind(researcher)
            .bind(recommendation)
            .bind(CaseStatus::OnCommitteeAgenda.as_str())
            .bind(serde_json::json!([]))
            .bind(now)
            .bind(i64::from(policy_version))
            .bind(previous.map_or(1, |p| p.version + 1))
            .bind(research.map(Message::encode_to_vec).unwrap_or_default())
            .bind(i64::from(round)),
        )
        .await?;
        Ok(round)
    }

    /// Recuses a member from a case's round (once; a second declaration keeps the first),
    /// withdrawing any vote of theirs.
    pub async fn recuse(
        &self,
        tx: &mut Tx,
        (request_id, round): (Uuid, u32),
        member: &str,
        kind: RecusalKind,
        reason: &str,
    ) -> Result<(), DbError> {
        tx.execute(Sql::new("DELETE FROM votes WHERE request_id = $1 AND member = $2").bind(request_id).bind(member))
            .await?;
        tx.execute(
            Sql::new(
                "INSERT INTO recusals (request_id, round, member, reason, kind, recorded_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (request_id, round, member) DO NOTHING",
            )
            .bind(request_id)
            .bind(i64::from(round))
            .bind(member)
            .bind(reason)
            .bind(kind.as_str())
            .bind(Utc::now()),
        )
        .await?;
        Ok(())
    }

    /// The members recused from a round of a case.
    pub async fn recusals(&self, tx: &mut Tx, request_id: Uuid, round: u32) -> Result<Vec<Recusal>, DbError> {
        let sql = Sql::new(
            "SELECT member, kind, reason FROM recusals WHERE request_id = $1 AND round = $2 ORDER BY recorded_at, member",
        )
        .bind(request_id)
        .bind(i64::from(round));
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(Recusal { member: row.text("member")?, kind: row.text("kind")?, reason: row.text("reason")? })
            })
            .collect()
    }

    /// The recusals of each of `items`' current round, by request, in one query.
    pub async fn recusals_on(&self, items: &[AgendaItem]) -> Result<HashMap<Uuid, Vec<Recusal>>, DbError> {
        let mut by_request: HashMap<Uuid, Vec<Recusal>> = HashMap::new();
        if items.is_empty() {
            return Ok(by_request);
        }
        let sql = Sql::listing(
            "SELECT request_id, round, member, kind, reason FROM recusals WHERE request_id IN (",
            items.len(),
            ") ORDER BY recorded_at, member",
        );
        let rows = self.db.fetch_all(items.iter().fold(sql, |sql, item| sql.bind(item.request_id))).await?;
        let rounds: HashMap<Uuid, u32> = items.iter().map(|i| (i.request_id, i.round)).collect();
        for row in &rows {
            let request_id = row.uuid("request_id")?;
            if rounds.get(&request_id) == Some(&row.unsigned::<u32>("round")?) {
                let recusal =
                    Recusal { member: row.text("member")?, kind: row.text("kind")?, reason: row.text("reason")? };
                by_request.entry(request_id).or_default().push(recusal);
            }
        }
        Ok(by_request)
    }

    /// The votes of an earlier round.
    pub async fn past_votes(&self, tx: &mut Tx, request_id: Uuid, round: u32) -> Result<Vec<CastVote>, DbError> {
        let sql =
            Sql::new("SELECT member, vote, note FROM past_votes WHERE request_id = $1 AND round = $2 ORDER BY cast_at")
                .bind(request_id)
                .bind(i64::from(round));
        tx.fetch_all(sql).await?.iter().map(cast_vote).collect()
    }

    /// Every decision of a case, first round first.
    pub async fn decisions(&self, tx: &mut Tx, request_id: Uuid) -> Result<Vec<StoredDecision>, DbError> {
        let sql = Sql::new(
            "SELECT round, decision, decided_at, decided_by, evidence, evidence_sha256 FROM decisions \
             WHERE request_id = $1 ORDER BY round",
        )
        .bind(request_id);
        tx.fetch_all(sql).await?.iter().map(stored_decision).collect()
    }

    /// The decisions taken at a meeting, by case.
    pub async fn decisions_at(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<Vec<(Uuid, StoredDecision)>, DbError> {
        let sql = Sql::new(
            "SELECT request_id, round, decision, decided_at, decided_by, evidence, evidence_sha256 FROM decisions \
             WHERE meeting_id = $1 ORDER BY decided_at",
        )
        .bind(meeting_id);
        tx.fetch_all(sql).await?.iter().map(|row| Ok((row.uuid("request_id")?, stored_decision(row)?))).collect()
    }

    pub async fn item_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<AgendaItem>, DbError> {
        tx.fetch_optional(Sql::new(concat_items_where!("request_id = $1")).bind(request_id))
            .await?
            .as_ref()
            .map(item)
            .transpose()
    }

    /// The latest agenda of a branch with a page of its items awaiting a
    /// decision, in the order they were scheduled.
    pub async fn agenda(
        &self,
        association: &str,
        branch: &str,
        page: &PageRequest,
    ) -> Result<Option<(Uuid, DateTime<Utc>, Vec<AgendaItem>)>, DbError> {
        let Some(row) = self
            .db
            .fetch_optional(
                Sql::new(
                    "SELECT agenda_id, opened_at FROM agendas WHERE association = $1 AND branch = $2 \
                     ORDER BY opened_at DESC LIMIT 1",
                )
                .bind(association)
                .bind(branch),
            )
            .await?
        else {
            return Ok(None);
        };
        let agenda_id = row.uuid("agenda_id")?;
        let rows = self.db.fetch_all(Sql::new(AGENDA_AWAITING).bind(agenda_id).bind_page(page)).await?;
        Ok(Some((agenda_id, row.time("opened_at")?, rows.iter().map(item).collect::<Result<_, _>>()?)))
    }

    pub async fn votes(&self, request_id: Uuid) -> Result<Vec<CastVote>, DbError> {
        let mut tx = self.db.begin().await?;
        let votes = self.votes_in(&mut tx, request_id).await?;
        tx.commit().await?;
        Ok(votes)
    }

    pub async fn votes_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Vec<CastVote>, DbError> {
        let rows = tx
            .fetch_all(
                Sql::new("SELECT member, vote, note FROM votes WHERE request_id = $1 ORDER BY cast_at")
                    .bind(request_id),
            )
            .await?;
        rows.iter().map(cast_vote).collect()
    }

    /// Every vote on `items`, by request, in one query.
    pub async fn votes_on(&self, items: &[Uuid]) -> Result<HashMap<Uuid, Vec<CastVote>>, DbError> {
        let mut by_request: HashMap<Uuid, Vec<CastVote>> = HashMap::new();
        if items.is_empty() {
            return Ok(by_request);
        }
        let votes = Sql::listing(
            "SELECT request_id, member, vote, note FROM votes WHERE request_id IN (",
            items.len(),
            ") ORDER BY cast_at",
        );
        let rows = self.db.fetch_all(items.iter().fold(votes, |sql, id| sql.bind(*id))).await?;
        for row in &rows {
            by_request.entry(row.uuid("request_id")?).or_default().push(cast_vote(row)?);
        }
        Ok(by_request)
    }

    /// Raises an item's version, only if still at the one read; false when it changed meanwhile.
    pub async fn touch(&self, tx: &mut Tx, item: &AgendaItem) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new("UPDATE agenda_items SET version = version + 1 WHERE request_id = $1 AND version = $2")
                    .bind(item.request_id)
                    .bind(item.version),
            )
            .await?;
        Ok(changed == 1)
    }

    /// A member's vote on an item still at `version`; voting again replaces
    /// their earlier vote. False when the item changed meanwhile.
    pub async fn cast_vote(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        version: u64,
        vote: &CastVote,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new("UPDATE agenda_items SET version = version + 1 WHERE request_id = $1 AND version = $2")
                    .bind(request_id)
                    .bind(version),
            )
            .await?;
        if changed != 1 {
            return Ok(false);
        }
        tx.execute(
            Sql::new(
                "INSERT INTO votes (request_id, member, vote, note, cast_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (request_id, member) DO UPDATE SET vote = excluded.vote, note = excluded.note, cast_at = excluded.cast_at",
            )
            .bind(request_id)
            .bind(&vote.member)
            .bind(vote.vote.as_str())
            .bind(&vote.note)
            .bind(Utc::now()),
        )
        .await?;
        Ok(true)
    }

    /// Records the decision and the evidence it was taken on, only while the
    /// item is still at the version read (so on the agenda, with the votes
    /// read); false when it changed meanwhile.
    pub async fn decide(
        &self,
        tx: &mut Tx,
        item: &AgendaItem,
        decision: CaseStatus,
        reasons: &[String],
        decided: (&str, DateTime<Utc>),
        evidence: &[u8],
    ) -> Result<bool, DbError> {
        let (decided_by, decided_at) = decided;
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE agenda_items SET status = $1, decision = $1, reasons = $2, version = version + 1 \
                     WHERE request_id = $3 AND version = $4",
                )
                .bind(decision.as_str())
                .bind(serde_json::json!(reasons))
                .bind(item.request_id)
                .bind(item.version),
            )
            .await?;
        if changed != 1 {
            return Ok(false);
        }
        tx.execute(
            Sql::new(
                "INSERT INTO decisions (request_id, round, decision, decided_at, decided_by, evidence, evidence_sha256, \
                 meeting_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(item.request_id)
            .bind(i64::from(item.round))
            .bind(decision.as_str())
            .bind(decided_at)
            .bind(decided_by)
            .bind(evidence.to_vec())
            .bind(evidence_hash(evidence))
            .bind(item.meeting_id),
        )
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_agenda_reads_the_status_awaiting_a_decision_as_its_index_does() {
        let awaiting = format!("status = '{}'", masar_domain::CaseStatus::OnCommitteeAgenda.as_str());
        assert!(super::AGENDA_AWAITING.contains(&awaiting));
        for migration in [
            include_str!("../migrations/postgres/0005_items_awaiting.sql"),
            include_str!("../migrations/sqlite/0005_items_awaiting.sql"),
        ] {
            assert!(migration.contains(&format!("WHERE {awaiting};")), "{migration}");
        }
    }
}

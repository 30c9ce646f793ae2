//! Research's data: assignments and field visits.

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use masar_domain::research::{Proposal, Recommended};
use masar_domain::visits::{Appointment, AppointmentStatus, PersonMet, VisitOutcome, VisitRecord};
use masar_domain::{Bilingual, CaseStatus};
use masar_platform::audit::Subject;
use masar_platform::db::{Db, DbError, Row, Sql, Tx};
use masar_platform::paging::PageRequest;
use masar_platform::personal::{Field, PersonalData, RESEAL_BATCH};
use masar_proto::events::v1::CaseRef;
use masar_proto::research::v1::VerifiedOn;
use prost::Message as _;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone)]
pub struct ResearchStore {
    db: Db,
    /// Seals whom researchers met (names and telephone numbers).
    personal: PersonalData,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub request_id: Uuid,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub researcher: String,
    pub status: CaseStatus,
    pub visits: i64,
    pub recommendation: String,
    pub assigned_at: DateTime<Utc>,
    pub policy_version: u32,
    /// Raised by every change, so an action on an older reading is refused.
    pub version: u64,
    /// Why it went to this researcher.
    pub why: Bilingual,
    pub justification: String,
    /// What the recommendation proposes (empty until recommended).
    pub proposal: Proposal,
    pub recommended_at: Option<DateTime<Utc>>,
    /// What the committee asked when it last deferred the case.
    pub committee_questions: Vec<String>,
}

/// A researcher's score on one criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionScore {
    pub criterion: String,
    pub score: u32,
    pub note: String,
}

/// A visit's appointment as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAppointment {
    pub appointment_id: Uuid,
    pub appointment: Appointment,
    pub status: AppointmentStatus,
    pub change_reason: String,
    pub scheduled_at: DateTime<Utc>,
}

/// The appointment a visit recorded closes, and how.
fn closing(outcome: VisitOutcome) -> AppointmentStatus {
    match outcome {
        VisitOutcome::Done => AppointmentStatus::Kept,
        VisitOutcome::Missed => AppointmentStatus::Missed,
    }
}

/// The open appointments as SQL, as `AppointmentStatus::is_open` says; a test holds them together.
macro_rules! open_appointment {
    () => {
        "status IN ('scheduled', 'change_requested')"
    };
}

/// A field visit as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub researcher: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    pub outcome: VisitOutcome,
    /// None for visits recorded before the day was asked.
    pub visited_on: Option<NaiveDate>,
    pub people_met: Vec<PersonMet>,
    pub findings: String,
}

/// Who takes a case, why, and when.
#[derive(Debug, Clone, Copy)]
pub struct Chosen<'a> {
    pub researcher: &'a str,
    pub why: &'a Bilingual,
    pub at: DateTime<Utc>,
}

/// A verified case nobody in its branch can take yet.
#[derive(Debug, Clone)]
pub struct Unassigned {
    pub request_id: Uuid,
    pub association: String,
    pub branch: String,
    pub service_type: String,
    pub policy_version: u32,
    pub waiting_since: DateTime<Utc>,
    pub why: Bilingual,
    /// Whom the pack prefers to research it, for when someone can.
    pub preference: Option<masar_domain::roster::Preference>,
}

impl Unassigned {
    pub fn case_ref(&self) -> CaseRef {
        CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
    }
}

impl Assignment {
    pub fn case_ref(&self) -> CaseRef {
        CaseRef::new(self.request_id, &self.association, &self.branch, &self.service_type)
    }

    pub fn audit_subject(&self) -> Subject<'_> {
        Subject::case(self.request_id, &self.association, &self.branch)
    }
}

fn assignment(row: &Row) -> Result<Assignment, DbError> {
    Ok(Assignment {
        request_id: row.uuid("request_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        service_type: row.text("service_type")?,
        researcher: row.text("researcher")?,
        status: row.parsed("status", CaseStatus::parse)?,
        visits: row.int("visits")?,
        recommendation: row.text("recommendation")?,
        assigned_at: row.time("assigned_at")?,
        policy_version: row.unsigned("policy_version")?,
        version: row.unsigned("version")?,
        why: row.json("why")?,
        justification: row.text("justification")?,
        proposal: row.json("proposal")?,
        recommended_at: row.optional_time("recommended_at")?,
        committee_questions: row.json("committee_questions")?,
    })
}

fn unassigned(row: &Row) -> Result<Unassigned, DbError> {
    Ok(Unassigned {
        request_id: row.uuid("request_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        service_type: row.text("service_type")?,
        policy_version: row.unsigned("policy_version")?,
        waiting_since: row.time("waiting_since")?,
        why: row.json("why")?,
        preference: {
            let text = row.text("preference")?;
            if text.is_empty() {
                None
            } else {
                Some(
                    serde_json::from_str(&text)
                        .map_err(|e| DbError::Decode { column: "preference".into(), reason: e.to_string() })?,
                )
            }
        },
    })
}

/// The assignments query with a condition, as one static string.
macro_rules! concat_assignments_where {
    ($($condition:expr),+) => {
        concat!(
            "SELECT request_id, association, branch, service_type, researcher, status, visits, recommendation, ",
            "assigned_at, policy_version, version, why, justification, proposal, recommended_at, committee_questions ",
            "FROM research_assignments WHERE ",
            $($condition),+
        )
    };
}

/// A researcher's open work (`CaseStatus::under_research`) as SQL, written
/// as the open-work indexes' condition is (migration 0005), so the planners
/// use them; a test holds them together.
macro_rules! open {
    () => {
        "status IN ('researcher_assigned', 'field_visit_recorded')"
    };
}

impl ResearchStore {
    pub fn new(db: Db, personal: PersonalData) -> Self {
        Self { db, personal }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The open cases of each of `researchers` in `association` (those with none are left out).
    pub async fn open_cases(
        &self,
        tx: &mut Tx,
        association: &str,
        researchers: &[&str],
    ) -> Result<HashMap<String, u32>, DbError> {
        if researchers.is_empty() {
            return Ok(HashMap::new());
        }
        // The association is $1; the researchers follow it.
        let count = Sql::listing_after(
            concat!(
                "SELECT researcher, COUNT(*) AS open_cases FROM research_assignments WHERE ",
                open!(),
                " AND association = $1 AND researcher IN ("
            ),
            1,
            researchers.len(),
            ") GROUP BY researcher",
        );
        let count = researchers.iter().fold(count.bind(association), |sql, r| sql.bind(*r));
        let rows = tx.fetch_all(count).await?;
        rows.iter().map(|row| Ok((row.text("researcher")?, row.unsigned::<u32>("open_cases")?))).collect()
    }

    /// Keeps a case nobody can take yet (once: a redelivery changes nothing).
    pub async fn keep_unassigned(&self, tx: &mut Tx, case: &Unassigned) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO unassigned_cases (request_id, association, branch, service_type, policy_version, \
                 waiting_since, why, preference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(case.request_id)
            .bind(&case.association)
            .bind(&case.branch)
            .bind(&case.service_type)
            .bind(i64::from(case.policy_version))
            .bind(case.waiting_since)
            .bind(serde_json::to_value(&case.why).expect("a reason serializes"))
            .bind(
                case.preference
                    .as_ref()
                    .map(|p| serde_json::to_string(p).expect("a preference serializes"))
                    .unwrap_or_default(),
            ),
        )
        .await?;
        Ok(())
    }

    /// The waiting cases of an association (and branch), oldest first.
    pub async fn unassigned(
        &self,
        association: &str,
        branch: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Unassigned>, DbError> {
        macro_rules! waiting_where {
            ($condition:literal) => {
                concat!(
                    "SELECT request_id, association, branch, service_type, policy_version, waiting_since, why, \
                     preference FROM unassigned_cases WHERE ",
                    $condition
                )
            };
        }
        // A statement per scope, so the planner searches the index by it.
        const OF_BRANCH: &str = waiting_where!(
            "association = $1 AND branch = $2 \
             AND ($3 IS NULL OR waiting_since > $3 OR (waiting_since = $3 AND request_id > $4)) \
             ORDER BY waiting_since, request_id LIMIT $5"
        );
        const OF_ASSOCIATION: &str = waiting_where!(
            "association = $1 AND ($2 IS NULL OR waiting_since > $2 OR (waiting_since = $2 AND request_id > $3)) \
             ORDER BY waiting_since, request_id LIMIT $4"
        );
        let sql = match branch {
            Some(branch) => Sql::new(OF_BRANCH).bind(association).bind(branch),
            None => Sql::new(OF_ASSOCIATION).bind(association),
        };
        self.db.fetch_all(sql.bind_page(page)).await?.iter().map(unassigned).collect()
    }

    pub async fn assign(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        case: &CaseRef,
        chosen: Chosen<'_>,
        policy_version: u32,
    ) -> Result<(), DbError> {
        let Chosen { researcher, why, at } = chosen;
        tx.execute(Sql::new("DELETE FROM unassigned_cases WHERE request_id = $1").bind(request_id)).await?;
        tx.execute(
            Sql::new(
                "INSERT INTO research_assignments (request_id, association, branch, service_type, researcher, status, \
                 visits, recommendation, justification, assigned_at, policy_version, why) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, '', '', $7, $8, $9)",
            )
            .bind(request_id)
            .bind(&case.association)
            .bind(&case.branch)
            .bind(&case.service_type)
            .bind(researcher)
            .bind(CaseStatus::ResearcherAssigned.as_str())
            .bind(at)
            .bind(i64::from(policy_version))
            .bind(serde_json::to_value(why).expect("a reason serializes")),
        )
        .await?;
        Ok(())
    }

    /// A case back from the beneficiary with the documents research asked
    /// for: assigned again (to `chosen`), no longer waiting.
    pub async fn take_back(&self, tx: &mut Tx, request_id: Uuid, chosen: Chosen<'_>) -> Result<(), DbError> {
        tx.execute(Sql::new("DELETE FROM unassigned_cases WHERE request_id = $1").bind(request_id)).await?;
        tx.execute(
            Sql::new(
                "UPDATE research_assignments SET researcher = $1, why = $2, status = $3, assigned_at = $4, \
                 version = version + 1 WHERE request_id = $5",
            )
            .bind(chosen.researcher)
            .bind(serde_json::to_value(chosen.why).expect("a reason serializes"))
            .bind(CaseStatus::ResearcherAssigned.as_str())
            .bind(chosen.at)
            .bind(request_id),
        )
        .await?;
        Ok(())
    }

    /// Moves an open assignment to `researcher`, conditional on the version
    /// read (and raising it); false if it changed meanwhile or is no longer open.
    pub async fn reassign(
        &self,
        tx: &mut Tx,
        assignment: &Assignment,
        researcher: &str,
        why: &Bilingual,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(concat!(
                    "UPDATE research_assignments SET researcher = $1, why = $2, version = version + 1 \
                     WHERE request_id = $3 AND version = $4 AND ",
                    open!()
                ))
                .bind(researcher)
                .bind(serde_json::to_value(why).expect("a reason serializes"))
                .bind(assignment.request_id)
                .bind(i64::try_from(assignment.version).unwrap_or(i64::MAX)),
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn assignment_in(&self, tx: &mut Tx, request_id: Uuid) -> Result<Option<Assignment>, DbError> {
        const SQL: &str = concat_assignments_where!("request_id = $1");
        tx.fetch_optional(Sql::new(SQL).bind(request_id)).await?.as_ref().map(assignment).transpose()
    }

    /// One page of the open assignments of one researcher, or of a branch or
    /// association, oldest first.
    pub async fn open_assignments(
        &self,
        association: &str,
        branch: Option<&str>,
        researcher: Option<&str>,
        page: &PageRequest,
    ) -> Result<Vec<Assignment>, DbError> {
        // A statement per scope, each walking its open-work index in order
        // (a researcher's is in one branch, which only filters it).
        const OF_RESEARCHER: &str = concat_assignments_where!(
            "association = $1 AND researcher = $2 AND ($3 IS NULL OR branch = $3) AND ",
            open!(),
            " AND ($4 IS NULL OR assigned_at > $4 OR (assigned_at = $4 AND request_id > $5)) \
             ORDER BY assigned_at, request_id LIMIT $6"
        );
        const OF_BRANCH: &str = concat_assignments_where!(
            "association = $1 AND branch = $2 AND ",
            open!(),
            " AND ($3 IS NULL OR assigned_at > $3 OR (assigned_at = $3 AND request_id > $4)) \
             ORDER BY assigned_at, request_id LIMIT $5"
        );
        const OF_ASSOCIATION: &str = concat_assignments_where!(
            "association = $1 AND ",
            open!(),
            " AND ($2 IS NULL OR assigned_at > $2 OR (assigned_at = $2 AND request_id > $3)) \
             ORDER BY assigned_at, request_id LIMIT $4"
        );
        let open = match (researcher, branch) {
            (Some(researcher), branch) => {
                Sql::new(OF_RESEARCHER).bind(association).bind(researcher).bind(branch.map(str::to_owned))
            }
            (None, Some(branch)) => Sql::new(OF_BRANCH).bind(association).bind(branch),
            (None, None) => Sql::new(OF_ASSOCIATION).bind(association),
        };
        let rows = self.db.fetch_all(open.bind_page(page)).await?;
        rows.iter().map(assignment).collect()
    }

    /// A deferred case back in research, with the committee's questions.
    pub async fn reopen_deferred(&self, tx: &mut Tx, request_id: Uuid, questions: &[String]) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "UPDATE research_assignments SET status = $1, committee_questions = $2, version = version + 1 \
                 WHERE request_id = $3",
            )
            .bind(CaseStatus::ResearcherAssigned.as_str())
            .bind(serde_json::json!(questions))
            .bind(request_id),
        )
        .await?;
        Ok(())
    }

    pub async fn set_status(&self, tx: &mut Tx, request_id: Uuid, status: CaseStatus) -> Result<(), DbError> {
        tx.execute(
            Sql::new("UPDATE research_assignments SET status = $1, version = version + 1 WHERE request_id = $2")
                .bind(status.as_str())
                .bind(request_id),
        )
        .await?;
        Ok(())
    }

    /// Raises the assignment's version, only if it is still the one read; false when it changed meanwhile.
    async fn raise_version(&self, tx: &mut Tx, assignment: &Assignment) -> Result<bool, DbError> {
        let sql =
            Sql::new("UPDATE research_assignments SET version = version + 1 WHERE request_id = $1 AND version = $2")
                .bind(assignment.request_id)
                .bind(assignment.version);
        Ok(tx.execute(sql).await? == 1)
    }

    /// Records a visit, only if the assignment is still at the version read
    /// (raising it); a done visit counts and moves the case on, a missed one
    /// is only kept. Returns false when the assignment changed meanwhile.
    pub async fn record_visit(
        &self,
        tx: &mut Tx,
        assignment: &Assignment,
        researcher: &str,
        visit: &VisitRecord,
    ) -> Result<bool, DbError> {
        let changed = match visit.outcome {
            VisitOutcome::Done => Sql::new(
                "UPDATE research_assignments SET visits = visits + 1, status = $1, version = version + 1 \
                 WHERE request_id = $2 AND version = $3",
            )
            .bind(CaseStatus::FieldVisitRecorded.as_str()),
            VisitOutcome::Missed => {
                Sql::new("UPDATE research_assignments SET version = version + 1 WHERE request_id = $1 AND version = $2")
            }
        };
        if tx.execute(changed.bind(assignment.request_id).bind(assignment.version)).await? != 1 {
            return Ok(false);
        }
        // The visit keeps or misses the appointments of its day and before, not a later one.
        tx.execute(
            Sql::new(concat!(
                "UPDATE visit_appointments SET status = $1 WHERE request_id = $2 AND visit_on <= $3 AND ",
                open_appointment!()
            ))
            .bind(closing(visit.outcome).as_str())
            .bind(assignment.request_id)
            .bind(visit.visited_on),
        )
        .await?;
        let people_met = if visit.people_met.is_empty() {
            String::new()
        } else {
            let json = serde_json::to_string(&visit.people_met).expect("people met serialize");
            self.personal.seal(&assignment.association, Field::PeopleMet, &json)
        };
        tx.execute(
            Sql::new(
                "INSERT INTO field_visits (visit_id, request_id, association, researcher, findings, visited_at, outcome, \
                 visited_on, people_met) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(Uuid::now_v7())
            .bind(assignment.request_id)
            .bind(&assignment.association)
            .bind(researcher)
            .bind(visit.findings.as_str())
            .bind(Utc::now())
            .bind(visit.outcome.as_str())
            .bind(visit.visited_on)
            .bind(people_met),
        )
        .await?;
        Ok(true)
    }

    /// Sets a visit's appointment, moving any open one, only if the
    /// assignment is still at the version read (raising it); the id of the
    /// new appointment and whether it moved one, or None when the
    /// assignment changed meanwhile.
    pub async fn schedule_visit(
        &self,
        tx: &mut Tx,
        assignment: &Assignment,
        researcher: &str,
        appointment: &Appointment,
        at: DateTime<Utc>,
    ) -> Result<Option<(Uuid, bool)>, DbError> {
        if !self.raise_version(tx, assignment).await? {
            return Ok(None);
        }
        let moved = tx
            .execute(
                Sql::new(concat!(
                    "UPDATE visit_appointments SET status = $1 WHERE request_id = $2 AND ",
                    open_appointment!()
                ))
                .bind(AppointmentStatus::Moved.as_str())
                .bind(assignment.request_id),
            )
            .await?;
        let appointment_id = Uuid::now_v7();
        tx.execute(
            Sql::new(
                "INSERT INTO visit_appointments (appointment_id, request_id, visit_on, visit_time, place, status, \
                 scheduled_by, scheduled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(appointment_id)
            .bind(assignment.request_id)
            .bind(appointment.on)
            .bind(appointment.at.format("%H:%M").to_string())
            .bind(appointment.place.as_str())
            .bind(AppointmentStatus::Scheduled.as_str())
            .bind(researcher)
            .bind(at),
        )
        .await?;
        Ok(Some((appointment_id, moved > 0)))
    }

    /// Marks the case's open appointment as asked to be changed, with the
    /// beneficiary's reason, raising the assignment's version (the file
    /// changed); false when none is open.
    pub async fn ask_to_change_visit(&self, tx: &mut Tx, request_id: Uuid, reason: &str) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(concat!(
                    "UPDATE visit_appointments SET status = $1, change_reason = $2 WHERE request_id = $3 AND ",
                    open_appointment!()
                ))
                .bind(AppointmentStatus::ChangeRequested.as_str())
                .bind(reason)
                .bind(request_id),
            )
            .await?;
        if changed > 0 {
            tx.execute(
                Sql::new("UPDATE research_assignments SET version = version + 1 WHERE request_id = $1")
                    .bind(request_id),
            )
            .await?;
        }
        Ok(changed > 0)
    }

    /// The case's appointments, first first.
    pub async fn appointments(&self, tx: &mut Tx, request_id: Uuid) -> Result<Vec<StoredAppointment>, DbError> {
        let sql = Sql::new(
            "SELECT appointment_id, visit_on, visit_time, place, status, change_reason, scheduled_at \
             FROM visit_appointments WHERE request_id = $1 ORDER BY scheduled_at, appointment_id",
        )
        .bind(request_id);
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                let time = row.text("visit_time")?;
                Ok(StoredAppointment {
                    appointment_id: row.uuid("appointment_id")?,
                    appointment: Appointment {
                        on: row.date("visit_on")?,
                        at: chrono::NaiveTime::parse_from_str(&time, "%H:%M")
                            .map_err(|e| DbError::Decode { column: "visit_time".into(), reason: e.to_string() })?,
                        place: row.text("place")?,
                    },
                    status: row.parsed("status", AppointmentStatus::parse)?,
                    change_reason: row.text("change_reason")?,
                    scheduled_at: row.time("scheduled_at")?,
                })
            })
            .collect()
    }

    fn people_met(&self, row: &Row) -> Result<Vec<PersonMet>, DbError> {
        let stored = row.text("people_met")?;
        if stored.is_empty() {
            return Ok(Vec::new());
        }
        let json = self.personal.open(&row.text("association")?, Field::PeopleMet, &stored)?;
        serde_json::from_str(&json).map_err(|e| DbError::Decode { column: "people_met".into(), reason: e.to_string() })
    }

    /// Visits whose people met are not yet sealed with the newest key.
    pub async fn rows_to_reseal(&self) -> Result<u64, DbError> {
        let sql =
            Sql::new("SELECT COUNT(*) AS stale FROM field_visits WHERE people_met <> '' AND people_met NOT LIKE $1")
                .bind(self.personal.current_like_pattern());
        self.db.fetch_optional(sql).await?.map_or(Ok(0), |r| r.unsigned("stale"))
    }

    /// Re-seals one batch of the people met at visits; returns how many rows it changed.
    pub async fn reseal_batch(&self) -> Result<u64, DbError> {
        let stale = Sql::new(
            "SELECT visit_id, association, people_met FROM field_visits \
             WHERE people_met <> '' AND people_met NOT LIKE $1 LIMIT $2",
        )
        .bind(self.personal.current_like_pattern())
        .bind(RESEAL_BATCH);
        let rows = self.db.fetch_all(stale).await?;
        if rows.is_empty() {
            // Nothing to do takes no write lock (SQLite's transactions take it up front).
            return Ok(0);
        }
        let mut tx = self.db.begin().await?;
        let mut resealed = 0;
        for row in &rows {
            let (association, stored) = (row.text("association")?, row.text("people_met")?);
            let clear = self.personal.open(&association, Field::PeopleMet, &stored)?;
            let sql = Sql::new("UPDATE field_visits SET people_met = $1 WHERE visit_id = $2 AND people_met = $3")
                .bind(self.personal.seal(&association, Field::PeopleMet, &clear))
                .bind(row.uuid("visit_id")?)
                .bind(stored);
            resealed += tx.execute(sql).await?;
        }
        tx.commit().await?;
        Ok(resealed)
    }

    /// Records the recommendation and the status it leads to, only if the
    /// assignment is still at `version`; returns false when it changed meanwhile.
    pub async fn record_recommendation(
        &self,
        tx: &mut Tx,
        request_id: Uuid,
        version: u64,
        recommended: &Recommended,
        status: CaseStatus,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE research_assignments SET status = $1, recommendation = $2, justification = $3, \
                     proposal = $4, recommended_at = $5, version = version + 1 WHERE request_id = $6 AND version = $7",
                )
                .bind(status.as_str())
                .bind(recommended.recommendation.as_str())
                .bind(&recommended.justification)
                .bind(serde_json::to_value(&recommended.proposal).expect("a proposal serializes"))
                .bind(at)
                .bind(request_id)
                .bind(version),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Keeps the researcher's scores (replacing earlier ones of the same
    /// criteria), only if the assignment is still at `version`, raising it;
    /// returns false when it changed meanwhile.
    pub async fn save_scores(
        &self,
        tx: &mut Tx,
        assignment: &Assignment,
        researcher: &str,
        scores: &[CriterionScore],
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        if !self.raise_version(tx, assignment).await? {
            return Ok(false);
        }
        for score in scores {
            tx.execute(
                Sql::new(
                    "INSERT INTO criterion_scores (request_id, criterion, score, note, researcher, scored_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id, criterion) DO UPDATE SET \
                     score = excluded.score, note = excluded.note, researcher = excluded.researcher, \
                     scored_at = excluded.scored_at",
                )
                .bind(assignment.request_id)
                .bind(score.criterion.as_str())
                .bind(i64::from(score.score))
                .bind(score.note.as_str())
                .bind(researcher)
                .bind(at),
            )
            .await?;
        }
        Ok(true)
    }

    /// The case's scores, by criterion.
    pub async fn scores(&self, tx: &mut Tx, request_id: Uuid) -> Result<Vec<CriterionScore>, DbError> {
        let sql =
            Sql::new("SELECT criterion, score, note FROM criterion_scores WHERE request_id = $1 ORDER BY criterion")
                .bind(request_id);
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(CriterionScore {
                    criterion: row.text("criterion")?,
                    score: row.unsigned("score")?,
                    note: row.text("note")?,
                })
            })
            .collect()
    }

    /// Keeps what verification accepted the case on (again, when verified again).
    pub async fn keep_verified_on(&self, tx: &mut Tx, request_id: Uuid, verified: &VerifiedOn) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "INSERT INTO verified_on (request_id, verified) VALUES ($1, $2) \
                 ON CONFLICT (request_id) DO UPDATE SET verified = excluded.verified",
            )
            .bind(request_id)
            .bind(verified.encode_to_vec()),
        )
        .await?;
        Ok(())
    }

    /// What verification accepted the case on; empty for cases verified before it was kept.
    pub async fn verified_on(&self, tx: &mut Tx, request_id: Uuid) -> Result<VerifiedOn, DbError> {
        let row = tx
            .fetch_optional(Sql::new("SELECT verified FROM verified_on WHERE request_id = $1").bind(request_id))
            .await?;
        let Some(row) = row else { return Ok(VerifiedOn::default()) };
        VerifiedOn::decode(row.bytes("verified")?.as_slice())
            .map_err(|e| DbError::Decode { column: "verified".into(), reason: e.to_string() })
    }

    /// The case's field visits, first first.
    pub async fn visits(&self, tx: &mut Tx, request_id: Uuid) -> Result<Vec<Visit>, DbError> {
        let sql = Sql::new(
            "SELECT researcher, association, visited_at, findings, outcome, visited_on, people_met FROM field_visits \
             WHERE request_id = $1 ORDER BY visited_at, visit_id",
        )
        .bind(request_id);
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| {
                Ok(Visit {
                    researcher: row.text("researcher")?,
                    recorded_at: row.time("visited_at")?,
                    outcome: row.parsed("outcome", VisitOutcome::parse)?,
                    visited_on: row.optional_date("visited_on")?,
                    people_met: self.people_met(row)?,
                    findings: row.text("findings")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_open_appointments_are_the_statuses_that_are_open() {
        use masar_domain::visits::AppointmentStatus;
        let open: Vec<String> =
            AppointmentStatus::ALL.iter().filter(|s| s.is_open()).map(|s| format!("'{}'", s.as_str())).collect();
        assert_eq!(open_appointment!(), format!("status IN ({})", open.join(", ")));
    }

    #[test]
    fn the_open_condition_names_the_open_statuses_as_the_indexes_do() {
        let open = masar_domain::CaseStatus::ALL.iter().filter(|s| s.under_research());
        let statuses: Vec<String> = open.map(|s| format!("'{}'", s.as_str())).collect();
        assert_eq!(open!(), format!("status IN ({})", statuses.join(", ")));
        for migration in [
            include_str!("../migrations/postgres/0005_open_work.sql"),
            include_str!("../migrations/sqlite/0005_open_work.sql"),
        ] {
            assert_eq!(migration.matches(concat!("WHERE ", open!(), ";")).count(), 3, "{migration}");
        }
    }
}

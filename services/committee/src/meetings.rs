//! Committee meetings as kept: scheduled with their members, in session with
//! their agenda fixed, closed with their minutes and the members' confirmations.

use crate::store::{AgendaItem, CommitteeStore, concat_items_where, item};
use chrono::{DateTime, Utc};
use masar_domain::committee::{Majority, MeetingScope, MeetingStatus, MinutesStatus};
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::paging::PageRequest;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub member: String,
    pub present: bool,
}

#[derive(Debug, Clone)]
pub struct Meeting {
    pub meeting_id: Uuid,
    pub association: String,
    /// Empty for an association-wide meeting.
    pub branch: String,
    pub starts_at: DateTime<Utc>,
    pub place: String,
    pub chair: String,
    pub status: MeetingStatus,
    /// The pack's rule when it was scheduled.
    pub quorum: u32,
    pub majority: Majority,
    pub policy_version: u32,
    pub scheduled_by: String,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Raised by every change (attendance, closing, the minutes), so an action on an older reading is refused.
    pub version: u64,
    /// In the order the supervisor named them.
    pub members: Vec<Attendee>,
    pub minutes: Option<MinutesStatus>,
}

impl Meeting {
    pub fn scope(&self) -> MeetingScope {
        if self.branch.is_empty() { MeetingScope::Association } else { MeetingScope::Branch }
    }

    pub fn is_member(&self, member: &str) -> bool {
        self.members.iter().any(|m| m.member == member)
    }

    pub fn present(&self) -> impl Iterator<Item = &str> {
        self.members.iter().filter(|m| m.present).map(|m| m.member.as_str())
    }

    /// Whether a case of `branch` is one this meeting takes.
    pub fn covers(&self, branch: &str) -> bool {
        self.branch.is_empty() || self.branch == branch
    }
}

/// A meeting as it is scheduled.
pub struct NewMeeting<'a> {
    pub meeting_id: Uuid,
    pub association: &'a str,
    pub branch: &'a str,
    pub starts_at: DateTime<Utc>,
    pub place: &'a str,
    pub chair: &'a str,
    pub members: &'a [String],
    pub quorum: u32,
    pub majority: Majority,
    pub policy_version: u32,
    pub scheduled_by: &'a str,
}

/// The minutes as kept: the encoded record, the printable document and its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptMinutes {
    pub status: MinutesStatus,
    /// `masar.committee.v1.MinutesRecord`, encoded.
    pub record: Vec<u8>,
    pub html: String,
    pub sha256: String,
    /// The members who confirmed this document, in the order they did.
    pub confirmed_by: Vec<String>,
}

/// The meetings query with a condition, as one static string.
macro_rules! concat_meetings_where {
    ($condition:literal) => {
        concat!(
            "SELECT meeting_id, association, branch, starts_at, place, chair, status, quorum, majority, ",
            "policy_version, scheduled_by, opened_at, closed_at, version, minutes_status FROM meetings WHERE ",
            $condition
        )
    };
}

fn meeting(row: &Row, members: Vec<Attendee>) -> Result<Meeting, DbError> {
    let minutes = row.text("minutes_status")?;
    Ok(Meeting {
        meeting_id: row.uuid("meeting_id")?,
        association: row.text("association")?,
        branch: row.text("branch")?,
        starts_at: row.time("starts_at")?,
        place: row.text("place")?,
        chair: row.text("chair")?,
        status: row.parsed("status", MeetingStatus::parse)?,
        quorum: row.unsigned("quorum")?,
        majority: row.parsed("majority", Majority::parse)?,
        policy_version: row.unsigned("policy_version")?,
        scheduled_by: row.text("scheduled_by")?,
        opened_at: row.optional_time("opened_at")?,
        closed_at: row.optional_time("closed_at")?,
        version: row.unsigned("version")?,
        members,
        minutes: if minutes.is_empty() {
            None
        } else {
            Some(
                MinutesStatus::parse(&minutes)
                    .map_err(|e| DbError::Decode { column: "minutes_status".into(), reason: e.to_string() })?,
            )
        },
    })
}

impl CommitteeStore {
    pub async fn schedule_meeting(&self, tx: &mut Tx, new: &NewMeeting<'_>) -> Result<(), DbError> {
        let now = Utc::now();
        tx.execute(
            Sql::new(
                "INSERT INTO meetings (meeting_id, association, branch, starts_at, place, chair, status, quorum, \
                 majority, policy_version, scheduled_by, scheduled_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)",
            )
            .bind(new.meeting_id)
            .bind(new.association)
            .bind(new.branch)
            .bind(new.starts_at)
            .bind(new.place)
            .bind(new.chair)
            .bind(MeetingStatus::Scheduled.as_str())
            .bind(i64::from(new.quorum))
            .bind(new.majority.as_str())
            .bind(i64::from(new.policy_version))
            .bind(new.scheduled_by)
            .bind(now),
        )
        .await?;
        for (seat, member) in new.members.iter().enumerate() {
            tx.execute(
                Sql::new("INSERT INTO meeting_members (meeting_id, member, seat, present) VALUES ($1, $2, $3, 0)")
                    .bind(new.meeting_id)
                    .bind(member.as_str())
                    .bind(seat as i64),
            )
            .await?;
        }
        Ok(())
    }

    async fn members_of(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<Vec<Attendee>, DbError> {
        let sql = Sql::new("SELECT member, present FROM meeting_members WHERE meeting_id = $1 ORDER BY seat")
            .bind(meeting_id);
        tx.fetch_all(sql)
            .await?
            .iter()
            .map(|row| Ok(Attendee { member: row.text("member")?, present: row.int("present")? == 1 }))
            .collect()
    }

    pub async fn meeting_in(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<Option<Meeting>, DbError> {
        let sql = Sql::new(concat_meetings_where!("meeting_id = $1")).bind(meeting_id);
        let Some(row) = tx.fetch_optional(sql).await? else {
            return Ok(None);
        };
        let members = self.members_of(tx, meeting_id).await?;
        meeting(&row, members).map(Some)
    }

    /// A page of an association's meetings, the latest first: one branch's (and
    /// the association-wide ones, where `with_association_wide`), or all (None). Without members.
    pub async fn meetings(
        &self,
        association: &str,
        branch: Option<&str>,
        with_association_wide: bool,
        page: &PageRequest,
    ) -> Result<Vec<Meeting>, DbError> {
        let sql = Sql::new(concat_meetings_where!(
            "association = $1 AND ($2 IS NULL OR branch = $2 OR (branch = '' AND $6 = 1)) \
             AND ($3 IS NULL OR starts_at < $3 OR (starts_at = $3 AND meeting_id < $4)) \
             ORDER BY starts_at DESC, meeting_id DESC LIMIT $5"
        ))
        .bind(association)
        .bind(branch.map(str::to_owned))
        .bind_page(page)
        .bind(i64::from(with_association_wide));
        let rows = self.db().fetch_all(sql).await?;
        rows.iter().map(|row| meeting(row, Vec::new())).collect()
    }

    /// Another meeting of the same cases in session now (the branch's, or the association-wide one).
    pub async fn meeting_in_session_beside(&self, tx: &mut Tx, meeting: &Meeting) -> Result<Option<Uuid>, DbError> {
        let sql = Sql::new(
            "SELECT meeting_id FROM meetings WHERE association = $1 AND status = $2 AND meeting_id <> $3 \
             AND (branch = '' OR $4 = '' OR branch = $4) LIMIT 1",
        )
        .bind(&meeting.association)
        .bind(MeetingStatus::InSession.as_str())
        .bind(meeting.meeting_id)
        .bind(&meeting.branch);
        tx.fetch_optional(sql).await?.map(|row| row.uuid("meeting_id")).transpose()
    }

    /// Holds a meeting in session for the rest of the transaction (a vote, a
    /// decision): closing waits for it, or it waits for closing and finds the
    /// meeting closed. False when the meeting is no longer in session.
    pub async fn hold_in_session(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<bool, DbError> {
        let sql = Sql::new("UPDATE meetings SET version = version WHERE meeting_id = $1 AND status = $2")
            .bind(meeting_id)
            .bind(MeetingStatus::InSession.as_str());
        Ok(tx.execute(sql).await? == 1)
    }

    /// Raises a meeting's version, only if still at the one read; false when it changed meanwhile.
    pub async fn touch_meeting(&self, tx: &mut Tx, meeting: &Meeting) -> Result<bool, DbError> {
        let sql = Sql::new("UPDATE meetings SET version = version + 1 WHERE meeting_id = $1 AND version = $2")
            .bind(meeting.meeting_id)
            .bind(meeting.version);
        Ok(tx.execute(sql).await? == 1)
    }

    /// Calls off a meeting still scheduled; false if it sat (or was called off) meanwhile.
    pub async fn cancel_meeting(&self, tx: &mut Tx, meeting: &Meeting) -> Result<bool, DbError> {
        let sql = Sql::new(
            "UPDATE meetings SET status = $1, version = version + 1 WHERE meeting_id = $2 AND status = $3 AND version = $4",
        )
        .bind(MeetingStatus::Cancelled.as_str())
        .bind(meeting.meeting_id)
        .bind(MeetingStatus::Scheduled.as_str())
        .bind(meeting.version as i64);
        Ok(tx.execute(sql).await? == 1)
    }

    /// Records who is present now.
    pub async fn record_attendance(&self, tx: &mut Tx, meeting_id: Uuid, present: &[String]) -> Result<(), DbError> {
        tx.execute(Sql::new("UPDATE meeting_members SET present = 0 WHERE meeting_id = $1").bind(meeting_id)).await?;
        for member in present {
            tx.execute(
                Sql::new("UPDATE meeting_members SET present = 1 WHERE meeting_id = $1 AND member = $2")
                    .bind(meeting_id)
                    .bind(member.as_str()),
            )
            .await?;
        }
        Ok(())
    }

    /// Opens a meeting: in session from `now`, its agenda the cases of its
    /// scope awaiting a decision that no other meeting has taken.
    pub async fn open_meeting(&self, tx: &mut Tx, meeting: &Meeting, now: DateTime<Utc>) -> Result<(), DbError> {
        tx.execute(
            Sql::new("UPDATE meetings SET status = $1, opened_at = $2 WHERE meeting_id = $3")
                .bind(MeetingStatus::InSession.as_str())
                .bind(now)
                .bind(meeting.meeting_id),
        )
        .await?;
        tx.execute(
            Sql::new(
                "UPDATE agenda_items SET meeting_id = $1 WHERE association = $2 AND ($3 = '' OR branch = $3) \
                 AND status = 'on_committee_agenda' AND meeting_id IS NULL AND scheduled_at <= $4",
            )
            .bind(meeting.meeting_id)
            .bind(&meeting.association)
            .bind(&meeting.branch)
            .bind(now),
        )
        .await?;
        Ok(())
    }

    /// The agenda of a meeting in session or closed: the cases it took, in the order they were scheduled.
    pub async fn meeting_agenda(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<Vec<AgendaItem>, DbError> {
        let sql = Sql::new(concat_items_where!("meeting_id = $1 ORDER BY scheduled_at, request_id")).bind(meeting_id);
        tx.fetch_all(sql).await?.iter().map(item).collect()
    }

    /// What a scheduled meeting would take if it opened now: its scope's cases awaiting a decision.
    pub async fn waiting_for(&self, tx: &mut Tx, meeting: &Meeting) -> Result<Vec<AgendaItem>, DbError> {
        let sql = Sql::new(concat_items_where!(
            "association = $1 AND ($2 = '' OR branch = $2) AND status = 'on_committee_agenda' \
             AND meeting_id IS NULL ORDER BY scheduled_at, request_id LIMIT 100"
        ))
        .bind(&meeting.association)
        .bind(&meeting.branch);
        tx.fetch_all(sql).await?.iter().map(item).collect()
    }

    /// Closes a meeting with its minutes: the cases it left undecided wait
    /// for the next meeting, their votes withdrawn (the minutes record them).
    pub async fn close_meeting(
        &self,
        tx: &mut Tx,
        meeting: &Meeting,
        now: DateTime<Utc>,
        minutes: &KeptMinutes,
    ) -> Result<(), DbError> {
        tx.execute(
            Sql::new(
                "DELETE FROM votes WHERE request_id IN \
                 (SELECT request_id FROM agenda_items WHERE meeting_id = $1 AND status = 'on_committee_agenda')",
            )
            .bind(meeting.meeting_id),
        )
        .await?;
        tx.execute(
            Sql::new(
                "UPDATE agenda_items SET meeting_id = NULL, version = version + 1 \
                 WHERE meeting_id = $1 AND status = 'on_committee_agenda'",
            )
            .bind(meeting.meeting_id),
        )
        .await?;
        tx.execute(
            Sql::new(
                "UPDATE meetings SET status = $1, closed_at = $2, minutes_status = $3, minutes_record = $4, \
                 minutes_html = $5, minutes_sha256 = $6 WHERE meeting_id = $7",
            )
            .bind(MeetingStatus::Closed.as_str())
            .bind(now)
            .bind(minutes.status.as_str())
            .bind(minutes.record.clone())
            .bind(minutes.html.clone())
            .bind(minutes.sha256.clone())
            .bind(meeting.meeting_id),
        )
        .await?;
        Ok(())
    }

    pub async fn minutes(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<Option<KeptMinutes>, DbError> {
        let sql = Sql::new(
            "SELECT minutes_status, minutes_record, minutes_html, minutes_sha256 FROM meetings \
             WHERE meeting_id = $1 AND minutes_status <> ''",
        )
        .bind(meeting_id);
        let Some(row) = tx.fetch_optional(sql).await? else {
            return Ok(None);
        };
        let sha256 = row.text("minutes_sha256")?;
        let confirmed = Sql::new(
            "SELECT member FROM minutes_confirmations WHERE meeting_id = $1 AND minutes_sha256 = $2 \
             ORDER BY confirmed_at, member",
        )
        .bind(meeting_id)
        .bind(sha256.clone());
        let confirmed_by = tx.fetch_all(confirmed).await?.iter().map(|r| r.text("member")).collect::<Result<_, _>>()?;
        Ok(Some(KeptMinutes {
            status: row.parsed("minutes_status", MinutesStatus::parse)?,
            record: row.bytes("minutes_record")?,
            html: row.text("minutes_html")?,
            sha256,
            confirmed_by,
        }))
    }

    /// Replaces minutes awaiting confirmation (the chair's remarks), only if
    /// still the document read; the confirmations of the earlier text no longer count.
    pub async fn amend_minutes(
        &self,
        tx: &mut Tx,
        meeting_id: Uuid,
        read_sha256: &str,
        minutes: &KeptMinutes,
    ) -> Result<bool, DbError> {
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE meetings SET minutes_record = $1, minutes_html = $2, minutes_sha256 = $3, \
                     version = version + 1 WHERE meeting_id = $4 AND minutes_sha256 = $5 AND minutes_status = $6",
                )
                .bind(minutes.record.clone())
                .bind(minutes.html.clone())
                .bind(minutes.sha256.clone())
                .bind(meeting_id)
                .bind(read_sha256)
                .bind(MinutesStatus::AwaitingConfirmation.as_str()),
            )
            .await?;
        Ok(changed == 1)
    }

    /// A member's confirmation of the minutes document with `sha256`; once
    /// every present member has confirmed it, the minutes are confirmed for
    /// good. False when the document changed meanwhile.
    pub async fn confirm_minutes(
        &self,
        tx: &mut Tx,
        meeting: &Meeting,
        member: &str,
        sha256: &str,
    ) -> Result<bool, DbError> {
        // Taking the meeting's row first keeps two confirmations from both missing the last one.
        let changed = tx
            .execute(
                Sql::new(
                    "UPDATE meetings SET version = version + 1 WHERE meeting_id = $1 AND minutes_sha256 = $2 \
                     AND minutes_status = $3",
                )
                .bind(meeting.meeting_id)
                .bind(sha256)
                .bind(MinutesStatus::AwaitingConfirmation.as_str()),
            )
            .await?;
        if changed != 1 {
            return Ok(false);
        }
        tx.execute(
            Sql::new(
                "INSERT INTO minutes_confirmations (meeting_id, member, minutes_sha256, confirmed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (meeting_id, member) \
                 DO UPDATE SET minutes_sha256 = excluded.minutes_sha256, confirmed_at = excluded.confirmed_at",
            )
            .bind(meeting.meeting_id)
            .bind(member)
            .bind(sha256)
            .bind(Utc::now()),
        )
        .await?;
        let outstanding = Sql::new(
            "SELECT COUNT(*) AS outstanding FROM meeting_members m WHERE m.meeting_id = $1 AND m.present = 1 \
             AND NOT EXISTS (SELECT 1 FROM minutes_confirmations c WHERE c.meeting_id = m.meeting_id \
             AND c.member = m.member AND c.minutes_sha256 = $2)",
        )
        .bind(meeting.meeting_id)
        .bind(sha256);
        let outstanding = match tx.fetch_optional(outstanding).await? {
            Some(row) => row.int("outstanding")?,
            None => 0,
        };
        if outstanding == 0 {
            tx.execute(
                Sql::new("UPDATE meetings SET minutes_status = $1 WHERE meeting_id = $2")
                    .bind(MinutesStatus::Confirmed.as_str())
                    .bind(meeting.meeting_id),
            )
            .await?;
        }
        Ok(true)
    }
}

//! The committee's meetings over gRPC: scheduling, attendance (which opens
//! a meeting and fixes its agenda), closing with the minutes, and the
//! minutes' amendment and confirmation.

use super::{Committee, api_recusal, api_vote};
use crate::meetings::{Meeting, NewMeeting};
use crate::minutes;
use crate::store::AgendaItem;
use chrono::Utc;
use masar_domain::calendar::{DualDate, saudi_day, saudi_instant};
use masar_domain::committee::{MeetingEntered, MeetingScope, MeetingStatus, MinutesStatus, check_meeting};
use masar_domain::{ActorRole, Bilingual, FieldError, TextRule};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::Tx;
use masar_platform::grpc::{Problem, changed_meanwhile, cleaned, ensure_version, invalid_input, parse_uuid};
use masar_platform::identity::Staff;
use masar_platform::paging::{PageRequest, Position};
use masar_proto::committee::v1 as api;
use prost::Message as _;
use tonic::{Code, Request, Status};
use uuid::Uuid;

/// Who schedules meetings and runs them beside the chair.
const SUPERVISORS: &[ActorRole] = &[ActorRole::BranchManager, ActorRole::AssociationAdmin];
/// Who reads meetings and their minutes.
const READERS: &[ActorRole] = &[ActorRole::CommitteeMember, ActorRole::BranchManager, ActorRole::AssociationAdmin];

pub(super) fn meeting_not_found() -> Status {
    Problem::new(Bilingual::new("الاجتماع غير موجود", "No such meeting"))
        .because("meeting.not_found")
        .into_status(Code::NotFound)
}

fn refused(ar: impl Into<String>, en: impl Into<String>) -> Status {
    Problem::new(Bilingual::new(ar, en)).into_status(Code::FailedPrecondition)
}

fn meeting_reply(meeting: &Meeting, agenda: Vec<api::AgendaItem>) -> api::Meeting {
    let day = saudi_day(meeting.starts_at);
    api::Meeting {
        meeting_id: meeting.meeting_id.to_string(),
        association: meeting.association.clone(),
        branch: meeting.branch.clone(),
        scope: meeting.scope().to_string(),
        starts_at: Some(masar_proto::timestamp(meeting.starts_at)),
        on_hijri: DualDate::new(day).hijri.to_string(),
        place: meeting.place.clone(),
        chair: meeting.chair.clone(),
        members: meeting
            .members
            .iter()
            .map(|m| api::Attendee { member: m.member.clone(), present: m.present, name: String::new() })
            .collect(),
        status: meeting.status.to_string(),
        quorum: meeting.quorum,
        majority: meeting.majority.to_string(),
        agenda,
        scheduled_by: meeting.scheduled_by.clone(),
        opened_at: meeting.opened_at.map(masar_proto::timestamp),
        closed_at: meeting.closed_at.map(masar_proto::timestamp),
        minutes_status: meeting.minutes.map(|m| m.to_string()).unwrap_or_default(),
        version: meeting.version,
    }
}

/// Puts an action on a meeting on its association's trail (its branch's, or association-wide).
async fn audit_meeting<T>(
    tx: &mut Tx,
    staff: &Staff,
    request: &Request<T>,
    (association, branch): (&str, &str),
    action: &str,
    detail: &str,
) -> Result<(), Status> {
    let subject = Subject::outside_a_case(association, branch);
    audit::record(tx, &Actor::staff(staff, request), subject, action, detail).await?;
    Ok(())
}

impl Committee {
    /// The meeting as it stands now, with its agenda: what an action on it answers.
    async fn meeting_now(&self, tx: &mut Tx, meeting_id: Uuid) -> Result<api::Meeting, Status> {
        let meeting = self.store.meeting_in(tx, meeting_id).await?.ok_or_else(meeting_not_found)?;
        self.meeting_with_agenda(tx, &meeting).await
    }

    /// The minutes as they stand now: what an action on them answers.
    async fn minutes_now(&self, tx: &mut Tx, staff: &Staff, meeting_id: &str) -> Result<api::Minutes, Status> {
        let (_, kept) = self.kept_minutes(tx, staff, meeting_id).await?;
        Ok(minutes::reply(kept))
    }

    /// A meeting the caller may read: of their association, and of their
    /// branch or association-wide as their post allows. Outside it, not found.
    pub(super) async fn visible_meeting(
        &self,
        tx: &mut Tx,
        staff: &Staff,
        meeting_id: &str,
    ) -> Result<Meeting, Status> {
        let meeting_id = parse_uuid("meeting_id", meeting_id)?;
        let meeting = self.store.meeting_in(tx, meeting_id).await?.ok_or_else(meeting_not_found)?;
        if !staff.can_see(&meeting.association, &meeting.branch) {
            return Err(meeting_not_found());
        }
        Ok(meeting)
    }

    /// A member's name as the directory has it (their username where it has none).
    fn name_of(&self, username: &str) -> String {
        self.directory.staff(username).map_or_else(|| username.to_owned(), |(_, s)| s.name.clone())
    }

    /// The meeting's chair, or a supervisor of its scope, may run it.
    fn ensure_runs(staff: &Staff, meeting: &Meeting) -> Result<(), Status> {
        let runs = if staff.role == ActorRole::CommitteeMember {
            staff.username == meeting.chair
        } else {
            SUPERVISORS.contains(&staff.role)
        };
        if runs {
            Ok(())
        } else {
            Err(Problem::new(Bilingual::new(
                "يدير الاجتماع رئيسه أو المشرف عليه",
                "The meeting is run by its chair or a supervisor",
            ))
            .into_status(Code::PermissionDenied))
        }
    }

    /// The meeting as a reply, with its agenda: what it would take while
    /// scheduled, what it took once opened.
    async fn meeting_with_agenda(&self, tx: &mut Tx, meeting: &Meeting) -> Result<api::Meeting, Status> {
        let items = if meeting.status == MeetingStatus::Scheduled {
            self.store.waiting_for(tx, meeting).await?
        } else {
            self.store.meeting_agenda(tx, meeting.meeting_id).await?
        };
        Ok(meeting_reply(meeting, self.agenda_replies(items).await?))
    }

    pub(super) async fn schedule_meeting_call(
        &self,
        request: Request<api::ScheduleMeetingRequest>,
    ) -> Result<api::Meeting, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(SUPERVISORS)?;
        let input = request.get_ref();
        let today = saudi_day(Utc::now());
        let pack = self
            .policies
            .in_force(&staff.association, today)
            .await?
            .ok_or_else(|| refused("لا توجد سياسة سارية للجمعية", "The association has no policy in force"))?;
        let rules = pack.committee;
        let branch = match rules.meetings {
            MeetingScope::Association => {
                // Association-wide meetings are the admin's; a branch manager schedules their branch's.
                if staff.role.is_branch_bound() {
                    return Err(Problem::new(Bilingual::new(
                        "تجتمع لجنة هذه الجمعية لكل الجمعية، ويجدول اجتماعاتها مديرها",
                        "This association's committee meets association-wide; its admin schedules the meetings",
                    ))
                    .into_status(Code::PermissionDenied));
                }
                if !input.branch.trim().is_empty() {
                    return Err(invalid_input(vec![FieldError::new(
                        "branch",
                        Bilingual::new(
                            "تجتمع لجنة هذه الجمعية لكل الجمعية، لا لفرع",
                            "This association's committee meets association-wide, not per branch",
                        ),
                    )]));
                }
                String::new()
            }
            MeetingScope::Branch => {
                // A branch manager's is always their own branch: another is refused, not silently replaced.
                let asked = input.branch.trim();
                if staff.role.is_branch_bound() && !asked.is_empty() && staff.branch.as_deref() != Some(asked) {
                    return Err(Problem::new(Bilingual::new(
                        "تجدول اجتماعات فرعك فقط",
                        "You schedule your own branch's meetings only",
                    ))
                    .into_status(Code::PermissionDenied));
                }
                let branch = staff.branch_filter(&input.branch).unwrap_or_default();
                if branch.is_empty() {
                    return Err(invalid_input(vec![FieldError::required("branch")]));
                }
                if pack.branch(&branch).is_none() {
                    return Err(invalid_input(vec![FieldError::new(
                        "branch",
                        Bilingual::new("فرع غير معروف في الجمعية", "Not a branch of the association"),
                    )]));
                }
                branch
            }
        };
        let committee = self.directory.association(&staff.association);
        let is_member = |member: &str| {
            committee
                .is_some_and(|a| a.staff.iter().any(|s| s.role == ActorRole::CommitteeMember && s.username == member))
        };
        let entered = MeetingEntered {
            on: &input.on,
            at: &input.at,
            place: &input.place,
            chair: &input.chair,
            members: &input.members,
        };
        let plan = check_meeting(entered, today, &rules, is_member).map_err(invalid_input)?;
        let new = NewMeeting {
            meeting_id: Uuid::now_v7(),
            association: &staff.association,
            branch: &branch,
            starts_at: saudi_instant(plan.on, plan.at),
            place: &plan.place,
            chair: &plan.chair,
            members: &plan.members,
            quorum: rules.quorum,
            majority: rules.majority,
            policy_version: pack.version,
            scheduled_by: &staff.username,
        };
        let mut tx = self.store.db().begin().await?;
        self.store.schedule_meeting(&mut tx, &new).await?;
        let detail =
            format!("{} on {} {}: {}", new.meeting_id, plan.on, plan.at.format("%H:%M"), plan.members.join(", "));
        audit_meeting(&mut tx, &staff, &request, (&staff.association, &branch), action::MEETING_SCHEDULED, &detail)
            .await?;
        let reply = self.meeting_now(&mut tx, new.meeting_id).await?;
        tx.commit().await?;
        Ok(reply)
    }

    pub(super) async fn list_meetings_call(
        &self,
        request: Request<api::ListMeetingsRequest>,
    ) -> Result<api::Meetings, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(READERS)?;
        let input = request.get_ref();
        let page = PageRequest::read(input.page_size, &input.page_token)?;
        let branch = staff.branch_filter(&input.branch);
        // A branch-bound supervisor reads their branch's meetings, not the association-wide ones.
        let wide = !staff.role.is_branch_bound();
        let meetings = self.store.meetings(&staff.association, branch.as_deref(), wide, &page).await?;
        let (meetings, next_page_token) = page.finish(meetings, |m| Position { at: m.starts_at, id: m.meeting_id });
        Ok(api::Meetings { meetings: meetings.iter().map(|m| meeting_reply(m, Vec::new())).collect(), next_page_token })
    }

    pub(super) async fn get_meeting_call(
        &self,
        request: Request<api::GetMeetingRequest>,
    ) -> Result<api::Meeting, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(READERS)?;
        let mut tx = self.store.db().begin().await?;
        let meeting = self.visible_meeting(&mut tx, &staff, &request.get_ref().meeting_id).await?;
        let reply = self.meeting_with_agenda(&mut tx, &meeting).await?;
        tx.commit().await?;
        Ok(reply)
    }

    pub(super) async fn record_attendance_call(
        &self,
        request: Request<api::RecordAttendanceRequest>,
    ) -> Result<api::Meeting, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(READERS)?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let meeting = self.visible_meeting(&mut tx, &staff, &input.meeting_id).await?;
        Self::ensure_runs(&staff, &meeting)?;
        ensure_version(input.expected_version, meeting.version)?;
        match meeting.status {
            MeetingStatus::Closed => return Err(refused("أغلق الاجتماع", "The meeting is closed")),
            MeetingStatus::Cancelled => return Err(refused("أُلغي الاجتماع", "The meeting was called off")),
            MeetingStatus::Scheduled | MeetingStatus::InSession => {}
        }
        let day = saudi_day(meeting.starts_at);
        if saudi_day(Utc::now()) < day {
            return Err(refused(
                format!("يبدأ الاجتماع في يومه، {}", DualDate::new(day).arabic()),
                format!("The meeting opens on its day, {}", DualDate::new(day).english()),
            ));
        }
        let mut present: Vec<String> = Vec::new();
        let mut problems = Vec::new();
        for (i, member) in input.present.iter().map(|m| m.trim()).enumerate() {
            if !meeting.is_member(member) {
                problems.push(FieldError::new(
                    format!("present[{i}]"),
                    Bilingual::new(
                        format!("{member} ليس من أعضاء الاجتماع"),
                        format!("{member} is not a member of the meeting"),
                    ),
                ));
            } else if !present.iter().any(|p| p == member) {
                present.push(member.to_owned());
            }
        }
        // Someone is there to sit, vote and confirm the minutes.
        if present.is_empty() && problems.is_empty() {
            problems.push(FieldError::required("present"));
        }
        if !problems.is_empty() {
            return Err(invalid_input(problems));
        }
        if !self.store.touch_meeting(&mut tx, &meeting).await? {
            return Err(changed_meanwhile());
        }
        if meeting.status == MeetingStatus::Scheduled {
            if self.store.meeting_in_session_beside(&mut tx, &meeting).await?.is_some() {
                return Err(refused(
                    "اجتماع آخر لهذه الطلبات منعقد الآن؛ أغلقه أولاً",
                    "Another meeting of these cases is in session; close it first",
                ));
            }
            self.store.open_meeting(&mut tx, &meeting, Utc::now()).await?;
        }
        self.store.record_attendance(&mut tx, meeting.meeting_id, &present).await?;
        let detail = format!("{}: {}", meeting.meeting_id, present.join(", "));
        audit_meeting(
            &mut tx,
            &staff,
            &request,
            (&meeting.association, &meeting.branch),
            action::ATTENDANCE_RECORDED,
            &detail,
        )
        .await?;
        let reply = self.meeting_now(&mut tx, meeting.meeting_id).await?;
        tx.commit().await?;
        Ok(reply)
    }

    /// What the minutes record of a meeting closing now: every case it took,
    /// decided (with the votes and reasons its evidence keeps) or carried over.
    async fn minutes_record(
        &self,
        tx: &mut Tx,
        meeting: &Meeting,
        agenda: &[AgendaItem],
        closed_at: chrono::DateTime<Utc>,
    ) -> Result<api::MinutesRecord, Status> {
        let decided = self.store.decisions_at(tx, meeting.meeting_id).await?;
        // A case deferred here and already back on a later agenda is no longer on this one: its decision still counts.
        let mut items: Vec<AgendaItem> = agenda.to_vec();
        for (request_id, stored) in &decided {
            if !items.iter().any(|i| i.request_id == *request_id)
                && let Some(item) = self.store.item_in(tx, *request_id).await?
            {
                items.push(AgendaItem { round: stored.round, ..item });
            }
        }
        let mut cases = Vec::new();
        for item in &items {
            let decision = decided.iter().find(|(id, d)| *id == item.request_id && d.round == item.round);
            let case = match decision {
                Some((_, stored)) => {
                    let evidence = api::Evidence::decode(stored.evidence.as_slice()).unwrap_or_default();
                    api::MinutesCase {
                        decision: stored.decision.to_string(),
                        reasons: evidence.reasons,
                        votes: evidence.votes,
                        recusals: evidence.recusals,
                        evidence_sha256: stored.evidence_sha256.clone(),
                        ..Default::default()
                    }
                }
                None => {
                    let votes = self.store.votes_in(tx, item.request_id).await?;
                    let recusals = self.store.recusals(tx, item.request_id, item.round).await?;
                    api::MinutesCase {
                        decision: "carried_over".into(),
                        votes: votes.iter().map(api_vote).collect(),
                        recusals: recusals.iter().map(api_recusal).collect(),
                        ..Default::default()
                    }
                }
            };
            cases.push(api::MinutesCase {
                request_id: item.request_id.to_string(),
                service_type: item.service_type.clone(),
                recommendation: item.recommendation.clone(),
                round: item.round,
                ..case
            });
        }
        let pack = self.policies.version(&meeting.association, meeting.policy_version).await?;
        let day = DualDate::new(saudi_day(meeting.starts_at));
        Ok(api::MinutesRecord {
            meeting_id: meeting.meeting_id.to_string(),
            association: meeting.association.clone(),
            association_name_ar: pack.as_ref().map(|p| p.name.ar.clone()).unwrap_or_default(),
            association_name_en: pack.as_ref().map(|p| p.name.en.clone()).unwrap_or_default(),
            branch: meeting.branch.clone(),
            starts_at: Some(masar_proto::timestamp(meeting.starts_at)),
            on_gregorian: day.gregorian.to_string(),
            on_hijri: day.hijri.to_string(),
            place: meeting.place.clone(),
            chair: meeting.chair.clone(),
            chair_name: self.name_of(&meeting.chair),
            attendance: meeting
                .members
                .iter()
                .map(|m| api::Attendee { member: m.member.clone(), present: m.present, name: self.name_of(&m.member) })
                .collect(),
            quorum: meeting.quorum,
            majority: meeting.majority.to_string(),
            cases,
            remarks: String::new(),
            closed_at: Some(masar_proto::timestamp(closed_at)),
            policy_version: meeting.policy_version,
        })
    }

    pub(super) async fn close_meeting_call(
        &self,
        request: Request<api::CloseMeetingRequest>,
    ) -> Result<api::Meeting, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(READERS)?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let meeting = self.visible_meeting(&mut tx, &staff, &input.meeting_id).await?;
        Self::ensure_runs(&staff, &meeting)?;
        ensure_version(input.expected_version, meeting.version)?;
        if meeting.status != MeetingStatus::InSession {
            return Err(refused("لا يغلق إلا اجتماع منعقد", "Only a meeting in session can close"));
        }
        if !self.store.touch_meeting(&mut tx, &meeting).await? {
            return Err(changed_meanwhile());
        }
        let now = Utc::now();
        let agenda = self.store.meeting_agenda(&mut tx, meeting.meeting_id).await?;
        let record = self.minutes_record(&mut tx, &meeting, &agenda, now).await?;
        let kept = minutes::keep(&record);
        self.store.close_meeting(&mut tx, &meeting, now, &kept).await?;
        let detail = format!("{}: minutes {}", meeting.meeting_id, kept.sha256);
        audit_meeting(
            &mut tx,
            &staff,
            &request,
            (&meeting.association, &meeting.branch),
            action::MEETING_CLOSED,
            &detail,
        )
        .await?;
        let reply = self.meeting_now(&mut tx, meeting.meeting_id).await?;
        tx.commit().await?;
        tracing::info!(meeting_id = %meeting.meeting_id, cases = record.cases.len(), "committee meeting closed");
        Ok(reply)
    }

    pub(super) async fn cancel_meeting_call(
        &self,
        request: Request<api::CancelMeetingRequest>,
    ) -> Result<api::Meeting, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(SUPERVISORS)?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let meeting = self.visible_meeting(&mut tx, &staff, &input.meeting_id).await?;
        ensure_version(input.expected_version, meeting.version)?;
        if meeting.status != MeetingStatus::Scheduled {
            return Err(refused("يُلغى الاجتماع قبل انعقاده فقط", "Only a meeting that has not sat can be called off"));
        }
        let reason = cleaned("reason", &input.reason, TextRule::LINE)?;
        if reason.is_empty() {
            return Err(invalid_input(vec![FieldError::required("reason")]));
        }
        if !self.store.cancel_meeting(&mut tx, &meeting).await? {
            return Err(changed_meanwhile());
        }
        let detail = format!("{}: {reason}", meeting.meeting_id);
        audit_meeting(
            &mut tx,
            &staff,
            &request,
            (&meeting.association, &meeting.branch),
            action::MEETING_CANCELLED,
            &detail,
        )
        .await?;
        let meeting = self.store.meeting_in(&mut tx, meeting.meeting_id).await?.ok_or_else(meeting_not_found)?;
        let reply = meeting_reply(&meeting, Vec::new());
        tx.commit().await?;
        Ok(reply)
    }

    /// A visible meeting's minutes, once it has closed.
    async fn kept_minutes(
        &self,
        tx: &mut Tx,
        staff: &Staff,
        meeting_id: &str,
    ) -> Result<(Meeting, crate::meetings::KeptMinutes), Status> {
        let meeting = self.visible_meeting(tx, staff, meeting_id).await?;
        let kept = self.store.minutes(tx, meeting.meeting_id).await?.ok_or_else(|| {
            Problem::new(Bilingual::new(
                "يصدر المحضر عند إغلاق الاجتماع",
                "The minutes are produced when the meeting closes",
            ))
            .into_status(Code::NotFound)
        })?;
        Ok((meeting, kept))
    }

    pub(super) async fn get_minutes_call(
        &self,
        request: Request<api::GetMinutesRequest>,
    ) -> Result<api::Minutes, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(READERS)?;
        let mut tx = self.store.db().begin().await?;
        let (_, kept) = self.kept_minutes(&mut tx, &staff, &request.get_ref().meeting_id).await?;
        tx.commit().await?;
        Ok(minutes::reply(kept))
    }

    pub(super) async fn amend_minutes_call(
        &self,
        request: Request<api::AmendMinutesRequest>,
    ) -> Result<api::Minutes, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::CommitteeMember])?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let (meeting, kept) = self.kept_minutes(&mut tx, &staff, &input.meeting_id).await?;
        if staff.username != meeting.chair {
            return Err(Problem::new(Bilingual::new(
                "يعدّل المحضر رئيس الاجتماع",
                "The minutes are amended by the chair",
            ))
            .into_status(Code::PermissionDenied));
        }
        if kept.status == MinutesStatus::Confirmed {
            return Err(confirmed_minutes());
        }
        let read = read_sha256(&input.expected_sha256)?;
        let remarks = cleaned("remarks", &input.remarks, TextRule::NOTE)?;
        let mut record = api::MinutesRecord::decode(kept.record.as_slice()).map_err(masar_platform::grpc::internal)?;
        record.remarks = remarks;
        let amended = minutes::keep(&record);
        if !self.store.amend_minutes(&mut tx, meeting.meeting_id, read, &amended).await? {
            return Err(minutes_changed());
        }
        let detail = format!("{}: minutes {} replace {}", meeting.meeting_id, amended.sha256, kept.sha256);
        audit_meeting(
            &mut tx,
            &staff,
            &request,
            (&meeting.association, &meeting.branch),
            action::MINUTES_AMENDED,
            &detail,
        )
        .await?;
        let reply = self.minutes_now(&mut tx, &staff, &input.meeting_id).await?;
        tx.commit().await?;
        Ok(reply)
    }

    pub(super) async fn confirm_minutes_call(
        &self,
        request: Request<api::ConfirmMinutesRequest>,
    ) -> Result<api::Minutes, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&[ActorRole::CommitteeMember])?;
        let input = request.get_ref();
        let mut tx = self.store.db().begin().await?;
        let (meeting, kept) = self.kept_minutes(&mut tx, &staff, &input.meeting_id).await?;
        if !meeting.present().any(|m| m == staff.username) {
            return Err(Problem::new(Bilingual::new(
                "يؤكد المحضر الأعضاء الحاضرون",
                "The minutes are confirmed by the members present",
            ))
            .into_status(Code::PermissionDenied));
        }
        if kept.status == MinutesStatus::Confirmed {
            return Err(confirmed_minutes());
        }
        let read = read_sha256(&input.sha256)?;
        if !self.store.confirm_minutes(&mut tx, &meeting, &staff.username, read).await? {
            return Err(minutes_changed());
        }
        let detail = format!("{}: minutes {}", meeting.meeting_id, kept.sha256);
        audit_meeting(
            &mut tx,
            &staff,
            &request,
            (&meeting.association, &meeting.branch),
            action::MINUTES_CONFIRMED,
            &detail,
        )
        .await?;
        let reply = self.minutes_now(&mut tx, &staff, &input.meeting_id).await?;
        tx.commit().await?;
        Ok(reply)
    }
}

/// The SHA-256 a member read the minutes by: 64 lowercase hex digits.
fn read_sha256(text: &str) -> Result<&str, Status> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(text)
    } else {
        Err(invalid_input(vec![FieldError::new(
            "sha256",
            Bilingual::new(
                "بصمة المحضر كما قرأتموه (sha256 من 64 خانة)",
                "The minutes' sha256 as you read them (64 hex digits)",
            ),
        )]))
    }
}

/// The minutes changed since the member read them: read them again.
fn minutes_changed() -> Status {
    Problem::new(Bilingual::new(
        "تغير المحضر منذ قراءتكم له؛ اقرؤوه مجدداً",
        "The minutes changed since you read them; read them again",
    ))
    .because("minutes.changed_meanwhile")
    .into_status(Code::Aborted)
}

fn confirmed_minutes() -> Status {
    refused("أُكّد المحضر ولا يتغير", "The minutes are confirmed and cannot change")
}

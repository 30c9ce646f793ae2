//! The research committee's rules, from the pack: how many members must be
//! present and take part in a decision, which majority decides, and whether
//! a meeting sits per branch or for the whole association; and the meeting
//! a supervisor schedules.

use crate::input::{TextRule, read_field};
use crate::policy::Checker;
use crate::text::{Bilingual, FieldError};
use crate::visits::{read_day_ahead, read_time_of_day};
use crate::vocabulary::{Vote, vocabulary};
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

vocabulary! {
    /// Which cases one meeting takes: its branch's, or the whole association's.
    MeetingScope as "meeting scope" {
        Branch = "branch",
        Association = "association",
    }
}

vocabulary! {
    /// Where a committee meeting stands: scheduled, in session from the
    /// first attendance recorded (its agenda fixed then), closed with its minutes.
    MeetingStatus as "meeting status" {
        Scheduled = "scheduled",
        InSession = "in_session",
        Closed = "closed",
        /// Called off before it sat.
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// A closed meeting's minutes: awaiting every present member's
    /// confirmation, then confirmed and unchangeable.
    MinutesStatus as "minutes status" {
        AwaitingConfirmation = "awaiting_confirmation",
        Confirmed = "confirmed",
    }
}

/// How far ahead a meeting may be scheduled.
pub const LONGEST_MEETING_AHEAD_DAYS: u64 = 90;
/// The most members one meeting seats.
pub const MOST_MEETING_MEMBERS: usize = 15;

vocabulary! {
    /// Which votes decide.
    Majority as "majority" {
        /// The option with the most votes, with no tie for the most.
        Simple = "simple",
        /// The option more than half of the votes cast chose.
        Absolute = "absolute",
    }
}

/// How a pack's committee decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CommitteeRules {
    /// Members who must be present, not recused, and vote before a decision.
    pub quorum: u32,
    pub majority: Majority,
    /// Whether a meeting sits per branch or for the whole association.
    pub meetings: MeetingScope,
}

impl Default for CommitteeRules {
    /// What the committee did before packs said: two votes, the most of them, a meeting per branch.
    fn default() -> Self {
        Self { quorum: 2, majority: Majority::Simple, meetings: MeetingScope::Branch }
    }
}

impl CommitteeRules {
    /// Whether enough members are present, not counting those recused from the case.
    pub fn quorum_present(&self, present: usize) -> bool {
        present >= self.quorum as usize
    }

    /// The option the votes decide, if the quorum took part and the majority is clear.
    pub fn outcome(&self, votes: &[Vote]) -> Option<Vote> {
        if votes.len() < self.quorum as usize {
            return None;
        }
        let count = |v: Vote| votes.iter().filter(|c| **c == v).count();
        let mut tally: Vec<(usize, Vote)> = Vote::ALL.iter().map(|v| (count(*v), *v)).collect();
        tally.sort_by_key(|(count, _)| std::cmp::Reverse(*count));
        let (most, top) = tally[0];
        match self.majority {
            Majority::Simple => (most > tally[1].0).then_some(top),
            Majority::Absolute => (most * 2 > votes.len()).then_some(top),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCommittee {
    quorum: u32,
    majority: String,
    #[serde(default)]
    meetings: Option<String>,
}

impl RawCommittee {
    pub(crate) fn validate(self, check: &mut Checker) -> CommitteeRules {
        if self.quorum == 0 {
            check.problem("committee.quorum", "النصاب عضو واحد على الأقل", "the quorum is at least one member");
        }
        let majority = Majority::parse(&self.majority).unwrap_or_else(|_| {
            check.problem("committee.majority", "الأغلبية simple أو absolute", "the majority is simple or absolute");
            Majority::Simple
        });
        let meetings = match self.meetings.as_deref().map(MeetingScope::parse) {
            None => MeetingScope::Branch,
            Some(Ok(scope)) => scope,
            Some(Err(_)) => {
                check.problem(
                    "committee.meetings",
                    "الاجتماعات branch (لكل فرع) أو association (للجمعية كلها)",
                    "meetings are branch (one per branch) or association (association-wide)",
                );
                MeetingScope::Branch
            }
        };
        CommitteeRules { quorum: self.quorum, majority, meetings }
    }
}

/// A meeting as the supervisor entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeetingEntered<'a> {
    pub on: &'a str,
    pub at: &'a str,
    pub place: &'a str,
    pub chair: &'a str,
    pub members: &'a [String],
}

/// A meeting checked, ready to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingPlan {
    pub on: NaiveDate,
    pub at: NaiveTime,
    pub place: String,
    pub chair: String,
    /// Each once, in the order entered; the chair among them.
    pub members: Vec<String>,
}

/// Checks a meeting scheduled on `today` (Saudi time): a day from today to
/// [`LONGEST_MEETING_AHEAD_DAYS`] ahead at HH:MM, where, and members enough
/// for the quorum, each one of the association's committee (`is_member`),
/// the chair among them. Every problem is reported at once, at its field.
pub fn check_meeting(
    entered: MeetingEntered<'_>,
    today: NaiveDate,
    rules: &CommitteeRules,
    is_member: impl Fn(&str) -> bool,
) -> Result<MeetingPlan, Vec<FieldError>> {
    let mut problems = Vec::new();
    let ahead = Bilingual::new(
        format!("يحدد الاجتماع من اليوم إلى {LONGEST_MEETING_AHEAD_DAYS} يوماً قادمة"),
        format!("A meeting is set from today to {LONGEST_MEETING_AHEAD_DAYS} days ahead"),
    );
    let on = read_day_ahead("on", entered.on, (today, LONGEST_MEETING_AHEAD_DAYS), ahead, &mut problems);
    let at = read_time_of_day(entered.at);
    if at.is_none() {
        problems.push(FieldError::new("at", Bilingual::new("الوقت بالصيغة HH:MM", "The time is written HH:MM")));
    }
    let place = read_field("place", entered.place, TextRule::LINE, true, &mut problems);
    let mut members: Vec<String> = Vec::new();
    for (i, member) in entered.members.iter().map(|m| m.trim()).enumerate() {
        if !is_member(member) {
            problems.push(FieldError::new(
                format!("members[{i}]"),
                Bilingual::new(
                    format!("{member} ليس عضواً في لجنة البحث بالجمعية"),
                    format!("{member} is not a member of the association's research committee"),
                ),
            ));
        } else if members.iter().any(|m| m == member) {
            problems.push(FieldError::new(
                format!("members[{i}]"),
                Bilingual::new(format!("{member} مذكور مرتين"), format!("{member} is named twice")),
            ));
        } else {
            members.push(member.to_owned());
        }
    }
    if members.len() < rules.quorum as usize || members.len() > MOST_MEETING_MEMBERS {
        let quorum = rules.quorum;
        problems.push(FieldError::new(
            "members",
            Bilingual::new(
                format!("يحضر الاجتماع من {quorum} (النصاب) إلى {MOST_MEETING_MEMBERS} عضواً"),
                format!("A meeting seats from {quorum} members (the quorum) to {MOST_MEETING_MEMBERS}"),
            ),
        ));
    }
    let chair = entered.chair.trim();
    if chair.is_empty() {
        problems.push(FieldError::required("chair"));
    } else if !members.iter().any(|m| m == chair) {
        problems.push(FieldError::new(
            "chair",
            Bilingual::new("رئيس الاجتماع من أعضائه", "The chair is one of the meeting's members"),
        ));
    }
    match (on, at) {
        (Some(on), Some(at)) if problems.is_empty() => {
            Ok(MeetingPlan { on, at, place, chair: chair.to_owned(), members })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Vote::{Approve, Defer, Reject};

    #[test]
    fn the_quorum_takes_part_and_the_majority_decides() {
        let simple = CommitteeRules { quorum: 2, ..CommitteeRules::default() };
        assert_eq!(simple.outcome(&[Approve, Approve, Reject]), Some(Approve));
        assert_eq!(simple.outcome(&[Approve, Reject]), None, "a tie");
        assert_eq!(simple.outcome(&[Defer]), None, "under the quorum");
        assert_eq!(simple.outcome(&[Approve, Reject, Defer, Approve]), Some(Approve));
        let absolute = CommitteeRules { quorum: 3, majority: Majority::Absolute, ..CommitteeRules::default() };
        assert_eq!(absolute.outcome(&[Approve, Reject, Defer, Approve]), None, "2 of 4 is not more than half");
        assert_eq!(absolute.outcome(&[Approve, Approve, Reject]), Some(Approve));
        assert_eq!(absolute.outcome(&[Approve, Approve]), None, "under the quorum");
    }

    #[test]
    fn a_meeting_seats_the_quorum_of_committee_members_with_its_chair() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let rules = CommitteeRules { quorum: 2, ..CommitteeRules::default() };
        let committee = |m: &str| m.starts_with("committee");
        let members = ["committee1".to_owned(), "committee2".to_owned(), "committee1".to_owned()];
        let entered = MeetingEntered {
            on: "2026-12-08",
            at: "١٠:٠٠",
            place: "Main hall",
            chair: "committee2",
            members: &members,
        };
        let fields: Vec<String> =
            check_meeting(entered, today, &rules, committee).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["members[2]"], "named twice");
        let once = &members[..2];
        let entered = MeetingEntered { members: once, ..entered };
        let plan = check_meeting(entered, today, &rules, committee).unwrap();
        assert_eq!(plan.members, ["committee1", "committee2"]);
        assert_eq!(plan.at, NaiveTime::from_hms_opt(10, 0, 0).unwrap());

        let strangers = ["committee1".to_owned(), "researcher".to_owned()];
        let entered =
            MeetingEntered { on: "2026-12-06", at: "late", place: "", chair: "researcher", members: &strangers };
        let fields: Vec<String> =
            check_meeting(entered, today, &rules, committee).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["on", "at", "place", "members[1]", "members", "chair"]);
    }
}

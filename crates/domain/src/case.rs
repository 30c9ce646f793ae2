//! The case state machine: one table of allowed transitions. Services ask
//! it before they change a case; none re-implements it.

use crate::vocabulary::vocabulary;

vocabulary! {
    /// Where a case is on its journey.
    CaseStatus as "status" {
        Draft = "draft",
        Submitted = "submitted",
        ReturnedForCompletion = "returned_for_completion",
        Ineligible = "ineligible",
        Verified = "verified",
        ResearcherAssigned = "researcher_assigned",
        FieldVisitRecorded = "field_visit_recorded",
        Recommended = "recommended",
        OnCommitteeAgenda = "on_committee_agenda",
        Approved = "approved",
        Rejected = "rejected",
        Deferred = "deferred",
        ServiceDelivered = "service_delivered",
        Closed = "closed",
    }
}

vocabulary! {
    /// The five stages, each owned by one service, plus the two after the decision.
    Stage as "stage" {
        Intake = "intake",
        Verification = "verification",
        Research = "research",
        Committee = "committee",
        Delivery = "delivery",
        Satisfaction = "satisfaction",
    }
}

impl Stage {
    /// A stage the promised reply waits on, each with its target in working days.
    pub fn is_awaited(self) -> bool {
        matches!(self, Stage::Verification | Stage::Research | Stage::Committee)
    }
}

use CaseStatus::*;

/// Every allowed (from, to). Anything else is refused.
const ALLOWED: &[(CaseStatus, CaseStatus)] = &[
    // intake: a draft is submitted once its documents and attestation are complete
    (Draft, Submitted),
    // verification: accept, return for completion, or close as ineligible
    (Submitted, Verified),
    (Submitted, ReturnedForCompletion),
    (Submitted, Ineligible),
    // the beneficiary completes and resubmits
    (ReturnedForCompletion, Submitted),
    // research: assignment, one or more field visits, then a recommendation
    (Verified, ResearcherAssigned),
    (ResearcherAssigned, FieldVisitRecorded),
    (FieldVisitRecorded, FieldVisitRecorded),
    (FieldVisitRecorded, Recommended),
    // or asks for more documents: back to the beneficiary, as a return for completion
    (ResearcherAssigned, ReturnedForCompletion),
    (FieldVisitRecorded, ReturnedForCompletion),
    // committee
    (Recommended, OnCommitteeAgenda),
    (OnCommitteeAgenda, Approved),
    (OnCommitteeAgenda, Rejected),
    (OnCommitteeAgenda, Deferred),
    // a deferred case goes back for more research
    (Deferred, ResearcherAssigned),
    // after approval
    (Approved, ServiceDelivered),
    (ServiceDelivered, Closed),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a case cannot go from '{from}' to '{to}'")]
pub struct TransitionRefused {
    pub from: CaseStatus,
    pub to: CaseStatus,
}

impl CaseStatus {
    /// The status a new request starts in: a draft, until it is complete and attested.
    pub const INITIAL: CaseStatus = Draft;

    pub fn can_become(self, to: CaseStatus) -> bool {
        ALLOWED.contains(&(self, to))
    }

    /// Asks the table; returns the new status or why it is refused.
    pub fn transition(self, to: CaseStatus) -> Result<CaseStatus, TransitionRefused> {
        if self.can_become(to) { Ok(to) } else { Err(TransitionRefused { from: self, to }) }
    }

    /// Nothing more happens to a case in a final status.
    pub fn is_final(self) -> bool {
        !ALLOWED.iter().any(|(from, _)| *from == self)
    }

    /// The beneficiary is waiting for the committee's reply, the one the
    /// association promised a date for (not a draft, not returned to them
    /// for completion, not decided).
    pub fn awaits_reply(self) -> bool {
        matches!(
            self,
            Submitted | Verified | ResearcherAssigned | FieldVisitRecorded | Recommended | OnCommitteeAgenda | Deferred
        )
    }

    /// The stage that owns a case in this status.
    pub fn stage(self) -> Stage {
        match self {
            Draft | Submitted | ReturnedForCompletion => Stage::Intake,
            Ineligible | Verified => Stage::Verification,
            ResearcherAssigned | FieldVisitRecorded | Recommended | Deferred => Stage::Research,
            OnCommitteeAgenda | Approved | Rejected => Stage::Committee,
            ServiceDelivered => Stage::Delivery,
            Closed => Stage::Satisfaction,
        }
    }

    /// The researcher's open work: assigned, or visited but not yet recommended.
    pub fn under_research(self) -> bool {
        matches!(self, ResearcherAssigned | FieldVisitRecorded)
    }

    /// The stage whose work a case in this status waits on (verification for
    /// a submitted one, research once verified or deferred, the committee once
    /// recommended); none when nobody owes it a step towards the reply.
    pub fn awaiting(self) -> Option<Stage> {
        match self {
            Submitted => Some(Stage::Verification),
            Verified | ResearcherAssigned | FieldVisitRecorded | Deferred => Some(Stage::Research),
            Recommended | OnCommitteeAgenda => Some(Stage::Committee),
            Draft | ReturnedForCompletion | Ineligible | Approved | Rejected | ServiceDelivered | Closed => None,
        }
    }

    /// What the beneficiary reads for this status on their timeline.
    pub fn describe(self) -> crate::Bilingual {
        let (ar, en) = match self {
            Draft => ("مسودة لم تقدم بعد", "Draft, not submitted yet"),
            Submitted => ("تم استلام الطلب", "Request received"),
            ReturnedForCompletion => ("أعيد الطلب لاستكمال النواقص", "Returned for completion"),
            Ineligible => ("الطلب غير مستوفٍ لشروط الاستحقاق", "Not eligible"),
            Verified => ("تم التحقق من المستندات والاستحقاق", "Documents and eligibility verified"),
            ResearcherAssigned => ("تم تعيين باحث اجتماعي", "Social researcher assigned"),
            FieldVisitRecorded => ("تمت الزيارة الميدانية", "Field visit done"),
            Recommended => ("رفع الباحث توصيته", "Researcher's recommendation made"),
            OnCommitteeAgenda => ("أدرج الطلب في جدول لجنة البحث", "On the research committee's agenda"),
            Approved => ("تمت الموافقة على الطلب", "Approved"),
            Rejected => ("تم الاعتذار عن الطلب", "Rejected"),
            Deferred => ("أجلت اللجنة الطلب لمزيد من البحث", "Deferred for more research"),
            ServiceDelivered => ("تم تقديم الخدمة", "Service delivered"),
            Closed => ("أغلق الطلب", "Closed"),
        };
        crate::Bilingual::new(ar, en)
    }
}

/// The table itself, for documentation and exhaustive tests.
pub fn allowed_transitions() -> &'static [(CaseStatus, CaseStatus)] {
    ALLOWED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_is_allowed_exactly_when_the_table_says_so() {
        let mut allowed = 0;
        for from in CaseStatus::ALL {
            for to in CaseStatus::ALL {
                let in_table = ALLOWED.contains(&(*from, *to));
                assert_eq!(from.can_become(*to), in_table, "{from} -> {to}");
                match from.transition(*to) {
                    Ok(next) => {
                        assert!(in_table);
                        assert_eq!(next, *to);
                        allowed += 1;
                    }
                    Err(refused) => {
                        assert!(!in_table);
                        assert_eq!(refused, TransitionRefused { from: *from, to: *to });
                    }
                }
            }
        }
        assert_eq!(allowed, ALLOWED.len());
    }

    #[test]
    fn the_journey_of_the_policy_is_walkable() {
        let journey = [
            CaseStatus::INITIAL,
            Submitted,
            ReturnedForCompletion,
            Submitted,
            Verified,
            ResearcherAssigned,
            FieldVisitRecorded,
            Recommended,
            OnCommitteeAgenda,
            Deferred,
            ResearcherAssigned,
            FieldVisitRecorded,
            FieldVisitRecorded,
            Recommended,
            OnCommitteeAgenda,
            Approved,
            ServiceDelivered,
            Closed,
        ];
        for pair in journey.windows(2) {
            pair[0].transition(pair[1]).unwrap();
        }
    }

    #[test]
    fn refusals_that_matter() {
        // no skipping verification, no deciding without research, no reopening a closed case
        assert!(Submitted.transition(ResearcherAssigned).is_err());
        assert!(Verified.transition(Approved).is_err());
        assert!(ResearcherAssigned.transition(Recommended).is_err());
        assert!(Rejected.transition(Submitted).is_err());
        assert!(Ineligible.transition(Submitted).is_err());
        // a draft reaches verification only through submission
        assert!(Draft.transition(Verified).is_err());
    }

    #[test]
    fn final_statuses() {
        let finals: Vec<_> = CaseStatus::ALL.iter().copied().filter(|s| s.is_final()).collect();
        assert_eq!(finals, vec![Ineligible, Rejected, Closed]);
    }

    #[test]
    fn every_status_has_a_stage_and_a_description() {
        for status in CaseStatus::ALL {
            let _ = status.stage();
            assert!(!status.describe().ar.is_empty());
        }
    }
}

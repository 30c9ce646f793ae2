//! The research committee's rules, from the pack: how many members must take
//! part in a decision, and which majority decides.

use crate::policy::Checker;
use crate::vocabulary::{Vote, vocabulary};
use serde::{Deserialize, Serialize};

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
    /// Members who must take part (vote, not recused) before a decision.
    pub quorum: u32,
    pub majority: Majority,
}

impl Default for CommitteeRules {
    /// What the committee did before packs said: two votes, the most of them.
    fn default() -> Self {
        Self { quorum: 2, majority: Majority::Simple }
    }
}

impl CommitteeRules {
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
        CommitteeRules { quorum: self.quorum, majority }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Vote::{Approve, Defer, Reject};

    #[test]
    fn the_quorum_takes_part_and_the_majority_decides() {
        let simple = CommitteeRules { quorum: 2, majority: Majority::Simple };
        assert_eq!(simple.outcome(&[Approve, Approve, Reject]), Some(Approve));
        assert_eq!(simple.outcome(&[Approve, Reject]), None, "a tie");
        assert_eq!(simple.outcome(&[Defer]), None, "under the quorum");
        assert_eq!(simple.outcome(&[Approve, Reject, Defer, Approve]), Some(Approve));
        let absolute = CommitteeRules { quorum: 3, majority: Majority::Absolute };
        assert_eq!(absolute.outcome(&[Approve, Reject, Defer, Approve]), None, "2 of 4 is not more than half");
        assert_eq!(absolute.outcome(&[Approve, Approve, Reject]), Some(Approve));
        assert_eq!(absolute.outcome(&[Approve, Approve]), None, "under the quorum");
    }
}

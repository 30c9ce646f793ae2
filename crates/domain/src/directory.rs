//! The directory: associations, their branches, service types and staff.
//! Loaded from configuration (demo/directory.json by default) until the
//! policy packs of Step 2 take over the catalogue part.

use crate::vocabulary::{ActorRole, Channel};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Directory {
    pub associations: Vec<Association>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Association {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
    /// Days within which the research committee replies; the policies say "not less than two weeks".
    pub committee_reply_days: u32,
    /// Short prefix of human request references, e.g. "NZL".
    pub reference_prefix: String,
    pub channels: Vec<Channel>,
    pub branches: Vec<Branch>,
    pub service_types: Vec<ServiceType>,
    pub staff: Vec<StaffMember>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Branch {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
    pub city: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServiceType {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaffMember {
    pub username: String,
    pub name: String,
    pub role: ActorRole,
    /// Set for branch-bound roles; association-wide roles have none.
    #[serde(default)]
    pub branch: Option<String>,
}

/// The shortest committee reply period a policy may promise.
pub const MINIMUM_COMMITTEE_REPLY_DAYS: u32 = 14;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory is not valid JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
}

impl Directory {
    /// Parses and checks a directory; every problem is reported, not just the first.
    pub fn from_json(text: &str) -> Result<Self, DirectoryError> {
        let directory: Directory = serde_json::from_str(text).map_err(|e| DirectoryError::Malformed(e.to_string()))?;
        let problems = directory.problems();
        if problems.is_empty() { Ok(directory) } else { Err(DirectoryError::Invalid(problems.join("; "))) }
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for a in &self.associations {
            if a.committee_reply_days < MINIMUM_COMMITTEE_REPLY_DAYS {
                problems.push(format!(
                    "{}: committee_reply_days is {} but the policy promises not less than {MINIMUM_COMMITTEE_REPLY_DAYS}",
                    a.code, a.committee_reply_days
                ));
            }
            for s in &a.staff {
                match (&s.branch, s.role.is_branch_bound()) {
                    (None, true) => {
                        problems.push(format!("{}: staff {} ({}) needs a branch", a.code, s.username, s.role))
                    }
                    (Some(b), _) if a.branch(b).is_none() => {
                        problems.push(format!("{}: staff {} names unknown branch {b}", a.code, s.username))
                    }
                    _ => {}
                }
            }
        }
        problems
    }

    pub fn association(&self, code: &str) -> Option<&Association> {
        self.associations.iter().find(|a| a.code == code)
    }

    /// A staff member by username, with their association.
    pub fn staff(&self, username: &str) -> Option<(&Association, &StaffMember)> {
        self.associations.iter().find_map(|a| a.staff.iter().find(|s| s.username == username).map(|s| (a, s)))
    }
}

impl Association {
    pub fn branch(&self, code: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.code == code)
    }

    pub fn service_type(&self, code: &str) -> Option<&ServiceType> {
        self.service_types.iter().find(|s| s.code == code)
    }

    /// Staff of one role in one branch, in a stable order.
    pub fn staff_in_branch(&self, role: ActorRole, branch: &str) -> Vec<&StaffMember> {
        let mut staff: Vec<_> =
            self.staff.iter().filter(|s| s.role == role && s.branch.as_deref() == Some(branch)).collect();
        staff.sort_by(|a, b| a.username.cmp(&b.username));
        staff
    }

    /// The date the beneficiary is told to expect a reply.
    pub fn expected_decision_on(&self, submitted_on: chrono::NaiveDate) -> chrono::NaiveDate {
        let days = self.committee_reply_days.max(MINIMUM_COMMITTEE_REPLY_DAYS);
        submitted_on + chrono::Days::new(u64::from(days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"associations":[{"code":"a","name_ar":"أ","name_en":"A","committee_reply_days":14,
        "reference_prefix":"AAA","channels":["website"],
        "branches":[{"code":"b1","name_ar":"ف","name_en":"B1","city":"Riyadh"}],
        "service_types":[{"code":"roof","name_ar":"سقف","name_en":"Roof"}],
        "staff":[{"username":"r2","name":"R2","role":"social_researcher","branch":"b1"},
                 {"username":"r1","name":"R1","role":"social_researcher","branch":"b1"},
                 {"username":"c1","name":"C1","role":"committee_member"}]}]}"#;

    #[test]
    fn looks_up_what_intake_and_research_need() {
        let d = Directory::from_json(SAMPLE).unwrap();
        let a = d.association("a").unwrap();
        assert!(a.branch("b1").is_some() && a.branch("b2").is_none());
        assert!(a.service_type("roof").is_some());
        let names: Vec<_> = a.staff_in_branch(ActorRole::SocialResearcher, "b1").iter().map(|s| &s.username).collect();
        assert_eq!(names, ["r1", "r2"]);
        assert_eq!(d.staff("c1").unwrap().1.role, ActorRole::CommitteeMember);
    }

    #[test]
    fn the_reply_date_is_never_sooner_than_two_weeks() {
        let d = Directory::from_json(SAMPLE).unwrap();
        let on = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(d.associations[0].expected_decision_on(on), chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
    }

    #[test]
    fn reports_every_problem() {
        let bad = SAMPLE
            .replace("\"committee_reply_days\":14", "\"committee_reply_days\":7")
            .replace("\"branch\":\"b1\"}", "\"branch\":\"zz\"}");
        let err = Directory::from_json(&bad).unwrap_err().to_string();
        assert!(err.contains("not less than 14"), "{err}");
        assert!(err.contains("unknown branch zz"), "{err}");
    }
}

//! The directory: each association's staff and their roles and branches.
//! What an association offers and how it judges lives in its policy pack
//! (`policy`); the directory only says who works where.

use crate::policy::PolicyPack;
use crate::vocabulary::ActorRole;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Directory {
    pub associations: Vec<Association>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Association {
    pub code: String,
    pub staff: Vec<StaffMember>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaffMember {
    pub username: String,
    pub name: String,
    pub role: ActorRole,
    /// Set for branch-bound roles; association-wide roles have none.
    #[serde(default)]
    pub branch: Option<String>,
    /// Shared by the accounts of one person who holds two posts (a social
    /// researcher who also sits on the committee), so the rules that keep
    /// the two apart can tell it is them.
    #[serde(default)]
    pub person: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("the directory is not valid JSON: {0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
}

impl Directory {
    /// Parses and checks a directory against the associations' policy packs;
    /// every problem is reported, not just the first.
    pub fn from_json(text: &str, packs: &[PolicyPack]) -> Result<Self, DirectoryError> {
        let directory: Directory = serde_json::from_str(text).map_err(|e| DirectoryError::Malformed(e.to_string()))?;
        let problems = directory.problems(packs);
        if problems.is_empty() { Ok(directory) } else { Err(DirectoryError::Invalid(problems.join("; "))) }
    }

    fn problems(&self, packs: &[PolicyPack]) -> Vec<String> {
        let mut problems = Vec::new();
        for a in &self.associations {
            let branches: Vec<&str> = packs
                .iter()
                .filter(|p| p.association == a.code)
                .flat_map(|p| p.branches.iter().map(|b| b.code.as_str()))
                .collect();
            if branches.is_empty() {
                problems.push(format!("{}: no policy pack names this association", a.code));
            }
            for s in &a.staff {
                match (&s.branch, s.role.is_branch_bound()) {
                    (_, _) if !s.role.is_staff() => problems
                        .push(format!("{}: {} has the role {}, which is not a staff role", a.code, s.username, s.role)),
                    (None, true) => {
                        problems.push(format!("{}: staff {} ({}) needs a branch", a.code, s.username, s.role))
                    }
                    (Some(b), _) if !branches.is_empty() && !branches.contains(&b.as_str()) => {
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

    /// Whether two usernames are one person's accounts (the same username, or a shared `person`).
    pub fn same_person(&self, a: &str, b: &str) -> bool {
        let person = |username| self.staff(username).and_then(|(_, s)| s.person.as_deref());
        a == b || person(a).is_some_and(|p| person(b) == Some(p))
    }

    /// A staff member by username, with their association.
    pub fn staff(&self, username: &str) -> Option<(&Association, &StaffMember)> {
        self.associations.iter().find_map(|a| a.staff.iter().find(|s| s.username == username).map(|s| (a, s)))
    }
}

impl Association {
    /// Staff of one role in one branch, in a stable order.
    pub fn staff_in_branch(&self, role: ActorRole, branch: &str) -> Vec<&StaffMember> {
        let mut staff: Vec<_> =
            self.staff.iter().filter(|s| s.role == role && s.branch.as_deref() == Some(branch)).collect();
        staff.sort_by(|a, b| a.username.cmp(&b.username));
        staff
    }

    /// The branches with someone of `role`, in a stable order.
    pub fn branches_with(&self, role: ActorRole) -> Vec<&str> {
        let mut branches: Vec<&str> =
            self.staff.iter().filter(|s| s.role == role).filter_map(|s| s.branch.as_deref()).collect();
        branches.sort_unstable();
        branches.dedup();
        branches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"associations":[{"code":"nuzul",
        "staff":[{"username":"r2","name":"R2","role":"social_researcher","branch":"riyadh"},
                 {"username":"r1","name":"R1","role":"social_researcher","branch":"riyadh"},
                 {"username":"c1","name":"C1","role":"committee_member"}]}]}"#;

    fn packs() -> Vec<PolicyPack> {
        vec![PolicyPack::from_toml(include_str!("../../../policies/nuzul.toml")).unwrap()]
    }

    #[test]
    fn looks_up_staff_by_branch_and_username() {
        let d = Directory::from_json(SAMPLE, &packs()).unwrap();
        let a = d.association("nuzul").unwrap();
        let names: Vec<_> =
            a.staff_in_branch(ActorRole::SocialResearcher, "riyadh").iter().map(|s| &s.username).collect();
        assert_eq!(names, ["r1", "r2"]);
        assert_eq!(d.staff("c1").unwrap().1.role, ActorRole::CommitteeMember);
    }

    #[test]
    fn one_person_may_hold_two_posts() {
        let linked = SAMPLE
            .replacen("\"branch\":\"riyadh\"}", "\"branch\":\"riyadh\",\"person\":\"p7\"}", 1)
            .replace("\"role\":\"committee_member\"}", "\"role\":\"committee_member\",\"person\":\"p7\"}");
        let d = Directory::from_json(&linked, &packs()).unwrap();
        assert!(d.same_person("r2", "c1") && d.same_person("c1", "r2"));
        assert!(d.same_person("r1", "r1"));
        assert!(!d.same_person("r1", "c1") && !d.same_person("r1", "r2") && !d.same_person("nobody", "else"));
    }

    #[test]
    fn reports_every_problem() {
        let bad = SAMPLE
            .replacen("\"branch\":\"riyadh\"}", "\"branch\":\"zz\"}", 1)
            .replace("\"role\":\"committee_member\"}", "\"role\":\"project_manager\"}");
        let err = Directory::from_json(&bad, &packs()).unwrap_err().to_string();
        assert!(err.contains("unknown branch zz"), "{err}");
        assert!(err.contains("c1 (project_manager) needs a branch"), "{err}");
        let err = Directory::from_json(SAMPLE, &[]).unwrap_err().to_string();
        assert!(err.contains("no policy pack names this association"), "{err}");
    }
}

//! The directory: each association's staff and their roles and branches.
//! What an association offers and how it judges lives in its policy pack
//! (`policy`); the directory says who works where, and, for the social
//! researchers' roster, what each handles, how many open cases at most, and
//! when they are on leave.

use crate::policy::PolicyPack;
use crate::vocabulary::ActorRole;
use chrono::NaiveDate;
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
    /// Where alerts reach them by SMS (a supervisor's), if on file.
    #[serde(default)]
    pub mobile: Option<String>,
    /// A researcher's, where the roster says (a pack may prefer one for some households).
    #[serde(default)]
    pub gender: Option<crate::roster::Gender>,
    /// The service types they handle (the pack's codes); none listed: every type.
    #[serde(default)]
    pub specialties: Vec<String>,
    /// Open cases they take at most; none: no limit.
    #[serde(default)]
    pub capacity: Option<u32>,
    /// When they are away; no case is given to them then.
    #[serde(default)]
    pub leave: Vec<Leave>,
}

/// A period away, both days included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Leave {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl StaffMember {
    /// The leave that covers `day`, if they are away then.
    pub fn leave_on(&self, day: NaiveDate) -> Option<&Leave> {
        self.leave.iter().find(|leave| leave.from <= day && day <= leave.to)
    }

    /// Whether they handle `service_type`.
    pub fn handles(&self, service_type: &str) -> bool {
        self.specialties.is_empty() || self.specialties.iter().any(|s| s == service_type)
    }
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
                problems.extend(roster_problems(&a.code, s, packs));
                if let Some(mobile) = &s.mobile
                    && crate::identity::SaudiMobile::parse(mobile).is_err()
                {
                    problems.push(format!(
                        "{}: staff {} has a mobile that is not a Saudi mobile number",
                        a.code, s.username
                    ));
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

/// What is wrong with a staff member's roster entry: a specialty no pack of
/// the association offers, a capacity of nothing, a leave that ends before it
/// starts or overlaps another.
fn roster_problems(association: &str, staff: &StaffMember, packs: &[PolicyPack]) -> Vec<String> {
    let who = format!("{association}: staff {}", staff.username);
    let mut problems = Vec::new();
    let offered = |code: &str| packs.iter().any(|p| p.association == association && p.service_type(code).is_some());
    for specialty in staff.specialties.iter().filter(|s| !offered(s)) {
        problems.push(format!("{who} names specialty {specialty}, a service type no pack of the association offers"));
    }
    if staff.capacity == Some(0) {
        problems.push(format!("{who} has a capacity of 0 open cases (leave it out for no limit)"));
    }
    let mut leave = staff.leave.clone();
    leave.sort_by_key(|l| l.from);
    for l in leave.iter().filter(|l| l.to < l.from) {
        problems.push(format!("{who} has a leave ending ({}) before it starts ({})", l.to, l.from));
    }
    for pair in leave.windows(2) {
        if pair[1].from <= pair[0].to {
            problems.push(format!(
                "{who} has overlapping leaves ({} to {}, {} to {})",
                pair[0].from, pair[0].to, pair[1].from, pair[1].to
            ));
        }
    }
    problems
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
        let unreachable =
            SAMPLE.replace("\"role\":\"committee_member\"}", "\"role\":\"committee_member\",\"mobile\":\"12345\"}");
        let err = Directory::from_json(&unreachable, &packs()).unwrap_err().to_string();
        assert!(err.contains("c1 has a mobile that is not a Saudi mobile number"), "{err}");
    }

    #[test]
    fn a_roster_entry_says_what_they_handle_how_much_and_when_they_are_away() {
        let roster = SAMPLE.replacen(
            "\"branch\":\"riyadh\"}",
            r#""branch":"riyadh","specialties":["roof_repair"],"capacity":3,
               "leave":[{"from":"2026-12-10","to":"2026-12-20"}]}"#,
            1,
        );
        let d = Directory::from_json(&roster, &packs()).unwrap();
        let (_, r2) = d.staff("r2").unwrap();
        assert_eq!(r2.capacity, Some(3));
        assert!(r2.handles("roof_repair") && !r2.handles("electrical_rewiring"));
        let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert!(r2.leave_on(day("2026-12-20")).is_some() && r2.leave_on(day("2026-12-21")).is_none());
        let (_, r1) = d.staff("r1").unwrap();
        assert!(r1.handles("electrical_rewiring") && r1.capacity.is_none(), "nothing listed: every type, no limit");
    }

    #[test]
    fn a_roster_entry_that_cannot_hold_is_refused_with_its_fault() {
        let bad = SAMPLE.replacen(
            "\"branch\":\"riyadh\"}",
            r#""branch":"riyadh","specialties":["moon_landing"],"capacity":0,
               "leave":[{"from":"2026-12-10","to":"2026-12-20"},{"from":"2026-12-18","to":"2026-12-25"},
                        {"from":"2027-01-10","to":"2027-01-01"}]}"#,
            1,
        );
        let err = Directory::from_json(&bad, &packs()).unwrap_err().to_string();
        assert!(err.contains("specialty moon_landing"), "{err}");
        assert!(err.contains("capacity of 0"), "{err}");
        assert!(err.contains("overlapping leaves (2026-12-10 to 2026-12-20, 2026-12-18 to 2026-12-25)"), "{err}");
        assert!(err.contains("a leave ending (2027-01-01) before it starts (2027-01-10)"), "{err}");
    }
}

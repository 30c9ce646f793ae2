//! The social researchers' roster as supervisors keep it: each researcher's
//! branch, gender, specialties, capacity, whether on duty, and leave periods.
//! The directory's entries are where it starts; from then on supervisors
//! change it, and automatic assignment reads it.

use crate::calendar::parse_gregorian;
use crate::directory::Leave;
use crate::policy::PolicyPack;
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::vocabulary;
use chrono::NaiveDate;

vocabulary! {
    /// A researcher's gender, which a pack's assignment may prefer (a female
    /// researcher for a household headed by a woman).
    Gender as "gender" {
        Female = "female",
        Male = "male",
    }
}

/// Whom a case's researcher is preferred to be, and why (from the pack's
/// `[research.preference]`, judged on the case's facts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preference {
    pub gender: Gender,
    pub reason: Bilingual,
}

/// How far ahead a leave may be recorded.
pub const LONGEST_LEAVE_AHEAD_DAYS: u64 = 365;
/// The most open cases a capacity may name.
pub const LARGEST_CAPACITY: u32 = 500;

/// A roster entry as a supervisor entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RosterEntered<'a> {
    pub branch: &'a str,
    pub gender: &'a str,
    pub specialties: &'a [String],
    /// 0: no limit.
    pub capacity: u32,
    pub active: bool,
}

/// A roster entry, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterChange {
    pub branch: String,
    pub gender: Option<Gender>,
    /// Service types of the pack; none: every type.
    pub specialties: Vec<String>,
    pub capacity: Option<u32>,
    pub active: bool,
}

/// Checks an entry against the association's pack in force: a branch it
/// opens, service types it offers, a capacity of at least one open case.
pub fn check_roster_entry(entered: RosterEntered<'_>, pack: &PolicyPack) -> Result<RosterChange, Vec<FieldError>> {
    let mut problems = Vec::new();
    let branch = entered.branch.trim();
    if branch.is_empty() {
        problems.push(FieldError::required("branch"));
    } else if pack.branch(branch).is_none() {
        problems.push(FieldError::new(
            "branch",
            Bilingual::new("فرع غير معروف في الجمعية", "Not a branch of the association"),
        ));
    }
    let gender = match entered.gender.trim() {
        "" => None,
        text => Gender::parse(text)
            .map_err(|_| {
                problems.push(FieldError::new(
                    "gender",
                    Bilingual::new("الجنس female أو male", "The gender is female or male"),
                ))
            })
            .ok(),
    };
    let mut specialties: Vec<String> = Vec::new();
    for (i, code) in entered.specialties.iter().map(|s| s.trim()).enumerate() {
        if pack.service_type(code).is_none() {
            problems.push(FieldError::new(
                format!("specialties[{i}]"),
                Bilingual::new(
                    format!("{code} ليس من أنواع الخدمة في سياسة الجمعية"),
                    format!("{code} is not a service type of the association's policy"),
                ),
            ));
        } else if !specialties.iter().any(|s| s == code) {
            specialties.push(code.to_owned());
        }
    }
    if entered.capacity > LARGEST_CAPACITY {
        problems.push(FieldError::new(
            "capacity",
            Bilingual::new(
                format!("الطاقة حتى {LARGEST_CAPACITY} حالة مفتوحة (0 بلا حد)"),
                format!("A capacity is up to {LARGEST_CAPACITY} open cases (0 for no limit)"),
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RosterChange {
        branch: branch.to_owned(),
        gender,
        specialties,
        capacity: (entered.capacity > 0).then_some(entered.capacity),
        active: entered.active,
    })
}

/// Checks a leave entered on `today` beside a researcher's other leaves: it
/// ends on or after it starts, does not end in the past, starts within a
/// year, and overlaps none of them.
pub fn check_leave(from: &str, to: &str, today: NaiveDate, others: &[Leave]) -> Result<Leave, Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut day = |field: &str, text: &str| match parse_gregorian(text) {
        Ok(day) => Some(day),
        Err(_) => {
            let problem = if text.trim().is_empty() {
                FieldError::required(field)
            } else {
                FieldError::new(field, Bilingual::new("التاريخ بالصيغة YYYY-MM-DD", "The date is written YYYY-MM-DD"))
            };
            problems.push(problem);
            None
        }
    };
    let (from, to) = (day("from", from), day("to", to));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(problems);
    };
    if to < from {
        problems.push(FieldError::new(
            "to",
            Bilingual::new("تنتهي الإجازة بعد بدايتها", "A leave ends on or after it starts"),
        ));
    } else if to < today {
        problems.push(FieldError::new(
            "to",
            Bilingual::new("انتهت هذه الإجازة؛ تسجل الإجازات القائمة أو القادمة", "This leave has already ended"),
        ));
    } else if from > today + chrono::Days::new(LONGEST_LEAVE_AHEAD_DAYS) {
        problems.push(FieldError::new(
            "from",
            Bilingual::new(
                format!("تبدأ الإجازة خلال {LONGEST_LEAVE_AHEAD_DAYS} يوماً"),
                format!("A leave starts within {LONGEST_LEAVE_AHEAD_DAYS} days"),
            ),
        ));
    } else if let Some(other) = others.iter().find(|o| from <= o.to && o.from <= to) {
        problems.push(FieldError::new(
            "from",
            Bilingual::new(
                format!("تتداخل مع إجازة من {} إلى {}", other.from, other.to),
                format!("It overlaps the leave from {} to {}", other.from, other.to),
            ),
        ));
    }
    if problems.is_empty() { Ok(Leave { from, to }) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nuzul() -> PolicyPack {
        PolicyPack::from_toml(include_str!("../../../policies/nuzul-v4.toml")).unwrap()
    }

    #[test]
    fn an_entry_names_a_branch_the_types_offered_and_a_capacity() {
        let specialties = ["roof_repair".to_owned(), "roof_repair".to_owned()];
        let entered =
            RosterEntered { branch: "jeddah", gender: "female", specialties: &specialties, capacity: 0, active: true };
        let change = check_roster_entry(entered, &nuzul()).unwrap();
        assert_eq!(
            (change.specialties, change.capacity, change.gender),
            (vec!["roof_repair".to_owned()], None, Some(Gender::Female))
        );
        let wrong = ["moon_landing".to_owned()];
        let entered = RosterEntered { branch: "dammam", gender: "x", specialties: &wrong, capacity: 501, active: true };
        let fields: Vec<String> =
            check_roster_entry(entered, &nuzul()).unwrap_err().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["branch", "gender", "specialties[0]", "capacity"]);
    }

    #[test]
    fn a_leave_overlaps_no_other() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        let taken = [Leave { from: today, to: NaiveDate::from_ymd_opt(2026, 12, 14).unwrap() }];
        assert!(check_leave("2026-12-15", "2026-12-20", today, &taken).is_ok());
        let overlapping = check_leave("2026-12-14", "2026-12-20", today, &taken).unwrap_err();
        assert_eq!(overlapping[0].message.en, "It overlaps the leave from 2026-12-08 to 2026-12-14");
        assert_eq!(check_leave("2026-12-20", "2026-12-15", today, &[]).unwrap_err()[0].field, "to");
        assert_eq!(check_leave("2026-11-01", "2026-11-05", today, &[]).unwrap_err()[0].field, "to", "over");
        assert_eq!(check_leave("", "soon", today, &[]).unwrap_err().len(), 2);
    }
}

//! Choosing a verified case's social researcher among the branch's, and
//! saying why, for supervisors to read. The roster rules come first: nobody
//! on leave that day, nobody outside their specialties, nobody at capacity;
//! of those left, the fewest open cases wins (ties: the first username).
//! With nobody left, the case waits.

use crate::directory::StaffMember;
use crate::text::Bilingual;
use chrono::NaiveDate;

/// A researcher of the case's branch, as the roster has them, with their open cases.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub researcher: &'a StaffMember,
    pub open_cases: u32,
}

/// The case to give: what the roster rules look at.
#[derive(Debug, Clone, Copy)]
pub struct CaseToAssign<'a> {
    pub branch: &'a str,
    pub service_type: &'a str,
    /// The Saudi day of the assignment (leave is by day).
    pub day: NaiveDate,
    /// The pack's preference for this case (a female researcher for a household headed by a woman), and why.
    pub prefer: Option<&'a crate::roster::Preference>,
}

/// Who takes the case (nobody: it waits), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub chosen: Option<String>,
    pub why: Bilingual,
}

/// Why the roster keeps a candidate from the case, if it does.
fn excluded(candidate: &Candidate, case: &CaseToAssign) -> Option<Bilingual> {
    let researcher = candidate.researcher;
    if let Some(leave) = researcher.leave_on(case.day) {
        return Some(Bilingual::new(format!("في إجازة حتى {}", leave.to), format!("on leave until {}", leave.to)));
    }
    if !researcher.handles(case.service_type) {
        return Some(Bilingual::new(
            format!("لا يتولى {}", case.service_type),
            format!("does not handle {}", case.service_type),
        ));
    }
    match researcher.capacity {
        Some(capacity) if candidate.open_cases >= capacity => Some(Bilingual::new(
            format!("بلغ طاقته ({}/{capacity} حالة)", candidate.open_cases),
            format!("at capacity ({}/{capacity} open)", candidate.open_cases),
        )),
        _ => None,
    }
}

pub fn choose(case: &CaseToAssign, candidates: &[Candidate]) -> Choice {
    let mut sorted = candidates.to_vec();
    sorted.sort_by(|a, b| a.researcher.username.cmp(&b.researcher.username));
    let (mut eligible, mut exclusions) = (Vec::new(), Vec::new());
    for candidate in &sorted {
        match excluded(candidate, case) {
            None => eligible.push(candidate),
            Some(why) => exclusions.push((candidate.researcher.username.as_str(), why)),
        }
    }
    let excluded_ar = exclusions.iter().map(|(who, why)| format!("{who} ({})", why.ar)).collect::<Vec<_>>().join("، ");
    let excluded_en = exclusions.iter().map(|(who, why)| format!("{who} ({})", why.en)).collect::<Vec<_>>().join(", ");
    let branch = case.branch;
    // The pack's preference narrows the eligible to those it prefers, where there is one.
    let preferred: Vec<&&Candidate> = match case.prefer {
        Some(preference) => eligible.iter().filter(|c| c.researcher.gender == Some(preference.gender)).collect(),
        None => Vec::new(),
    };
    let pool: Vec<&&Candidate> = if preferred.is_empty() { eligible.iter().collect() } else { preferred.clone() };
    // min_by_key keeps the first of equals: the first username.
    let Some(chosen) = pool.into_iter().min_by_key(|c| c.open_cases) else {
        let why = if exclusions.is_empty() {
            Bilingual::new(
                format!("لا يوجد باحث اجتماعي في فرع {branch}؛ تنتظر الحالة أول باحث متاح"),
                format!("No social researcher in branch {branch}; the case waits for the first one available"),
            )
        } else {
            Bilingual::new(
                format!("لا يستطيع أي باحث في فرع {branch} تولي الحالة الآن: {excluded_ar}؛ تنتظر أول باحث متاح"),
                format!(
                    "No researcher of branch {branch} can take the case now: {excluded_en}; it waits for the first one available"
                ),
            )
        };
        return Choice { chosen: None, why };
    };
    let considered = |word: &str, separator: &str| {
        eligible
            .iter()
            .map(|c| format!("{} ({} {word})", c.researcher.username, c.open_cases))
            .collect::<Vec<_>>()
            .join(separator)
    };
    let username = &chosen.researcher.username;
    let mut why = Bilingual::new(
        format!("{username}: أقل الحالات المفتوحة بين {}", considered("مفتوحة", "، ")),
        format!("{username}: the fewest open cases of {}", considered("open", ", ")),
    );
    if let Some(crate::roster::Preference { gender, reason }) = case.prefer {
        let (ar, en) = match gender {
            crate::roster::Gender::Female => ("باحثة", "female researcher"),
            crate::roster::Gender::Male => ("باحث", "male researcher"),
        };
        why = if preferred.is_empty() {
            Bilingual::new(
                format!("{}؛ لا {ar} متاحة لـ{}", why.ar, reason.ar),
                format!("{}; no {en} could take it ({})", why.en, reason.en),
            )
        } else {
            Bilingual::new(
                format!("{}؛ فُضّلت {ar}: {}", why.ar, reason.ar),
                format!("{}; a {en} preferred: {}", why.en, reason.en),
            )
        };
    }
    if !exclusions.is_empty() {
        why = Bilingual::new(
            format!("{}؛ استُبعد: {excluded_ar}", why.ar),
            format!("{}; not considered: {excluded_en}", why.en),
        );
    }
    Choice { chosen: Some(username.clone()), why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Leave;
    use crate::vocabulary::ActorRole;

    fn researcher(username: &str) -> StaffMember {
        StaffMember {
            username: username.into(),
            name: username.into(),
            role: ActorRole::SocialResearcher,
            branch: Some("riyadh".into()),
            person: None,
            mobile: None,
            gender: None,
            specialties: Vec::new(),
            capacity: None,
            leave: Vec::new(),
        }
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn case(branch: &str) -> CaseToAssign<'_> {
        CaseToAssign { branch, service_type: "roof_repair", day: day("2026-12-15"), prefer: None }
    }

    #[test]
    fn the_least_busy_takes_the_case_and_the_reason_names_everyone_considered() {
        let (r1, r2, r3) = (researcher("r1"), researcher("r2"), researcher("r3"));
        let candidates = [
            Candidate { researcher: &r2, open_cases: 1 },
            Candidate { researcher: &r1, open_cases: 3 },
            Candidate { researcher: &r3, open_cases: 1 },
        ];
        let choice = choose(&case("riyadh"), &candidates);
        assert_eq!(choice.chosen.as_deref(), Some("r2"));
        assert_eq!(choice.why.en, "r2: the fewest open cases of r1 (3 open), r2 (1 open), r3 (1 open)");
        let nobody = choose(&case("jeddah"), &[]);
        assert_eq!(nobody.chosen, None);
        assert!(nobody.why.en.contains("jeddah") && nobody.why.ar.contains("jeddah"));
    }

    #[test]
    fn leave_specialty_and_capacity_come_before_the_least_busy() {
        let away = StaffMember {
            leave: vec![Leave { from: day("2026-12-10"), to: day("2026-12-20") }],
            ..researcher("r.away")
        };
        let electrician = StaffMember { specialties: vec!["electrical_rewiring".into()], ..researcher("r.electric") };
        let full = StaffMember { capacity: Some(2), ..researcher("r.full") };
        let busy = researcher("r.busy");
        let candidates = [
            Candidate { researcher: &away, open_cases: 0 },
            Candidate { researcher: &electrician, open_cases: 0 },
            Candidate { researcher: &full, open_cases: 2 },
            Candidate { researcher: &busy, open_cases: 9 },
        ];
        let choice = choose(&case("riyadh"), &candidates);
        assert_eq!(choice.chosen.as_deref(), Some("r.busy"), "the only one the roster allows, however busy");
        assert_eq!(
            choice.why.en,
            "r.busy: the fewest open cases of r.busy (9 open); not considered: r.away (on leave until 2026-12-20), \
             r.electric (does not handle roof_repair), r.full (at capacity (2/2 open))"
        );
        assert!(choice.why.ar.contains("في إجازة حتى 2026-12-20"), "{}", choice.why.ar);

        // The day after the leave, the one who was away is back, and the least busy.
        let later = CaseToAssign { day: day("2026-12-21"), ..case("riyadh") };
        assert_eq!(choose(&later, &candidates).chosen.as_deref(), Some("r.away"));

        // Nobody the roster allows: the case waits, and the reason says who was kept out and why.
        let waits = choose(&case("riyadh"), &candidates[..3]);
        assert_eq!(waits.chosen, None);
        assert!(
            waits.why.en.starts_with("No researcher of branch riyadh can take the case now: r.away (on leave"),
            "{}",
            waits.why.en
        );
    }

    #[test]
    fn the_packs_preference_goes_first_among_those_who_can_take_the_case() {
        use crate::roster::Gender;
        let noura = StaffMember { gender: Some(Gender::Female), ..researcher("r.noura") };
        let fahad = StaffMember { gender: Some(Gender::Male), ..researcher("r.fahad") };
        let preference = crate::roster::Preference {
            gender: Gender::Female,
            reason: Bilingual::new("أسرة تعولها امرأة", "a household headed by a woman"),
        };
        let prefer = Some(&preference);
        let candidates =
            [Candidate { researcher: &fahad, open_cases: 0 }, Candidate { researcher: &noura, open_cases: 4 }];
        let choice = choose(&CaseToAssign { prefer, ..case("riyadh") }, &candidates);
        assert_eq!(choice.chosen.as_deref(), Some("r.noura"), "busier, but preferred");
        assert!(
            choice.why.en.ends_with("; a female researcher preferred: a household headed by a woman"),
            "{}",
            choice.why.en
        );
        // With none of them who can take it, whoever can.
        let on_leave =
            StaffMember { leave: vec![Leave { from: day("2026-12-01"), to: day("2026-12-31") }], ..noura.clone() };
        let candidates =
            [Candidate { researcher: &fahad, open_cases: 0 }, Candidate { researcher: &on_leave, open_cases: 0 }];
        let choice = choose(&CaseToAssign { prefer, ..case("riyadh") }, &candidates);
        assert_eq!(choice.chosen.as_deref(), Some("r.fahad"));
        assert!(
            choice.why.en.contains("no female researcher could take it (a household headed by a woman)"),
            "{}",
            choice.why.en
        );
    }
}

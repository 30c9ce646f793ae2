//! Choosing a verified case's social researcher among the branch's, and
//! saying why, for supervisors to read: today the fewest open cases wins
//! (ties: the first username). With nobody to choose, the case waits.

use crate::text::Bilingual;

/// A researcher who could take the case, with their open cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub username: String,
    pub open_cases: u32,
}

/// Who takes the case (nobody: it waits), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub chosen: Option<String>,
    pub why: Bilingual,
}

pub fn choose(branch: &str, candidates: &[Candidate]) -> Choice {
    // min_by_key keeps the first of equals; candidates come sorted by username.
    let mut sorted = candidates.to_vec();
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    let Some(chosen) = sorted.iter().min_by_key(|c| c.open_cases) else {
        return Choice {
            chosen: None,
            why: Bilingual::new(
                format!("لا يوجد باحث اجتماعي في فرع {branch}؛ تنتظر الحالة أول باحث متاح"),
                format!("No social researcher in branch {branch}; the case waits for the first one available"),
            ),
        };
    };
    let considered = |word: &str| {
        sorted.iter().map(|c| format!("{} ({} {word})", c.username, c.open_cases)).collect::<Vec<_>>().join("، ")
    };
    Choice {
        chosen: Some(chosen.username.clone()),
        why: Bilingual::new(
            format!("{}: أقل الحالات المفتوحة بين {}", chosen.username, considered("مفتوحة")),
            format!("{}: the fewest open cases of {}", chosen.username, considered("open").replace('،', ",")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(username: &str, open_cases: u32) -> Candidate {
        Candidate { username: username.into(), open_cases }
    }

    #[test]
    fn the_least_busy_takes_the_case_and_the_reason_names_everyone_considered() {
        let choice = choose("riyadh", &[candidate("r2", 1), candidate("r1", 3), candidate("r3", 1)]);
        assert_eq!(choice.chosen.as_deref(), Some("r2"));
        assert_eq!(choice.why.en, "r2: the fewest open cases of r1 (3 open), r2 (1 open), r3 (1 open)");
        let nobody = choose("jeddah", &[]);
        assert_eq!(nobody.chosen, None);
        assert!(nobody.why.en.contains("jeddah") && nobody.why.ar.contains("jeddah"));
    }
}

//! The Saudi working calendar the promises to beneficiaries are counted on:
//! Friday and Saturday off, Founding Day (22 February) and National Day (23
//! September), Eid al-Fitr and Eid al-Adha on the days the operator sets for
//! each Hijri year (they follow the moon sighting), and each association's
//! own closures.

use crate::calendar::{HijriDate, parse_gregorian};
use crate::text::{Bilingual, FieldError};
use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// The longest an Eid holiday may be set for.
pub const LONGEST_EID_DAYS: i64 = 12;

/// Days off with a name: an Eid holiday, an association's closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub name: Bilingual,
}

impl Closure {
    fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }
}

/// The official holidays whose days the operator sets: the two Eids of each Hijri year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficialHolidays {
    pub eids: Vec<Closure>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolidays {
    #[serde(default)]
    eid: Vec<RawEid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEid {
    hijri_year: i32,
    /// `eid_al_fitr` or `eid_al_adha`.
    kind: String,
    from: String,
    to: String,
}

impl OfficialHolidays {
    /// Reads the operator's file; each Eid's holiday must hold its day (1
    /// Shawwal, 10 Dhu al-Hijjah of the Hijri year given, a day either way for
    /// the sighting), once per year.
    pub fn from_toml(text: &str) -> Result<Self, Vec<FieldError>> {
        let raw: RawHolidays = toml::from_str(text).map_err(|e| {
            vec![FieldError::new(
                "file",
                Bilingual::new(
                    format!("ملف الإجازات غير صالح: {}", e.message()),
                    format!("the holidays file is not valid: {}", e.message()),
                ),
            )]
        })?;
        let mut problems = Vec::new();
        let mut eids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, eid) in raw.eid.iter().enumerate() {
            let at = |field: &str| format!("eid[{i}].{field}");
            let problem = |field: &str, ar: &str, en: &str| FieldError::new(at(field), Bilingual::new(ar, en));
            let (name, eid_day) = match eid.kind.as_str() {
                "eid_al_fitr" => (Bilingual::new("إجازة عيد الفطر", "Eid al-Fitr holiday"), (10, 1)),
                "eid_al_adha" => (Bilingual::new("إجازة عيد الأضحى", "Eid al-Adha holiday"), (12, 10)),
                _ => {
                    problems.push(problem(
                        "kind",
                        "العيد eid_al_fitr أو eid_al_adha",
                        "the Eid is eid_al_fitr or eid_al_adha",
                    ));
                    continue;
                }
            };
            if !seen.insert((eid.hijri_year, eid.kind.as_str())) {
                problems.push(problem(
                    "kind",
                    "هذا العيد مذكور لهذه السنة من قبل",
                    "this Eid is already set for this year",
                ));
                continue;
            }
            let (Ok(from), Ok(to)) = (parse_gregorian(&eid.from), parse_gregorian(&eid.to)) else {
                problems.push(problem("from", "التاريخان بالصيغة YYYY-MM-DD", "both dates are written YYYY-MM-DD"));
                continue;
            };
            if to < from || (to - from).num_days() >= LONGEST_EID_DAYS {
                problems.push(problem(
                    "to",
                    "نهاية الإجازة بعد بدايتها وخلال 12 يوماً",
                    "the holiday ends after it starts, within 12 days",
                ));
                continue;
            }
            // The holiday holds the Eid day by the Umm al-Qura calendar, give or take the day the moon is sighted.
            let (month, day) = eid_day;
            let expected = HijriDate { year: eid.hijri_year, month, day }.to_gregorian();
            let sighted = [expected - chrono::Days::new(1), expected, expected + chrono::Days::new(1)];
            if !sighted.iter().any(|d| from <= *d && *d <= to) {
                problems.push(problem(
                    "from",
                    "الإجازة لا تشمل يوم هذا العيد من السنة الهجرية المذكورة",
                    "the holiday does not hold this Eid's day of the Hijri year given",
                ));
                continue;
            }
            eids.push(Closure { from, to, name });
        }
        if problems.is_empty() { Ok(Self { eids }) } else { Err(problems) }
    }
}

/// One association's working calendar.
#[derive(Debug, Clone, Copy)]
pub struct WorkingCalendar<'a> {
    pub official: &'a OfficialHolidays,
    /// The association's own closures, from its pack.
    pub closures: &'a [Closure],
}

impl WorkingCalendar<'_> {
    /// Why nobody works on `day`, if nobody does.
    pub fn closed_for(&self, day: NaiveDate) -> Option<Bilingual> {
        if matches!(day.weekday(), Weekday::Fri | Weekday::Sat) {
            return Some(Bilingual::new("عطلة نهاية الأسبوع", "The weekend"));
        }
        match (day.month(), day.day()) {
            (2, 22) => return Some(Bilingual::new("يوم التأسيس", "Founding Day")),
            (9, 23) => return Some(Bilingual::new("اليوم الوطني", "National Day")),
            _ => {}
        }
        self.official.eids.iter().chain(self.closures).find(|c| c.covers(day)).map(|c| c.name.clone())
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.closed_for(day).is_none()
    }

    /// The working days after `from` up to and including `to` (none when `to` is not after it).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_working_day(*d)).count() as u32
    }

    /// The day `days` working days after `from` (`from` itself for none).
    pub fn add_working_days(&self, from: NaiveDate, days: u32) -> NaiveDate {
        let Some(last) = days.checked_sub(1) else { return from };
        from.iter_days().skip(1).filter(|d| self.is_working_day(*d)).nth(last as usize).unwrap_or(from)
    }
}

/// How many working days each stage has, from the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTargets {
    pub verification: u32,
    pub research: u32,
    pub committee: u32,
}

impl StageTargets {
    /// The stages a reply still waits on after `stage`, in order.
    fn after(stage: crate::Stage) -> &'static [crate::Stage] {
        use crate::Stage::{Committee, Research, Verification};
        match stage {
            Verification => &[Research, Committee],
            Research => &[Committee],
            _ => &[],
        }
    }

    /// Working days the stages after `stage` have, together.
    pub fn after_stage(&self, stage: crate::Stage) -> u32 {
        Self::after(stage).iter().filter_map(|s| self.for_stage(*s)).sum()
    }

    pub fn for_stage(&self, stage: crate::Stage) -> Option<u32> {
        match stage {
            crate::Stage::Verification => Some(self.verification),
            crate::Stage::Research => Some(self.research),
            crate::Stage::Committee => Some(self.committee),
            _ => None,
        }
    }

    pub(crate) fn validate(self, check: &mut crate::policy::Checker) -> Self {
        for (field, days) in
            [("verification", self.verification), ("research", self.research), ("committee", self.committee)]
        {
            if days == 0 {
                check.problem(format!("targets.{field}"), "المدة يوم عمل واحد على الأقل", "at least one working day");
            }
        }
        self
    }
}

/// Where a stage stands against its target: its deadline, and the working days left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageClock {
    pub stage: crate::Stage,
    pub deadline: NaiveDate,
    pub working_days_left: u32,
    pub overdue: bool,
}

/// Who is alerted when a stage passes its target: the branch manager for
/// the branch's verification and research, the association admin for the committee.
pub fn stage_supervisor(stage: crate::Stage) -> crate::ActorRole {
    match stage {
        crate::Stage::Committee => crate::ActorRole::AssociationAdmin,
        _ => crate::ActorRole::BranchManager,
    }
}

impl WorkingCalendar<'_> {
    /// The earliest day a reply can now come: the stage the case waits on
    /// done by its deadline (or, past it, today at the soonest), then every
    /// later stage in its target.
    pub fn projected_reply(&self, clock: &StageClock, targets: &StageTargets, today: NaiveDate) -> NaiveDate {
        let this_stage_done = clock.deadline.max(today);
        self.add_working_days(this_stage_done, targets.after_stage(clock.stage))
    }

    /// The clock of a stage that started on `started` with a target of `days`, read on `today`.
    pub fn stage_clock(&self, stage: crate::Stage, started: NaiveDate, days: u32, today: NaiveDate) -> StageClock {
        let deadline = self.add_working_days(started, days);
        StageClock {
            stage,
            deadline,
            working_days_left: self.working_days_between(today, deadline),
            overdue: today > deadline,
        }
    }
}

/// An association's closures as its pack lists them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClosure {
    from: String,
    to: String,
    name_ar: String,
    name_en: String,
}

impl RawClosure {
    pub(crate) fn validate(&self, check: &mut crate::policy::Checker, at: &str) -> Option<Closure> {
        check.required(&format!("{at}.name_ar"), &self.name_ar);
        check.required(&format!("{at}.name_en"), &self.name_en);
        let (from, to) = (parse_gregorian(&self.from).ok(), parse_gregorian(&self.to).ok());
        match (from, to) {
            (Some(from), Some(to)) if from <= to => {
                Some(Closure { from, to, name: Bilingual::new(&self.name_ar, &self.name_en) })
            }
            _ => {
                check.problem(
                    format!("{at}.to"),
                    "الإغلاق من تاريخ إلى تاريخ بعده بالصيغة YYYY-MM-DD",
                    "a closure runs from a date to one not before it, written YYYY-MM-DD",
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILT_IN: &str = include_str!("../../../calendar/holidays.toml");

    fn day(text: &str) -> NaiveDate {
        parse_gregorian(text).unwrap()
    }

    #[test]
    fn working_days_skip_the_weekend_and_the_holidays() {
        let official = OfficialHolidays::from_toml(BUILT_IN).unwrap();
        let calendar = WorkingCalendar { official: &official, closures: &[] };
        // Thursday 2026-12-03 to Sunday 2026-12-06: Friday and Saturday are off.
        assert_eq!(calendar.working_days_between(day("2026-12-03"), day("2026-12-06")), 1);
        assert_eq!(calendar.add_working_days(day("2026-12-03"), 1), day("2026-12-06"));
        assert_eq!(calendar.add_working_days(day("2026-12-03"), 0), day("2026-12-03"));
        assert_eq!(calendar.closed_for(day("2026-12-04")).unwrap().en, "The weekend");
        // National Day, a Wednesday in 2026.
        assert_eq!(calendar.closed_for(day("2026-09-23")).unwrap().en, "National Day");
        assert_eq!(calendar.working_days_between(day("2026-09-21"), day("2026-09-24")), 2);
        // Eid al-Adha 1447, as the operator set it.
        let adha = official.eids.iter().find(|e| e.name.en.contains("Adha")).unwrap();
        assert!(!calendar.is_working_day(adha.from) && !calendar.is_working_day(adha.to));
        // An association's own closure.
        let closures =
            [Closure { from: day("2026-12-07"), to: day("2026-12-08"), name: Bilingual::new("جرد", "Stocktaking") }];
        let closed = WorkingCalendar { official: &official, closures: &closures };
        assert_eq!(closed.add_working_days(day("2026-12-06"), 1), day("2026-12-09"));
        assert_eq!(calendar.working_days_between(day("2026-12-06"), day("2026-12-06")), 0);
    }

    #[test]
    fn an_association_adds_its_own_closures_in_its_pack() {
        let hayat = include_str!("../../../policies/hayat-v2.toml");
        let closure = "\n[[closures]]\nfrom = \"2026-12-20\"\nto = \"2026-12-21\"\nname_ar = \"جرد سنوي\"\nname_en = \"Annual stocktaking\"\n";
        let pack = crate::PolicyPack::from_toml(&format!("{hayat}{closure}")).unwrap();
        assert_eq!(pack.closures[0].name.en, "Annual stocktaking");
        let official = OfficialHolidays::default();
        let calendar = WorkingCalendar { official: &official, closures: &pack.closures };
        assert_eq!(calendar.closed_for(day("2026-12-21")).unwrap().en, "Annual stocktaking");
        let backwards = closure.replace("2026-12-21", "2026-12-19");
        let problems = crate::PolicyPack::from_toml(&format!("{hayat}{backwards}")).unwrap_err();
        assert_eq!(problems[0].field, "closures[0].to");
    }

    #[test]
    fn a_stage_is_overdue_once_its_working_days_are_spent() {
        let official = OfficialHolidays::default();
        let calendar = WorkingCalendar { official: &official, closures: &[] };
        // Research started Thursday 2026-12-03 with three working days: Sunday, Monday, Tuesday.
        let clock = |today| calendar.stage_clock(crate::Stage::Research, day("2026-12-03"), 3, day(today));
        assert_eq!(clock("2026-12-06").deadline, day("2026-12-08"));
        assert_eq!((clock("2026-12-06").working_days_left, clock("2026-12-06").overdue), (2, false));
        assert_eq!((clock("2026-12-08").working_days_left, clock("2026-12-08").overdue), (0, false));
        assert_eq!((clock("2026-12-09").working_days_left, clock("2026-12-09").overdue), (0, true));
    }

    #[test]
    fn an_eid_is_set_in_its_hijri_month() {
        let wrong_month =
            "[[eid]]\nhijri_year = 1448\nkind = \"eid_al_adha\"\nfrom = \"2027-03-09\"\nto = \"2027-03-12\"\n";
        assert_eq!(OfficialHolidays::from_toml(wrong_month).unwrap_err()[0].field, "eid[0].from");
        let too_long =
            "[[eid]]\nhijri_year = 1448\nkind = \"eid_al_fitr\"\nfrom = \"2027-03-08\"\nto = \"2027-03-30\"\n";
        assert_eq!(OfficialHolidays::from_toml(too_long).unwrap_err()[0].field, "eid[0].to");
        let unknown =
            "[[eid]]\nhijri_year = 1448\nkind = \"eid_al_mawlid\"\nfrom = \"2027-03-08\"\nto = \"2027-03-09\"\n";
        assert_eq!(OfficialHolidays::from_toml(unknown).unwrap_err()[0].field, "eid[0].kind");
    }

    #[test]
    fn a_stage_past_its_target_moves_the_projected_reply() {
        let official = OfficialHolidays::default();
        let calendar = WorkingCalendar { official: &official, closures: &[] };
        let targets = StageTargets { verification: 2, research: 5, committee: 3 };
        // Submitted on Sunday 2026-11-01: verification due Tuesday the 3rd.
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let on_time = calendar.stage_clock(crate::Stage::Verification, sunday, 2, sunday);
        assert_eq!(
            calendar.projected_reply(&on_time, &targets, sunday),
            NaiveDate::from_ymd_opt(2026, 11, 15).unwrap()
        );
        // Read on Sunday the 8th, still unverified: eight working days from then.
        let late_day = NaiveDate::from_ymd_opt(2026, 11, 8).unwrap();
        let late = calendar.stage_clock(crate::Stage::Verification, sunday, 2, late_day);
        assert!(late.overdue);
        assert_eq!(calendar.projected_reply(&late, &targets, late_day), NaiveDate::from_ymd_opt(2026, 11, 18).unwrap());
        assert_eq!(stage_supervisor(crate::Stage::Research), crate::ActorRole::BranchManager);
    }
}

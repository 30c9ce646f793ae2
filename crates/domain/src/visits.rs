//! Field visits as the policies describe them: the researcher visits the
//! beneficiary "and people who can give reliable information about them",
//! and records each visit as done or missed, with whom they met and what
//! they found.

use crate::calendar::parse_gregorian;
use crate::input::{TextRule, read_field};
use crate::text::{Bilingual, FieldError};
use crate::vocabulary::vocabulary;
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// The most people one visit records.
pub const MOST_PEOPLE_MET: usize = 10;
/// How far back a visit may be recorded.
pub const LONGEST_AGO_DAYS: u64 = 365;

vocabulary! {
    /// Whether the researcher met the household.
    VisitOutcome as "visit outcome" {
        Done = "done",
        /// Nobody was there, or the visit could not take place.
        Missed = "missed",
    }
}

vocabulary! {
    /// Who the researcher met: the beneficiary, or a reference person.
    Informant as "person met" {
        Beneficiary = "beneficiary",
        Neighbour = "neighbour",
        Imam = "imam",
        Employer = "employer",
        TreatingDoctor = "treating_doctor",
        Hospital = "hospital",
        Relative = "relative",
        Other = "other",
    }
}

/// How far ahead a visit may be scheduled.
pub const LONGEST_AHEAD_DAYS: u64 = 60;
/// The hours a visit may be set at: a family is not visited at night.
pub const VISITING_HOURS: (u32, u32) = (8, 21);

vocabulary! {
    /// Where a visit's appointment stands.
    AppointmentStatus as "appointment status" {
        Scheduled = "scheduled",
        /// The beneficiary asked for another time.
        ChangeRequested = "change_requested",
        /// Replaced by a later appointment.
        Moved = "moved",
        /// The visit took place.
        Kept = "kept",
        Missed = "missed",
    }
}

impl AppointmentStatus {
    /// Still ahead: a visit recorded keeps or misses it, a new appointment moves it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Scheduled | Self::ChangeRequested)
    }
}

/// An appointment as the researcher entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppointmentEntered<'a> {
    pub on: &'a str,
    pub at: &'a str,
    pub place: &'a str,
}

/// A visit's appointment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub on: NaiveDate,
    pub at: NaiveTime,
    pub place: String,
}

/// Checks an appointment set on `today` (Saudi time): a day from today to
/// [`LONGEST_AHEAD_DAYS`] ahead, a time within [`VISITING_HOURS`], and where.
pub fn check_appointment(entered: AppointmentEntered<'_>, today: NaiveDate) -> Result<Appointment, Vec<FieldError>> {
    let mut problems = Vec::new();
    let ahead = Bilingual::new(
        format!("موعد الزيارة من اليوم إلى {LONGEST_AHEAD_DAYS} يوماً قادمة"),
        format!("A visit is set from today to {LONGEST_AHEAD_DAYS} days ahead"),
    );
    let on = read_day_ahead("on", entered.on, (today, LONGEST_AHEAD_DAYS), ahead, &mut problems);
    let (opens, closes) = VISITING_HOURS;
    let within_hours = read_time_of_day(entered.at).filter(|t| {
        let (opening, closing) = (NaiveTime::from_hms_opt(opens, 0, 0), NaiveTime::from_hms_opt(closes, 0, 0));
        opening.is_some_and(|o| *t >= o) && closing.is_some_and(|c| *t <= c)
    });
    if within_hours.is_none() {
        problems.push(FieldError::new(
            "at",
            Bilingual::new(
                format!("الوقت بالصيغة HH:MM بين {opens}:00 و{closes}:00"),
                format!("The time is written HH:MM, between {opens}:00 and {closes}:00"),
            ),
        ));
    }
    let place = read_field("place", entered.place, TextRule::LINE, true, &mut problems);
    match (on, within_hours) {
        (Some(on), Some(at)) if problems.is_empty() => Ok(Appointment { on, at, place }),
        _ => Err(problems),
    }
}

/// A day written YYYY-MM-DD from `today` to `longest` days ahead; `ahead`
/// says so when it is outside them.
pub(crate) fn read_day_ahead(
    field: &str,
    text: &str,
    (today, longest): (NaiveDate, u64),
    ahead: Bilingual,
    problems: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    match parse_gregorian(text) {
        Ok(day) if day < today || day > today + chrono::Days::new(longest) => {
            problems.push(FieldError::new(field, ahead));
            None
        }
        Ok(day) => Some(day),
        Err(_) if text.trim().is_empty() => {
            problems.push(FieldError::required(field));
            None
        }
        Err(_) => {
            problems.push(FieldError::new(
                field,
                Bilingual::new("التاريخ بالصيغة YYYY-MM-DD", "The date is written YYYY-MM-DD"),
            ));
            None
        }
    }
}

/// A time of day written HH:MM (Arabic-Indic digits too).
pub(crate) fn read_time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(&crate::identity::fold_digits(text.trim()), "%H:%M").ok()
}

/// A person met at a visit, as entered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonMetEntered {
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub contact: String,
}

/// A person met at a visit. Their name and contact are personal data: sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonMet {
    pub kind: Informant,
    pub name: String,
    /// Their relation to the beneficiary (a relative's: brother, aunt; another's: landlord).
    pub relation: String,
    /// A telephone number to reach them again; may be empty.
    pub contact: String,
}

/// A visit as the researcher entered it.
#[derive(Debug, Clone, Copy, Default)]
pub struct VisitEntered<'a> {
    pub outcome: &'a str,
    pub visited_on: &'a str,
    pub people_met: &'a [PersonMetEntered],
    pub findings: &'a str,
}

/// A visit checked, ready to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    pub outcome: VisitOutcome,
    pub visited_on: NaiveDate,
    pub people_met: Vec<PersonMet>,
    /// What was found; for a missed visit, why it did not take place.
    pub findings: String,
}

/// Checks a visit entered on `today` (Saudi time): a done visit met someone
/// and found something; a missed one says why; nobody is met on a missed
/// visit; the day is neither in the future nor more than a year ago. Every
/// problem is reported at once, each at its field.
pub fn check_visit(entered: VisitEntered<'_>, today: NaiveDate) -> Result<VisitRecord, Vec<FieldError>> {
    let mut problems = Vec::new();
    let outcome = VisitOutcome::parse(entered.outcome).ok();
    if outcome.is_none() {
        problems.push(FieldError::new(
            "outcome",
            Bilingual::new("نتيجة الزيارة إما done أو missed", "The visit's outcome is either done or missed"),
        ));
    }
    let visited_on = if entered.visited_on.trim().is_empty() {
        problems.push(FieldError::required("visited_on"));
        None
    } else {
        match parse_gregorian(entered.visited_on) {
            Ok(day) if day > today => {
                problems.push(FieldError::new(
                    "visited_on",
                    Bilingual::new(
                        "لا تسجل زيارة بتاريخ لم يأت بعد",
                        "A visit cannot be recorded for a day still to come",
                    ),
                ));
                None
            }
            Ok(day) if day + chrono::Days::new(LONGEST_AGO_DAYS) < today => {
                problems.push(FieldError::new(
                    "visited_on",
                    Bilingual::new("تاريخ الزيارة أقدم من سنة", "The visit is more than a year ago"),
                ));
                None
            }
            Ok(day) => Some(day),
            Err(_) => {
                problems.push(FieldError::new(
                    "visited_on",
                    Bilingual::new("التاريخ بالصيغة YYYY-MM-DD", "The date is written YYYY-MM-DD"),
                ));
                None
            }
        }
    };
    let findings = read_field("findings", entered.findings, TextRule::NOTE, true, &mut problems);
    let people_met = people_met(entered.people_met, &mut problems);
    match outcome {
        Some(VisitOutcome::Done) if entered.people_met.is_empty() => problems.push(FieldError::new(
            "people_met",
            Bilingual::new("اذكر من قابلت في الزيارة", "Say whom you met at the visit"),
        )),
        Some(VisitOutcome::Missed) if !entered.people_met.is_empty() => problems.push(FieldError::new(
            "people_met",
            Bilingual::new("لا أحد يُقابل في زيارة لم تتم", "Nobody is met at a visit that did not take place"),
        )),
        _ => {}
    }
    match (outcome, visited_on) {
        (Some(outcome), Some(visited_on)) if problems.is_empty() => {
            Ok(VisitRecord { outcome, visited_on, people_met, findings })
        }
        _ => Err(problems),
    }
}

fn people_met(entered: &[PersonMetEntered], problems: &mut Vec<FieldError>) -> Vec<PersonMet> {
    if entered.len() > MOST_PEOPLE_MET {
        problems.push(FieldError::new(
            "people_met",
            Bilingual::new(
                format!("{MOST_PEOPLE_MET} أشخاص على الأكثر في الزيارة الواحدة"),
                format!("At most {MOST_PEOPLE_MET} people a visit"),
            ),
        ));
        return Vec::new();
    }
    let mut met = Vec::with_capacity(entered.len());
    for (i, person) in entered.iter().enumerate() {
        let at = |field: &str| format!("people_met[{i}].{field}");
        let kind = Informant::parse(&person.kind).ok();
        if kind.is_none() {
            let known: Vec<&str> = Informant::ALL.iter().map(|k| k.as_str()).collect();
            problems.push(FieldError::new(
                at("kind"),
                Bilingual::new(
                    format!("صفة الشخص واحدة من: {}", known.join("، ")),
                    format!("Who they are is one of: {}", known.join(", ")),
                ),
            ));
        }
        let mut text = |field: &str, raw: &str, rule: TextRule, required: bool| {
            read_field(&at(field), raw, rule, required, problems)
        };
        // The beneficiary is known to the case; a reference person is named, and a relative's
        // or another's relation said.
        let is_reference = kind.is_some_and(|k| k != Informant::Beneficiary);
        let name_rule = if kind == Some(Informant::Hospital) { TextRule::LINE } else { TextRule::PERSON_NAME };
        let name = text("name", &person.name, name_rule, is_reference);
        let needs_relation = matches!(kind, Some(Informant::Relative | Informant::Other));
        let relation = text("relation", &person.relation, TextRule::LINE, needs_relation);
        let contact = text("contact", &person.contact, TextRule::LINE, false);
        let digits = contact.chars().filter(char::is_ascii_digit).count();
        let phone_like = contact.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
        if !contact.is_empty() && (!phone_like || !(7..=15).contains(&digits)) {
            problems.push(FieldError::new(
                at("contact"),
                Bilingual::new("رقم الهاتف من 7 إلى 15 رقماً", "A telephone number of 7 to 15 digits"),
            ));
        }
        if let Some(kind) = kind {
            met.push(PersonMet { kind, name, relation, contact });
        }
    }
    met
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_gregorian(text).unwrap()
    }

    fn fields(result: Result<VisitRecord, Vec<FieldError>>) -> Vec<String> {
        result.err().unwrap_or_default().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_done_visit_names_whom_it_met_and_what_it_found() {
        let today = day("2026-12-07");
        let met = [
            PersonMetEntered { kind: "beneficiary".into(), ..Default::default() },
            PersonMetEntered {
                kind: "imam".into(),
                name: "الشيخ سعد".into(),
                contact: "0551234567".into(),
                ..Default::default()
            },
        ];
        let visit =
            VisitEntered {
                outcome: "done", visited_on: "2026-12-06", people_met: &met, findings: "السقف يتسرب."
            };
        let record = check_visit(visit, today).unwrap();
        assert_eq!((record.outcome, record.people_met.len()), (VisitOutcome::Done, 2));
        assert_eq!(record.people_met[1].kind, Informant::Imam);
        assert_eq!(fields(check_visit(VisitEntered { people_met: &[], ..visit }, today)), ["people_met"]);
        assert_eq!(
            fields(check_visit(VisitEntered { visited_on: "", findings: " ", ..visit }, today)),
            ["visited_on", "findings"]
        );
        assert_eq!(fields(check_visit(VisitEntered { visited_on: "2026-12-08", ..visit }, today)), ["visited_on"]);
        assert_eq!(fields(check_visit(VisitEntered { visited_on: "2025-01-01", ..visit }, today)), ["visited_on"]);
        assert_eq!(fields(check_visit(VisitEntered { outcome: "maybe", ..visit }, today)), ["outcome"]);
    }

    #[test]
    fn a_reference_person_is_named_and_a_relative_says_their_relation() {
        let today = day("2026-12-07");
        let met = [
            PersonMetEntered { kind: "neighbour".into(), ..Default::default() },
            PersonMetEntered { kind: "relative".into(), name: "Ali".into(), ..Default::default() },
            PersonMetEntered { kind: "astrologer".into(), ..Default::default() },
            PersonMetEntered {
                kind: "hospital".into(),
                name: "King Fahd Hospital 2".into(),
                contact: "call me".into(),
                ..Default::default()
            },
        ];
        let visit = VisitEntered { outcome: "done", visited_on: "2026-12-07", people_met: &met, findings: "Seen." };
        assert_eq!(
            fields(check_visit(visit, today)),
            ["people_met[0].name", "people_met[1].relation", "people_met[2].kind", "people_met[3].contact"]
        );
    }

    #[test]
    fn an_appointment_is_ahead_within_visiting_hours_and_somewhere() {
        let today = day("2026-12-07");
        let entered =
            AppointmentEntered { on: "2026-12-09", at: "16:30", place: "منزل الأسرة، حي النسيم" };
        let appointment = check_appointment(entered, today).unwrap();
        assert_eq!(appointment.at.to_string(), "16:30:00");
        let refused =
            |entered| check_appointment(entered, today).unwrap_err().into_iter().map(|p| p.field).collect::<Vec<_>>();
        assert_eq!(refused(AppointmentEntered { on: "2026-12-06", ..entered }), ["on"]);
        assert_eq!(refused(AppointmentEntered { on: "2027-03-01", ..entered }), ["on"]);
        assert_eq!(refused(AppointmentEntered { on: "", at: "23:00", place: " " }), ["on", "at", "place"]);
        assert_eq!(refused(AppointmentEntered { at: "4pm", ..entered }), ["at"]);
        assert!(check_appointment(AppointmentEntered { at: "١٦:٣٠", ..entered }, today).is_ok(), "Arabic digits");
    }

    #[test]
    fn a_missed_visit_says_why_and_met_nobody() {
        let today = day("2026-12-07");
        let missed =
            VisitEntered { outcome: "missed", visited_on: "2026-12-07", people_met: &[], findings: "Nobody home." };
        assert_eq!(check_visit(missed, today).unwrap().outcome, VisitOutcome::Missed);
        let met = [PersonMetEntered { kind: "beneficiary".into(), ..Default::default() }];
        assert_eq!(fields(check_visit(VisitEntered { people_met: &met, ..missed }, today)), ["people_met"]);
        assert_eq!(fields(check_visit(VisitEntered { findings: "", ..missed }, today)), ["findings"]);
    }
}

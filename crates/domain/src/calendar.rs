//! Dates as Saudi associations write them: Hijri (Umm al-Qura, the kingdom's
//! official calendar) beside Gregorian. Conversion uses ICU4X's tables.

use chrono::{Datelike, NaiveDate};
use icu_calendar::Date;
use icu_calendar::cal::Hijri;
use serde::Serialize;
use std::fmt;

/// A day of the Umm al-Qura calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HijriDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a date (expected YYYY-MM-DD)")]
pub struct InvalidDate(pub String);

impl HijriDate {
    /// The Hijri date of a Gregorian day.
    pub fn from_gregorian(day: NaiveDate) -> Self {
        let iso = Date::try_new_iso(day.year(), day.month() as u8, day.day() as u8)
            .expect("every chrono date is inside ICU's range");
        let hijri = iso.to_calendar(Hijri::new_umm_al_qura());
        Self { year: hijri.era_year().year, month: hijri.month().ordinal, day: hijri.day_of_month().0 }
    }

    /// The Hijri day it is in Saudi Arabia at an instant.
    pub fn on(at: chrono::DateTime<chrono::Utc>) -> Self {
        Self::from_gregorian(saudi_day(at))
    }

    /// Reads `YYYY-MM-DD` (Arabic-Indic digits accepted) and checks that the day exists.
    pub fn parse(text: &str) -> Result<Self, InvalidDate> {
        let invalid = || InvalidDate(text.to_owned());
        let folded = crate::identity::fold_digits(text.trim());
        let mut parts = folded.split('-');
        let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let (year, month, day) =
            (y.parse().map_err(|_| invalid())?, m.parse().map_err(|_| invalid())?, d.parse().map_err(|_| invalid())?);
        Date::try_new_hijri_with_calendar(year, month, day, Hijri::new_umm_al_qura()).map_err(|_| invalid())?;
        Ok(Self { year, month, day })
    }

    /// The Gregorian day this Hijri date falls on.
    pub fn to_gregorian(self) -> NaiveDate {
        let hijri = Date::try_new_hijri_with_calendar(self.year, self.month, self.day, Hijri::new_umm_al_qura())
            .expect("a HijriDate is only built from a valid day");
        let iso = hijri.to_calendar(icu_calendar::Iso);
        NaiveDate::from_ymd_opt(iso.era_year().year, u32::from(iso.month().ordinal), u32::from(iso.day_of_month().0))
            .expect("ICU's ISO dates are valid Gregorian dates")
    }
}

impl fmt::Display for HijriDate {
    /// ISO-like order, the form used in files and on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One day shown in both calendars, as every date a person reads is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DualDate {
    pub gregorian: NaiveDate,
    #[serde(serialize_with = "serialize_display")]
    pub hijri: HijriDate,
}

impl DualDate {
    pub fn new(gregorian: NaiveDate) -> Self {
        Self { gregorian, hijri: HijriDate::from_gregorian(gregorian) }
    }

    /// A day given in the Hijri calendar (board decisions are dated so).
    pub fn from_hijri(hijri: HijriDate) -> Self {
        Self { gregorian: hijri.to_gregorian(), hijri }
    }

    /// "1441-03-02 هـ (2019-10-30 م)": Hijri first, as Saudi readers expect.
    pub fn arabic(&self) -> String {
        format!("{} هـ ({} م)", self.hijri, self.gregorian)
    }

    pub fn english(&self) -> String {
        format!("{} AH ({})", self.hijri, self.gregorian)
    }
}

fn serialize_display<S: serde::Serializer>(value: &impl fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// The day it is in Saudi Arabia (UTC+3 all year, no daylight saving) at an
/// instant: submission days, expiry checks and promised dates follow it, not UTC.
pub fn saudi_day(at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    saudi_time(at).date()
}

/// The clock time in Saudi Arabia at an instant.
pub fn saudi_time(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    (at + chrono::Duration::hours(3)).naive_utc()
}

/// The instant a day and time of day in Saudi Arabia fall at.
pub fn saudi_instant(day: NaiveDate, time: chrono::NaiveTime) -> chrono::DateTime<chrono::Utc> {
    day.and_time(time).and_utc() - chrono::Duration::hours(3)
}

/// Reads a Gregorian `YYYY-MM-DD` (Arabic-Indic digits accepted).
pub fn parse_gregorian(text: &str) -> Result<NaiveDate, InvalidDate> {
    let folded = crate::identity::fold_digits(text.trim());
    NaiveDate::parse_from_str(&folded, "%Y-%m-%d").map_err(|_| InvalidDate(text.to_owned()))
}

/// Whole calendar months from one day to a later one (0 if `to` is earlier).
pub fn whole_months_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let months =
        (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32 - i32::from(to.day() < from.day());
    u32::try_from(months).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn converts_known_umm_al_qura_days() {
        // Hayat's board approved its policy on 02/03/1441 AH: 30 October 2019.
        assert_eq!(HijriDate::parse("1441-03-02").unwrap().to_gregorian(), day(2019, 10, 30));
        // 1 Ramadan 1445 AH was 11 March 2024 in Saudi Arabia.
        assert_eq!(HijriDate::from_gregorian(day(2024, 3, 11)), HijriDate { year: 1445, month: 9, day: 1 });
    }

    #[test]
    fn round_trips_every_day_of_a_year() {
        let mut d = day(2026, 1, 1);
        while d.year() == 2026 {
            assert_eq!(HijriDate::from_gregorian(d).to_gregorian(), d);
            d = d.succ_opt().unwrap();
        }
    }

    #[test]
    fn refuses_days_that_do_not_exist() {
        assert!(HijriDate::parse("1441-13-01").is_err());
        assert!(HijriDate::parse("1441-03-31").is_err()); // Hijri months have 29 or 30 days
        assert!(HijriDate::parse("1441/03/02").is_err());
        assert_eq!(HijriDate::parse("١٤٤١-٠٣-٠٢").unwrap(), HijriDate { year: 1441, month: 3, day: 2 });
        assert!(parse_gregorian("2025-02-30").is_err());
        assert_eq!(parse_gregorian("٢٠٢٥-٠٢-٠١").unwrap(), day(2025, 2, 1));
    }

    #[test]
    fn counts_whole_months() {
        assert_eq!(whole_months_between(day(2023, 1, 31), day(2026, 1, 30)), 35);
        assert_eq!(whole_months_between(day(2023, 1, 31), day(2026, 1, 31)), 36);
        assert_eq!(whole_months_between(day(2026, 2, 1), day(2026, 1, 1)), 0);
    }

    #[test]
    fn shows_both_calendars() {
        let d = DualDate::new(day(2019, 10, 30));
        assert_eq!(d.english(), "1441-03-02 AH (2019-10-30)");
        assert_eq!(d.arabic(), "1441-03-02 هـ (2019-10-30 م)");
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::json!({"gregorian": "2019-10-30", "hijri": "1441-03-02"})
        );
    }

    #[test]
    fn the_saudi_day_starts_at_21_utc() {
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert_eq!(saudi_day(at("2026-11-22T20:59:59Z")).to_string(), "2026-11-22");
        assert_eq!(saudi_day(at("2026-11-22T21:00:00Z")).to_string(), "2026-11-23");
    }
}
